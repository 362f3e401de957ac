package gitobj

import (
	"encoding/binary"
	"errors"
	"os"
	"path/filepath"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// indexBytes builds a version-2 pack index of the given names (sorted) at
// the given offsets; offsets of 2 GiB and more go to the 64-bit table.
func indexBytes(names [][20]byte, offsets []uint64) []byte {
	b := []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}
	var fan [256]uint32
	for _, n := range names {
		for k := int(n[0]); k < 256; k++ {
			fan[k]++
		}
	}
	for _, v := range fan {
		b = binary.BigEndian.AppendUint32(b, v)
	}
	for _, n := range names {
		b = append(b, n[:]...)
	}
	for range names {
		b = binary.BigEndian.AppendUint32(b, 0) // crc
	}
	var large []uint64
	for _, o := range offsets {
		if o >= 1<<31 {
			b = binary.BigEndian.AppendUint32(b, 0x80000000|uint32(len(large)))
			large = append(large, o)
		} else {
			b = binary.BigEndian.AppendUint32(b, uint32(o))
		}
	}
	for _, o := range large {
		b = binary.BigEndian.AppendUint64(b, o)
	}
	return append(b, make([]byte, 40)...)
}

// FuzzParseIndex: any bytes as a .idx either fail to open with an error or
// answer every lookup without panicking.
func FuzzParseIndex(f *testing.F) {
	a, b := [20]byte{0x01, 2, 3}, [20]byte{0xfe, 9}
	f.Add(indexBytes([][20]byte{a, b}, []uint64{12, 3 << 31}))
	f.Add(indexBytes(nil, nil))
	f.Fuzz(func(t *testing.T, data []byte) {
		ix, err := parseIndex("fuzz.idx", data) // on the heap: never closed
		if err != nil {
			return
		}
		for i := 0; i < ix.n; i++ {
			var h plumbing.Hash
			copy(h[:], ix.names[i*20:])
			if _, err := ix.FindOffset(h); err != nil && err != plumbing.ErrObjectNotFound && err != errCorruptIndex {
				t.Fatal(err)
			}
			ix.offset(i)
		}
		ix.contains(plumbing.Hash{0xff})
		ix.contains(plumbing.Hash{})
	})
}

// TestParseIndexCorrupt: a large offset past the 64-bit table and a
// decreasing fan-out are errors, not panics at lookup.
func TestParseIndexCorrupt(t *testing.T) {
	a := [20]byte{0x01}
	good := indexBytes([][20]byte{a}, []uint64{3 << 31})
	dir := t.TempDir()
	write := func(name string, b []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, b, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	ix, err := openMappedIndex(write("good.idx", good))
	if err != nil {
		t.Fatal(err)
	}
	if off, err := ix.FindOffset(plumbing.Hash(a)); err != nil || off != 3<<31 {
		t.Errorf("large offset: %d %v", off, err)
	}
	ix.close()
	// The entry points at large offset 5 of a table of 1.
	bad := append([]byte(nil), good...)
	pos := 8 + 256*4 + 20 + 4
	binary.BigEndian.PutUint32(bad[pos:], 0x80000005)
	if ix, err := openMappedIndex(write("bad64.idx", bad)); err != nil {
		t.Error(err)
	} else {
		if _, err := ix.FindOffset(plumbing.Hash(a)); !errors.Is(err, errCorruptIndex) {
			t.Errorf("a large offset past the table: %v", err)
		}
		ix.close()
	}
	// A fan-out that goes down.
	bad = append([]byte(nil), good...)
	binary.BigEndian.PutUint32(bad[8+0x10*4:], 7)
	if _, err := openMappedIndex(write("badfan.idx", bad)); err == nil {
		t.Error("a decreasing fan-out opened")
	}
}
