package repo

import (
	"fmt"
	"math"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// TestMetricHistoryColumns: the columns hold exactly MetricHistory's
// points, in its order, across many committed segments (read in
// parallel), pending points included, with the same errors.
func TestMetricHistoryColumns(t *testing.T) {
	r, _ := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Name: "cols"})
	if err != nil {
		t.Fatal(err)
	}
	step := 0
	logSome := func(n int) {
		var pts []manifest.MetricPoint
		for i := 0; i < n; i++ {
			v := float64(step) / 3
			if step%97 == 0 {
				v = math.NaN()
			}
			pts = append(pts, manifest.MetricPoint{Key: "loss", Value: v, Timestamp: int64(1000 + step), Step: int64(step)},
				manifest.MetricPoint{Key: "acc", Value: 1 - v, Timestamp: int64(1000 + step), Step: int64(step)})
			step++
		}
		if _, err := r.LogBatch(run.ID, Batch{Metrics: pts}); err != nil {
			t.Fatal(err)
		}
	}
	for seg := 0; seg < 7; seg++ { // one segment a checkpoint
		logSome(500)
		if _, err := r.Checkpoint(); err != nil {
			t.Fatal(err)
		}
	}
	logSome(33) // journaled, not committed
	doc, err := r.GetRun(run.ID)
	if err != nil {
		t.Fatal(err)
	}
	if doc.MetricSegments < 2 {
		t.Fatalf("want several segments, got %d", doc.MetricSegments)
	}
	cols, err := r.MetricHistoryColumns(run.ID, func(k string) bool { return k == "loss" })
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := cols["acc"]; ok {
		t.Error("acc was not asked for")
	}
	want, err := r.MetricHistory(run.ID, "loss")
	if err != nil {
		t.Fatal(err)
	}
	c := cols["loss"]
	if c == nil || c.Len() != len(want) || len(want) != 7*500+33 {
		t.Fatalf("loss: %d columns points, %d history points", c.Len(), len(want))
	}
	for i, p := range want {
		same := c.Values[i] == p.Value || math.IsNaN(c.Values[i]) && math.IsNaN(p.Value)
		if c.Steps[i] != p.Step || c.Timestamps[i] != p.Timestamp || !same {
			t.Fatalf("point %d: columns (%d, %d, %v), history %+v", i, c.Steps[i], c.Timestamps[i], c.Values[i], p)
		}
	}
	all, err := r.MetricHistoryColumns(run.ID, func(string) bool { return true })
	if err != nil || len(all) != 2 || all["acc"].Len() != len(want) {
		t.Fatalf("all keys: %v %v", err, all)
	}
	if _, err := r.MetricHistoryColumns(fmt.Sprintf("%032x", 7), func(string) bool { return true }); err == nil {
		t.Error("no error for a run that does not exist")
	}
	if _, err := r.MetricHistoryColumns("nope", func(string) bool { return true }); err == nil {
		t.Error("no error for an invalid id")
	}
}
