package manifest

import (
	"encoding/binary"
	"fmt"
	"math"
	"runtime"
	"sync"
	"sync/atomic"
)

// A metric-history blob holds one sealed segment of a run's metric history
// outside Git, in the blob store, when the run's history is long (see
// MetricBlob, the pointer that stays on the branch). It is columnar: per
// metric key, blocks of up to ColumnBlockPoints points, each block's steps,
// timestamps and values stored apart, so that the blob store's compression
// sees regular columns:
//
//	magic    "MLGMCOL1"
//	uvarint  number of keys
//	per key, in order of first appearance in the segment:
//	  uvarint  key length, key bytes
//	  uvarint  number of points
//	  uvarint  number of blocks
//	  per block, a header:
//	    uvarint  points in the block (1..ColumnBlockPoints)
//	    varint   first step, varint last step
//	    8 bytes  smallest value, 8 bytes largest value (little-endian
//	             IEEE 754 bits; NaN when every value is NaN)
//	    uvarint  length of the block's data
//	  the blocks' data, in order:
//	    steps       varint first, then zigzag varints of delta-of-deltas
//	    timestamps  the same
//	    values      a byte for the encoding, then
//	                0 (XOR): 8 byte planes of n bytes: plane j holds byte j
//	                  (little end first) of each value's bits XORed with the
//	                  previous value's bits (the first with 0)
//	                1 (decimal): a byte e (0..17), then zigzag varints of
//	                  the deltas of the integers v * 10^e, when every value
//	                  of the block is exactly such an integer / 10^e
//
// A training loop logs steps 0, 1, 2… at a steady pace, so a step and a
// timestamp cost one or two bytes. Values logged as float32 (what
// frameworks hand over) have 29 zero bits at the low end, and XOR with the
// previous value zeroes the sign, exponent and top mantissa bits of a
// slowly moving value: the planes put those zeros side by side for the
// compressor. Values rounded to decimals (0.4213) have random-looking
// bits but are small integers once scaled, as in ALP (the adaptive
// lossless floating-point encoding of column stores). A reader that needs
// only the range of a block (a chart's envelope) reads the headers and
// skips the data.

// ColumnBlockPoints is the most points a block holds.
const ColumnBlockPoints = 4096

const columnsMagic = "MLGMCOL1"

// MetricColumns is one metric's history as columns, in logging order:
// point i is (Steps[i], Timestamps[i], Values[i]). At 24 bytes a point it
// is the compact form for long histories (a MetricPoint slice takes 40).
type MetricColumns struct {
	Steps      []int64
	Timestamps []int64
	Values     []float64
}

// Len is the number of points.
func (c *MetricColumns) Len() int { return len(c.Values) }

// Add appends point p.
func (c *MetricColumns) Add(p MetricPoint) {
	c.Steps = append(c.Steps, p.Step)
	c.Timestamps = append(c.Timestamps, p.Timestamp)
	c.Values = append(c.Values, p.Value)
}

// ColumnBlock is the header of one block of a metric-history blob.
type ColumnBlock struct {
	Points    int
	FirstStep int64
	LastStep  int64
	Min, Max  float64
}

