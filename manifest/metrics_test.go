package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"
)

// sum02 is 0.1 + 0.2 computed in float64 at run time (a constant
// expression would be exact and give 0.3).
var sum02 = func() float64 { a, b := 0.1, 0.2; return a + b }()

// collect parses a segment that must be valid.
func collect(t testing.TB, seg []byte) []MetricPoint {
	t.Helper()
	var out []MetricPoint
	if err := ParseSegment(bytes.NewReader(seg), func(p MetricPoint) error {
		out = append(out, p)
		return nil
	}); err != nil {
		t.Fatalf("ParseSegment: %v\n%q", err, seg)
	}
	return out
}

// sameFloat is == except that NaN equals NaN and 0 differs from -0.
func sameFloat(a, b float64) bool {
	if math.IsNaN(a) || math.IsNaN(b) {
		return math.IsNaN(a) && math.IsNaN(b)
	}
	return a == b && math.Signbit(a) == math.Signbit(b)
}

func samePoint(a, b MetricPoint) bool {
	return a.Key == b.Key && a.Step == b.Step && a.Timestamp == b.Timestamp && sameFloat(a.Value, b.Value)
}

func sameSummary(a, b MetricSummary) bool {
	return sameFloat(a.Value, b.Value) && a.Step == b.Step && a.Timestamp == b.Timestamp &&
		sameFloat(a.Min, b.Min) && sameFloat(a.Max, b.Max) && a.Count == b.Count
}

func TestFormatFloat(t *testing.T) {
	tests := []struct {
		in   float64
		want string
	}{
		{math.NaN(), "NaN"},
		{math.Inf(1), "Inf"},
		{math.Inf(-1), "-Inf"},
		{0, "0"},
		{math.Copysign(0, -1), "-0"},
		{1, "1"},
		{-2.5, "-2.5"},
		{0.1, "0.1"},
		{sum02, "0.30000000000000004"},
		{1e-300, "1e-300"},
		{0.0001, "0.0001"},
		{0.00001, "1e-05"},
		{123456, "123456"},
		{1e6, "1e+06"},
		{1234567, "1.234567e+06"},
		{1e21, "1e+21"},
		{math.MaxFloat64, "1.7976931348623157e+308"},
		{math.SmallestNonzeroFloat64, "5e-324"},
	}
	for _, tc := range tests {
		if got := FormatFloat(tc.in); got != tc.want {
			t.Errorf("FormatFloat(%v) = %q, want %q", tc.in, got, tc.want)
		}
		back, err := ParseFloat(tc.want)
		if err != nil || !sameFloat(back, tc.in) {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v", tc.want, back, err, tc.in)
		}
	}
}

func TestParseFloat(t *testing.T) {
	tests := []struct {
		in   string
		want float64
	}{
		{"NaN", math.NaN()},
		{"nan", math.NaN()},
		{"Inf", math.Inf(1)},
		{"+Inf", math.Inf(1)},
		{"inf", math.Inf(1)},
		{"Infinity", math.Inf(1)},
		{"+infinity", math.Inf(1)},
		{"-Inf", math.Inf(-1)},
		{"-Infinity", math.Inf(-1)},
		{"-INF", math.Inf(-1)},
		{"1e-300", 1e-300},
		{"1E5", 1e5},
		{"0.30000000000000004", sum02},
		{"-0", math.Copysign(0, -1)},
		{"  1", 0}, // error
	}
	for _, tc := range tests {
		got, err := ParseFloat(tc.in)
		if strings.TrimSpace(tc.in) != tc.in {
			if err == nil || !errors.Is(err, ErrInvalid) {
				t.Errorf("ParseFloat(%q) = %v, %v; want ErrInvalid", tc.in, got, err)
			}
			continue
		}
		if err != nil || !sameFloat(got, tc.want) {
			t.Errorf("ParseFloat(%q) = %v, %v; want %v", tc.in, got, err, tc.want)
		}
	}
	for _, bad := range []string{"", "abc", "1,5", "0x", "1e", "--1", "NaN ", "1e400x", "Infinit"} {
		if v, err := ParseFloat(bad); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "metric value") {
			t.Errorf("ParseFloat(%q) = %v, %v; want ErrInvalid naming the metric value", bad, v, err)
		}
	}
	// Shortest round trip: every formatted value parses back to the same bits.
	for _, v := range []float64{sum02, 1.0 / 3, math.Pi, 1e-310, -math.MaxFloat64, 5e-324, 9007199254740993} {
		s := FormatFloat(v)
		back, err := ParseFloat(s)
		if err != nil || math.Float64bits(back) != math.Float64bits(v) {
			t.Errorf("round trip of %v via %q gave %v, %v", v, s, back, err)
		}
	}
}

