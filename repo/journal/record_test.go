package journal

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// TestAppendSegmentLine: the journal's and the fold's own encoders write
// the bytes of manifest's, and addPoints sums as addPoint one by one.
func TestAppendSegmentLine(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	specials := []float64{0, math.Copysign(0, -1), math.NaN(), math.Inf(1), math.Inf(-1), math.MaxFloat64, math.SmallestNonzeroFloat64, 1e21, 1e-7, 123456789, -0.1}
	var pts []manifest.MetricPoint
	for i := 0; i < 5000; i++ {
		v := rng.NormFloat64() * math.Pow(10, float64(rng.Intn(40)-20))
		if i < len(specials) {
			v = specials[i]
		}
		p := manifest.MetricPoint{Key: fmt.Sprintf("k%d", rng.Intn(40)), Value: v, Step: rng.Int63n(1<<40) - 5, Timestamp: rng.Int63()}
		pts = append(pts, p)
		if got, want := AppendSegmentLine(nil, p), manifest.AppendSegmentLine(nil, p); string(got) != string(want) {
			t.Fatalf("%+v: %q, want %q", p, got, want)
		}
	}
	if string(EncodeSegment(pts)) != string(manifest.EncodeSegment(pts)) {
		t.Fatal("encodeSegment differs")
	}
	for _, n := range []int{0, 1, 7, 500, 5000} {
		base := map[string]manifest.MetricSummary{"k1": {Value: 3, Step: 100, Count: 4, Min: -1, Max: 9}}
		want := map[string]manifest.MetricSummary{"k1": base["k1"]}
		for _, p := range pts[:n] {
			want = AddPoint(want, p)
		}
		got := AddPoints(base, pts[:n])
		if fmt.Sprint(got) != fmt.Sprint(want) {
			t.Fatalf("%d points: %v, want %v", n, got, want)
		}
	}
}
