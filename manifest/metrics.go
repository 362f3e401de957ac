package manifest

import (
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unsafe"
)

// MetricPoint is one logged value of a metric.
type MetricPoint struct {
	Key       string  `json:"key"`
	Value     float64 `json:"value"`
	Timestamp int64   `json:"timestamp"`
	Step      int64   `json:"step"`
}

// FormatFloat writes v in Go's shortest round-trip form, with NaN, Inf and
// -Inf for the special values.
func FormatFloat(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// AppendFloat appends FormatFloat(v) to b.
func AppendFloat(b []byte, v float64) []byte {
	switch {
	case math.IsNaN(v):
		return append(b, "NaN"...)
	case math.IsInf(v, 1):
		return append(b, "Inf"...)
	case math.IsInf(v, -1):
		return append(b, "-Inf"...)
	}
	return strconv.AppendFloat(b, v, 'g', -1, 64)
}

// ParseFloat reads a metric value: a decimal or exponent number, NaN, Inf,
// +Inf, -Inf, Infinity or -Infinity (case-insensitive).
func ParseFloat(s string) (float64, error) {
	switch strings.ToLower(s) {
	case "nan":
		return math.NaN(), nil
	case "inf", "+inf", "infinity", "+infinity":
		return math.Inf(1), nil
	case "-inf", "-infinity":
		return math.Inf(-1), nil
	}
	v, err := strconv.ParseFloat(s, 64)
	if err != nil {
		return 0, invalid("metric value %q is not a number", s)
	}
	return v, nil
}

// AppendSegmentLine appends the segment line of p (key, step, timestamp,
// value separated by tabs, ending in a newline) to b.
func AppendSegmentLine(b []byte, p MetricPoint) []byte {
	b = append(b, p.Key...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, p.Step, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, p.Timestamp, 10)
	b = append(b, '\t')
	b = append(b, FormatFloat(p.Value)...)
	return append(b, '\n')
}

// EncodeSegment returns a metric-history segment file for points, in order.
func EncodeSegment(points []MetricPoint) []byte {
	b := make([]byte, 0, len(points)*32)
	for _, p := range points {
		b = AppendSegmentLine(b, p)
	}
	return b
}

// ParseSegment parses a metric-history segment file, calling fn for each
// point in order. It is strict: every line must be in the canonical form
// AppendSegmentLine writes.
func ParseSegment(r io.Reader, fn func(MetricPoint) error) error {
	data, err := io.ReadAll(r)
	if err != nil {
		return fmt.Errorf("%w: segment: %v", ErrSyntax, err)
	}
	return ParseSegmentBytes(data, fn)
}

// ParseSegmentBytes is ParseSegment over a segment held in memory. It
// allocates nothing per line but a key's string the first time it follows
// another key, so a history of millions of points parses at memory speed.
func ParseSegmentBytes(data []byte, fn func(MetricPoint) error) error {
	// Keys repeat: a loop that logs several metrics a step interleaves
	// them line by line. Each distinct key is allocated and checked once.
	keys := map[string]string{}
	var lastKey string
	line := 0
	for len(data) > 0 {
		line++
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			return fmt.Errorf("%w: segment line %d: no newline at the end of the file", ErrSyntax, line)
		}
		if i > maxSegmentLine {
			return fmt.Errorf("%w: segment line %d: line longer than %d bytes", ErrSyntax, line, maxSegmentLine)
		}
		p, err := parseSegmentLine(data[:i], lastKey, keys)
		if err != nil {
			return fmt.Errorf("%w: segment line %d: %v", ErrSyntax, line, err)
		}
		lastKey = p.Key
		if err := fn(p); err != nil {
			return err
		}
		data = data[i+1:]
	}
	return nil
}

// SegmentKeyCounts counts the lines of each key in a segment without
// parsing them, so a reader can size its slices once. It checks nothing:
// the counts of a malformed segment are meaningless, and ParseSegmentBytes
// will say what is wrong.
func SegmentKeyCounts(data []byte, counts map[string]int) {
	var last []byte
	lastN := 0
	intern := map[string]string{} // a map write with string(b) would allocate each time
	flush := func() {
		if last == nil {
			return
		}
		k, ok := intern[string(last)]
		if !ok {
			k = string(last)
			intern[k] = k
		}
		counts[k] += lastN
	}
	for len(data) > 0 {
		nl := bytes.IndexByte(data, '\n')
		if nl < 0 {
			nl = len(data) - 1
		}
		l := data[:nl]
		key := l
		if t := bytes.IndexByte(l, '\t'); t >= 0 {
			key = l[:t]
		}
		if last != nil && bytes.Equal(key, last) {
			lastN++
		} else {
			flush()
			last, lastN = key, 1
		}
		data = data[nl+1:]
	}
	flush()
}

// maxInternedKeys bounds the distinct keys a segment parse remembers.
const maxInternedKeys = 4096

// maxSegmentLine bounds one line of a segment (a key is at most 250
// bytes, numbers a few dozen).
const maxSegmentLine = 1 << 20

