package gitobj

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"sync"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/klauspost/compress/zlib"
)

// mappedPack reads objects from a memory-mapped .pack file: header, zlib
// stream (klauspost's inflater, faster than the standard library's) and
// delta resolution with bases cached by offset. go-git's packfile decoder
// copies every object twice and caches every object it decodes.
type mappedPack struct {
	data []byte
	idx  *mappedIndex

	mu    sync.Mutex
	bases map[int64]*packedObj // delta bases by offset, bounded
	size  int
}

type packedObj struct {
	typ  plumbing.ObjectType
	data []byte
}

const packBaseCacheBytes = 16 << 20

func openMappedPack(path string, idx *mappedIndex) (*mappedPack, error) {
	data, err := mmapFile(path)
	if err != nil {
		return nil, err
	}
	if len(data) < 12 || !bytes.Equal(data[:4], []byte("PACK")) {
		syscall.Munmap(data)
		return nil, fmt.Errorf("%s: not a pack file", path)
	}
	return &mappedPack{data: data, idx: idx, bases: map[int64]*packedObj{}}, nil
}

func (p *mappedPack) close() {
	if p.data != nil {
		syscall.Munmap(p.data)
		p.data = nil
	}
}

var inflaters sync.Pool

// inflater returns a pooled zlib reader over src; put it back with
// inflaters.Put when done.
func inflater(src io.Reader) (io.ReadCloser, error) {
	if v := inflaters.Get(); v != nil {
		zr := v.(io.ReadCloser)
		if err := zr.(zlib.Resetter).Reset(src, nil); err != nil {
			return nil, err
		}
		return zr, nil
	}
	return zlib.NewReader(src)
}

// maxDeflateRatio bounds how much deflate can expand its input (1032:1
// for a stream of repeated bytes); a declared size beyond it is corrupt.
const maxDeflateRatio = 1032

func inflate(src []byte, size int64) ([]byte, error) {
	if size < 0 || size > int64(len(src))*maxDeflateRatio+64 {
		return nil, fmt.Errorf("inflate: declared size %d does not fit %d compressed bytes", size, len(src))
	}
	zr, err := inflater(bytes.NewReader(src))
	if err != nil {
		return nil, err
	}
	defer inflaters.Put(zr)
	out := make([]byte, size)
	if _, err := io.ReadFull(zr, out); err != nil {
		return nil, fmt.Errorf("inflate: %w", err)
	}
	return out, nil
}

// get returns the object at a pack offset, resolving deltas.
func (p *mappedPack) get(off int64, depth int) (*packedObj, error) {
	if depth > 10000 {
		return nil, fmt.Errorf("pack delta chain too deep")
	}
	if off < 12 || off >= int64(len(p.data)) {
		return nil, fmt.Errorf("pack offset %d out of range", off)
	}
	b := p.data[off:]
	c := b[0]
	typ := plumbing.ObjectType((c >> 4) & 7)
	size := int64(c & 0x0f)
	shift := uint(4)
	i := 1
	for c&0x80 != 0 {
		if i >= len(b) || shift > 56 {
			return nil, fmt.Errorf("truncated pack object header at %d", off)
		}
		c = b[i]
		i++
		size |= int64(c&0x7f) << shift
		shift += 7
	}
	switch typ {
	case plumbing.CommitObject, plumbing.TreeObject, plumbing.BlobObject, plumbing.TagObject:
		data, err := inflate(b[i:], size)
		if err != nil {
			return nil, fmt.Errorf("object at %d: %w", off, err)
		}
		return &packedObj{typ: typ, data: data}, nil
	case plumbing.OFSDeltaObject, plumbing.REFDeltaObject:
		var baseOff int64
		if typ == plumbing.OFSDeltaObject {
			if i >= len(b) {
				return nil, fmt.Errorf("truncated delta base offset at %d", off)
			}
			c = b[i]
			i++
			rel := int64(c & 0x7f)
			for c&0x80 != 0 {
				if i >= len(b) || rel > math.MaxInt64>>8 {
					return nil, fmt.Errorf("bad delta base offset at %d", off)
				}
				c = b[i]
				i++
				rel = ((rel + 1) << 7) | int64(c&0x7f)
			}
			if rel <= 0 {
				return nil, fmt.Errorf("delta at %d is its own base", off)
			}
			baseOff = off - rel
		} else {
			if i+20 > len(b) {
				return nil, fmt.Errorf("truncated delta base id at %d", off)
			}
			var h plumbing.Hash
			copy(h[:], b[i:i+20])
			i += 20
			o, err := p.idx.FindOffset(h)
			if err != nil {
				return nil, fmt.Errorf("delta base %s not in pack", h)
			}
			baseOff = o
		}
		delta, err := inflate(b[i:], size)
		if err != nil {
			return nil, fmt.Errorf("delta at %d: %w", off, err)
		}
		base, err := p.base(baseOff, depth+1)
		if err != nil {
			return nil, err
		}
		data, err := packfile.PatchDelta(base.data, delta)
		if err != nil {
			return nil, fmt.Errorf("delta at %d: %w", off, err)
		}
		return &packedObj{typ: base.typ, data: data}, nil
	}
	return nil, fmt.Errorf("unknown pack object type %d at %d", typ, off)
}

// base returns a delta base, from the cache when possible.
func (p *mappedPack) base(off int64, depth int) (*packedObj, error) {
	p.mu.Lock()
	o := p.bases[off]
	p.mu.Unlock()
	if o != nil {
		return o, nil
	}
	o, err := p.get(off, depth)
	if err != nil {
		return nil, err
	}
	p.mu.Lock()
	if p.size+len(o.data) > packBaseCacheBytes {
		p.bases = map[int64]*packedObj{}
		p.size = 0
	}
	p.bases[off] = o
	p.size += len(o.data)
	p.mu.Unlock()
	return o, nil
}
