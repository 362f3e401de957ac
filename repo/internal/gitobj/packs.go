package gitobj

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/cache"
	"github.com/go-git/go-git/v5/plumbing/format/idxfile"
)

// objectReader reads loose and packed objects with a pack index that costs
// nothing to open: the .idx file is mapped, not decoded, and the reverse
// index (offset to object) comes from the pack's .rev file or a radix sort
// cached under <git-dir>/mlgit/packrev. go-git's own storage decodes the
// whole index and builds a hash map of every object on the first packed
// read, about 70 ms per process for 400,000 objects; this reader answers
// in microseconds, which is what lets a whole mlgit process stay within
// ~10 ms on a large repository.
type objectReader struct {
	gitDir  string
	mu      sync.Mutex
	packs   map[string]*packHandle // by pack base name
	order   []string
	scanned bool
	cache   cache.Object
}

type packHandle struct {
	idx  *mappedIndex
	pack *mappedPack
}

func newObjectReader(gitDir string) *objectReader {
	return &objectReader{gitDir: gitDir, packs: map[string]*packHandle{}, cache: cache.NewObjectLRU(16 * cache.MiByte)}
}

func (o *objectReader) close() {
	o.mu.Lock()
	defer o.mu.Unlock()
	for _, p := range o.packs {
		p.pack.close()
		p.idx.close()
	}
	o.packs = map[string]*packHandle{}
	o.order = nil
	o.scanned = false
}

// get returns object h, loose first (new objects are loose), then packed.
// When h is in no known pack, the pack folder is scanned again, since a
// concurrent git gc may have replaced the packs.
func (o *objectReader) get(h plumbing.Hash) (plumbing.EncodedObject, error) {
	if obj, ok := o.cache.Get(h); ok {
		return obj, nil
	}
	// Packs first: the lookup is an in-memory binary search, while a
	// missing loose object costs a failed open (most objects are packed).
	for rescan := 0; rescan < 2; rescan++ {
		o.mu.Lock()
		scanned := o.scanned
		o.mu.Unlock()
		if rescan > 0 || !scanned {
			if err := o.scan(); err != nil {
				return nil, err
			}
		}
		obj, found, err := o.packed(h)
		if found && err == nil {
			return obj, nil
		}
		// Loose (new objects), or moved from loose to a new pack by a
		// concurrent git gc, which the rescan finds.
		obj, err = o.loose(h)
		if err == nil {
			return obj, nil
		}
		if !errors.Is(err, plumbing.ErrObjectNotFound) {
			return nil, err
		}
	}
	return nil, plumbing.ErrObjectNotFound
}

