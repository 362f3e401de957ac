package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// mlgit runs the CLI in-process and returns stdout, stderr and the code.
func mlgit(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"-C", dir}, args...), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// runWithFiles creates a finished run whose artifacts are the given files,
// stored in the repository's local blob cache as the artifact commands do.
func runWithFiles(t *testing.T, r *repo.Repo, files map[string]string, spec repo.RunSpec) string {
	t.Helper()
	st, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.CreateRun(spec)
	if err != nil {
		t.Fatal(err)
	}
	var arts []manifest.Artifact
	for p, content := range files {
		d, n, err := blob.Add(context.Background(), st, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, manifest.Artifact{Path: p, Digest: d.String(), Size: n, Mode: "0644"})
	}
	if _, err := r.LogBatch(run.ID, repo.Batch{
		Artifacts: arts,
		Params:    []repo.KV{{Key: "lr", Value: "0.1"}},
		Metrics:   []manifest.MetricPoint{{Key: "auc", Value: 0.9, Step: 1, Timestamp: 1}},
		Inputs:    []manifest.Dataset{{Name: "train.csv", Digest: "sha256:abc", Source: "s3://data/train.csv", Context: "training"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusFinished, EndTime: spec.StartTime + 10}); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func TestModelRegisterFromRunAndLineage(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("changed\n"), 0o644) // dirty
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	files := map[string]string{
		"model/MLmodel":   "flavors:\n  sklearn: {}\n  python_function: {}\nmodel_size_bytes: 77\n",
		"model/model.pkl": "weights v1",
		"plots/roc.png":   "png",
	}
	base := runWithFiles(t, r, files, repo.RunSpec{Name: "base", Source: r.SourceInfo()})

	out, errOut, code := mlgit(t, dir, "model", "register", "churn", "--run", base[:8], "--path", "model/")
	if code != 0 || !strings.Contains(out, "Registered churn v1 (2 files, flavors [python_function sklearn]) tag churn@v1") ||
		!strings.Contains(errOut, `Created model "churn"`) {
		t.Fatalf("register: %d %q %q", code, out, errOut)
	}
	v, err := r.GetVersion("churn", 1)
	if err != nil || v.Source != "runs:/"+base+"/model" || v.RunID != base || v.ModelSize != 77 {
		t.Fatalf("version: %+v %v", v, err)
	}
	dest := t.TempDir()
	if out, errOut, code := mlgit(t, dir, "model", "get", "churn@latest", "-o", dest); code != 0 {
		t.Fatalf("get: %d %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "model.pkl")); string(b) != "weights v1" {
		t.Fatalf("model.pkl = %q", b)
	}

	// A fine-tuned model: its run records the parent version.
	files["model/model.pkl"] = "weights v2"
	tuned := runWithFiles(t, r, files, repo.RunSpec{Name: "tuned", ParentModel: "churn@v1", Source: r.SourceInfo()})
	if _, _, code := mlgit(t, dir, "model", "register", "churn", "--run", tuned); code != 0 {
		t.Fatal("register tuned")
	}
	mlgit(t, dir, "model", "promote", "churn", "2", "production")
	out, errOut, code = mlgit(t, dir, "lineage", "churn@production")
	t.Logf("lineage:\n%s", out)
	if code != 0 {
		t.Fatalf("lineage: %d %s", code, errOut)
	}
	for _, want := range []string{
		"model churn v2 (Production)",
		"`-- run " + tuned + ` "tuned" FINISHED in experiment "Default"`,
		"|-- params", "lr = 0.1", "|-- metrics (final)", "auc = 0.9",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lineage lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"(dirty) on main \"initial\"", "train.csv sha256:abc s3://data/train.csv (training)", "fine-tuned from", "model churn v1", "run " + base} {
		if !strings.Contains(out, want) {
			t.Errorf("lineage lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = mlgit(t, dir, "lineage", "churn@production", "--json")
	var l repo.Lineage
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err, out)
	}
	if l.Run.ID != tuned || l.Parent == nil || l.Parent.Version.Version != 1 || l.Parent.Run.ID != base || !l.Run.Code.Dirty || l.Run.Code.Subject != "initial" {
		t.Fatalf("lineage JSON: %s", out)
	}
	// A run id works as the start too.
	if out, _, code := mlgit(t, dir, "lineage", tuned[:6]); code != 0 || !strings.HasPrefix(out, "run "+tuned) {
		t.Fatalf("lineage of a run: %d %s", code, out)
	}
}

// TestModelRegisterFromWaitsForBlobGC: register --from adds to the blob
// cache under the cache lock, held shared, so it waits while a blob gc
// holds it exclusive (gc must not remove chunks the add relies on), then
// registers.
func TestModelRegisterFromWaitsForBlobGC(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	model := t.TempDir()
	os.WriteFile(filepath.Join(model, "model.pkl"), []byte("weights"), 0o644)
	gc, err := r.LockBlobCache(true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := mlgit(t, dir, "model", "register", "churn", "--from", model)
		done <- result{out, errOut, code}
	}()
	select {
	case res := <-done:
		t.Fatalf("register --from ran while blob gc held the cache lock: %+v", res)
	case <-time.After(300 * time.Millisecond):
	}
	gc.Unlock()
	select {
	case res := <-done:
		if res.code != 0 || !strings.Contains(res.out, "Registered churn v1 (1 file)") {
			t.Fatalf("register after gc: %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("register --from still waiting after the lock was released")
	}
}

// TestModelDeleteRestoreCLI: a deleted model comes back with mlgit model
// restore, resolving as before; the delete says how.
func TestModelDeleteRestoreCLI(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id := runWithFiles(t, r, map[string]string{"model/MLmodel": "flavors: {}\n", "model/model.pkl": "w"}, repo.RunSpec{Name: "base"})
	for _, args := range [][]string{
		{"model", "register", "churn model", "--run", id, "--path", "model/"},
		{"model", "promote", "churn model", "1", "Production"},
	} {
		if out, errOut, code := mlgit(t, dir, args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	out, _, code := mlgit(t, dir, "model", "delete", "churn model", "--yes")
	if code != 0 || !strings.Contains(out, "mlgit model restore 'churn model' brings it back") {
		t.Fatalf("delete: %d %q", code, out)
	}
	if _, _, code := mlgit(t, dir, "model", "resolve", "churn model@production"); code != cli.ExitNotFound {
		t.Fatalf("deleted model resolves: exit %d", code)
	}
	out, errOut, code := mlgit(t, dir, "model", "restore", "churn model")
	if code != 0 || !strings.Contains(out, `Restored model "churn model" with 1 version (v1)`) {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if out, _, code := mlgit(t, dir, "model", "resolve", "churn model@production"); code != 0 || !strings.Contains(out, "v1") {
		t.Fatalf("restored model resolves: %d %q", code, out)
	}
	if tags := gittest.Git(t, dir, "tag", "--list", "churn%20model@*"); !strings.Contains(tags, "churn%20model@v1#2") {
		t.Fatalf("tags: %s", tags)
	}
	if out, errOut, code := mlgit(t, dir, "model", "check-ref", "churn%20model@v1#2", "--json"); code != 0 || !strings.Contains(out, `"registration"`) {
		t.Fatalf("check-ref of the re-registration: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := mlgit(t, dir, "model", "restore", "churn model"); code != cli.ExitUsage && code != cli.ExitFailure || !strings.Contains(errOut, "nothing to restore") {
		t.Fatalf("second restore: %d %q", code, errOut)
	}
	if out, _, code := mlgit(t, dir, "fsck"); code != 0 {
		t.Fatalf("fsck: %d %s", code, out)
	}
}
