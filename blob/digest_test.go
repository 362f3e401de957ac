package blob

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

// sha256("abc") and blake3("abc"), well-known test vectors.
const (
	abcHex   = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
	abcB3Hex = "6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
)

func TestDigestForms(t *testing.T) {
	d := Sum([]byte("abc"))
	if got := d.String(); got != "sha256:"+abcHex {
		t.Fatalf("String() = %q", got)
	}
	if d.Hex() != abcHex || d.Short() != abcHex[:12] {
		t.Fatalf("Hex() = %q, Short() = %q", d.Hex(), d.Short())
	}
	p, err := ParseDigest("sha256:" + abcHex)
	if err != nil || p != d {
		t.Fatalf("ParseDigest = %v, %v", p, err)
	}
	if d.IsZero() || !(Digest{}).IsZero() {
		t.Fatalf("IsZero wrong")
	}
	r, n, err := DigestReader(strings.NewReader("abc"))
	if err != nil || r != d || n != 3 {
		t.Fatalf("DigestReader = %v, %d, %v", r, n, err)
	}
}

func TestChunkIDForms(t *testing.T) {
	c := chunkSum([]byte("abc"))
	if got := c.String(); got != "blake3:"+abcB3Hex {
		t.Fatalf("String() = %q", got)
	}
	if c.Hex() != abcB3Hex {
		t.Fatalf("Hex() = %q", c.Hex())
	}
	p, err := ParseChunkID("blake3:" + abcB3Hex)
	if err != nil || p != c {
		t.Fatalf("ParseChunkID = %v, %v", p, err)
	}
	for _, s := range []string{"", abcB3Hex, "blake3:", "sha256:" + abcB3Hex, "blake3:" + abcB3Hex[:63],
		"blake3:" + strings.ToUpper(abcB3Hex), "BLAKE3:" + abcB3Hex, "blake3:" + abcB3Hex + "\n"} {
		if _, err := ParseChunkID(s); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("ParseChunkID(%q) = %v, want ErrInvalidDigest", s, err)
		}
	}
}

func TestParseDigestRejects(t *testing.T) {
	bad := []string{
		"", abcHex, "sha256:", "sha256:" + abcHex[:63], "sha256:" + abcHex + "0",
		"sha256:" + strings.ToUpper(abcHex), "SHA256:" + abcHex, "sha512:" + abcHex,
		" sha256:" + abcHex, "sha256:" + abcHex + "\n", "sha256:" + abcHex[:63] + "g",
		"sha256:" + abcHex[:62] + "+1",
	}
	for _, s := range bad {
		if _, err := ParseDigest(s); !errors.Is(err, ErrInvalidDigest) {
			t.Errorf("ParseDigest(%q) = %v, want ErrInvalidDigest", s, err)
		}
	}
}

func TestDigestJSON(t *testing.T) {
	type doc struct {
		D Digest  `json:"d"`
		Z Digest  `json:"z,omitzero"`
		P *Digest `json:"p,omitempty"`
	}
	in := doc{D: Sum([]byte("abc"))}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"d":"sha256:` + abcHex + `"}`; string(b) != want {
		t.Fatalf("json = %s, want %s", b, want)
	}
	var out doc
	if err := json.Unmarshal(b, &out); err != nil || out != in {
		t.Fatalf("round trip = %+v, %v", out, err)
	}
	if err := json.Unmarshal([]byte(`{"d":"sha256:XYZ"}`), &out); !errors.Is(err, ErrInvalidDigest) {
		t.Fatalf("bad digest in JSON: %v", err)
	}
}

func TestShardedKeys(t *testing.T) {
	d := Sum([]byte("abc"))
	c := chunkSum([]byte("abc"))
	if got := ChunkKey(c); got != "chunks/64/"+abcB3Hex {
		t.Fatalf("ChunkKey = %q", got)
	}
	if p, ok := parseShardedKey(chunkDir, ChunkKey(c)); !ok || ChunkID(p) != c {
		t.Fatalf("parseShardedKey(ChunkKey) = %v, %v", p, ok)
	}
	if got := FileKey(d); got != "files/ba/"+abcHex {
		t.Fatalf("FileKey = %q", got)
	}
	if p, ok := parseShardedKey(fileDir, FileKey(d)); !ok || Digest(p) != d {
		t.Fatalf("parseShardedKey(FileKey) = %v, %v", p, ok)
	}
	for _, k := range []string{"files/bb/" + abcHex, "files/ba" + abcHex, "chunks/ba/" + abcHex, "files/ba/" + abcHex[:63]} {
		if _, ok := parseShardedKey(fileDir, k); ok {
			t.Errorf("parseShardedKey(%q) accepted", k)
		}
	}
	if err := ValidateKey(ChunkKey(c)); err != nil {
		t.Fatal(err)
	}
}

func TestValidateKey(t *testing.T) {
	good := []string{"a", "a/b", "chunks/ab/" + abcHex, "a.b/c..d", "x-y_z~1", "ü/ß"}
	for _, k := range good {
		if err := ValidateKey(k); err != nil {
			t.Errorf("ValidateKey(%q) = %v", k, err)
		}
	}
	bad := []string{"", "/a", "a/", "a//b", "..", "a/../b", ".", "a/./b", ".x", "a\\b", "a\x00", "a\tb", "a\x7f", strings.Repeat("a", 513)}
	for _, k := range bad {
		if err := ValidateKey(k); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ValidateKey(%q) = %v, want ErrInvalidKey", k, err)
		}
	}
	for _, p := range []string{"", "a", "a/", "files/a", "a/b/"} {
		if err := validatePrefix(p); err != nil {
			t.Errorf("validatePrefix(%q) = %v", p, err)
		}
	}
	for _, p := range []string{"/", "..", "../", "a//", "a/../", ".x/", "a\\"} {
		if err := validatePrefix(p); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("validatePrefix(%q) = %v, want ErrInvalidKey", p, err)
		}
	}
}