func (o *objectReader) packed(h plumbing.Hash) (plumbing.EncodedObject, bool, error) {
	typ, data, found, err := o.packedRaw(h)
	if !found || err != nil {
		return nil, found, err
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(typ)
	obj.Write(data)
	if typ == plumbing.TreeObject {
		// Trees are read again and again (root, runs, shards);
		// blobs rarely are, and caching them costs a cold scan of
		// 100,000 runs about a tenth of its time.
		o.cache.Put(obj)
	}
	return obj, true, nil
}

// locate finds object h in the packs of the last scan (scanning first if
// there was none): the pack, its position in the scan order and the
// object's offset.
func (o *objectReader) locate(h plumbing.Hash) (pack *mappedPack, n int, off int64, ok bool) {
	o.mu.Lock()
	if !o.scanned {
		o.mu.Unlock()
		o.scan() // an error leaves no packs: callers try loose objects
		o.mu.Lock()
	}
	defer o.mu.Unlock()
	for n, name := range o.order {
		p := o.packs[name]
		if p == nil {
			continue
		}
		if i, ok := p.idx.find(h); ok {
			if off := p.idx.offset(i); off >= 0 {
				return p.pack, n, off, true
			}
		}
	}
	return nil, 0, 0, false
}

// packedRaw returns object h's type and bytes if a pack of the last scan
// holds it, straight from the pack decoder (see readObjectOnce).
func (o *objectReader) packedRaw(h plumbing.Hash) (plumbing.ObjectType, []byte, bool, error) {
	p, _, off, ok := o.locate(h)
	if !ok {
		return 0, nil, false, nil
	}
	obj, err := p.get(off, 0)
	if err != nil {
		return 0, nil, true, err
	}
	return obj.typ, obj.data, true, nil
}

func (o *objectReader) loose(h plumbing.Hash) (plumbing.EncodedObject, error) {
	t, data, err := o.looseRaw(h)
	if err != nil {
		return nil, err
	}
	obj := &plumbing.MemoryObject{}
	obj.SetType(t)
	obj.SetSize(int64(len(data)))
	obj.Write(data)
	return obj, nil
}

// looseRaw returns loose object h's type and content, or an error
// wrapping plumbing.ErrObjectNotFound when there is no such file.
func (o *objectReader) looseRaw(h plumbing.Hash) (plumbing.ObjectType, []byte, error) {
	hs := h.String()
	raw, err := os.ReadFile(filepath.Join(o.gitDir, "objects", hs[:2], hs[2:]))
	if errors.Is(err, os.ErrNotExist) {
		return 0, nil, plumbing.ErrObjectNotFound
	}
	if err != nil {
		return 0, nil, err
	}
	t, data, err := inflateLoose(raw)
	if err != nil {
		return 0, nil, fmt.Errorf("read loose object %s: %w", hs, err)
	}
	return t, data, nil
}

// inflateLoose decodes a loose object file ("<type> <size>\x00<content>",
// zlib-compressed) into its type and content, allocating the content once
// at its declared size. Like git, it does not re-hash what it reads (git
// fsck and mlgit fsck do).
func inflateLoose(raw []byte) (plumbing.ObjectType, []byte, error) {
	zr, err := inflater(bytes.NewReader(raw))
	if err != nil {
		return 0, nil, err
	}
	defer inflaters.Put(zr)
	var hdr [32]byte
	n := 0
	for {
		if n == len(hdr) {
			return 0, nil, errors.New("object header too long")
		}
		if _, err := io.ReadFull(zr, hdr[n:n+1]); err != nil {
			return 0, nil, fmt.Errorf("object header: %w", err)
		}
		if hdr[n] == 0 {
			break
		}
		n++
	}
	typ, size, ok := strings.Cut(string(hdr[:n]), " ")
	t, err := plumbing.ParseObjectType(typ)
	if !ok || err != nil {
		return 0, nil, fmt.Errorf("object header %q", hdr[:n])
	}
	sz, err := strconv.ParseInt(size, 10, 64)
	if err != nil || sz < 0 || sz > int64(maxLooseObject) {
		return 0, nil, fmt.Errorf("object header %q: bad size", hdr[:n])
	}
	data := make([]byte, sz)
	if _, err := io.ReadFull(zr, data); err != nil {
		return 0, nil, fmt.Errorf("object content: %w", err)
	}
	var one [1]byte
	if m, _ := zr.Read(one[:]); m != 0 {
		return 0, nil, errors.New("object longer than its header says")
	}
	return t, data, nil
}

// maxLooseObject bounds the content of one loose object read into memory.
const maxLooseObject = 2 << 30

// scan (re)loads the pack list, keeping packs already open.
func (o *objectReader) scan() error {
	dir := filepath.Join(o.gitDir, "objects", "pack")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		o.mu.Lock()
		o.scanned = true
		o.mu.Unlock()
		return nil
	}
	if err != nil {
		return err
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	seen := map[string]bool{}
	var order []string
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".idx") {
			continue
		}
		base := strings.TrimSuffix(n, ".idx")
		seen[base] = true
		order = append(order, base)
		if o.packs[base] != nil {
			continue
		}
		p, err := o.openPack(dir, base)
		if err != nil {
			// A pack being written or deleted by git gc: skip it now.
			seen[base] = false
			continue
		}
		o.packs[base] = p
	}
	for base, p := range o.packs {
		if !seen[base] {
			p.pack.close()
			p.idx.close()
			delete(o.packs, base)
		}
	}
	kept := order[:0]
	for _, b := range order {
		if o.packs[b] != nil {
			kept = append(kept, b)
		}
	}
	o.order = kept
	o.scanned = true
	return nil
}

func (o *objectReader) openPack(dir, base string) (*packHandle, error) {
	idx, err := openMappedIndex(filepath.Join(dir, base+".idx"))
	if err != nil {
		return nil, err
	}
	if err := idx.loadReverse(filepath.Join(dir, base+".rev"), filepath.Join(o.gitDir, "mlgit", "packrev", base+".rev")); err != nil {
		idx.close()
		return nil, err
	}
	pack, err := openMappedPack(filepath.Join(dir, base+".pack"), idx)
	if err != nil {
		idx.close()
		return nil, err
	}
	return &packHandle{idx: idx, pack: pack}, nil
}

