package main

import (
	"encoding/binary"
	"fmt"
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

// partialRemote is a bare remote (filters and any-object wants allowed)
// with history: 12 runs, a run whose history is in three segments, three
// models of two versions (one in Production, one with an alias).
type partialRemote struct {
	bare, seed, trained string
}

func newPartialRemote(t *testing.T, exe string) *partialRemote {
	t.Helper()
	pr := &partialRemote{bare: filepath.Join(t.TempDir(), "remote.git")}
	gittest.Git(t, filepath.Dir(pr.bare), "init", "-q", "--bare", pr.bare)
	gittest.Git(t, pr.bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, pr.bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	a := seedClone(t, exe, pr.bare)
	pr.seed = a
	for i := 0; i < 12; i++ {
		mustProc(t, exe, a, "run", "exec", "--name", fmt.Sprintf("r%d", i), "--param", fmt.Sprintf("i=%d", i), "--", "true")
	}
	// Two runs whose histories are in three segments of about 2 KiB each
	// (over blob:limit=1k); only the first is ever read.
	points := filepath.Join(t.TempDir(), "points.txt")
	for _, name := range []string{"trained", "unread"} {
		id := strings.TrimSpace(mustProc(t, exe, a, "run", "start", "--name", name))
		if name == "trained" {
			pr.trained = id
		}
		for seg := 0; seg < 3; seg++ {
			var lines strings.Builder
			for i := 0; i < 100; i++ {
				step := seg*100 + i + 1
				fmt.Fprintf(&lines, "loss=%g@%d\n", 1/float64(step), step)
			}
			os.WriteFile(points, []byte(lines.String()), 0o644)
			mustProc(t, exe, a, "run", "log", "--run", id, "--metrics-from", points)
			mustProc(t, exe, a, "run", "flush")
		}
		mustProc(t, exe, a, "run", "end", "--run", id)
	}
	os.MkdirAll(filepath.Join(a, "m"), 0o755)
	os.WriteFile(filepath.Join(a, "m", "model.pkl"), []byte("w"), 0o644)
	for _, m := range []string{"churn", "fraud", "ranker"} {
		for v := 0; v < 2; v++ {
			mustProc(t, exe, a, "model", "register", m, "--from", filepath.Join(a, "m"))
		}
	}
	mustProc(t, exe, a, "model", "promote", "churn", "1", "Production")
	mustProc(t, exe, a, "model", "alias", "set", "fraud", "champion", "2")
	mustProc(t, exe, a, "push")
	return pr
}

// objectsIn returns how many objects the Git directory of dir holds
// (packed and loose), without fetching anything.
func objectsIn(t *testing.T, dir string) int {
	t.Helper()
	out := gittest.Git(t, dir, "cat-file", "--batch-all-objects", "--batch-check=%(objectname)")
	return len(strings.Fields(out))
}

// promisorObjects counts the objects in the packs fetches into a partial
// clone made (each pack index's object count).
func promisorObjects(t *testing.T, dir string) int {
	t.Helper()
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.promisor"))
	n := 0
	for _, p := range m {
		idx, err := os.ReadFile(strings.TrimSuffix(p, ".promisor") + ".idx")
		if err != nil || len(idx) < 8+256*4 {
			t.Fatalf("index of %s: %v", p, err)
		}
		n += int(binary.BigEndian.Uint32(idx[8+255*4:]))
	}
	return n
}

// partialStep is one command in a partial clone and the fetches it may
// make, per filter.
type partialStep struct {
	args []string
	max  map[string]int // filter -> fetches allowed
	want string
	// before runs first (a change another clone pushes).
	before func()
}

// TestPartialCloneFilters: every command in clones made with
// --filter=blob:none, --filter=tree:0 (no trees either) and
// --filter=blob:limit=1k, each with the number of fetches it may make
// (counted as the packs fetches leave): the first read of a tree:0 clone
// fetches the tip's whole tree structure in one request, the run index the
// manifests in one more; a command that reads what an earlier one fetched
// (or a second run of a read) makes none; reads, writes, push and pull in
// between another clone's pushes; the server starts and searches runs and
// models.
// At the end the clone still lacks most of the remote's history: nothing
// fetched everything.
func TestPartialCloneFilters(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	pr := newPartialRemote(t, exe)
	total := objectsIn(t, pr.bare)
	for _, filter := range []string{"blob:none", "tree:0", "blob:limit=1k"} {
		t.Run(strings.ReplaceAll(filter, ":", "_"), func(t *testing.T) {
			b := filepath.Join(t.TempDir(), "b")
			gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter="+filter, "--no-checkout", "-b", "mlgit", "file://"+pr.bare, b)
			gittest.Git(t, b, "remote", "set-branches", "--add", "origin", "*")
			cloned := objectsIn(t, b)
			m2 := filepath.Join(t.TempDir(), "m2")
			os.MkdirAll(m2, 0o755)
			os.WriteFile(filepath.Join(m2, "w.pkl"), []byte("x"), 0o644)
			n := func(bn, tr, bl int) map[string]int {
				return map[string]int{"blob:none": bn, "tree:0": tr, "blob:limit=1k": bl}
			}
			remoteMoves := func() {
				mustProc(t, exe, pr.seed, "run", "exec", "--name", "from-a-"+filter, "--", "true")
				mustProc(t, exe, pr.seed, "push")
			}
			steps := []partialStep{
				{args: []string{"run", "list"}, max: n(2, 3, 0), want: "r11"},
				{args: []string{"run", "list"}, max: n(0, 0, 0), want: "r11"},
				{args: []string{"run", "show", "r2"}, max: n(0, 0, 0), want: "r2"},
				{args: []string{"run", "metrics", pr.trained, "loss"}, max: n(1, 1, 1), want: "0.00333"},
				{args: []string{"exp", "list"}, max: n(0, 0, 0), want: "Default"},
				{args: []string{"model", "list"}, max: n(1, 1, 0), want: "ranker"},
				{args: []string{"model", "list"}, max: n(0, 0, 0), want: "ranker"},
				{args: []string{"model", "show", "fraud"}, max: n(0, 0, 0), want: "champion"},
				{args: []string{"model", "resolve", "churn@production"}, max: n(1, 1, 0), want: "churn v1"},
				{args: []string{"model", "resolve", "fraud@champion"}, max: n(0, 0, 0), want: "fraud v2"},
				{args: []string{"run", "exec", "--name", "from-b", "--", "true"}, max: n(0, 0, 0)},
				{args: []string{"model", "register", "ranker", "--from", m2}, max: n(0, 0, 0), want: "Registered ranker v"},
				{args: []string{"model", "promote", "ranker", "3", "Staging"}, max: n(0, 0, 0), want: "Staging"},
				{args: []string{"push"}, max: n(1, 2, 1), want: "pushed", before: remoteMoves},
				{args: []string{"pull"}, max: n(1, 1, 1), before: remoteMoves},
				{args: []string{"run", "list"}, max: n(1, 2, 1), want: "from-a"},
				{args: []string{"run", "list"}, max: n(0, 0, 0), want: "from-a"},
			}
			for _, s := range steps {
				if s.before != nil {
					s.before()
				}
				before, objs := promisorFetches(t, b), promisorObjects(t, b)
				out := mustProc(t, exe, b, s.args...)
				got, fetched := promisorFetches(t, b)-before, promisorObjects(t, b)-objs
				t.Logf("%s: mlgit %s: %d fetches, %d objects", filter, strings.Join(s.args, " "), got, fetched)
				if got > s.max[filter] || !strings.Contains(out, s.want) {
					t.Errorf("%s: mlgit %s: %d fetches (at most %d)\n%s", filter, strings.Join(s.args, " "), got, s.max[filter], out)
				}
				// The remote's history is several times the tip's trees
				// and manifests: a step that fetched half of it walked it.
				if fetched > total/2 {
					t.Errorf("%s: mlgit %s fetched %d objects; the remote holds %d", filter, strings.Join(s.args, " "), fetched, total)
				}
			}
			srv := startServerProc(t, exe, b)
			defer srv.kill()
			before := promisorFetches(t, b)
			for _, q := range []struct{ path, body, want string }{
				{"/api/2.0/mlflow/runs/search", `{"experiment_ids":["0"],"filter":"attributes.run_name = 'trained'"}`, pr.trained},
				{"/api/2.0/mlflow/registered-models/search", "", `"ranker"`},
			} {
				var res *http.Response
				var err error
				if q.body == "" {
					res, err = http.Get(srv.base + q.path)
				} else {
					res, err = http.Post(srv.base+q.path, "application/json", strings.NewReader(q.body))
				}
				if err != nil {
					t.Fatal(err)
				}
				body, _ := io.ReadAll(res.Body)
				res.Body.Close()
				if res.StatusCode != 200 || !strings.Contains(string(body), q.want) {
					t.Errorf("%s: server %s: %d %s", filter, q.path, res.StatusCode, body)
				}
			}
			if got := promisorFetches(t, b) - before; got > 1 {
				t.Errorf("%s: the server made %d fetches to start and search (at most 1)", filter, got)
			}
			have := objectsIn(t, b)
			t.Logf("%s: the remote holds %d objects; the clone %d after cloning, %d at the end", filter, total, cloned, have)
			if out := gittest.Git(t, b, "rev-list", "--objects", "--missing=print", "mlgit"); !strings.Contains(out, "\n?") {
				t.Errorf("%s: the clone lacks nothing of the tracking branch's history: something fetched it all", filter)
			}
		})
	}
}

// TestPartialCloneFirstCommand: each read as the first command in a fresh
// blob:none or tree:0 clone, with the fetches it may make then (a tree:0
// clone first fetches the tip's tree structure).
func TestPartialCloneFirstCommand(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	pr := newPartialRemote(t, exe)
	for _, c := range []struct {
		args           []string
		blobNone, tree int
		want           string
	}{
		{[]string{"run", "show", "r2"}, 1, 2, "r2"},                       // the run index
		{[]string{"run", "metrics", pr.trained, "loss"}, 2, 3, "0.00333"}, // the run, its segments
		{[]string{"exp", "list"}, 1, 2, "Default"},
		{[]string{"model", "list"}, 1, 2, "ranker"},                          // all of models/
		{[]string{"model", "show", "fraud"}, 1, 2, "champion"},               // the model's folder
		{[]string{"model", "resolve", "churn@production"}, 2, 3, "churn v1"}, // mlgit.yaml, the model's folder
		{[]string{"log", "-n", "3"}, 0, 0, "fraud"},                          // commits only
	} {
		for filter, max := range map[string]int{"blob:none": c.blobNone, "tree:0": c.tree} {
			b := filepath.Join(t.TempDir(), "b")
			gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter="+filter, "--no-checkout", "-b", "mlgit", "file://"+pr.bare, b)
			packs, objs := promisorFetches(t, b), promisorObjects(t, b) // the clone's own pack
			out := mustProc(t, exe, b, c.args...)
			n := promisorFetches(t, b) - packs
			t.Logf("%s: first command mlgit %s: %d fetches, %d objects", filter, strings.Join(c.args, " "), n, promisorObjects(t, b)-objs)
			if n > max || !strings.Contains(out, c.want) {
				t.Errorf("%s: first command mlgit %s: %d fetches (at most %d)\n%s", filter, strings.Join(c.args, " "), n, max, out)
			}
		}
	}
}

// TestPartialCloneCheck: mlgit check and mlgit diff A...B of a branch that
// adds 8 runs, in a blob:none and a tree:0 clone (as the CI recipes make
// them), fetch the changed files in one request, not one per file.
func TestPartialCloneCheck(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	pr := newPartialRemote(t, exe)
	for i := 0; i < 8; i++ {
		mustProc(t, exe, pr.seed, "run", "exec", "--name", fmt.Sprintf("pr%d", i), "--param", "lr=0.1", "--", "true")
	}
	gittest.Git(t, pr.seed, "push", "-q", "origin", "mlgit:refs/heads/candidates")
	for filter, max := range map[string]int{"blob:none": 2, "tree:0": 3} {
		b := filepath.Join(t.TempDir(), "b")
		gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter="+filter, "--no-checkout", "-b", "mlgit", "file://"+pr.bare, b)
		gittest.Git(t, b, "fetch", "-q", "origin", "+refs/heads/candidates:refs/remotes/origin/candidates")
		before := promisorFetches(t, b)
		out := mustProc(t, exe, b, "check", "--base", "origin/mlgit", "--head", "origin/candidates")
		n := promisorFetches(t, b) - before
		t.Logf("%s: mlgit check of 8 new runs: %d fetches\n%s", filter, n, out)
		if n > max || !strings.Contains(out, "no problems") {
			t.Errorf("%s: mlgit check of 8 new runs: %d fetches (at most %d)\n%s", filter, n, max, out)
		}
	}
	for filter, max := range map[string]int{"blob:none": 1, "tree:0": 2} {
		b := filepath.Join(t.TempDir(), "b")
		gittest.Git(t, filepath.Dir(b), "clone", "-q", "--filter="+filter, "--no-checkout", "-b", "mlgit", "file://"+pr.bare, b)
		gittest.Git(t, b, "fetch", "-q", "origin", "+refs/heads/candidates:refs/remotes/origin/candidates")
		before := promisorFetches(t, b)
		out := mustProc(t, exe, b, "diff", "origin/mlgit...origin/candidates", "--format", "markdown")
		n := promisorFetches(t, b) - before
		t.Logf("%s: mlgit diff of 8 new runs: %d fetches", filter, n)
		if n > max || !strings.Contains(out, "Runs: 8 added, 0 changed, 0 removed") {
			t.Errorf("%s: mlgit diff of 8 new runs: %d fetches (at most %d)\n%s", filter, n, max, out)
		}
	}
}
