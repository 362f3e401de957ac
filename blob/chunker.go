package blob

import (
	"context"
	"fmt"
	"io"
	"math/bits"
	"sync"
	"sync/atomic"
)

// Chunk size parameters of the content-defined chunker. They are part of the
// storage format in effect: changing them (or the gear table) makes new
// versions of old files chunk differently and dedup stops working across
// the change. See doc.go for why these values.
const (
	// MinChunkSize is the smallest chunk the chunker cuts, except for the
	// last chunk of a file (and files smaller than this are one chunk).
	MinChunkSize = 256 << 10
	// AvgChunkSize is the target average chunk size (a power of two).
	AvgChunkSize = 1 << 20
	// MaxChunkSize is the largest chunk; a cut is forced there.
	MaxChunkSize = 4 << 20
)

// chunkParams are chunker parameters. Tests use smaller ones; stored data
// always uses defaultParams.
type chunkParams struct {
	min, avg, max int
	maskS, maskL  uint64 // harder mask before avg, easier after (normalized chunking)
}

var defaultParams = newChunkParams(MinChunkSize, AvgChunkSize, MaxChunkSize)

// newChunkParams builds parameters; avg must be a power of two, and
// 64 <= min < avg < max.
func newChunkParams(minSize, avg, maxSize int) chunkParams {
	if avg&(avg-1) != 0 || minSize < 64 || minSize >= avg || avg >= maxSize {
		panic(fmt.Sprintf("blob: bad chunk parameters %d/%d/%d", minSize, avg, maxSize))
	}
	b := bits.TrailingZeros(uint(avg))
	// Normalization level 2: the mask before avg has two bits more (cuts
	// 4x less likely), the one after two bits fewer (4x more likely), which
	// pulls chunk sizes towards avg. The masks test the top bits of the
	// hash, which depend on the last 64 bytes.
	return chunkParams{
		min: minSize, avg: avg, max: maxSize,
		maskS: ^uint64(0) << (64 - (b + 2)),
		maskL: ^uint64(0) << (64 - (b - 2)),
	}
}

// gear is the table of the gear rolling hash: 256 pseudo-random 64-bit
// values from splitmix64 with a fixed seed. It must never change.
var gear = func() (t [256]uint64) {
	x := uint64(0x6d6c6769742d6364) // "mlgit-cd"
	for i := range t {
		x += 0x9e3779b97f4a7c15
		z := x
		z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9
		z = (z ^ (z >> 27)) * 0x94d049bb133111eb
		t[i] = z ^ (z >> 31)
	}
	return t
}()

// cut returns the length of the first chunk of data. data must hold at
// least p.max bytes unless it is the end of the input. The decision at each
// position depends only on the 64 bytes before it and the distance from the
// chunk start, so boundaries re-synchronize after an edit.
func (p *chunkParams) cut(data []byte) int {
	n := len(data)
	if n <= p.min {
		return n
	}
	n = min(n, p.max)
	normal := min(n, p.avg)
	var h uint64
	// Ranging over sub-slices lets the compiler drop bounds checks.
	for _, b := range data[p.min-64 : p.min] {
		h = h<<1 + gear[b]
	}
	h, i := gearScan(h, data[p.min:normal], p.maskS)
	if i >= 0 {
		return p.min + i
	}
	if _, i = gearScan(h, data[normal:n], p.maskL); i >= 0 {
		return normal + i
	}
	return n
}

// gearScan rolls the gear hash h over data and returns the hash and the
// length of the prefix of data after which h&mask is first zero (-1 if
// never). It takes two bytes per step: h<<2 + (g0<<1 + g1) equals
// (h<<1 + g0)<<1 + g1, so the serial dependency is one shift and one add
// per two bytes instead of per byte, while the hash is still tested after
// every byte, so the boundaries are exactly those of a byte-wise loop.
func gearScan(h uint64, data []byte, mask uint64) (uint64, int) {
	// j indexes the second byte of each pair; written this way the
	// compiler proves both indexes in bounds and checks neither.
	j := 1
	for ; j < len(data); j += 2 {
		g0, g1 := gear[data[j-1]], gear[data[j]]
		h1 := h<<1 + g0
		h = h<<2 + (g0<<1 + g1)
		if h1&mask == 0 {
			return h1, j
		}
		if h&mask == 0 {
			return h, j + 1
		}
	}
	if i := j - 1; i < len(data) {
		h = h<<1 + gear[data[i]]
		if h&mask == 0 {
			return h, i + 1
		}
	}
	return h, -1
}

// chunker splits a stream into content-defined chunks. It reads into
// segments (buffers of four maximal chunks) and hands out each chunk as a
// slice of its segment together with a reference to it, so the add pipeline
// hashes and writes chunks where they were read, without copying them. When
// less than a maximal chunk of room is left in a segment, the unread tail
// (less than MaxChunkSize) is copied to the start of a fresh one: about an
// eighth of the bytes, instead of every byte as a copy per chunk would.
type chunker struct {
	ctx        context.Context
	r          io.Reader
	p          chunkParams
	pool       *segPool
	seg        *segment // current; the chunker holds one reference
	start, end int      // unread data: seg.buf[start:end]
	eof        bool
}