// mappedIndex is a version-2 pack .idx file mapped into memory. It
// implements idxfile.Index.
type mappedIndex struct {
	data   []byte
	n      int
	names  []byte // n*20
	crcs   []byte // n*4
	off32  []byte // n*4
	off64  []byte
	rev    []byte // n*4 big-endian index positions, sorted by offset
	revMap []byte // mapping to unmap, if mapped
}

var _ idxfile.Index = (*mappedIndex)(nil)

func mmapFile(path string) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if fi.Size() == 0 {
		return nil, fmt.Errorf("%s is empty", path)
	}
	return syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
}

func openMappedIndex(path string) (*mappedIndex, error) {
	data, err := mmapFile(path)
	if err != nil {
		return nil, err
	}
	ix, err := parseIndex(path, data)
	if err != nil {
		_ = syscall.Munmap(data)
		return nil, err
	}
	return ix, nil
}

// parseIndex reads the layout of a version-2 .idx file held in data.
func parseIndex(path string, data []byte) (*mappedIndex, error) {
	ix := &mappedIndex{data: data}
	if len(data) < 8+256*4 || !bytes.Equal(data[:4], []byte{0xff, 't', 'O', 'c'}) || binary.BigEndian.Uint32(data[4:8]) != 2 {
		return nil, fmt.Errorf("%s: not a version 2 pack index", path)
	}
	fan := data[8 : 8+256*4]
	n := int(binary.BigEndian.Uint32(fan[255*4:]))
	pos := 8 + 256*4
	need := pos + n*(20+4+4) + 40
	if len(data) < need {
		return nil, fmt.Errorf("%s: truncated pack index", path)
	}
	ix.n = n
	ix.names = data[pos : pos+n*20]
	pos += n * 20
	ix.crcs = data[pos : pos+n*4]
	pos += n * 4
	ix.off32 = data[pos : pos+n*4]
	pos += n * 4
	ix.off64 = data[pos : len(data)-40]
	// A corrupt index must give an error, not a panic at a lookup: the
	// fan-out never decreases (the last entry is n), checked here; a large
	// offset past the 64-bit table is checked where it is read (offset),
	// so that opening a big index does not read all of it.
	prev := uint32(0)
	for b := 0; b < 256; b++ {
		v := binary.BigEndian.Uint32(fan[b*4:])
		if v < prev {
			return nil, fmt.Errorf("%s: corrupt pack index (fan-out decreases at %02x)", path, b)
		}
		prev = v
	}
	return ix, nil
}

func (ix *mappedIndex) close() {
	if ix.data != nil {
		syscall.Munmap(ix.data)
		ix.data = nil
	}
	if ix.revMap != nil {
		syscall.Munmap(ix.revMap)
		ix.revMap = nil
	}
}

func (ix *mappedIndex) fanout(b byte) (lo, hi int) {
	fan := ix.data[8 : 8+256*4]
	hi = int(binary.BigEndian.Uint32(fan[int(b)*4:]))
	if b > 0 {
		lo = int(binary.BigEndian.Uint32(fan[int(b-1)*4:]))
	}
	return lo, hi
}