// EncodeColumns encodes the points of a segment (in logging order, keys
// interleaved as logged) as a metric-history blob. It returns the blob and
// a summary per key.
func EncodeColumns(points []MetricPoint) ([]byte, map[string]MetricBlobKey) {
	type series struct {
		key  string
		cols MetricColumns
	}
	// Two passes: count each key's points (a loop that logs several
	// metrics a step repeats keys in runs, so the last key is checked
	// first), then fill columns of their final size.
	idx := map[string]int{}
	var all []*series
	var counts []int
	last, li := "", -1
	for _, p := range points {
		if li < 0 || p.Key != last {
			i, ok := idx[p.Key]
			if !ok {
				i = len(all)
				idx[p.Key] = i
				all = append(all, &series{key: p.Key})
				counts = append(counts, 0)
			}
			last, li = p.Key, i
		}
		counts[li]++
	}
	for i, s := range all {
		n := counts[i]
		s.cols = MetricColumns{Steps: make([]int64, 0, n), Timestamps: make([]int64, 0, n), Values: make([]float64, 0, n)}
	}
	last, li = "", -1
	for _, p := range points {
		if li < 0 || p.Key != last {
			last, li = p.Key, idx[p.Key]
		}
		all[li].cols.Add(p)
	}
	b := make([]byte, 0, 64+len(points)*12)
	b = append(b, columnsMagic...)
	b = binary.AppendUvarint(b, uint64(len(all)))
	sums := make(map[string]MetricBlobKey, len(all))
	var data []byte
	for _, s := range all {
		c := &s.cols
		n := c.Len()
		b = binary.AppendUvarint(b, uint64(len(s.key)))
		b = append(b, s.key...)
		b = binary.AppendUvarint(b, uint64(n))
		nb := (n + ColumnBlockPoints - 1) / ColumnBlockPoints
		b = binary.AppendUvarint(b, uint64(nb))
		// 8 bytes of value and a byte or two of step and time a point.
		if cap(data) < 12*n {
			data = make([]byte, 0, 12*n)
		}
		data = data[:0]
		sum := MetricBlobKey{Points: int64(n), MinStep: c.Steps[0], MaxStep: c.Steps[0], Min: math.NaN(), Max: math.NaN(), Last: c.Values[n-1]}
		for lo := 0; lo < n; lo += ColumnBlockPoints {
			hi := min(lo+ColumnBlockPoints, n)
			blk := ColumnBlock{Points: hi - lo, FirstStep: c.Steps[lo], LastStep: c.Steps[hi-1], Min: math.NaN(), Max: math.NaN()}
			for i := lo; i < hi; i++ {
				v := c.Values[i]
				if !math.IsNaN(v) {
					if math.IsNaN(blk.Min) || v < blk.Min {
						blk.Min = v
					}
					if math.IsNaN(blk.Max) || v > blk.Max {
						blk.Max = v
					}
				}
				sum.MinStep = min(sum.MinStep, c.Steps[i])
				sum.MaxStep = max(sum.MaxStep, c.Steps[i])
			}
			if !math.IsNaN(blk.Min) {
				if math.IsNaN(sum.Min) || blk.Min < sum.Min {
					sum.Min = blk.Min
				}
				if math.IsNaN(sum.Max) || blk.Max > sum.Max {
					sum.Max = blk.Max
				}
			}
			start := len(data)
			data = appendDeltaOfDelta(data, c.Steps[lo:hi])
			data = appendDeltaOfDelta(data, c.Timestamps[lo:hi])
			data = appendValues(data, c.Values[lo:hi])
			b = binary.AppendUvarint(b, uint64(blk.Points))
			b = binary.AppendVarint(b, blk.FirstStep)
			b = binary.AppendVarint(b, blk.LastStep)
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(blk.Min))
			b = binary.LittleEndian.AppendUint64(b, math.Float64bits(blk.Max))
			b = binary.AppendUvarint(b, uint64(len(data)-start))
		}
		b = append(b, data...)
		sums[s.key] = sum
	}
	return b, sums
}

func appendDeltaOfDelta(b []byte, xs []int64) []byte {
	b = binary.AppendVarint(b, xs[0])
	var prevDelta int64
	for i := 1; i < len(xs); i++ {
		d := xs[i] - xs[i-1]
		b = binary.AppendVarint(b, d-prevDelta)
		prevDelta = d
	}
	return b
}

// Value encodings of a block, its data's byte after the timestamps.
const (
	valuesXOR     = 0 // 8 byte planes of each value's bits XOR the previous value's
	valuesDecimal = 1 // a byte e, then zigzag varints of the deltas of v * 10^e
)

var pow10 = [...]float64{1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16, 1e17}

// decimalFits reports whether v is exactly n / 10^e for an integer n of
// less than 2^53 in magnitude (so -0, NaN and the infinities never fit).
func decimalFits(v float64, e int) (int64, bool) {
	x := v * pow10[e]
	if !(math.Abs(x) < 1<<53) {
		return 0, false
	}
	n := int64(math.Round(x))
	return n, math.Float64bits(float64(n)/pow10[e]) == math.Float64bits(v)
}