func TestSegmentRoundTrip(t *testing.T) {
	points := []MetricPoint{
		{Key: "loss", Step: 0, Timestamp: 1718000000000, Value: 0.5},
		{Key: "loss", Step: 1, Timestamp: 1718000001000, Value: sum02},
		{Key: "val/acc", Step: -3, Timestamp: 0, Value: math.NaN()},
		{Key: "a b:c", Step: math.MaxInt64, Timestamp: math.MinInt64, Value: math.Inf(-1)},
		{Key: "größe", Step: 7, Timestamp: 7, Value: math.Copysign(0, -1)},
	}
	seg := EncodeSegment(points)
	want := "loss\t0\t1718000000000\t0.5\n" +
		"loss\t1\t1718000001000\t0.30000000000000004\n" +
		"val/acc\t-3\t0\tNaN\n" +
		"a b:c\t9223372036854775807\t-9223372036854775808\t-Inf\n" +
		"größe\t7\t7\t-0\n"
	if string(seg) != want {
		t.Fatalf("EncodeSegment =\n%q\nwant\n%q", seg, want)
	}
	got := collect(t, seg)
	if len(got) != len(points) {
		t.Fatalf("got %d points, want %d", len(got), len(points))
	}
	for i := range points {
		if !samePoint(got[i], points[i]) {
			t.Errorf("point %d = %+v, want %+v", i, got[i], points[i])
		}
	}
	if b := AppendSegmentLine([]byte("x"), points[0]); string(b) != "xloss\t0\t1718000000000\t0.5\n" {
		t.Errorf("AppendSegmentLine = %q", b)
	}
	if len(EncodeSegment(nil)) != 0 || len(collect(t, nil)) != 0 {
		t.Error("an empty segment must encode to no bytes and parse to no points")
	}
}

func TestParseSegmentErrors(t *testing.T) {
	good := "loss\t0\t1\t0.5\n"
	tests := []struct {
		name, in string
		line     int
		want     string
	}{
		{"three fields", good + "loss\t1\t2\n", 2, "want 4 tab-separated fields, got 3"},
		{"five fields", "loss\t1\t2\t3\t4\n", 1, "want 4 tab-separated fields, got 5"},
		{"empty line", good + "\n" + good, 2, "want 4"},
		{"bad key", good + good + "a//b\t1\t2\t3\n", 3, "metric key \"a//b\""},
		{"empty key", "\t1\t2\t3\n", 1, "metric key is empty"},
		{"step not integer", "loss\tx\t2\t3\n", 1, "step \"x\""},
		{"step float", "loss\t1.0\t2\t3\n", 1, "step \"1.0\""},
		{"step plus", "loss\t+1\t2\t3\n", 1, "step \"+1\""},
		{"step leading zero", "loss\t01\t2\t3\n", 1, "step \"01\""},
		{"step minus zero", "loss\t-0\t2\t3\n", 1, "step \"-0\""},
		{"step overflow", "loss\t9223372036854775808\t2\t3\n", 1, "step"},
		{"timestamp not integer", "loss\t1\t2s\t3\n", 1, "timestamp \"2s\""},
		{"timestamp empty", "loss\t1\t\t3\n", 1, "timestamp \"\""},
		{"value not number", good + "loss\t1\t2\tabc\n", 2, "metric value \"abc\" is not a number"},
		{"value Infinity", "loss\t1\t2\tInfinity\n", 1, "value \"Infinity\" is not in canonical form (Inf)"},
		{"value nan", "loss\t1\t2\tnan\n", 1, "value \"nan\" is not in canonical form (NaN)"},
		{"value +Inf", "loss\t1\t2\t+Inf\n", 1, "value \"+Inf\" is not in canonical form (Inf)"},
		{"value exponent", "loss\t1\t2\t1E5\n", 1, "value \"1E5\" is not in canonical form (100000)"},
		{"value trailing zero", "loss\t1\t2\t0.50\n", 1, "value \"0.50\" is not in canonical form (0.5)"},
		{"value too precise", "loss\t1\t2\t0.1000000000000000001\n", 1, "canonical form (0.1)"},
		{"CRLF", "loss\t0\t1\t0.5\r\n", 1, "metric value \"0.5\\r\""},
		{"no final newline", good + "loss\t1\t2\t3", 2, "no newline at the end of the file"},
		{"space separated", "loss 0 1 0.5\n", 1, "want 4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			n := 0
			err := ParseSegment(strings.NewReader(tc.in), func(MetricPoint) error { n++; return nil })
			if !errors.Is(err, ErrSyntax) {
				t.Fatalf("ParseSegment = %v, want ErrSyntax", err)
			}
			if !strings.Contains(err.Error(), fmt.Sprintf("segment line %d: ", tc.line)) || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not name line %d and say %q", err, tc.line, tc.want)
			}
			if n != tc.line-1 {
				t.Errorf("fn was called %d times before the error, want %d", n, tc.line-1)
			}
		})
	}
}