// newChunker returns a chunker reading r with segments from pool (nil: a
// pool of two, enough for callers that release each chunk before asking for
// the next). Call release when done with it.
func newChunker(ctx context.Context, r io.Reader, p chunkParams, pool *segPool) *chunker {
	if pool == nil {
		pool = newSegPool(p, 2)
	}
	return &chunker{ctx: ctx, r: r, p: p, pool: pool}
}

// release drops the chunker's reference to its current segment. Chunks
// handed out stay valid until their own references are released.
func (c *chunker) release() {
	if c.seg != nil {
		c.seg.release()
		c.seg = nil
	}
}

// next returns the next chunk and its segment, with one reference to the
// segment that the caller must release when done with the chunk (the
// chunk's bytes stay valid until then), or io.EOF after the last chunk.
// Reader errors are returned as they are, once the chunks that end before
// the data read so far runs out have been returned.
func (c *chunker) next() ([]byte, *segment, error) {
	if c.end-c.start < c.p.max && !c.eof {
		if c.seg == nil || len(c.seg.buf)-c.start < c.p.max {
			s, err := c.pool.get(c.ctx)
			if err != nil {
				return nil, nil, err
			}
			n := 0
			if c.seg != nil {
				n = copy(s.buf, c.seg.buf[c.start:c.end])
				c.seg.release()
			}
			c.seg, c.start, c.end = s, 0, n
		}
		// Read only what the next cut needs, so that chunks before a read
		// error are handed out (and stored) before the error is.
		for c.end-c.start < c.p.max {
			n, err := c.r.Read(c.seg.buf[c.end:])
			c.end += n
			if err == io.EOF {
				c.eof = true
				break
			}
			if err != nil {
				return nil, nil, err
			}
		}
	}
	if c.start == c.end {
		return nil, nil, io.EOF
	}
	n := c.p.cut(c.seg.buf[c.start:c.end])
	chunk := c.seg.buf[c.start : c.start+n : c.start+n]
	c.start += n
	c.seg.retain()
	return chunk, c.seg, nil
}

// segment is a buffer the chunker reads into. It goes back to its pool when
// the last reference (the chunker's, and one per chunk handed out and not
// yet released) is released.
type segment struct {
	buf  []byte
	refs atomic.Int32
	pool *segPool
}

func (s *segment) retain() { s.refs.Add(1) }

func (s *segment) release() {
	switch n := s.refs.Add(-1); {
	case n == 0:
		s.pool.put(s)
	case n < 0:
		panic("blob: segment released more often than retained")
	}
}

// segPool hands out at most limit segments of 4*max bytes at once, so the
// data an add holds in memory is bounded; get waits for a release when all
// are in use. Released buffers are kept for the next get; recycle hands
// them to a process-wide pool when the add is done, so adding many small
// files does not allocate (and zero) 16 MiB each time.
type segPool struct {
	size  int
	mu    sync.Mutex
	cond  *sync.Cond
	live  int // segments handed out and not yet back
	limit int
	free  [][]byte
}

func newSegPool(p chunkParams, limit int) *segPool {
	sp := &segPool{size: 4 * p.max, limit: max(2, limit)}
	sp.cond = sync.NewCond(&sp.mu)
	return sp
}

// segBufs holds the free segment buffers of finished adds, by size.
var segBufs sync.Map // int -> *sync.Pool

func segBufPool(size int) *sync.Pool {
	if p, ok := segBufs.Load(size); ok {
		return p.(*sync.Pool)
	}
	p, _ := segBufs.LoadOrStore(size, &sync.Pool{})
	return p.(*sync.Pool)
}

// get returns a segment with one reference (the caller's). It waits while
// limit segments are in use, and fails when ctx is done.
func (sp *segPool) get(ctx context.Context) (*segment, error) {
	sp.mu.Lock()
	if sp.live >= sp.limit {
		stop := context.AfterFunc(ctx, func() {
			sp.mu.Lock()
			sp.cond.Broadcast()
			sp.mu.Unlock()
		})
		for sp.live >= sp.limit && ctx.Err() == nil {
			sp.cond.Wait()
		}
		stop()
		if err := ctx.Err(); err != nil {
			sp.mu.Unlock()
			return nil, err
		}
	}
	sp.live++
	var buf []byte
	if n := len(sp.free); n > 0 {
		buf, sp.free = sp.free[n-1], sp.free[:n-1]
	}
	sp.mu.Unlock()
	if buf == nil {
		if b, ok := segBufPool(sp.size).Get().(*[]byte); ok {
			buf = *b
		} else {
			buf = make([]byte, sp.size)
		}
	}
	s := &segment{buf: buf, pool: sp}
	s.refs.Store(1)
	return s, nil
}

func (sp *segPool) put(s *segment) {
	b := s.buf
	s.buf = nil
	sp.mu.Lock()
	sp.free = append(sp.free, b)
	sp.live--
	sp.cond.Signal()
	sp.mu.Unlock()
}

// recycle hands the free buffers to the process-wide pool. Call it when no
// more segments will be needed.
func (sp *segPool) recycle() {
	sp.mu.Lock()
	free := sp.free
	sp.free = nil
	sp.mu.Unlock()
	for _, b := range free {
		segBufPool(sp.size).Put(&b)
	}
}
