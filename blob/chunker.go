package blob

import (
	"fmt"
	"io"
	"math/bits"
	"sync"
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
	i := 0
	for ; i+1 < len(data); i += 2 {
		pair := data[i : i+2 : i+2]
		g0, g1 := gear[pair[0]], gear[pair[1]]
		h1 := h<<1 + g0
		h = h<<2 + (g0<<1 + g1)
		if h1&mask == 0 {
			return h1, i + 1
		}
		if h&mask == 0 {
			return h, i + 2
		}
	}
	if i < len(data) {
		h = h<<1 + gear[data[i]]
		if h&mask == 0 {
			return h, i + 1
		}
	}
	return h, -1
}

// chunker splits a stream into content-defined chunks.
type chunker struct {
	r          io.Reader
	p          chunkParams
	buf        []byte
	start, end int
	eof        bool
}

// newChunker returns a chunker reading r. Its buffer holds four maximal
// chunks, so the unread tail is moved to its front only about once every
// three maximal chunks' worth of input. Call release when done with it, so
// the next chunker reuses the buffer: allocating (and zeroing) 16 MiB per
// file would dominate adding many small files.
func newChunker(r io.Reader, p chunkParams) *chunker {
	c := &chunker{r: r, p: p}
	if b, ok := chunkerBufs.Get().(*[]byte); ok && len(*b) == 4*p.max {
		c.buf = *b
	} else {
		c.buf = make([]byte, 4*p.max)
	}
	return c
}

// chunkerBufs holds released chunker buffers.
var chunkerBufs sync.Pool

// release returns the buffer for reuse; the chunker and the chunks it
// returned must not be used afterwards.
func (c *chunker) release() {
	if c.buf != nil {
		b := c.buf
		c.buf = nil
		chunkerBufs.Put(&b)
	}
}

// next returns the next chunk, valid until the following call, or io.EOF
// after the last one. Reader errors are returned as they are, once the
// chunks that end before the data read so far runs out have been returned.
func (c *chunker) next() ([]byte, error) {
	if c.end-c.start < c.p.max && !c.eof {
		if len(c.buf)-c.start < c.p.max {
			c.end = copy(c.buf, c.buf[c.start:c.end])
			c.start = 0
		}
		// Read only what the next cut needs, so that chunks before a read
		// error are handed out (and stored) before the error is.
		for c.end-c.start < c.p.max {
			n, err := c.r.Read(c.buf[c.end:])
			c.end += n
			if err == io.EOF {
				c.eof = true
				break
			}
			if err != nil {
				return nil, err
			}
		}
	}
	if c.start == c.end {
		return nil, io.EOF
	}
	n := c.p.cut(c.buf[c.start:c.end])
	chunk := c.buf[c.start : c.start+n]
	c.start += n
	return chunk, nil
}