// parseSegmentLine parses one line without its newline. lastKey is the
// previous line's key and keys those seen before: a known key reuses its
// string (and its checked validity).
func parseSegmentLine(l []byte, lastKey string, keys map[string]string) (MetricPoint, error) {
	var p MetricPoint
	var f [4][]byte
	rest := l
	for n := 0; n < 3; n++ {
		i := bytes.IndexByte(rest, '\t')
		if i < 0 {
			return p, fmt.Errorf("want 4 tab-separated fields, got %d", n+1)
		}
		f[n], rest = rest[:i], rest[i+1:]
	}
	if bytes.IndexByte(rest, '\t') >= 0 {
		return p, fmt.Errorf("want 4 tab-separated fields, got %d", 4+bytes.Count(rest, []byte{'\t'}))
	}
	f[3] = rest
	if string(f[0]) == lastKey && lastKey != "" {
		p.Key = lastKey
	} else if k, ok := keys[string(f[0])]; ok {
		p.Key = k
	} else {
		p.Key = string(f[0])
		if err := ValidateKey("metric", p.Key); err != nil {
			return p, err
		}
		if keys != nil && len(keys) < maxInternedKeys {
			keys[p.Key] = p.Key
		}
	}
	var err error
	if p.Step, err = parseCanonicalInt(f[1]); err != nil {
		return p, fmt.Errorf("step %q is not an integer in canonical form", f[1])
	}
	if p.Timestamp, err = parseCanonicalInt(f[2]); err != nil {
		return p, fmt.Errorf("timestamp %q is not an integer in canonical form", f[2])
	}
	if p.Value, err = parseCanonicalFloat(f[3]); err != nil {
		return p, err
	}
	return p, nil
}

// parseCanonicalFloat parses a value written by FormatFloat, and nothing
// else: the shortest round-trip form, NaN, Inf or -Inf.
func parseCanonicalFloat(b []byte) (float64, error) {
	switch string(b) {
	case "NaN":
		return math.NaN(), nil
	case "Inf":
		return math.Inf(1), nil
	case "-Inf":
		return math.Inf(-1), nil
	}
	if len(b) > 0 {
		v, err := strconv.ParseFloat(unsafe.String(&b[0], len(b)), 64)
		var buf [32]byte
		if err == nil && !math.IsInf(v, 0) && !math.IsNaN(v) && bytes.Equal(strconv.AppendFloat(buf[:0], v, 'g', -1, 64), b) {
			return v, nil
		}
	}
	// Not canonical: say why, in the words of ParseFloat and FormatFloat.
	v, err := ParseFloat(string(b))
	if err != nil {
		return 0, err
	}
	return 0, fmt.Errorf("value %q is not in canonical form (%s)", b, FormatFloat(v))
}

// parseCanonicalInt parses a decimal int64 written as strconv.FormatInt
// writes it: no sign but "-", no leading zeros, no "-0".
func parseCanonicalInt(b []byte) (int64, error) {
	if len(b) == 0 || len(b) > 20 {
		return 0, strconv.ErrSyntax
	}
	v, err := strconv.ParseInt(unsafe.String(&b[0], len(b)), 10, 64)
	if err != nil {
		return 0, err
	}
	var buf [24]byte
	if !bytes.Equal(strconv.AppendInt(buf[:0], v, 10), b) {
		return 0, strconv.ErrSyntax
	}
	return v, nil
}

// Newer reports whether point a replaces b as a metric's latest value:
// MLflow's rule is the highest step, then timestamp, then value (NaN is
// greater than any number).
func Newer(a, b MetricPoint) bool {
	if a.Step != b.Step {
		return a.Step > b.Step
	}
	if a.Timestamp != b.Timestamp {
		return a.Timestamp > b.Timestamp
	}
	return floatGreater(a.Value, b.Value)
}

func floatGreater(a, b float64) bool {
	switch {
	case math.IsNaN(a):
		return !math.IsNaN(b)
	case math.IsNaN(b):
		return false
	}
	return a > b
}

// Add folds point p into summary s (nil for the first point) and returns
// the new summary. Min and Max ignore NaN unless every value is NaN.
func (s *MetricSummary) Add(p MetricPoint) MetricSummary {
	if s == nil || s.Count == 0 {
		return MetricSummary{Value: p.Value, Step: p.Step, Timestamp: p.Timestamp, Min: p.Value, Max: p.Value, Count: 1}
	}
	out := *s
	out.Count++
	if Newer(p, MetricPoint{Step: s.Step, Timestamp: s.Timestamp, Value: s.Value}) {
		out.Value, out.Step, out.Timestamp = p.Value, p.Step, p.Timestamp
	}
	if !math.IsNaN(p.Value) {
		if math.IsNaN(out.Min) || p.Value < out.Min {
			out.Min = p.Value
		}
		if math.IsNaN(out.Max) || p.Value > out.Max {
			out.Max = p.Value
		}
	}
	return out
}

// ParseSegmentLine parses one segment line, without its newline.
func ParseSegmentLine(l []byte) (MetricPoint, error) {
	p, err := parseSegmentLine(l, "", nil)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return p, nil
}