func TestParseSegmentLongLine(t *testing.T) {
	in := "loss\t0\t1\t0.5\n" + strings.Repeat("x", 2<<20) + "\n"
	err := ParseSegment(strings.NewReader(in), func(MetricPoint) error { return nil })
	if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "line 2") {
		t.Errorf("ParseSegment = %v, want ErrSyntax naming line 2", err)
	}
}

func TestParseSegmentCallbackError(t *testing.T) {
	stop := errors.New("stop")
	n := 0
	err := ParseSegment(strings.NewReader("a\t0\t0\t1\nb\t0\t0\t2\n"), func(MetricPoint) error {
		n++
		return stop
	})
	if err != stop || n != 1 {
		t.Errorf("ParseSegment = %v after %d calls; want the callback's error, unchanged, after 1", err, n)
	}
}

func TestNewer(t *testing.T) {
	p := func(step, ts int64, v float64) MetricPoint { return MetricPoint{Step: step, Timestamp: ts, Value: v} }
	nan := math.NaN()
	tests := []struct {
		a, b MetricPoint
		want bool
	}{
		{p(2, 0, 0), p(1, 9, 9), true},   // higher step wins over timestamp and value
		{p(1, 9, 9), p(2, 0, 0), false},  //
		{p(1, 5, 0), p(1, 4, 9), true},   // same step: later timestamp wins
		{p(1, 4, 9), p(1, 5, 0), false},  //
		{p(1, 5, 3), p(1, 5, 2), true},   // same step and time: larger value wins
		{p(1, 5, 2), p(1, 5, 3), false},  //
		{p(1, 5, 2), p(1, 5, 2), false},  // equal: not newer, the first stays
		{p(1, 5, nan), p(1, 5, 9), true}, // NaN is greater than any number
		{p(1, 5, 9), p(1, 5, nan), false},
		{p(1, 5, nan), p(1, 5, math.Inf(1)), true},
		{p(1, 5, nan), p(1, 5, nan), false},
		{p(-1, 5, 0), p(-2, 9, 0), true}, // negative steps order too
	}
	for i, tc := range tests {
		if got := Newer(tc.a, tc.b); got != tc.want {
			t.Errorf("%d: Newer(%+v, %+v) = %v, want %v", i, tc.a, tc.b, got, tc.want)
		}
	}
}

