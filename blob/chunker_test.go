package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"testing"
	"testing/iotest"
)

// boundaries returns the chunk sizes of data read through r.
func chunkSizes(t testing.TB, r io.Reader, p chunkParams) []int {
	t.Helper()
	c := newChunker(context.Background(), r, p, nil)
	defer c.release()
	var sizes []int
	for {
		b, seg, err := c.next()
		if err == io.EOF {
			return sizes
		}
		if err != nil {
			t.Fatal(err)
		}
		sizes = append(sizes, len(b))
		seg.release()
	}
}

// TestChunkBoundariesGolden pins the chunk boundaries of a fixed input. If
// it fails, the chunker (gear table, masks, sizes) changed, and new versions
// of files already stored would no longer share chunks with them: that is a
// storage format change, not a refactoring.
func TestChunkBoundariesGolden(t *testing.T) {
	data := randBytes(1, 24<<20)
	sizes := chunkSizes(t, bytes.NewReader(data), defaultParams)
	h := sha256.New()
	total := 0
	for _, s := range sizes {
		fmt.Fprintf(h, "%d\n", s)
		total += s
	}
	if total != len(data) {
		t.Fatalf("chunks add up to %d, want %d", total, len(data))
	}
	got := hex.EncodeToString(h.Sum(nil))[:16]
	t.Logf("%d chunks, first sizes %v", len(sizes), sizes[:min(6, len(sizes))])
	const want = "60b70c9f4d2a1538"
	if got != want {
		t.Fatalf("chunk boundaries changed: hash %s, want %s (%d chunks: %v)", got, want, len(sizes), sizes)
	}
}

func TestChunkerDeterministicAcrossReadSizes(t *testing.T) {
	p := newChunkParams(4<<10, 16<<10, 64<<10)
	data := randBytes(2, 1<<20+17)
	want := chunkSizes(t, bytes.NewReader(data), p)
	readers := map[string]io.Reader{
		"OneByte": iotest.OneByteReader(bytes.NewReader(data)),
		"Half":    iotest.HalfReader(bytes.NewReader(data)),
		"DataErr": iotest.DataErrReader(bytes.NewReader(data)),
		"Multi":   io.MultiReader(bytes.NewReader(data[:1000]), bytes.NewReader(data[1000:70000]), bytes.NewReader(data[70000:])),
	}
	for name, r := range readers {
		if got := chunkSizes(t, r, p); fmt.Sprint(got) != fmt.Sprint(want) {
			t.Errorf("%s reader: sizes %v, want %v", name, got, want)
		}
	}
}

func TestChunkSizesWithinLimits(t *testing.T) {
	data := randBytes(3, 64<<20)
	sizes := chunkSizes(t, bytes.NewReader(data), defaultParams)
	sum := 0
	for i, s := range sizes {
		last := i == len(sizes)-1
		if s > MaxChunkSize || (s < MinChunkSize && !last) {
			t.Errorf("chunk %d has size %d outside [%d, %d]", i, s, MinChunkSize, MaxChunkSize)
		}
		sum += s
	}
	avg := sum / len(sizes)
	t.Logf("64 MiB random: %d chunks, average %d KiB", len(sizes), avg>>10)
	// Normalized chunking keeps the mean near AvgChunkSize (plus MinChunkSize
	// that is skipped before the first cut point is looked for).
	if avg < AvgChunkSize/2 || avg > 2*AvgChunkSize {
		t.Errorf("average chunk size %d far from %d", avg, AvgChunkSize)
	}
	// Zero bytes have no content boundaries: every chunk is MaxChunkSize.
	zeros := chunkSizes(t, bytes.NewReader(make([]byte, 3*MaxChunkSize+5)), defaultParams)
	if fmt.Sprint(zeros) != fmt.Sprint([]int{MaxChunkSize, MaxChunkSize, MaxChunkSize, 5}) {
		t.Errorf("zeros chunked as %v", zeros)
	}
	// Small inputs are one chunk; empty input none.
	for _, n := range []int{1, MinChunkSize - 1, MinChunkSize} {
		if got := chunkSizes(t, bytes.NewReader(randBytes(4, n)), defaultParams); len(got) != 1 || got[0] != n {
			t.Errorf("%d bytes chunked as %v", n, got)
		}
	}
	if got := chunkSizes(t, bytes.NewReader(nil), defaultParams); len(got) != 0 {
		t.Errorf("empty input chunked as %v", got)
	}
}

func TestChunkBoundariesResync(t *testing.T) {
	// Boundaries after an edit are the same as without the edit, shifted.
	p := newChunkParams(4<<10, 16<<10, 64<<10)
	a := randBytes(5, 2<<20)
	b := append(append(append([]byte{}, a[:500000]...), []byte("INSERTED BYTES")...), a[500000:]...)
	cuts := func(data []byte) map[int]bool {
		m := map[int]bool{}
		off := 0
		for _, s := range chunkSizes(t, bytes.NewReader(data), p) {
			off += s
			m[off] = true
		}
		return m
	}
	ca, cb := cuts(a), cuts(b)
	shared, after := 0, 0
	for off := range ca {
		if off > 500000+2*p.max {
			after++
			if cb[off+14] {
				shared++
			}
		}
	}
	if after == 0 || shared != after {
		t.Fatalf("only %d of %d boundaries well after the insertion survived it", shared, after)
	}
}
