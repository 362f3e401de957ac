package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"

	"github.com/zeebo/blake3"
)

// digestPrefix is the algorithm prefix of a digest's text form.
const digestPrefix = "sha256:"

// Digest is the SHA-256 of a blob's uncompressed bytes. It is a value type:
// compare with ==, use as a map key. The zero Digest means "no digest".
type Digest [sha256.Size]byte

// ParseDigest parses the text form "sha256:<64 lowercase hex digits>".
// Anything else (upper case, another algorithm, bare hex, surrounding space)
// is rejected with an error wrapping ErrInvalidDigest.
func ParseDigest(s string) (Digest, error) {
	var d Digest
	if len(s) != len(digestPrefix)+2*len(d) || s[:len(digestPrefix)] != digestPrefix {
		return Digest{}, fmt.Errorf("%w: %q is not of the form sha256:<64 lowercase hex digits>", ErrInvalidDigest, s)
	}
	if err := parseHex(d[:], s[len(digestPrefix):]); err != nil {
		return Digest{}, fmt.Errorf("%w: %q: %w", ErrInvalidDigest, s, err)
	}
	return d, nil
}

// parseHash32 parses 64 lowercase hex digits without a prefix: the hex
// part of a Digest or a ChunkID.
func parseHash32(s string) ([32]byte, error) {
	var d [32]byte
	if len(s) != 2*len(d) {
		return d, fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrInvalidDigest, s)
	}
	if err := parseHex(d[:], s); err != nil {
		return [32]byte{}, fmt.Errorf("%w: %q: %w", ErrInvalidDigest, s, err)
	}
	return d, nil
}

// parseHex decodes lowercase hex only, so every digest has one text form.
func parseHex(dst []byte, s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return fmt.Errorf("invalid character %q at offset %d (want lowercase hex)", c, i)
		}
	}
	_, err := hex.Decode(dst, []byte(s))
	return err
}

// Sum returns the Digest of b.
func Sum(b []byte) Digest { return Digest(sha256.Sum256(b)) }

// DigestReader reads r to the end and returns the Digest of what it read and
// the number of bytes.
func DigestReader(r io.Reader) (Digest, int64, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return Digest{}, n, err
	}
	return sumOf(h), n, nil
}

// sumOf returns the current sum of a SHA-256 hash as a Digest.
func sumOf(h hash.Hash) Digest {
	var d Digest
	h.Sum(d[:0])
	return d
}

// String returns the text form "sha256:<hex>".
func (d Digest) String() string { return digestPrefix + d.Hex() }

// Hex returns the 64 lowercase hex digits without the algorithm prefix.
func (d Digest) Hex() string { return hex.EncodeToString(d[:]) }

// Short returns the first 12 hex digits, for display only.
func (d Digest) Short() string { return d.Hex()[:12] }

// IsZero reports whether d is the zero Digest. Encoders that honour IsZero
// (yaml.v3 omitempty, encoding/json omitzero) leave a zero Digest out.
func (d Digest) IsZero() bool { return d == Digest{} }

// MarshalText implements encoding.TextMarshaler with the String form.
func (d Digest) MarshalText() ([]byte, error) { return []byte(d.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler with ParseDigest's rules.
func (d *Digest) UnmarshalText(b []byte) error {
	p, err := ParseDigest(string(b))
	if err != nil {
		return err
	}
	*d = p
	return nil
}

// chunkPrefix is the algorithm prefix of a chunk ID's text form.
const chunkPrefix = "blake3:"

// ChunkID names one chunk of a stored file: the BLAKE3-256 hash of the
// chunk's raw (uncompressed) bytes. Files keep SHA-256 names (Digest),
// which Git LFS and OCI share; chunks are internal to a store, and BLAKE3
// hashes them several times faster, on the path of every add and every
// verified read. Like Digest it is a comparable value type.
type ChunkID [32]byte

// chunkSum returns the ChunkID of the chunk b.
func chunkSum(b []byte) ChunkID { return ChunkID(blake3.Sum256(b)) }

// ParseChunkID parses the text form "blake3:<64 lowercase hex digits>",
// with ParseDigest's strictness; the error wraps ErrInvalidDigest.
func ParseChunkID(s string) (ChunkID, error) {
	var c ChunkID
	if len(s) != len(chunkPrefix)+2*len(c) || s[:len(chunkPrefix)] != chunkPrefix {
		return ChunkID{}, fmt.Errorf("%w: %q is not of the form blake3:<64 lowercase hex digits>", ErrInvalidDigest, s)
	}
	if err := parseHex(c[:], s[len(chunkPrefix):]); err != nil {
		return ChunkID{}, fmt.Errorf("%w: %q: %w", ErrInvalidDigest, s, err)
	}
	return c, nil
}

// String returns the text form "blake3:<hex>".
func (c ChunkID) String() string { return chunkPrefix + c.Hex() }

// Hex returns the 64 lowercase hex digits without the algorithm prefix.
func (c ChunkID) Hex() string { return hex.EncodeToString(c[:]) }
