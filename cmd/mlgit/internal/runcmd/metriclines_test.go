package runcmd

import (
	"math"
	"testing"
)

func TestMetricLines(t *testing.T) {
	type pt struct {
		key  string
		val  float64
		step int64
	}
	const ts = 1000
	for _, c := range []struct {
		line  string
		bare  bool
		want  []pt // nil: not a metric line
		blank bool
	}{
		{line: "loss=0.31@7", want: []pt{{"loss", 0.31, 7}}},
		{line: "  loss=0.31  ", want: []pt{{"loss", 0.31, 0}}},
		{line: "step=7 loss=0.31 acc=0.9", want: []pt{{"loss", 0.31, 7}, {"acc", 0.9, 7}}},
		{line: "loss=0.3 step=4 lr=1e-3@9", want: []pt{{"loss", 0.3, 4}, {"lr", 0.001, 9}}},
		{line: "loss: 0.25", want: []pt{{"loss", 0.25, 0}}},
		{line: "Validation accuracy: 0.93", want: []pt{{"Validation accuracy", 0.93, 0}}},
		{line: `{"step": 3, "loss": 0.2, "acc": 0.9, "note": "x", "nested": {"a": 1}}`, want: []pt{{"acc", 0.9, 3}, {"loss", 0.2, 3}}},
		{line: `{"loss": NaN}`},            // not JSON
		{line: `{"step": 1.5, "loss": 1}`}, // a step is an integer
		{line: `{"note": "text"}`},
		{line: "loss 0.6 4", bare: true, want: []pt{{"loss", 0.6, 4}}},
		{line: "loss 0.6 4"},
		{line: "val loss=0.25@5", bare: true},
		{line: "val loss: 0.25", want: []pt{{"val loss", 0.25, 0}}},
		{line: "loss=nan", want: []pt{{"loss", math.NaN(), 0}}},
		{line: "loss=-Inf@2", want: []pt{{"loss", math.Inf(-1), 2}}},
		{line: "Epoch 1/5 starting", bare: true},
		{line: "Training finished in 3 epochs with lr=0.1", bare: true},
		{line: "loss=abc"},
		{line: "step=1 step=2 loss=1"},
		{line: "step=1"},
		{line: "bad!key=1"},
		{line: "loss=1@x"},
		{line: "", blank: true},
		{line: "# a comment", blank: true},
	} {
		points, ok, blank := metricLines{bare: c.bare}.parse(c.line, ts)
		if blank != c.blank || ok != (c.want != nil) || len(points) != len(c.want) {
			t.Errorf("%q (bare %v): ok %v blank %v, %d points; want %v", c.line, c.bare, ok, blank, len(points), c.want)
			continue
		}
		for i, w := range c.want {
			p := points[i]
			same := p.Value == w.val || (math.IsNaN(p.Value) && math.IsNaN(w.val))
			if p.Key != w.key || !same || p.Step != w.step || p.Timestamp != ts {
				t.Errorf("%q: point %d is %+v, want %+v", c.line, i, p, w)
			}
		}
	}
}

// FuzzMetricLines: any line parses without panicking, and a metric line's
// points have valid keys.
func FuzzMetricLines(f *testing.F) {
	for _, s := range []string{"loss=0.3@1", "step=2 a=1 b=2", `{"step": 1, "x": 2}`, "k: 1", "k 1 2 3", "val loss=1"} {
		f.Add(s, true)
	}
	f.Fuzz(func(t *testing.T, line string, bare bool) {
		points, ok, blank := metricLines{bare: bare}.parse(line, 1)
		if ok && (blank || len(points) == 0) {
			t.Fatalf("%q: ok with %d points, blank %v", line, len(points), blank)
		}
		for _, p := range points {
			if p.Key == "" {
				t.Fatalf("%q: empty key", line)
			}
		}
	})
}
