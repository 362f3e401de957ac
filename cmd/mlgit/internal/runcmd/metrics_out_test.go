package runcmd

import (
	"bytes"
	"fmt"
	"math"
	"math/rand"
	"testing"
	"text/tabwriter"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
)

// TestMetricsOutputMatchesReference: run metrics prints, byte for byte,
// what a tabwriter table and cli.PrintJSON of the points print, for values
// of every form JSON spells differently (exponents, -0, NaN, infinities,
// huge and tiny numbers) and keys that JSON escapes.
func TestMetricsOutputMatchesReference(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var pts []manifest.MetricPoint
	odd := []float64{0, math.Copysign(0, -1), 1, -1, 0.1, 1e-6, 9.99e-7, 1e-7, 1.5e-300, 1e20, 1e21, 1.7e308, -2.5e-9, 123456789012345678, math.NaN(), math.Inf(1), math.Inf(-1), math.SmallestNonzeroFloat64}
	for i, v := range odd {
		pts = append(pts, manifest.MetricPoint{Key: "é/val loss:1", Step: int64(i * 1000), Timestamp: 1_700_000_000_000 + int64(i), Value: v})
	}
	for i := 0; i < 2*metricsChunk+100; i++ { // three chunks
		v := math.Float64frombits(rng.Uint64())
		if rng.Intn(2) == 0 {
			v = rng.NormFloat64() * math.Pow(10, float64(rng.Intn(60)-30))
		}
		pts = append(pts, manifest.MetricPoint{Key: "é/val loss:1", Step: rng.Int63() - rng.Int63(), Timestamp: -rng.Int63n(1000), Value: v})
		if i == 7 {
			pts = append(pts, manifest.MetricPoint{Key: "é/val loss:1", Step: math.MinInt64, Timestamp: math.MaxInt64, Value: 1})
		}
	}
	var want, got bytes.Buffer
	tw := tabwriter.NewWriter(&want, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "STEP\tTIMESTAMP\tVALUE")
	for _, p := range pts {
		fmt.Fprintf(tw, "%d\t%d\t%s\n", p.Step, p.Timestamp, manifest.FormatFloat(p.Value))
	}
	tw.Flush()
	var cols manifest.MetricColumns
	for _, p := range pts {
		cols.Add(p)
	}
	if err := writeMetricsTable(&got, &cols); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Fatalf("table differs:\n%.300s\nwant\n%.300s", got.String(), want.String())
	}
	want.Reset()
	got.Reset()
	out := make([]map[string]any, len(pts))
	for i, p := range pts {
		out[i] = map[string]any{"key": p.Key, "step": p.Step, "timestamp": p.Timestamp, "value": jsonFloat(p.Value)}
	}
	cli.PrintJSON(&want, out)
	if err := writeMetricsJSON(&got, "é/val loss:1", &cols); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		a, b := got.Bytes(), want.Bytes()
		i := 0
		for i < len(a) && i < len(b) && a[i] == b[i] {
			i++
		}
		t.Fatalf("JSON differs at byte %d:\n%q\nwant\n%q", i, a[max(0, i-80):min(len(a), i+80)], b[max(0, i-80):min(len(b), i+80)])
	}
}
