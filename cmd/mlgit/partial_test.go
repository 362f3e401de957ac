package main

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

func promisorFetches(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.promisor"))
	return len(m)
}

// TestPartialCloneCommands: everyday commands in a blob:none clone of the
// tracking branch (as actions/checkout with filter: blob:none makes), each
// with the number of fetches it may make: listing runs fetches their
// manifests in one request (and the experiments' in another), a second
// listing nothing; resolving reads three small documents (mlgit.yaml, the
// model, the version), one request each; writes, push and pull fetch
// nothing they do not read.
func TestPartialCloneCommands(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	gittest.Git(t, bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	a := seedClone(t, exe, bare)
	for i := 0; i < 5; i++ {
		mustProc(t, exe, a, "run", "exec", "--name", "r"+string(rune('0'+i)), "--", "true")
	}
	os.MkdirAll(filepath.Join(a, "m"), 0o755)
	os.WriteFile(filepath.Join(a, "m", "model.pkl"), []byte("w"), 0o644)
	mustProc(t, exe, a, "model", "register", "churn", "--from", filepath.Join(a, "m"))
	mustProc(t, exe, a, "push")

	b := filepath.Join(t.TempDir(), "b")
	gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter=blob:none", "--no-checkout", "-b", "mlgit", "file://"+bare, b)
	gittest.Git(t, b, "remote", "set-branches", "--add", "origin", "*")
	steps := []struct {
		args []string
		max  int // fetches allowed
		want string
	}{
		{[]string{"run", "list"}, 2, "r4"},
		{[]string{"run", "list"}, 0, "r4"},
		{[]string{"run", "show", "r2"}, 1, "r2"},
		{[]string{"model", "resolve", "churn@latest"}, 3, "churn v1"},
		{[]string{"model", "promote", "churn", "1", "Staging"}, 1, "Staging"},
		{[]string{"run", "exec", "--name", "from-b", "--", "true"}, 1, ""},
		{[]string{"push"}, 1, "pushed"},
		{[]string{"pull"}, 1, ""},
	}
	for _, s := range steps {
		before := promisorFetches(t, b)
		out := mustProc(t, exe, b, s.args...)
		n := promisorFetches(t, b) - before
		t.Logf("mlgit %s: %d fetches", strings.Join(s.args, " "), n)
		if n > s.max || !strings.Contains(out, s.want) {
			t.Errorf("mlgit %s: %d fetches (at most %d)\n%s", strings.Join(s.args, " "), n, s.max, out)
		}
	}
}

// TestServerOnPartialClone: mlgit server starts on a blob:none clone,
// answers a search from the run index (one fetch for the manifests), and
// fetches a run's history when a client asks for it.
func TestServerOnPartialClone(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	gittest.Git(t, bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	a := seedClone(t, exe, bare)
	id := strings.TrimSpace(mustProc(t, exe, a, "run", "start", "--name", "trained"))
	mustProc(t, exe, a, "run", "log", "--run", id, "--metric", "loss=0.5@1", "--metric", "loss=0.25@2")
	mustProc(t, exe, a, "run", "end", "--run", id)
	mustProc(t, exe, a, "push")

	b := filepath.Join(t.TempDir(), "b")
	gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter=blob:none", "--no-checkout", "-b", "mlgit", "file://"+bare, b)
	srv := startServerProc(t, exe, b)
	defer srv.kill()
	res, err := http.Post(srv.base+"/api/2.0/mlflow/runs/search", "application/json", strings.NewReader(`{"experiment_ids":["0"],"filter":"attributes.run_name = 'trained'"}`))
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), id) {
		t.Fatalf("search on a partial clone: %d %s", res.StatusCode, body)
	}
	res, err = http.Get(srv.base + "/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=loss")
	if err != nil {
		t.Fatal(err)
	}
	body, _ = io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || strings.Count(string(body), `"step"`) != 2 {
		t.Fatalf("history on a partial clone: %d %s", res.StatusCode, body)
	}
	if n := promisorFetches(t, b); n < 1 || n > 4 {
		t.Fatalf("%d fetches", n)
	}
}
