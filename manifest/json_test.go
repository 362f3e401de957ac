package manifest

import (
	"encoding/json"
	"errors"
	"math"
	"strings"
	"testing"
)

func TestJSONFloat(t *testing.T) {
	tests := []struct {
		v    float64
		json string
	}{
		{0, `0`},
		{-2.5, `-2.5`},
		{sum02, `0.30000000000000004`},
		{1e21, `1e+21`},
		{math.NaN(), `"NaN"`},
		{math.Inf(1), `"Infinity"`},
		{math.Inf(-1), `"-Infinity"`},
	}
	for _, tc := range tests {
		b, err := json.Marshal(JSONFloat(tc.v))
		if err != nil || string(b) != tc.json {
			t.Errorf("Marshal(%v) = %s, %v; want %s", tc.v, b, err, tc.json)
		}
		var back JSONFloat
		if err := json.Unmarshal(b, &back); err != nil || !sameFloat(float64(back), tc.v) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", b, back, err, tc.v)
		}
	}
	for in, want := range map[string]float64{`"Inf"`: math.Inf(1), `"-inf"`: math.Inf(-1), `"nan"`: math.NaN(), `"1.5"`: 1.5, `7`: 7} {
		var f JSONFloat
		if err := json.Unmarshal([]byte(in), &f); err != nil || !sameFloat(float64(f), want) {
			t.Errorf("Unmarshal(%s) = %v, %v; want %v", in, f, err, want)
		}
	}
	for _, in := range []string{`"x"`, `true`, `[1]`, `"1"x`} {
		var f JSONFloat
		if err := json.Unmarshal([]byte(in), &f); err == nil {
			t.Errorf("Unmarshal(%s) = %v, want an error", in, f)
		}
	}
}

func TestMetricSummaryJSON(t *testing.T) {
	s := MetricSummary{Value: math.NaN(), Step: 3, Timestamp: 1718000000000, Min: math.Inf(-1), Max: math.Inf(1), Count: 4}
	b, err := json.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	want := `{"value":"NaN","step":3,"timestamp":1718000000000,"min":"-Infinity","max":"Infinity","count":4}`
	if string(b) != want {
		t.Errorf("Marshal = %s, want %s", b, want)
	}
	var back MetricSummary
	if err := json.Unmarshal(b, &back); err != nil || !sameSummary(back, s) {
		t.Errorf("Unmarshal = %+v, %v; want %+v", back, err, s)
	}
	// A whole run with NaN metrics encodes as JSON (plain float64 would fail).
	if _, err := json.Marshal(goldenRun()); err != nil {
		t.Errorf("json.Marshal(run) = %v", err)
	}
}

func TestParseSegmentLine(t *testing.T) {
	p, err := ParseSegmentLine([]byte("val/acc\t-3\t1718000000000\t-Inf"))
	if err != nil || !samePoint(p, MetricPoint{Key: "val/acc", Step: -3, Timestamp: 1718000000000, Value: math.Inf(-1)}) {
		t.Errorf("ParseSegmentLine = %+v, %v", p, err)
	}
	for _, in := range []string{"", "loss\t0\t0\t0\n", "loss\t0\t0", "loss\t00\t0\t0", "loss\t0\t0\t+Inf", "a//b\t0\t0\t0"} {
		if p, err := ParseSegmentLine([]byte(in)); !errors.Is(err, ErrSyntax) {
			t.Errorf("ParseSegmentLine(%q) = %+v, %v; want ErrSyntax", in, p, err)
		}
	}
	// Every line AppendSegmentLine writes parses back.
	line := AppendSegmentLine(nil, MetricPoint{Key: "k", Step: 1, Timestamp: 2, Value: math.NaN()})
	if p, err := ParseSegmentLine([]byte(strings.TrimSuffix(string(line), "\n"))); err != nil || !math.IsNaN(p.Value) {
		t.Errorf("ParseSegmentLine(%q) = %+v, %v", line, p, err)
	}
}
