package blob

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"strings"
	"testing"
)

// TestCompressibleProbe checks the cheap guess encodeChunk makes before
// compressing a whole chunk: text-like data is compressed, random data and
// float weights are stored raw without a whole-chunk compression, and small
// chunks are always tried.
func TestCompressibleProbe(t *testing.T) {
	const n = 1 << 20
	cases := []struct {
		name     string
		data     []byte
		probe    bool
		wantZstd bool
	}{
		{"text", textLike(1, n), true, true},
		{"random", randBytes(2, n), false, false},
		{"small random", randBytes(3, probeMin), true, false},
		{"zeros", make([]byte, n), true, true},
	}
	for _, c := range cases {
		if got := compressible(c.data); got != c.probe {
			t.Errorf("%s: compressible = %v, want %v", c.name, got, c.probe)
		}
		enc := encodeChunk(nil, c.data)
		if got := enc[0] == chunkZstd; got != c.wantZstd {
			t.Errorf("%s: stored with header %d, want zstd %v", c.name, enc[0], c.wantZstd)
		}
		out, err := decodeChunk(nil, enc, chunkRef{ID: chunkSum(c.data), Size: int64(len(c.data))})
		if err != nil || !bytes.Equal(out, c.data) {
			t.Errorf("%s: round trip failed: %v", c.name, err)
		}
	}
}

// TestOpenWholeFileCheck: with WholeFileCheck a reader delivers the same
// bytes, and damage still ends in ErrCorrupt instead of io.EOF, naming the
// damaged chunk.
func TestOpenWholeFileCheck(t *testing.T) {
	ctx := context.Background()
	st, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	data := randBytes(7, 6<<20)
	res, err := AddReader(ctx, st, bytes.NewReader(data), AddOptions{})
	if err != nil {
		t.Fatal(err)
	}
	read := func() ([]byte, error) {
		rc, size, err := OpenWith(ctx, st, res.Digest, OpenOptions{WholeFileCheck: true})
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		if size != int64(len(data)) {
			t.Fatalf("size %d", size)
		}
		return io.ReadAll(rc)
	}
	got, err := read()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("intact read: %v", err)
	}
	keys, err := Keys(ctx, st, res.Digest)
	if err != nil || len(keys) < 3 {
		t.Fatalf("keys %v %v", keys, err)
	}
	p, _ := st.Path(keys[2])
	os.Chmod(p, 0o644)
	obj, _ := os.ReadFile(p)
	obj[len(obj)/2] ^= 1
	os.WriteFile(p, obj, 0o644)
	_, err = read()
	if !errors.Is(err, ErrCorrupt) || !strings.Contains(err.Error(), keys[2][len("chunks/xx/"):]) || !strings.Contains(err.Error(), res.Digest.String()) {
		t.Fatalf("damaged read: %v", err)
	}
}

// TestGearScanMatchesBytewise checks the two-bytes-per-step scan against a
// plain byte-wise roll: same hash, same cut position, odd lengths included.
func TestGearScanMatchesBytewise(t *testing.T) {
	for seed := uint64(0); seed < 50; seed++ {
		data := randBytes(seed, 3000+int(seed))
		mask := uint64(0xff) << 56
		var want uint64
		wantAt := -1
		for i, b := range data {
			want = want<<1 + gear[b]
			if want&mask == 0 {
				wantAt = i + 1
				break
			}
		}
		got, at := gearScan(0, data, mask)
		if at != wantAt || got != want {
			t.Fatalf("seed %d: gearScan = %x at %d, byte-wise %x at %d", seed, got, at, want, wantAt)
		}
		// A mask that never matches rolls over all of data, odd tail too.
		var all uint64
		for _, b := range data {
			all = all<<1 + gear[b]
		}
		if got, at := gearScan(0, data, ^uint64(0)); at != -1 || got != all {
			t.Fatalf("seed %d: full scan = %x at %d, want %x at -1", seed, got, at, all)
		}
	}
	// Short inputs, and masks that match at once, late or never.
	for n := range 10 {
		data := randBytes(uint64(100+n), n)
		for _, mask := range []uint64{0, uint64(0xff) << 56, ^uint64(0)} {
			want, wantAt := uint64(7), -1
			for i, b := range data {
				want = want<<1 + gear[b]
				if want&mask == 0 {
					wantAt = i + 1
					break
				}
			}
			if got, at := gearScan(7, data, mask); at != wantAt || got != want {
				t.Fatalf("%d bytes, mask %x: gearScan = %x at %d, byte-wise %x at %d", n, mask, got, at, want, wantAt)
			}
		}
	}
}