func TestMetricSummaryAdd(t *testing.T) {
	nan, inf := math.NaN(), math.Inf(1)
	pt := func(step, ts int64, v float64) MetricPoint {
		return MetricPoint{Key: "m", Step: step, Timestamp: ts, Value: v}
	}
	tests := []struct {
		name   string
		points []MetricPoint
		want   MetricSummary
	}{
		{"one point", []MetricPoint{pt(3, 10, 0.5)},
			MetricSummary{Value: 0.5, Step: 3, Timestamp: 10, Min: 0.5, Max: 0.5, Count: 1}},
		{"highest step wins even if logged first", []MetricPoint{pt(5, 10, 1), pt(4, 20, 2), pt(3, 30, 3)},
			MetricSummary{Value: 1, Step: 5, Timestamp: 10, Min: 1, Max: 3, Count: 3}},
		{"same step: later timestamp", []MetricPoint{pt(1, 20, 1), pt(1, 10, 2)},
			MetricSummary{Value: 1, Step: 1, Timestamp: 20, Min: 1, Max: 2, Count: 2}},
		{"same step and timestamp: larger value", []MetricPoint{pt(1, 10, 1), pt(1, 10, 7), pt(1, 10, 3)},
			MetricSummary{Value: 7, Step: 1, Timestamp: 10, Min: 1, Max: 7, Count: 3}},
		{"NaN ignored by min and max", []MetricPoint{pt(0, 0, 2), pt(1, 1, nan), pt(2, 2, -1)},
			MetricSummary{Value: -1, Step: 2, Timestamp: 2, Min: -1, Max: 2, Count: 3}},
		{"NaN can be latest", []MetricPoint{pt(0, 0, 2), pt(1, 1, nan)},
			MetricSummary{Value: nan, Step: 1, Timestamp: 1, Min: 2, Max: 2, Count: 2}},
		{"NaN first, then numbers", []MetricPoint{pt(0, 0, nan), pt(1, 1, 4), pt(2, 2, 3)},
			MetricSummary{Value: 3, Step: 2, Timestamp: 2, Min: 3, Max: 4, Count: 3}},
		{"all NaN", []MetricPoint{pt(0, 0, nan), pt(1, 1, nan)},
			MetricSummary{Value: nan, Step: 1, Timestamp: 1, Min: nan, Max: nan, Count: 2}},
		{"infinities count for min and max", []MetricPoint{pt(0, 0, inf), pt(1, 1, 0), pt(2, 2, -inf)},
			MetricSummary{Value: -inf, Step: 2, Timestamp: 2, Min: -inf, Max: inf, Count: 3}},
		{"NaN wins a tie", []MetricPoint{pt(1, 1, 5), pt(1, 1, nan), pt(1, 1, inf)},
			MetricSummary{Value: nan, Step: 1, Timestamp: 1, Min: 5, Max: inf, Count: 3}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			var s *MetricSummary
			for _, p := range tc.points {
				next := s.Add(p)
				s = &next
			}
			if !sameSummary(*s, tc.want) {
				t.Errorf("summary = %+v, want %+v", *s, tc.want)
			}
			// The order the points arrive in changes nothing.
			var r *MetricSummary
			for i := len(tc.points) - 1; i >= 0; i-- {
				next := r.Add(tc.points[i])
				r = &next
			}
			if !sameSummary(*r, tc.want) {
				t.Errorf("summary in reverse order = %+v, want %+v", *r, tc.want)
			}
		})
	}
	// A zero summary (Count 0) is treated as empty, and Add does not
	// modify its receiver.
	var zero MetricSummary
	if got := zero.Add(pt(2, 3, 4)); !sameSummary(got, MetricSummary{Value: 4, Step: 2, Timestamp: 3, Min: 4, Max: 4, Count: 1}) {
		t.Errorf("zero.Add = %+v", got)
	}
	base := MetricSummary{Value: 1, Step: 1, Timestamp: 1, Min: 1, Max: 1, Count: 1}
	_ = base.Add(pt(9, 9, 9))
	if !sameSummary(base, MetricSummary{Value: 1, Step: 1, Timestamp: 1, Min: 1, Max: 1, Count: 1}) {
		t.Errorf("Add modified its receiver: %+v", base)
	}
}
