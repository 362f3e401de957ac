package manifest

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
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

// ParseSegment reads a metric-history segment. Each line is
// key<TAB>step<TAB>timestamp_ms<TAB>value<LF>, exactly as AppendSegmentLine
// writes it: anything else (a carriage return, a missing final newline, a
// "+" or leading zero in an integer, a value not in FormatFloat's form) is
// an ErrSyntax error naming the line. fn is called for each point in order;
// its error is returned unchanged.
func ParseSegment(r io.Reader, fn func(MetricPoint) error) error {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	unterminated := false
	sc.Split(func(data []byte, atEOF bool) (int, []byte, error) {
		if i := bytes.IndexByte(data, '\n'); i >= 0 {
			return i + 1, data[:i], nil
		}
		if atEOF && len(data) > 0 {
			unterminated = true
			return len(data), data, nil
		}
		return 0, nil, nil
	})
	line := 0
	for sc.Scan() {
		line++
		if unterminated {
			return fmt.Errorf("%w: segment line %d: no newline at the end of the file", ErrSyntax, line)
		}
		p, err := parseSegmentLine(sc.Bytes())
		if err != nil {
			return fmt.Errorf("%w: segment line %d: %v", ErrSyntax, line, err)
		}
		if err := fn(p); err != nil {
			return err
		}
	}
	if err := sc.Err(); err != nil {
		return fmt.Errorf("%w: segment line %d: %v", ErrSyntax, line+1, err)
	}
	return nil
}

func parseSegmentLine(l []byte) (MetricPoint, error) {
	var p MetricPoint
	f := bytes.Split(l, []byte{'\t'})
	if len(f) != 4 {
		return p, fmt.Errorf("want 4 tab-separated fields, got %d", len(f))
	}
	p.Key = string(f[0])
	if err := ValidateKey("metric", p.Key); err != nil {
		return p, err
	}
	var err error
	if p.Step, err = parseCanonicalInt(f[1]); err != nil {
		return p, fmt.Errorf("step %q is not an integer in canonical form", f[1])
	}
	if p.Timestamp, err = parseCanonicalInt(f[2]); err != nil {
		return p, fmt.Errorf("timestamp %q is not an integer in canonical form", f[2])
	}
	if p.Value, err = ParseFloat(string(f[3])); err != nil {
		return p, err
	}
	if FormatFloat(p.Value) != string(f[3]) {
		return p, fmt.Errorf("value %q is not in canonical form (%s)", f[3], FormatFloat(p.Value))
	}
	return p, nil
}

// parseCanonicalInt parses a decimal int64 written as strconv.FormatInt
// writes it: no sign but "-", no leading zeros, no "-0".
func parseCanonicalInt(b []byte) (int64, error) {
	v, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, err
	}
	if strconv.FormatInt(v, 10) != string(b) {
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
	p, err := parseSegmentLine(l)
	if err != nil {
		return p, fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	return p, nil
}