// decimalExponent returns the smallest e at which every value fits
// decimalFits, or -1: values logged as rounded decimals (0.4213, 17)
// take a few bytes as integers where their bits look random.
func decimalExponent(vs []float64) int {
	e := 0
	for _, v := range vs {
		for {
			if _, ok := decimalFits(v, e); ok {
				break
			}
			if e++; e == len(pow10) {
				return -1
			}
		}
	}
	for _, v := range vs {
		if _, ok := decimalFits(v, e); !ok {
			return -1
		}
	}
	return e
}

func appendValues(b []byte, vs []float64) []byte {
	e := decimalExponent(vs)
	if e < 0 {
		b = append(b, valuesXOR)
		return appendValuePlanes(b, vs)
	}
	b = append(b, valuesDecimal, byte(e))
	var prev int64
	for _, v := range vs {
		n, _ := decimalFits(v, e)
		b = binary.AppendVarint(b, n-prev)
		prev = n
	}
	return b
}

func appendValuePlanes(b []byte, vs []float64) []byte {
	n := len(vs)
	start := len(b)
	b = append(b, make([]byte, 8*n)...)
	planes := b[start:]
	var scratch [ColumnBlockPoints]uint64
	xs := scratch[:n]
	var prev uint64
	for i, v := range vs {
		bits := math.Float64bits(v)
		xs[i] = bits ^ prev
		prev = bits
	}
	for j := 0; j < 8; j++ {
		plane, shift := planes[j*n:(j+1)*n], 8*j
		for i, x := range xs {
			plane[i] = byte(x >> shift)
		}
	}
	return b
}

// columnReader reads a metric-history blob's fields, failing on anything
// out of bounds.
type columnReader struct {
	b   []byte
	off int
	err error
}

func (r *columnReader) fail(format string, args ...any) {
	if r.err == nil {
		r.err = fmt.Errorf("%w: metric history blob, offset %d: %s", ErrSyntax, r.off, fmt.Sprintf(format, args...))
	}
}

func (r *columnReader) uvarint(what string, limit uint64) uint64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Uvarint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad %s", what)
		return 0
	}
	if v > limit {
		r.fail("%s %d is more than %d", what, v, limit)
		return 0
	}
	r.off += n
	return v
}

func (r *columnReader) varint(what string) int64 {
	if r.err != nil {
		return 0
	}
	v, n := binary.Varint(r.b[r.off:])
	if n <= 0 {
		r.fail("bad %s", what)
		return 0
	}
	r.off += n
	return v
}

func (r *columnReader) float(what string) float64 {
	if r.err != nil {
		return 0
	}
	if len(r.b)-r.off < 8 {
		r.fail("%s cut short", what)
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(r.b[r.off:]))
	r.off += 8
	return v
}

// ColumnKey is one key's part of a metric-history blob, as ScanColumns
// hands it over: the blocks' headers, and Decode to read the points.
type ColumnKey struct {
	Key    string
	Points int
	Blocks []ColumnBlock
	data   [][]byte
}

// Decode appends the key's points to dst. Blocks are independent, so a
// long history is decoded on every core.
func (k *ColumnKey) Decode(dst *MetricColumns) error {
	base := len(dst.Values)
	dst.Steps = growInt64(dst.Steps, k.Points)[:base+k.Points]
	dst.Timestamps = growInt64(dst.Timestamps, k.Points)[:base+k.Points]
	dst.Values = growFloat64(dst.Values, k.Points)[:base+k.Points]
	errs := make([]error, len(k.Blocks))
	decode := func(i int) {
		lo := base + i*ColumnBlockPoints
		hi := lo + k.Blocks[i].Points
		errs[i] = decodeBlock(k.data[i], k.Blocks[i], dst.Steps[lo:hi], dst.Timestamps[lo:hi], dst.Values[lo:hi])
	}
	workers := min(runtime.GOMAXPROCS(0), len(k.Blocks)/8)
	if workers < 2 {
		for i := range k.Blocks {
			decode(i)
		}
	} else {
		var next atomic.Int64
		var wg sync.WaitGroup
		for w := 0; w < workers; w++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := int(next.Add(1) - 1); i < len(k.Blocks); i = int(next.Add(1) - 1) {
					decode(i)
				}
			}()
		}
		wg.Wait()
	}
	for i, err := range errs {
		if err != nil {
			dst.Steps, dst.Timestamps, dst.Values = dst.Steps[:base], dst.Timestamps[:base], dst.Values[:base]
			return fmt.Errorf("%w: metric history blob: key %q block %d: %v", ErrSyntax, k.Key, i+1, err)
		}
	}
	return nil
}

