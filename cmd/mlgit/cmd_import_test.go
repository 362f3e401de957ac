package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

const mlflow2Fixture = "../../testdata/mlflow/mlflow-2.17.2-mlruns"

// TestImportMLflowCLI imports the MLflow 2.17.2 fixture through the CLI:
// the runs answer to their MLflow ids, a second import has nothing to do,
// and bad sources are usage errors that change nothing.
func TestImportMLflowCLI(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	if _, _, code := mlgit(t, dir, "init"); code != 0 {
		t.Fatal("init failed")
	}
	head := func() string { return gittest.Git(t, dir, "rev-parse", "refs/heads/mlgit") }
	before := head()

	// Bad sources: exit 2, nothing written.
	notStore := t.TempDir()
	os.WriteFile(filepath.Join(notStore, "README"), []byte("hi"), 0o644)
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"--from", notStore}, cli.ExitUsage, "is not an MLflow file store"},
		{[]string{"--from", filepath.Join(notStore, "missing")}, cli.ExitUsage, "no such file"},
		{[]string{"--from", "http://127.0.0.1:1"}, cli.ExitFailure, "MLflow tracking server http://127.0.0.1:1"},
		{[]string{}, cli.ExitUsage, "--from is required"},
		{[]string{"--from", mlflow2Fixture, "--experiment", "nope"}, cli.ExitNotFound, `experiment "nope" is not in the MLflow store`},
	} {
		_, errOut, code := mlgit(t, dir, append([]string{"import", "mlflow"}, tc.args...)...)
		if code != tc.code || !strings.Contains(errOut, tc.want) {
			t.Errorf("%v: exit %d, %q; want %d and %q", tc.args, code, errOut, tc.code, tc.want)
		}
	}
	if head() != before {
		t.Fatal("a refused import moved the branch")
	}

	out, errOut, code := mlgit(t, dir, "import", "mlflow", "--from", mlflow2Fixture, "--verify")
	if code != 0 || !strings.Contains(out, "Imported from") || !strings.Contains(out, "4 experiments, 9 runs") || !strings.Contains(out, "Verified:") {
		t.Fatalf("import: %d %q %q", code, out, errOut)
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	// The run ids are MLflow's: lr-0.1 of the fixture.
	runs, err := r.SearchRuns(repo.RunSearch{Filter: "attributes.run_name = 'lr-0.1'"})
	if err != nil || len(runs.Runs) != 1 {
		t.Fatalf("lr-0.1: %+v %v", runs, err)
	}
	id := runs.Runs[0].ID
	if _, err := os.Stat(filepath.Join(mlflow2Fixture, runs.Runs[0].ExperimentID, id, "meta.yaml")); err != nil {
		t.Errorf("run %s is not the fixture's id: %v", id, err)
	}
	show, _, code := mlgit(t, dir, "run", "show", id, "--json")
	var doc struct {
		Params    map[string]string `json:"params"`
		Artifacts []struct{ Path string }
	}
	if code != 0 || json.Unmarshal([]byte(show), &doc) != nil || doc.Params["lr"] != "0.1" || len(doc.Artifacts) < 9 {
		t.Errorf("run show: %d %s", code, show)
	}

	out, _, code = mlgit(t, dir, "import", "mlflow", "--from", mlflow2Fixture, "--json")
	var rep struct {
		NothingToDo   bool `json:"nothing_to_do"`
		RunsUnchanged int  `json:"runs_unchanged"`
		Commits       int  `json:"commits"`
	}
	if code != 0 || json.Unmarshal([]byte(out), &rep) != nil || !rep.NothingToDo || rep.RunsUnchanged != 9 || rep.Commits != 0 {
		t.Errorf("second import: %d %s", code, out)
	}
}

// TestImportSkipsCorruptItems: a run whose meta.yaml does not decode is
// skipped and named; the rest comes across.
func TestImportSkipsCorruptItems(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	if _, _, code := mlgit(t, dir, "init"); code != 0 {
		t.Fatal("init failed")
	}
	src := filepath.Join(t.TempDir(), "mlruns")
	if err := os.CopyFS(src, os.DirFS(mlflow2Fixture)); err != nil {
		t.Fatal(err)
	}
	var victim string
	filepath.WalkDir(src, func(p string, d os.DirEntry, err error) error {
		if err == nil && victim == "" && d.Name() == "meta.yaml" && len(filepath.Base(filepath.Dir(p))) == 32 {
			victim = p
		}
		return nil
	})
	os.WriteFile(victim, []byte("run_id: [unclosed\n"), 0o644)
	out, errOut, code := mlgit(t, dir, "import", "mlflow", "--from", src)
	if code != 0 || !strings.Contains(out, "8 runs") || !strings.Contains(errOut, "Skipped 1 item") || !strings.Contains(errOut, filepath.Base(filepath.Dir(victim))) {
		t.Errorf("import: %d %q %q", code, out, errOut)
	}
}
