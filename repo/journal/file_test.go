package journal

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// TestFileWrittenAndParsed: the records a Writer's observer learns of a
// file are the records the file decodes to, grouped by run in order, and
// List names the file.
func TestFileWrittenAndParsed(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "tmp"), 0o755); err != nil {
		t.Fatal(err)
	}
	w := NewWriter(dir)
	obs := &recordingObserver{}
	w.SetObserver(obs)
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	doc := &manifest.Run{ID: a, ExperimentID: "0", Status: manifest.StatusRunning, LifecycleStage: manifest.LifecycleActive}
	if err := w.Append([]Op{{Op: OpCreate, Run: a, Doc: doc}, {Op: OpParam, Run: b, Key: "k", Value: "v"}, {Op: OpParam, Run: a, Key: "lr", Value: "0.1"}}); err != nil {
		t.Fatal(err)
	}
	if err := w.AppendPoints(nil, a, []manifest.MetricPoint{{Key: "x", Value: 1, Step: 1, Timestamp: 2}}); err != nil {
		t.Fatal(err)
	}
	names, err := List(dir)
	if err != nil || len(names) != 2 || len(obs.files) != 2 {
		t.Fatalf("List %v, %v; observed %d", names, err, len(obs.files))
	}
	for i, n := range names {
		data, err := os.ReadFile(filepath.Join(dir, n))
		if err != nil {
			t.Fatal(err)
		}
		got, want := ParseFile(n, data), obs.files[i]
		if got.Bad != "" || got.Name != want.Name || got.Size != want.Size || got.N != want.N || !reflect.DeepEqual(got.Order, want.Order) {
			t.Fatalf("file %s: parsed %+v, written %+v", n, got, want)
		}
		for _, run := range got.Order {
			g, w := got.Runs[run], want.Runs[run]
			if len(g.Ops) != len(w.Ops) || !reflect.DeepEqual(g.Points, w.Points) {
				t.Fatalf("file %s run %s: parsed %+v, written %+v", n, run, g, w)
			}
		}
	}
	if got := obs.files[0].Order; !reflect.DeepEqual(got, []string{a, b}) {
		t.Fatalf("runs of the first file: %v", got)
	}
	var run *manifest.Run
	for _, f := range obs.files {
		if fr := f.Runs[a]; fr != nil {
			run = fr.ApplyTo(run)
		}
	}
	if run == nil || run == doc || run.Params["lr"] != "0.1" || run.Metrics["x"].Value != 1 {
		t.Fatalf("applied: %+v", run)
	}
	if doc.Params != nil {
		t.Fatal("ApplyTo changed the record's run")
	}
	if f := ParseFile("1-x.jnl", []byte("garbage")); f.Bad == "" || f.N != 0 {
		t.Fatalf("corrupt file: %+v", f)
	}
	if names, err := List(filepath.Join(dir, "none")); names != nil || err != nil {
		t.Fatalf("missing folder: %v, %v", names, err)
	}
}

type recordingObserver struct{ files []*File }

func (o *recordingObserver) Written(name string, size int64, reqs []*Request) {
	o.files = append(o.files, WrittenFile(name, size, reqs))
}

func (o *recordingObserver) Unwritten(string) {}