func growInt64(s []int64, n int) []int64 {
	if cap(s)-len(s) < n {
		t := make([]int64, len(s), len(s)+n)
		copy(t, s)
		return t
	}
	return s
}

func growFloat64(s []float64, n int) []float64 {
	if cap(s)-len(s) < n {
		t := make([]float64, len(s), len(s)+n)
		copy(t, s)
		return t
	}
	return s
}

// varint is binary.Varint(b[off:]) with the one-byte case, which steady
// steps and times make the usual one, inline.
func varint(b []byte, off int) (int64, int) {
	if off < len(b) && b[off] < 0x80 {
		u := int64(b[off])
		return (u >> 1) ^ -(u & 1), 1
	}
	if off >= len(b) {
		return 0, 0
	}
	return binary.Varint(b[off:])
}

// readDeltaOfDelta fills out from the delta-of-delta varints at data[off:]
// and returns the offset after them.
func readDeltaOfDelta(data []byte, off int, out []int64) (int, error) {
	var prev, delta int64
	for i := range out {
		v, m := varint(data, off)
		if m <= 0 {
			return off, fmt.Errorf("bad varint at block offset %d", off)
		}
		off += m
		if i == 0 {
			prev = v
		} else {
			delta += v
			prev += delta
		}
		out[i] = prev
	}
	return off, nil
}

// decodeBlock decodes one block of blk.Points points into steps,
// timestamps and values, each of that length.
func decodeBlock(data []byte, blk ColumnBlock, steps, times []int64, values []float64) error {
	n := blk.Points
	if len(data) < 3*n {
		return fmt.Errorf("%d bytes cannot hold %d points", len(data), n)
	}
	off, err := readDeltaOfDelta(data, 0, steps)
	if err != nil {
		return err
	}
	if steps[0] != blk.FirstStep || steps[n-1] != blk.LastStep {
		return fmt.Errorf("steps do not match the block header")
	}
	if off, err = readDeltaOfDelta(data, off, times); err != nil {
		return err
	}
	if off == len(data) {
		return fmt.Errorf("no values")
	}
	mode := data[off]
	off++
	switch mode {
	case valuesXOR:
		if len(data)-off != 8*n {
			return fmt.Errorf("values take %d bytes, want %d", len(data)-off, 8*n)
		}
		// Plane by plane (each a sequential pass), then the running XOR.
		var scratch [ColumnBlockPoints]uint64
		xs := scratch[:n]
		for j := 0; j < 8; j++ {
			plane, shift := data[off+j*n:off+(j+1)*n], 8*j
			for i, c := range plane {
				xs[i] |= uint64(c) << shift
			}
		}
		var prev uint64
		for i, x := range xs {
			prev ^= x
			values[i] = math.Float64frombits(prev)
		}
	case valuesDecimal:
		if off == len(data) || int(data[off]) >= len(pow10) {
			return fmt.Errorf("bad decimal exponent")
		}
		scale := pow10[data[off]]
		off++
		var prev int64
		for i := range values {
			d, m := varint(data, off)
			if m <= 0 {
				return fmt.Errorf("bad value at block offset %d", off)
			}
			off += m
			prev += d
			if prev >= 1<<53 || prev <= -(1<<53) {
				return fmt.Errorf("value %d out of range", prev)
			}
			values[i] = float64(prev) / scale
		}
		if off != len(data) {
			return fmt.Errorf("%d bytes after the values", len(data)-off)
		}
	default:
		return fmt.Errorf("unknown value encoding %d", mode)
	}
	return nil
}

