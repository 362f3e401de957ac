package main

import (
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// TestRunStartTruncatesOverLimits: a name, param or tag value over MLflow's
// limits is cut to it, with the same warning for each, as MLflow does.
func TestRunStartTruncatesOverLimits(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	if _, _, code := mlgit(t, dir, "init"); code != 0 {
		t.Fatal("init")
	}
	long := strings.Repeat("é", 9000)
	out, errOut, code := mlgit(t, dir, "run", "start", "--name", long, "--param", "p="+long, "--tag", "k="+long, "--param", "short=1")
	if code != 0 {
		t.Fatalf("run start: %d %s", code, errOut)
	}
	for _, w := range []string{"the run name", "params.p", "tags.k"} {
		if !strings.Contains(errOut, "mlgit: warning: "+w+" was truncated to MLflow's length limit\n") {
			t.Errorf("no warning for %s in %q", w, errOut)
		}
	}
	if strings.Count(errOut, "warning") != 3 {
		t.Errorf("warnings: %q", errOut)
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	run, err := r.GetRun(strings.TrimSpace(out))
	if err != nil {
		t.Fatal(err)
	}
	if n := utf8.RuneCountInString(run.Name); n != manifest.MaxTagValue || run.Tags["mlflow.runName"] != run.Name {
		t.Errorf("name: %d characters", n)
	}
	if n := utf8.RuneCountInString(run.Params["p"]); n != manifest.MaxParamValue {
		t.Errorf("param: %d characters", n)
	}
	if n := utf8.RuneCountInString(run.Tags["k"]); n != manifest.MaxTagValue || run.Params["short"] != "1" {
		t.Errorf("tag: %d characters", n)
	}
	// A rename over the limit is cut too, and survives the checkpoint.
	name := strings.Repeat("x", manifest.MaxTagValue+5)
	if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Name: &name}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Checkpoint(); err != nil || len(res.Warnings) > 0 {
		t.Fatalf("checkpoint: %+v %v", res, err)
	}
	if got, _ := r.GetRun(run.ID); len(got.Name) != manifest.MaxTagValue || got.Tags["mlflow.runName"] != got.Name {
		t.Errorf("renamed: %d characters", len(got.Name))
	}
}
