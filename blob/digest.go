package blob

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"hash"
	"io"
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

// parseDigestHex parses 64 lowercase hex digits without the prefix.
func parseDigestHex(s string) (Digest, error) {
	var d Digest
	if len(s) != 2*len(d) {
		return Digest{}, fmt.Errorf("%w: %q is not 64 lowercase hex digits", ErrInvalidDigest, s)
	}
	if err := parseHex(d[:], s); err != nil {
		return Digest{}, fmt.Errorf("%w: %q: %w", ErrInvalidDigest, s, err)
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