// ScanColumns reads a metric-history blob's structure and calls fn for each
// key, in the blob's order, with its block headers; fn decodes the points
// it wants with ColumnKey.Decode. Anything malformed fails with an error
// wrapping ErrSyntax; ScanColumns never allocates more than the blob's size
// justifies.
func ScanColumns(b []byte, fn func(k *ColumnKey) error) error {
	if len(b) < len(columnsMagic) || string(b[:len(columnsMagic)]) != columnsMagic {
		return fmt.Errorf("%w: not a metric history blob (no %q at the start)", ErrSyntax, columnsMagic)
	}
	r := &columnReader{b: b, off: len(columnsMagic)}
	nkeys := r.uvarint("number of keys", uint64(len(b)))
	seen := map[string]bool{}
	for ki := uint64(0); ki < nkeys && r.err == nil; ki++ {
		klen := r.uvarint("key length", 4*MaxKeyLength)
		if r.err != nil {
			break
		}
		if uint64(len(b)-r.off) < klen {
			r.fail("key cut short")
			break
		}
		key := string(b[r.off : r.off+int(klen)])
		r.off += int(klen)
		if err := ValidateKey("metric", key); err != nil {
			r.fail("key %q: %v", key, err)
			break
		}
		if seen[key] {
			r.fail("key %q appears twice", key)
			break
		}
		seen[key] = true
		// Every point takes at least 3 bytes (three varints).
		npoints := r.uvarint("number of points", uint64(len(b)/3))
		nblocks := r.uvarint("number of blocks", npoints)
		if r.err != nil {
			break
		}
		if npoints == 0 || nblocks != (npoints+ColumnBlockPoints-1)/ColumnBlockPoints {
			r.fail("key %q: %d points in %d blocks", key, npoints, nblocks)
			break
		}
		k := &ColumnKey{Key: key, Points: int(npoints), Blocks: make([]ColumnBlock, nblocks), data: make([][]byte, nblocks)}
		lens := make([]uint64, nblocks)
		total := 0
		for i := range k.Blocks {
			blk := &k.Blocks[i]
			blk.Points = int(r.uvarint("block points", ColumnBlockPoints))
			blk.FirstStep = r.varint("first step")
			blk.LastStep = r.varint("last step")
			blk.Min = r.float("block minimum")
			blk.Max = r.float("block maximum")
			lens[i] = r.uvarint("block length", uint64(len(b)))
			if r.err != nil {
				break
			}
			if blk.Points == 0 || (i < len(k.Blocks)-1 && blk.Points != ColumnBlockPoints) {
				r.fail("key %q block %d: %d points", key, i+1, blk.Points)
				break
			}
			total += blk.Points
		}
		if r.err != nil {
			break
		}
		if total != int(npoints) {
			r.fail("key %q: blocks hold %d points, the header says %d", key, total, npoints)
			break
		}
		for i := range k.data {
			if uint64(len(b)-r.off) < lens[i] {
				r.fail("key %q block %d cut short", key, i+1)
				break
			}
			k.data[i] = b[r.off : r.off+int(lens[i])]
			r.off += int(lens[i])
		}
		if r.err != nil {
			break
		}
		if err := fn(k); err != nil {
			return err
		}
	}
	if r.err == nil && r.off != len(b) {
		r.fail("%d bytes after the last key", len(b)-r.off)
	}
	return r.err
}

// DecodeColumns decodes every key of a metric-history blob that want
// accepts (nil: all), appending its points to dst(key).
func DecodeColumns(b []byte, want func(string) bool, dst func(string) *MetricColumns) error {
	return ScanColumns(b, func(k *ColumnKey) error {
		if want != nil && !want(k.Key) {
			return nil
		}
		return k.Decode(dst(k.Key))
	})
}
