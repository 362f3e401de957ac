package gitobj

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
)

// emptyIndex is a valid version-2 pack index of no objects.
func emptyIndex(t testing.TB) *mappedIndex {
	b := []byte{0xff, 't', 'O', 'c', 0, 0, 0, 2}
	b = append(b, make([]byte, 256*4+40)...)
	ix, err := parseIndex("empty.idx", b)
	if err != nil {
		t.Fatal(err)
	}
	ix.rev = []byte{}
	return ix
}

func deflate(data []byte) []byte {
	var b bytes.Buffer
	zw := zlib.NewWriter(&b)
	zw.Write(data)
	zw.Close()
	return b.Bytes()
}

// packEntry encodes one pack object header and its compressed data.
func packEntry(typ plumbing.ObjectType, size int, extra, data []byte) []byte {
	c := byte(typ)<<4 | byte(size&0x0f)
	size >>= 4
	var out []byte
	for size > 0 {
		out = append(out, c|0x80)
		c = byte(size & 0x7f)
		size >>= 7
	}
	out = append(out, c)
	out = append(out, extra...)
	return append(out, deflate(data)...)
}

func packOf(entries ...[]byte) []byte {
	b := []byte("PACK")
	b = binary.BigEndian.AppendUint32(b, 2)
	b = binary.BigEndian.AppendUint32(b, uint32(len(entries)))
	for _, e := range entries {
		b = append(b, e...)
	}
	return b
}

// FuzzPackRead feeds arbitrary bytes to the pack reader as a .pack file
// and reads the object at an arbitrary offset: it must return an object
// or an error, never panic or allocate what the input cannot back.
func FuzzPackRead(f *testing.F) {
	blob := []byte("hello, pack\n")
	base := packEntry(plumbing.BlobObject, len(blob), nil, blob)
	// A delta that copies the base's 12 bytes and adds "!".
	delta := []byte{byte(len(blob)), byte(len(blob) + 1), 0x90, byte(len(blob)), 1, '!'}
	ofs := packEntry(plumbing.OFSDeltaObject, len(delta), []byte{byte(len(base))}, delta)
	var id [20]byte
	ref := packEntry(plumbing.REFDeltaObject, len(delta), id[:], delta)
	f.Add(packOf(base), int64(12))
	f.Add(packOf(base, ofs), int64(12+len(base)))
	f.Add(packOf(base, ref), int64(12+len(base)))
	f.Add(packOf(packEntry(plumbing.TreeObject, 1<<40, nil, nil)), int64(12))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff\xff"), int64(12))
	f.Add([]byte("PACK\x00\x00\x00\x02\x00\x00\x00\x01\x60\x80\x80\x80"), int64(12))
	ix := emptyIndex(f)
	f.Fuzz(func(t *testing.T, data []byte, off int64) {
		if len(data) > 1<<16 {
			return
		}
		p := &mappedPack{data: data, idx: ix, bases: map[int64]*packedObj{}}
		for _, o := range []int64{12, off} {
			obj, err := p.get(o, 0)
			if err == nil && obj == nil {
				t.Fatalf("offset %d: no object and no error", o)
			}
			if err == nil && obj.typ != plumbing.CommitObject && obj.typ != plumbing.TreeObject &&
				obj.typ != plumbing.BlobObject && obj.typ != plumbing.TagObject {
				t.Fatalf("offset %d: object of type %v", o, obj.typ)
			}
		}
	})
}

// TestPackReadSeeds checks the reader on the hand-made packs of
// FuzzPackRead: a whole object, and both kinds of delta.
func TestPackReadSeeds(t *testing.T) {
	blob := []byte("hello, pack\n")
	base := packEntry(plumbing.BlobObject, len(blob), nil, blob)
	delta := []byte{byte(len(blob)), byte(len(blob) + 1), 0x90, byte(len(blob)), 1, '!'}
	ofs := packEntry(plumbing.OFSDeltaObject, len(delta), []byte{byte(len(base))}, delta)
	p := &mappedPack{data: packOf(base, ofs), idx: emptyIndex(t), bases: map[int64]*packedObj{}}
	obj, err := p.get(12, 0)
	if err != nil || string(obj.data) != string(blob) {
		t.Fatalf("base: %v %+v", err, obj)
	}
	obj, err = p.get(int64(12+len(base)), 0)
	if err != nil || string(obj.data) != "hello, pack\n!" || obj.typ != plumbing.BlobObject {
		t.Fatalf("ofs delta: %v %+v", err, obj)
	}
	var id [20]byte
	ref := packEntry(plumbing.REFDeltaObject, len(delta), id[:], delta)
	p = &mappedPack{data: packOf(base, ref), idx: emptyIndex(t), bases: map[int64]*packedObj{}}
	if _, err := p.get(int64(12+len(base)), 0); err == nil {
		t.Fatal("ref delta to a base not in the index: no error")
	}
	huge := packOf(packEntry(plumbing.BlobObject, 1<<40, nil, nil))
	p = &mappedPack{data: huge, idx: emptyIndex(t), bases: map[int64]*packedObj{}}
	if _, err := p.get(12, 0); err == nil {
		t.Fatal("a 1 TiB object in a few bytes: no error")
	}
}
