package manifest

import (
	"bytes"
	"encoding/binary"
	"errors"
	"math"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

// columnsOf groups points by key, in order: what a reader of a segment
// sees per key.
func columnsOf(points []MetricPoint) map[string]*MetricColumns {
	out := map[string]*MetricColumns{}
	for _, p := range points {
		c := out[p.Key]
		if c == nil {
			c = &MetricColumns{}
			out[p.Key] = c
		}
		c.Add(p)
	}
	return out
}

func decodeAll(t testing.TB, b []byte) map[string]*MetricColumns {
	t.Helper()
	out := map[string]*MetricColumns{}
	err := DecodeColumns(b, nil, func(k string) *MetricColumns {
		if out[k] == nil {
			out[k] = &MetricColumns{}
		}
		return out[k]
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// sameColumns compares bit for bit, so NaN payloads and -0 count.
func sameColumns(a, b map[string]*MetricColumns) bool {
	if len(a) != len(b) {
		return false
	}
	for k, x := range a {
		y := b[k]
		if y == nil || !reflect.DeepEqual(x.Steps, y.Steps) || !reflect.DeepEqual(x.Timestamps, y.Timestamps) || len(x.Values) != len(y.Values) {
			return false
		}
		for i := range x.Values {
			if math.Float64bits(x.Values[i]) != math.Float64bits(y.Values[i]) {
				return false
			}
		}
	}
	return true
}

func TestColumnsRoundTrip(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var pts []MetricPoint
	// A training loop: three keys interleaved, steady steps, a loss that
	// falls, odd values, and a key that spans several blocks.
	for s := int64(0); s < 3*ColumnBlockPoints+17; s++ {
		pts = append(pts,
			MetricPoint{Key: "loss", Step: s, Timestamp: 1_700_000_000_000 + s*37, Value: 2 / float64(s+1)},
			MetricPoint{Key: "acc", Step: s, Timestamp: 1_700_000_000_000 + s*37 + rng.Int63n(3), Value: float64(float32(rng.Float64()))})
		if s%1000 == 0 {
			pts = append(pts, MetricPoint{Key: "eval/odd values", Step: -s, Timestamp: math.MinInt64 + s, Value: []float64{math.NaN(), math.Inf(1), math.Inf(-1), math.Copysign(0, -1), math.MaxFloat64, math.SmallestNonzeroFloat64}[s/1000%6]})
		}
	}
	// Rounded decimals and integers: the decimal encoding, including a
	// block where one value does not fit and the block falls back.
	for s := int64(0); s < 2*ColumnBlockPoints; s++ {
		v := math.Round(rng.Float64()*1e4) / 1e4
		if s == ColumnBlockPoints+5 {
			v = math.Copysign(0, -1)
		}
		pts = append(pts, MetricPoint{Key: "rounded", Step: s, Timestamp: s, Value: v}, MetricPoint{Key: "epoch", Step: s, Timestamp: s, Value: float64(s / 100)})
	}
	pts = append(pts, MetricPoint{Key: "jump", Step: math.MaxInt64, Timestamp: math.MaxInt64, Value: 1}, MetricPoint{Key: "jump", Step: math.MinInt64, Timestamp: math.MinInt64, Value: 2})
	b, sums := EncodeColumns(pts)
	if got, want := decodeAll(t, b), columnsOf(pts); !sameColumns(got, want) {
		t.Fatal("decoded columns differ from the encoded points")
	}
	loss := sums["loss"]
	if loss.Points != 3*ColumnBlockPoints+17 || loss.MinStep != 0 || loss.MaxStep != 3*ColumnBlockPoints+16 || loss.Max != 2 || loss.Last != 2/float64(3*ColumnBlockPoints+17) || loss.Min != loss.Last {
		t.Fatalf("loss summary = %+v", loss)
	}
	if j := sums["jump"]; j.MinStep != math.MinInt64 || j.MaxStep != math.MaxInt64 || j.Last != 2 {
		t.Fatalf("jump summary = %+v", j)
	}
	// The block headers carry each block's range, for readers that skip
	// the data.
	var blocks []ColumnBlock
	ScanColumns(b, func(k *ColumnKey) error {
		if k.Key == "loss" {
			blocks = k.Blocks
		}
		return nil
	})
	if len(blocks) != 4 || blocks[1].Points != ColumnBlockPoints || blocks[1].FirstStep != ColumnBlockPoints || blocks[1].Max != 2/float64(ColumnBlockPoints+1) || blocks[3].Points != 17 {
		t.Fatalf("loss blocks = %+v", blocks)
	}
	// A steady loop costs far less than the text form.
	text := EncodeSegment(pts)
	if len(b) > len(text)*2/3 {
		t.Errorf("columns take %d bytes against %d of text", len(b), len(text))
	}
	// Only the wanted keys are decoded.
	n := 0
	err := DecodeColumns(b, func(k string) bool { return k == "acc" }, func(k string) *MetricColumns {
		n++
		if k != "acc" {
			t.Errorf("decoded %q", k)
		}
		return &MetricColumns{}
	})
	if err != nil || n != 1 {
		t.Fatalf("selective decode: %v, %d keys", err, n)
	}
}

func TestColumnsRejectDamage(t *testing.T) {
	var pts []MetricPoint
	for s := int64(0); s < 5000; s++ {
		pts = append(pts, MetricPoint{Key: "m", Step: s, Timestamp: s, Value: float64(s)})
	}
	b, _ := EncodeColumns(pts)
	// Every truncation and a byte flipped in every header field fail with
	// ErrSyntax or decode to something else; none panics.
	for cut := 0; cut < len(b); cut += 1 + cut/50 {
		if err := DecodeColumns(b[:cut], nil, func(string) *MetricColumns { return &MetricColumns{} }); !errors.Is(err, ErrSyntax) {
			t.Fatalf("cut at %d: %v", cut, err)
		}
	}
	extra := append(bytes.Clone(b), 0)
	if err := ScanColumns(extra, func(*ColumnKey) error { return nil }); !errors.Is(err, ErrSyntax) {
		t.Fatalf("trailing byte: %v", err)
	}
	// A block whose steps disagree with its header.
	bad := bytes.Clone(b)
	hdr := len(columnsMagic) + 1 + 1 + 1 + binary.PutUvarint(make([]byte, 10), 5000) + 1 // magic, nkeys, keylen, "m", points, blocks
	bad[hdr+2]++                                                                         // first step of block 1
	if err := DecodeColumns(bad, nil, func(string) *MetricColumns { return &MetricColumns{} }); !errors.Is(err, ErrSyntax) {
		t.Fatalf("step header changed: %v", err)
	}
}

func TestMetricBlobManifest(t *testing.T) {
	_, sums := EncodeColumns([]MetricPoint{{Key: "loss", Step: 1, Value: 0.5}, {Key: "loss", Step: 2, Value: 0.25}, {Key: "acc", Step: 2, Value: math.NaN()}})
	m := NewMetricBlob("0123456789abcdef0123456789abcdef", 3, "sha256:"+string(bytes.Repeat([]byte("ab"), 32)), 99, sums)
	data := m.Encode()
	got, err := DecodeMetricBlob(data)
	if err != nil {
		t.Fatalf("%v\n%s", err, data)
	}
	if got.Points != 3 || got.Metrics["loss"].Last != 0.25 || got.Metrics["loss"].MaxStep != 2 || !math.IsNaN(got.Metrics["acc"].Min) {
		t.Fatalf("decoded %+v", got)
	}
	if ok, err := Canonical(data); !ok || err != nil {
		t.Fatalf("canonical: %v %v\n%s", ok, err, data)
	}
	m.Points = 4
	if _, err := DecodeMetricBlob(m.Encode()); !errors.Is(err, ErrInvalid) {
		t.Fatalf("wrong total: %v", err)
	}
}

func FuzzColumns(f *testing.F) {
	b, _ := EncodeColumns([]MetricPoint{{Key: "a", Step: 1, Timestamp: 2, Value: 3}, {Key: "b", Step: 5, Timestamp: 9, Value: math.NaN()}, {Key: "a", Step: 2, Timestamp: 4, Value: 4}})
	f.Add(b)
	f.Add([]byte(columnsMagic))
	f.Fuzz(func(t *testing.T, data []byte) {
		// Arbitrary bytes: an error or columns that re-encode to the same
		// points; never a panic.
		got := map[string]*MetricColumns{}
		var order []string
		err := DecodeColumns(data, nil, func(k string) *MetricColumns {
			if got[k] == nil {
				got[k] = &MetricColumns{}
				order = append(order, k)
			}
			return got[k]
		})
		if err != nil {
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("error without ErrSyntax: %v", err)
			}
			return
		}
		var pts []MetricPoint
		for _, k := range order {
			c := got[k]
			for i := range c.Values {
				pts = append(pts, MetricPoint{Key: k, Step: c.Steps[i], Timestamp: c.Timestamps[i], Value: c.Values[i]})
			}
		}
		again, _ := EncodeColumns(pts)
		if !sameColumns(decodeAll(t, again), got) {
			t.Fatal("re-encoded columns differ")
		}
	})
}

func FuzzColumnsRoundTrip(f *testing.F) {
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25})
	f.Fuzz(func(t *testing.T, data []byte) {
		// Points from the bytes: 25 bytes a point (key, step, time, value).
		var pts []MetricPoint
		for len(data) >= 25 {
			pts = append(pts, MetricPoint{
				Key:       string(rune('a' + data[0]%4)),
				Step:      int64(binary.LittleEndian.Uint64(data[1:])),
				Timestamp: int64(binary.LittleEndian.Uint64(data[9:])),
				Value:     math.Float64frombits(binary.LittleEndian.Uint64(data[17:])),
			})
			data = data[25:]
		}
		if len(pts) == 0 {
			return
		}
		b, sums := EncodeColumns(pts)
		want := columnsOf(pts)
		if !sameColumns(decodeAll(t, b), want) {
			t.Fatal("round trip differs")
		}
		for k, c := range want {
			if s := sums[k]; s.Points != int64(c.Len()) || math.Float64bits(s.Last) != math.Float64bits(c.Values[c.Len()-1]) {
				t.Fatalf("summary of %q = %+v", k, s)
			}
		}
	})
}

// trainingCurve is n points of one key as a training loop logs them:
// steps 0..n-1, a timestamp every 37 ms, a falling loss with noise,
// rounded to float32 as frameworks log it.
func trainingCurve(n int) []MetricPoint {
	rng := rand.New(rand.NewSource(1))
	pts := make([]MetricPoint, n)
	for s := range pts {
		v := 0.05 + 2*math.Exp(-float64(s)/float64(n/20+1)) + 0.02*(rng.Float64()-0.5)
		pts[s] = MetricPoint{Key: "loss", Step: int64(s), Timestamp: 1_700_000_000_000 + int64(s)*37, Value: float64(float32(v))}
	}
	return pts
}

// BenchmarkEncodeColumns1M: a checkpoint's encoding of a 1,000,000-point
// segment (bytes-per-point before the blob store's zstd).
func BenchmarkEncodeColumns1M(b *testing.B) {
	pts := trainingCurve(1_000_000)
	var n int
	for b.Loop() {
		enc, _ := EncodeColumns(pts)
		n = len(enc)
	}
	b.ReportMetric(float64(n)/float64(len(pts)), "bytes/point")
	b.ReportMetric(float64(len(pts))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

// BenchmarkDecodeColumns1M: reading a 1,000,000-point segment back into
// columns (what run metrics, get-history and the UI do with a blob).
func BenchmarkDecodeColumns1M(b *testing.B) {
	pts := trainingCurve(1_000_000)
	enc, _ := EncodeColumns(pts)
	for b.Loop() {
		c := &MetricColumns{}
		if err := DecodeColumns(enc, nil, func(string) *MetricColumns { return c }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(len(pts))*float64(b.N)/b.Elapsed().Seconds()/1e6, "Mpoints/s")
}

// TestColumnsParallelDecode: a key of many blocks is decoded on several
// goroutines into the right places, after points already in dst; a
// damaged block fails the whole key and leaves dst as it was.
func TestColumnsParallelDecode(t *testing.T) {
	pts := trainingCurve(20*ColumnBlockPoints + 3)
	b, _ := EncodeColumns(pts)
	dst := &MetricColumns{}
	dst.Add(MetricPoint{Key: "loss", Step: -1, Timestamp: -1, Value: -1})
	if err := DecodeColumns(b, nil, func(string) *MetricColumns { return dst }); err != nil {
		t.Fatal(err)
	}
	if dst.Len() != len(pts)+1 || dst.Steps[0] != -1 {
		t.Fatalf("%d points", dst.Len())
	}
	for i, p := range pts {
		if dst.Steps[i+1] != p.Step || dst.Timestamps[i+1] != p.Timestamp || dst.Values[i+1] != p.Value {
			t.Fatalf("point %d = (%d %d %v), want %+v", i, dst.Steps[i+1], dst.Timestamps[i+1], dst.Values[i+1], p)
		}
	}
	// Damage the value encoding byte of block 11: find it from the end of
	// block 11's data, whose length the header gives.
	var k0 *ColumnKey
	ScanColumns(b, func(k *ColumnKey) error { k0 = k; return nil })
	blk := k0.data[10]
	bad := bytes.Clone(b)
	off := bytes.Index(bad, blk) // the block's data in the blob
	bad[off+len(blk)-8*ColumnBlockPoints-1] = 7
	before := &MetricColumns{}
	before.Add(MetricPoint{Key: "loss", Step: 5, Timestamp: 5, Value: 5})
	err := DecodeColumns(bad, nil, func(string) *MetricColumns { return before })
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "block 11") || before.Len() != 1 {
		t.Fatalf("damaged block: %v, %d points left in dst", err, before.Len())
	}
}
