package benchfix_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/benchfix"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// A segmented fixture reads back through the store's normal path: every
// point of every metric, in step order, split over several segments none
// larger than asked, with summaries that match the histories.
func TestSegmentedFixture(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	spec := benchfix.Spec{Runs: 2, Params: 3, Metrics: 3, Steps: 5000, Seed: 7, SegmentBytes: 64 << 10}
	ids, err := benchfix.Build(dir, spec)
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	for _, id := range ids {
		doc, err := r.GetRun(id)
		if err != nil {
			t.Fatal(err)
		}
		// 3 metrics x 5000 steps x ~50 bytes is ~750 KB: about 12 segments.
		if doc.MetricSegments < 8 {
			t.Errorf("run %s: %d segments, want several of at most 64 KiB", id, doc.MetricSegments)
		}
		for m := 0; m < spec.Metrics; m++ {
			key := benchfix.MetricKey(m)
			h, err := r.MetricHistory(id, key)
			if err != nil {
				t.Fatal(err)
			}
			if len(h) != spec.Steps {
				t.Fatalf("run %s %s: %d points, want %d", id, key, len(h), spec.Steps)
			}
			for i, p := range h {
				if p.Step != int64(i) {
					t.Fatalf("run %s %s: point %d has step %d", id, key, i, p.Step)
				}
			}
			sum := doc.Metrics[key]
			last := h[len(h)-1]
			if sum.Count != int64(spec.Steps) || sum.Step != last.Step || sum.Value != last.Value {
				t.Errorf("run %s %s: summary %+v, last point %+v", id, key, sum, last)
			}
		}
	}
}

// The original layout (no SegmentBytes) is unchanged: one segment per run,
// metric by metric.
func TestOneSegmentFixture(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	ids, err := benchfix.Build(dir, benchfix.Spec{Runs: 3, Params: 20, Metrics: 10, Steps: 4, Seed: 1})
	if err != nil {
		t.Fatal(err)
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doc, err := r.GetRun(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if doc.MetricSegments != 1 || len(doc.Params) != 21 || len(doc.Metrics) != 10 {
		t.Fatalf("run: %d segments, %d params, %d metrics", doc.MetricSegments, len(doc.Params), len(doc.Metrics))
	}
	all, err := r.AllMetricHistory(ids[1])
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != 10 || len(all["acc"]) != 4 || len(all["metric_09"]) != 4 {
		t.Fatalf("histories: %d keys, acc %d points", len(all), len(all["acc"]))
	}
}

// TestSpilledFixture: a fixture with SpillAbove reads back the same
// histories as one without, its later segments through the blob store.
func TestSpilledFixture(t *testing.T) {
	gittest.Setenv(t)
	plain, spilled := gittest.NewRepo(t), gittest.NewRepo(t)
	spec := benchfix.Spec{Runs: 2, Params: 3, Metrics: 3, Steps: 5000, Seed: 7, SegmentBytes: 64 << 10}
	ids, err := benchfix.Build(plain, spec)
	if err != nil {
		t.Fatal(err)
	}
	spec.SpillAbove, spec.BlobDir = 5000, t.TempDir()
	if _, err := benchfix.Build(spilled, spec); err != nil {
		t.Fatal(err)
	}
	a, err := repo.Open(plain, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := repo.Open(spilled, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pointers := gittest.Git(t, spilled, "ls-tree", "-r", "--name-only", "mlgit", "runs/"+ids[0][:2]+"/"+ids[0]+"/metric-blobs")
	if n := len(strings.Fields(pointers)); n < 5 {
		t.Fatalf("%d segments in the blob store, want most of them", n)
	}
	for _, id := range ids {
		ha, err := a.AllMetricHistory(id)
		if err != nil {
			t.Fatal(err)
		}
		hb, err := b.AllMetricHistory(id)
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ha, hb) || len(ha["acc"]) != 5000 {
			t.Fatalf("run %s: histories differ between the plain and the spilled fixture", id)
		}
	}
}