func (ix *mappedIndex) find(h plumbing.Hash) (int, bool) {
	lo, hi := ix.fanout(h[0])
	for lo < hi {
		mid := (lo + hi) / 2
		c := bytes.Compare(ix.names[mid*20:mid*20+20], h[:])
		switch {
		case c == 0:
			return mid, true
		case c < 0:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return 0, false
}

func (ix *mappedIndex) contains(h plumbing.Hash) bool { _, ok := ix.find(h); return ok }

// offset returns entry i's offset in the pack, or -1 when the index is
// corrupt there (a large offset past the 64-bit table).
func (ix *mappedIndex) offset(i int) int64 {
	o := binary.BigEndian.Uint32(ix.off32[i*4:])
	if o&0x80000000 == 0 {
		return int64(o)
	}
	k := int(o & 0x7fffffff)
	if k >= len(ix.off64)/8 {
		return -1
	}
	return int64(binary.BigEndian.Uint64(ix.off64[k*8:]))
}

// errCorruptIndex is a lookup through a corrupt pack index entry.
var errCorruptIndex = errors.New("corrupt pack index: an entry points past the 64-bit offsets")

// Contains implements idxfile.Index.
func (ix *mappedIndex) Contains(h plumbing.Hash) (bool, error) { return ix.contains(h), nil }

// FindOffset implements idxfile.Index.
func (ix *mappedIndex) FindOffset(h plumbing.Hash) (int64, error) {
	i, ok := ix.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	if off := ix.offset(i); off >= 0 {
		return off, nil
	}
	return 0, errCorruptIndex
}

// FindCRC32 implements idxfile.Index.
func (ix *mappedIndex) FindCRC32(h plumbing.Hash) (uint32, error) {
	i, ok := ix.find(h)
	if !ok {
		return 0, plumbing.ErrObjectNotFound
	}
	return binary.BigEndian.Uint32(ix.crcs[i*4:]), nil
}

// FindHash implements idxfile.Index with a binary search over the reverse
// index.
func (ix *mappedIndex) FindHash(o int64) (plumbing.Hash, error) {
	lo, hi := 0, ix.n
	for lo < hi {
		mid := (lo + hi) / 2
		i := int(binary.BigEndian.Uint32(ix.rev[mid*4:]))
		off := ix.offset(i)
		switch {
		case off == o:
			var h plumbing.Hash
			copy(h[:], ix.names[i*20:])
			return h, nil
		case off < o:
			lo = mid + 1
		default:
			hi = mid
		}
	}
	return plumbing.ZeroHash, plumbing.ErrObjectNotFound
}

// Count implements idxfile.Index.
func (ix *mappedIndex) Count() (int64, error) { return int64(ix.n), nil }

// Entries implements idxfile.Index.
func (ix *mappedIndex) Entries() (idxfile.EntryIter, error) {
	return &mappedIter{ix: ix}, nil
}

// EntriesByOffset implements idxfile.Index.
func (ix *mappedIndex) EntriesByOffset() (idxfile.EntryIter, error) {
	return &mappedIter{ix: ix, byOffset: true}, nil
}

type mappedIter struct {
	ix       *mappedIndex
	i        int
	byOffset bool
}

func (it *mappedIter) Next() (*idxfile.Entry, error) {
	if it.i >= it.ix.n {
		return nil, io.EOF
	}
	i := it.i
	if it.byOffset {
		i = int(binary.BigEndian.Uint32(it.ix.rev[it.i*4:]))
	}
	it.i++
	e := &idxfile.Entry{CRC32: binary.BigEndian.Uint32(it.ix.crcs[i*4:]), Offset: uint64(it.ix.offset(i))}
	copy(e.Hash[:], it.ix.names[i*20:])
	return e, nil
}

func (it *mappedIter) Close() error { return nil }

// loadReverse maps the pack's .rev file (git writes it with
// pack.writeReverseIndex), or our cached one, or computes and caches it.
func (ix *mappedIndex) loadReverse(gitRev, cacheRev string) error {
	for _, p := range []string{gitRev, cacheRev} {
		data, err := mmapFile(p)
		if err != nil {
			continue
		}
		if len(data) >= 12+ix.n*4 && bytes.Equal(data[:4], []byte("RIDX")) && binary.BigEndian.Uint32(data[4:8]) == 1 {
			ix.revMap = data
			ix.rev = data[12 : 12+ix.n*4]
			return nil
		}
		syscall.Munmap(data)
	}
	rev := ix.computeReverse()
	// Cache it in git's .rev layout (header, positions, no trailer
	// checksums needed by us) for the next process; best effort.
	buf := make([]byte, 12+len(rev))
	copy(buf, "RIDX")
	binary.BigEndian.PutUint32(buf[4:], 1)
	binary.BigEndian.PutUint32(buf[8:], 1)
	copy(buf[12:], rev)
	_ = WriteFileAtomic(cacheRev, buf)
	ix.rev = rev
	return nil
}

// computeReverse sorts index positions by pack offset.
func (ix *mappedIndex) computeReverse() []byte {
	type po struct {
		off int64
		pos uint32
	}
	v := make([]po, ix.n)
	for i := range v {
		v[i] = po{ix.offset(i), uint32(i)}
	}
	sort.Slice(v, func(a, b int) bool { return v[a].off < v[b].off })
	out := make([]byte, ix.n*4)
	for i, x := range v {
		binary.BigEndian.PutUint32(out[i*4:], x.pos)
	}
	return out
}

// packOrder returns a sort key that follows the physical order of object
// h in the packs (pack number, offset), or -1 when it is loose or unknown.
// Reading many objects in this order keeps delta bases in the caches.
func (o *objectReader) packOrder(h plumbing.Hash) int64 {
	_, n, off, ok := o.locate(h)
	if !ok {
		return -1
	}
	return int64(n)<<40 | off
}
