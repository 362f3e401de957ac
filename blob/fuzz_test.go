package blob

import (
	"bytes"
	"testing"
)

func FuzzDecodeFileIndex(f *testing.F) {
	a := Sum([]byte("a"))
	ca, cb := chunkSum([]byte("a")), chunkSum([]byte("b"))
	f.Add((&fileIndex{Digest: a, Size: 0}).encode())
	f.Add((&fileIndex{Digest: a, Size: 3, Chunks: []chunkRef{{cb, 1}, {ca, 2}}}).encode())
	f.Add([]byte(fileMagic + "digest sha256:" + a.Hex() + "\nsize 01\n"))
	// Version 1 named chunks by SHA-256; it is not accepted.
	f.Add([]byte("mlgit blob file v1\ndigest sha256:" + a.Hex() + "\nsize 1\nchunk sha256:" + a.Hex() + " 1\n"))
	f.Add([]byte(fileMagic + "digest sha256:" + a.Hex() + "\nsize 1\nchunk sha256:" + a.Hex() + " 1\n"))
	f.Add([]byte("garbage"))
	f.Fuzz(func(t *testing.T, in []byte) {
		fi, err := decodeFileIndex(in)
		if err != nil {
			return
		}
		// Canonical: what decodes re-encodes to the same bytes.
		if out := fi.encode(); !bytes.Equal(out, in) {
			t.Fatalf("encode(decode(x)) != x:\n%q\n%q", in, out)
		}
		var sum int64
		for _, c := range fi.Chunks {
			if c.Size < 1 || c.Size > MaxChunkSize {
				t.Fatalf("accepted chunk size %d", c.Size)
			}
			sum += c.Size
		}
		if sum != fi.Size {
			t.Fatalf("accepted sizes adding to %d for size %d", sum, fi.Size)
		}
	})
}

func FuzzParseDigest(f *testing.F) {
	f.Add("sha256:" + abcHex)
	f.Add("sha256:" + abcHex[:63] + "G")
	f.Add("")
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDigest(s)
		if err != nil {
			return
		}
		if d.String() != s {
			t.Fatalf("ParseDigest(%q).String() = %q", s, d.String())
		}
		var u Digest
		if err := u.UnmarshalText([]byte(s)); err != nil || u != d {
			t.Fatalf("UnmarshalText(%q) = %v, %v", s, u, err)
		}
	})
}

func FuzzParseChunkID(f *testing.F) {
	f.Add("blake3:" + abcB3Hex)
	f.Add("blake3:" + abcB3Hex[:63] + "G")
	f.Add("sha256:" + abcHex)
	f.Fuzz(func(t *testing.T, s string) {
		c, err := ParseChunkID(s)
		if err != nil {
			return
		}
		if c.String() != s {
			t.Fatalf("ParseChunkID(%q).String() = %q", s, c.String())
		}
	})
}

// FuzzDecodeChunk feeds arbitrary stored chunk objects to the decoder: it
// must never accept bytes whose hash does not match, and never panic.
func FuzzDecodeChunk(f *testing.F) {
	raw := []byte("hello hello hello hello hello hello")
	f.Add(encodeChunk(nil, raw), int64(len(raw)))
	f.Add(encodeChunk(nil, textLike(1, 5000)), int64(5000))
	f.Add([]byte{chunkZstd, 0x28, 0xb5, 0x2f, 0xfd}, int64(10))
	want := chunkSum(raw)
	f.Fuzz(func(t *testing.T, obj []byte, size int64) {
		if size < 0 || size > MaxChunkSize {
			return
		}
		out, err := decodeChunk(nil, obj, chunkRef{ID: want, Size: size})
		if err == nil && (!bytes.Equal(out, raw) || chunkSum(out) != want) {
			t.Fatalf("accepted wrong content %q", out)
		}
	})
}
