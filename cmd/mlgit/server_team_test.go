package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/servecmd"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestServerSyncFlags: --sync and --sync-interval reach the options; a
// zero interval, an interval without --sync, and a --sync that names no
// remote are usage errors that start nothing.
func TestServerSyncFlags(t *testing.T) {
	a, _, _ := clitest.NewApp(t, t.TempDir())
	parse := func(args ...string) (*cli.ServerOptions, error) {
		var got *cli.ServerOptions
		cmd := servecmd.NewServerCmd(a, func(_ context.Context, o *cli.ServerOptions) error { got = o; return nil })
		cmd.SetArgs(append([]string{}, args...)) // never nil: cobra would read os.Args
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		return got, cmd.Execute()
	}
	o, err := parse("--sync", "origin", "--sync-interval", "1m")
	if err != nil || o.Sync != "origin" || o.SyncInterval != time.Minute {
		t.Fatalf("--sync origin --sync-interval 1m: %+v %v", o, err)
	}
	if o, err := parse(); err != nil || o.Sync != "" || o.SyncInterval != 30*time.Second {
		t.Fatalf("defaults: %+v %v", o, err)
	}
	for _, args := range [][]string{{"--sync", "origin", "--sync-interval", "0s"}, {"--sync-interval", "1m"}} {
		if _, err := parse(args...); cli.ExitCode(err) != cli.ExitUsage {
			t.Fatalf("%v: %v", args, err)
		}
	}
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	if _, _, code := runCLI(t, dir, "init"); code != 0 {
		t.Fatal("init failed")
	}
	_, stderr, code := runCLI(t, dir, "server", "--port", "0", "--sync", "nosuch")
	if code != cli.ExitUsage || !strings.Contains(stderr, "no remote of that name") {
		t.Fatalf("--sync nosuch: exit %d: %s", code, stderr)
	}
}

// Team servers: mlgit server --sync REMOTE (server/sync.go,
// docs/sharing.md "Team servers"), tested with the real binary, real git
// and a bare remote.

// lockedBuffer collects a process's standard error for the test to read
// while the process writes it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// teamServer is an mlgit server process started with --sync.
type teamServer struct {
	name string
	cmd  *exec.Cmd
	base string
	log  *lockedBuffer
	done chan error
}

// startTeamServer starts mlgit server in dir with args and waits until it
// listens.
func startTeamServer(t *testing.T, exe, dir, name string, args ...string) *teamServer {
	t.Helper()
	cmd := exec.Command(exe, append([]string{"server", "--port", "0", "--quiet"}, args...)...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0")
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ts := &teamServer{name: name, cmd: cmd, log: &lockedBuffer{}, done: make(chan error, 1)}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		line := sc.Text()
		ts.log.Write([]byte(line + "\n"))
		if _, addr, ok := strings.Cut(line, " on http://"); ok {
			ts.base = "http://" + addr
			break
		}
	}
	if ts.base == "" {
		cmd.Process.Kill()
		cmd.Wait()
		t.Fatalf("server %s did not start:\n%s", name, ts.log)
	}
	go func() {
		io.Copy(ts.log, stderr)
		ts.done <- cmd.Wait()
	}()
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			<-ts.done
		}
	})
	return ts
}

// stop sends SIGTERM (what systemd sends) and waits for the final
// checkpoint and push.
func (ts *teamServer) stop(t *testing.T) {
	t.Helper()
	ts.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-ts.done:
		if err != nil {
			t.Fatalf("server %s: %v\n%s", ts.name, err, ts.log)
		}
	case <-time.After(90 * time.Second):
		t.Fatalf("server %s did not stop\n%s", ts.name, ts.log)
	}
}

// call sends a JSON request to the server and decodes the answer; it
// retries TEMPORARILY_UNAVAILABLE (503) as MLflow's clients do.
func (ts *teamServer) call(method, path string, body any) (map[string]any, int, error) {
	var data []byte
	if body != nil {
		if s, ok := body.(string); ok {
			data = []byte(s)
		} else {
			data, _ = json.Marshal(body)
		}
	}
	for attempt := 0; ; attempt++ {
		req, err := http.NewRequest(method, ts.base+path, bytes.NewReader(data))
		if err != nil {
			return nil, 0, err
		}
		if body != nil {
			req.Header.Set("Content-Type", "application/json")
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			return nil, 0, err
		}
		out, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode == http.StatusServiceUnavailable && attempt < 200 {
			time.Sleep(25 * time.Millisecond)
			continue
		}
		var v map[string]any
		if len(out) > 0 {
			if err := json.Unmarshal(out, &v); err != nil {
				return nil, res.StatusCode, fmt.Errorf("%s %s: %d %s", method, path, res.StatusCode, out)
			}
		}
		if res.StatusCode != http.StatusOK {
			return v, res.StatusCode, fmt.Errorf("%s %s on %s: %d %s", method, path, ts.name, res.StatusCode, out)
		}
		return v, res.StatusCode, nil
	}
}

// must is call that fails the test on any error.
func (ts *teamServer) must(t *testing.T, method, path string, body any) map[string]any {
	t.Helper()
	v, _, err := ts.call(method, path, body)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// mlflow calls an MLflow endpoint (path relative to /api/2.0/mlflow/).
func (ts *teamServer) mlflow(method, path string, body any) (map[string]any, error) {
	v, _, err := ts.call(method, "/api/2.0/mlflow/"+path, body)
	return v, err
}

// syncNow asks for a pull round and waits for it (the webhook, with wait).
func (ts *teamServer) syncNow(t *testing.T) map[string]any {
	t.Helper()
	return ts.must(t, "POST", "/api/2.0/mlgit/sync?wait=true", `{}`)
}

func (ts *teamServer) status(t *testing.T) map[string]any {
	t.Helper()
	return ts.must(t, "GET", "/api/2.0/mlgit/status", nil)["sync"].(map[string]any)
}

// createRun creates a run named name in the Default experiment and
// returns its id.
func (ts *teamServer) createRun(name string) (string, error) {
	v, err := ts.mlflow("POST", "runs/create", map[string]any{"experiment_id": "0", "run_name": name, "start_time": time.Now().UnixMilli()})
	if err != nil {
		return "", err
	}
	return v["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string), nil
}

// modelRun creates a run with a model folder (an MLmodel file uploaded
// through the artifact proxy), which a version can be registered from.
func (ts *teamServer) modelRun(name string) (string, error) {
	id, err := ts.createRun(name)
	if err != nil {
		return "", err
	}
	req, err := http.NewRequest("PUT", ts.base+"/api/2.0/mlflow-artifacts/artifacts/0/"+id+"/artifacts/model/MLmodel", strings.NewReader("artifact_path: model\nrun_id: "+id+"\n"))
	if err != nil {
		return "", err
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		return "", err
	}
	out, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return "", fmt.Errorf("upload MLmodel to %s: %d %s", ts.name, res.StatusCode, out)
	}
	return id, nil
}

// newTeamClone makes an empty clone whose origin is bare and brings the
// tracking branch into it.
func newTeamClone(t *testing.T, exe, bare string) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "main")
	gittest.Git(t, dir, "remote", "add", "origin", bare)
	mustProc(t, exe, dir, "pull")
	return dir
}

// newTeamClones makes n clones like newTeamClone, at once.
func newTeamClones(t *testing.T, exe, bare string, n int) []string {
	t.Helper()
	dirs := make([]string, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range dirs {
		dirs[i] = t.TempDir()
		gittest.Git(t, dirs[i], "init", "-q", "-b", "main")
		gittest.Git(t, dirs[i], "remote", "add", "origin", bare)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if out, err := proc(t, exe, dirs[i], "pull"); err != nil {
				errs[i] = fmt.Errorf("pull in a new clone: %v\n%s", err, out)
			}
		}()
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	return dirs
}

// newTeamRemote makes a bare remote that keeps a reflog of its branch and
// refuses non-fast-forward updates, seeded with an initialized tracking
// branch; configure runs in the seed clone before its first push.
func newTeamRemote(t *testing.T, exe string, configure ...[]string) (bare, seed string) {
	t.Helper()
	bare = filepath.Join(t.TempDir(), "team.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	gittest.Git(t, bare, "config", "core.logAllRefUpdates", "always")
	gittest.Git(t, bare, "config", "receive.denyNonFastForwards", "true")
	seed = seedClone(t, exe, bare)
	for _, args := range configure {
		mustProc(t, exe, seed, args...)
	}
	mustProc(t, exe, seed, "push")
	return bare, seed
}

// TestTeamServerRemoteDownRenumberReview: two team servers on one remote.
// While server B's remote is unreachable it keeps accepting writes,
// reports the failure (last error, pending commits, next attempt) and
// backs off; both register version 2 of one model meanwhile, and when the
// remote is back B renumbers its version to 3, says so in its log and its
// status, and MLflow clients find the final number (search by run id, get
// of the version). A promotion into a stage with review: true through a
// team server becomes a proposal branch on the remote, not a stage tag.
func TestTeamServerRemoteDownRenumberReview(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare, _ := newTeamRemote(t, exe, []string{"config", "set", "promotion.production.review", "true"})
	link := filepath.Join(t.TempDir(), "team-link.git")
	if err := os.Symlink(bare, link); err != nil {
		t.Fatal(err)
	}
	dirA := newTeamClone(t, exe, bare)
	dirB := newTeamClone(t, exe, bare)
	blobs := filepath.Join(t.TempDir(), "blobs")
	a := startTeamServer(t, exe, dirA, "A", "--sync", "origin", "--sync-interval", "1h", "--blob-remote", blobs)
	b := startTeamServer(t, exe, dirB, "B", "--sync", link, "--sync-interval", "1h", "--blob-remote", blobs)

	ra, err := a.modelRun("a-1")
	if err != nil {
		t.Fatal(err)
	}
	a.must(t, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "churn"})
	v := a.must(t, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "churn", "source": "runs:/" + ra + "/model", "run_id": ra})
	if got := v["model_version"].(map[string]any)["version"]; got != "1" {
		t.Fatalf("first version: %v", got)
	}
	a.syncNow(t)
	b.syncNow(t)
	if st := b.status(t); st["state"] != "ok" || st["pending_commits"] != 0.0 {
		t.Fatalf("B after a sync: %v", st)
	}

	// B's remote goes away.
	if err := os.Remove(link); err != nil {
		t.Fatal(err)
	}
	rb, err := b.modelRun("b-1")
	if err != nil {
		t.Fatal(err)
	}
	v = b.must(t, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "churn", "source": "runs:/" + rb + "/model", "run_id": rb})
	if got := v["model_version"].(map[string]any)["version"]; got != "2" {
		t.Fatalf("B's version: %v", got)
	}
	ra2, err := a.modelRun("a-2")
	if err != nil {
		t.Fatal(err)
	}
	a.must(t, "POST", "/api/2.0/mlflow/model-versions/create", map[string]any{"name": "churn", "source": "runs:/" + ra2 + "/model", "run_id": ra2})
	a.syncNow(t)

	res, code, err := b.call("POST", "/api/2.0/mlgit/sync?wait=true", `{}`)
	if err == nil || code != http.StatusBadGateway || res["ok"] != false || res["error"] == "" {
		t.Fatalf("a sync with the remote gone: %d %v %v", code, res, err)
	}
	st := b.status(t)
	if st["state"] != "failing" || st["last_error"] == nil || st["consecutive_failures"].(float64) < 1 || st["next_attempt"] == nil {
		t.Fatalf("B's status with the remote gone: %v", st)
	}
	if n, _ := st["pending_commits"].(float64); n < 1 { // the registration, at least
		t.Fatalf("B's pending commits with the remote gone: %v", st)
	}
	next, err := time.Parse(time.RFC3339Nano, st["next_attempt"].(string))
	if err != nil || next.Before(time.Now().Add(-time.Second)) {
		t.Fatalf("next attempt %v: %v", st["next_attempt"], err)
	}
	// Writes go on while the remote is down.
	if _, err := b.mlflow("POST", "runs/log-metric", map[string]any{"run_id": rb, "key": "auc", "value": 0.91, "timestamp": 1, "step": 0}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.mlflow("POST", "runs/update", map[string]any{"run_id": rb, "status": "FINISHED", "end_time": time.Now().UnixMilli()}); err != nil {
		t.Fatal(err)
	}
	// A second failure waits longer (exponential back-off, jittered
	// between half and all of 1 s, 2 s, ...).
	b.call("POST", "/api/2.0/mlgit/sync?wait=true", `{}`)
	st2 := b.status(t)
	if st2["consecutive_failures"].(float64) < 2 {
		t.Fatalf("B after a second failure: %v", st2)
	}
	if !strings.Contains(b.log.String(), "sync with the remote failed") {
		t.Fatalf("B's log does not report the failure:\n%s", b.log)
	}

	// The remote is back: B renumbers its version.
	if err := os.Symlink(bare, link); err != nil {
		t.Fatal(err)
	}
	res = b.syncNow(t)
	st = res["sync"].(map[string]any)
	if st["state"] != "ok" || st["pending_commits"] != 0.0 || st["consecutive_failures"] != 0.0 {
		t.Fatalf("B after the remote came back: %v", st)
	}
	rn, _ := st["renumbered"].([]any)
	if len(rn) != 1 || rn[0].(map[string]any)["model"] != "churn" || rn[0].(map[string]any)["from"] != 2.0 || rn[0].(map[string]any)["to"] != 3.0 {
		t.Fatalf("B's renumbered versions: %v", st["renumbered"])
	}
	if !strings.Contains(b.log.String(), "renumbered churn v2 -> v3") {
		t.Fatalf("B's log does not say it renumbered:\n%s", b.log)
	}
	// The client finds its version's final number through MLflow's API.
	found := b.must(t, "GET", "/api/2.0/mlflow/model-versions/search?filter="+urlQuery("name='churn' and run_id='"+rb+"'"), nil)
	mvs, _ := found["model_versions"].([]any)
	if len(mvs) != 1 || mvs[0].(map[string]any)["version"] != "3" {
		t.Fatalf("search by B's run: %v", found)
	}
	a.syncNow(t)
	for _, s := range []*teamServer{a, b} {
		for n, run := range map[string]string{"1": ra, "2": ra2, "3": rb} {
			got := s.must(t, "GET", "/api/2.0/mlflow/model-versions/get?name=churn&version="+n, nil)["model_version"].(map[string]any)
			if got["run_id"] != run {
				t.Fatalf("%s: churn v%s is from run %v, want %s", s.name, n, got["run_id"], run)
			}
		}
	}
	tags := gittest.Git(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/tags/churn@*")
	if tags != "churn@v1\nchurn@v2\nchurn@v3" {
		t.Fatalf("registration tags on the remote:\n%s", tags)
	}

	// Review: production needs review, so B proposes instead of promoting.
	pr := b.must(t, "POST", "/api/2.0/mlflow/model-versions/transition-stage", map[string]any{"name": "churn", "version": "3", "stage": "Production"})
	prop, _ := pr["proposal"].(map[string]any)
	if prop == nil || prop["pushed"] != true || prop["branch"] == "" {
		t.Fatalf("transition to Production through a team server: %v", pr)
	}
	if stage := pr["model_version"].(map[string]any)["current_stage"]; stage != "None" {
		t.Fatalf("the proposed version's stage: %v", stage)
	}
	if out := gittest.Git(t, bare, "for-each-ref", "--format=%(refname)", "refs/heads/"+prop["branch"].(string)); out == "" {
		t.Fatalf("the proposal branch %v is not on the remote", prop["branch"])
	}
	b.syncNow(t)
	if out := gittest.Git(t, bare, "for-each-ref", "--format=%(refname)", "refs/tags/churn#production#*"); out != "" {
		t.Fatalf("a reviewed stage got a tag on the remote: %s", out)
	}
	// Staging needs no review: a tag, pushed after the commit.
	b.must(t, "POST", "/api/2.0/mlflow/model-versions/transition-stage", map[string]any{"name": "churn", "version": "3", "stage": "Staging"})
	b.syncNow(t)
	if out := gittest.Git(t, bare, "for-each-ref", "--format=%(refname:short)", "refs/tags/churn#staging#*"); !strings.HasPrefix(out, "churn#staging#") {
		t.Fatalf("no staging tag on the remote: %q", out)
	}

	a.stop(t)
	b.stop(t)
	gittest.Git(t, bare, "fsck", "--strict")
	gittest.Git(t, dirB, "fsck", "--strict")
}

// urlQuery escapes s for a query string.
func urlQuery(s string) string {
	r := strings.NewReplacer("%", "%25", " ", "%20", "'", "%27", "=", "%3D", "&", "%26", "+", "%2B")
	return r.Replace(s)
}

// teamRun is a run a writer saw acknowledged.
type teamRun struct {
	id, name string
	steps    []int
	params   map[string]string
	tags     map[string]string
}

// TestTeamServersConverge: three team servers, each on its own clone and
// syncing with one bare remote every second, take runs, params, tags and
// metric points from MLflow clients; two CLI clones run mlgit run exec
// and mlgit push in loops; two of the servers register versions of one
// model. After the writers stop and a final sync everywhere, every clone
// and every server holds every acknowledged run, point, tag and version
// exactly once, versions are numbered 1..N without gaps or duplicates,
// every update of the remote's branch was a fast-forward, and git fsck
// --strict finds nothing.
func TestTeamServersConverge(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare, _ := newTeamRemote(t, exe)
	blobs := filepath.Join(filepath.Dir(exe), "blobs") // what proc gives the CLI clones
	clones := newTeamClones(t, exe, bare, 5)
	serverDirs, cliDirs := clones[:3], clones[3:]
	servers := make([]*teamServer, 3)
	for i, dir := range serverDirs {
		servers[i] = startTeamServer(t, exe, dir, fmt.Sprintf("S%d", i+1),
			"--sync", "origin", "--sync-interval", "2s", "--checkpoint-interval", "1s", "--blob-remote", blobs)
	}
	servers[0].must(t, "POST", "/api/2.0/mlflow/registered-models/create", map[string]any{"name": "team"})
	servers[0].syncNow(t)
	servers[1].syncNow(t)

	writeFor := 8 * time.Second
	if d, err := time.ParseDuration(os.Getenv("MLGIT_TEAM_WRITE_FOR")); err == nil && d > 0 {
		writeFor = d
	}
	deadline := time.Now().Add(writeFor)
	var (
		mu       sync.Mutex
		runs     []*teamRun
		cliRuns  []string
		versions = map[string]bool{} // run ids of acknowledged registrations
		errs     = make(chan error, 100)
		wg       sync.WaitGroup
	)
	// MLflow clients: two per server.
	for si, s := range servers {
		for c := 0; c < 2; c++ {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := 0; i == 0 || time.Now().Before(deadline); i++ { // at least one each
					name := fmt.Sprintf("%s-c%d-%d", s.name, c, i)
					id, err := s.createRun(name)
					if err != nil {
						errs <- err
						return
					}
					tr := &teamRun{id: id, name: name, params: map[string]string{}, tags: map[string]string{}}
					for step := 0; step < 6; step++ {
						batch := map[string]any{"run_id": id, "metrics": []map[string]any{{"key": "loss", "value": float64(step) / 10, "timestamp": 1000 + step, "step": step}}}
						if step == 0 {
							batch["params"] = []map[string]string{{"key": "lr", "value": fmt.Sprint(si, ".", c, i)}}
						}
						if _, err := s.mlflow("POST", "runs/log-batch", batch); err != nil {
							errs <- err
							return
						}
						tr.steps = append(tr.steps, step)
						if step == 0 {
							tr.params["lr"] = fmt.Sprint(si, ".", c, i)
						}
					}
					if _, err := s.mlflow("POST", "runs/set-tag", map[string]any{"run_id": id, "key": "team", "value": name}); err != nil {
						errs <- err
						return
					}
					tr.tags["team"] = name
					if _, err := s.mlflow("POST", "runs/update", map[string]any{"run_id": id, "status": "FINISHED", "end_time": time.Now().UnixMilli()}); err != nil {
						errs <- err
						return
					}
					mu.Lock()
					runs = append(runs, tr)
					mu.Unlock()
				}
			}()
		}
	}
	// Registrations through S1 and S2.
	for _, s := range servers[:2] {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i == 0 || time.Now().Before(deadline); i++ { // at least one each
				id, err := s.modelRun(fmt.Sprintf("%s-model-%d", s.name, i))
				if err != nil {
					errs <- err
					return
				}
				if _, err := s.mlflow("POST", "model-versions/create", map[string]any{"name": "team", "source": "runs:/" + id + "/model", "run_id": id}); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				versions[id] = true
				mu.Unlock()
				time.Sleep(300 * time.Millisecond)
			}
		}()
	}
	// CLI clones.
	for ci, dir := range cliDirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i == 0 || time.Now().Before(deadline); i++ { // at least one each
				name := fmt.Sprintf("cli%d-%d", ci, i)
				if out, err := proc(t, exe, dir, "run", "exec", "--name", name, "--", "true"); err != nil {
					errs <- fmt.Errorf("run exec in clone %d: %v\n%s", ci, err, out)
					return
				}
				mu.Lock()
				cliRuns = append(cliRuns, name)
				mu.Unlock()
				if out, err := proc(t, exe, dir, "push"); err != nil {
					errs <- fmt.Errorf("push from clone %d: %v\n%s", ci, err, out)
					return
				}
				time.Sleep(300 * time.Millisecond)
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(versions) < 2 || len(cliRuns) < 2 || len(runs) < 6 {
		t.Fatalf("too little was written: %d versions, %d CLI runs, %d server runs", len(versions), len(cliRuns), len(runs))
	}
	t.Logf("acknowledged: %d server runs, %d CLI runs, %d model versions", len(runs), len(cliRuns), len(versions))

	// A final sync everywhere: the CLI clones push, every server syncs
	// (pushing all it has), the first two again (to get what the later
	// ones pushed), the CLI clones pull.
	for _, dir := range cliDirs {
		mustProc(t, exe, dir, "push")
	}
	for _, s := range append(servers, servers[:2]...) {
		s.syncNow(t)
	}
	for _, dir := range cliDirs {
		mustProc(t, exe, dir, "pull")
	}
	remoteTip := gittest.Git(t, bare, "rev-parse", "refs/heads/mlgit")

	wantNames := map[string]bool{}
	for _, r := range runs {
		wantNames[r.name] = true
	}
	for _, n := range cliRuns {
		wantNames[n] = true
	}
	// Through each server's REST API.
	for _, s := range servers {
		if st := s.status(t); st["pending_commits"] != 0.0 || st["remote_tip"] != remoteTip {
			t.Fatalf("%s after the final sync: %v (remote at %s)", s.name, st, remoteTip)
		}
		found := s.must(t, "POST", "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{"0"}, "max_results": 1000})
		byName := map[string]int{}
		byID := map[string]map[string]any{}
		list, _ := found["runs"].([]any)
		for _, x := range list {
			info := x.(map[string]any)["info"].(map[string]any)
			byName[info["run_name"].(string)]++
			byID[info["run_id"].(string)] = x.(map[string]any)
		}
		if found["next_page_token"] != nil {
			t.Fatalf("%s: more than one page of runs", s.name)
		}
		for n := range wantNames {
			if byName[n] != 1 {
				t.Fatalf("%s has run %s %d times", s.name, n, byName[n])
			}
		}
		for _, r := range runs {
			data := byID[r.id]["data"].(map[string]any)
			if kv := keyValues(data["params"]); kv["lr"] != r.params["lr"] {
				t.Fatalf("%s: run %s params %v, want %v", s.name, r.name, kv, r.params)
			}
			if kv := keyValues(data["tags"]); kv["team"] != r.tags["team"] {
				t.Fatalf("%s: run %s tags %v, want %v", s.name, r.name, kv, r.tags)
			}
			h := s.must(t, "GET", "/api/2.0/mlflow/metrics/get-history?run_id="+r.id+"&metric_key=loss", nil)
			var steps []int
			for _, m := range h["metrics"].([]any) {
				steps = append(steps, int(m.(map[string]any)["step"].(float64)))
			}
			sort.Ints(steps)
			if fmt.Sprint(steps) != fmt.Sprint(r.steps) {
				t.Fatalf("%s: run %s has steps %v, acknowledged %v", s.name, r.name, steps, r.steps)
			}
		}
		mv := s.must(t, "GET", "/api/2.0/mlflow/model-versions/search?filter="+urlQuery("name='team'")+"&max_results=1000", nil)
		var nums []int
		seen := map[string]int{}
		for _, x := range mv["model_versions"].([]any) {
			v := x.(map[string]any)
			var n int
			fmt.Sscan(v["version"].(string), &n)
			nums = append(nums, n)
			seen[v["run_id"].(string)]++
		}
		sort.Ints(nums)
		for i, n := range nums {
			if n != i+1 {
				t.Fatalf("%s: versions of team are %v, want 1..%d", s.name, nums, len(versions))
			}
		}
		if len(nums) != len(versions) {
			t.Fatalf("%s: %d versions of team, %d acknowledged", s.name, len(nums), len(versions))
		}
		for id := range versions {
			if seen[id] != 1 {
				t.Fatalf("%s: the version from run %s is there %d times", s.name, id, seen[id])
			}
		}
	}
	for _, s := range servers {
		s.stop(t)
	}

	// Through git, on the remote and every clone.
	var verTags []string
	for i := 1; i <= len(versions); i++ {
		verTags = append(verTags, fmt.Sprintf("team@v%d", i))
	}
	if got := gittest.Git(t, bare, "for-each-ref", "--sort=version:refname", "--format=%(refname:short)", "refs/tags/team@*"); got != strings.Join(verTags, "\n") {
		t.Fatalf("registration tags on the remote:\n%s\nwant %v", got, verTags)
	}
	wantRuns := len(wantNames) + len(versions)
	for _, dir := range append(append([]string{}, serverDirs...), cliDirs...) {
		if tip := gittest.Git(t, dir, "rev-parse", "refs/heads/mlgit"); tip != remoteTip {
			t.Fatalf("clone %s is at %s, the remote at %s", dir, tip, remoteTip)
		}
		files := strings.Fields(gittest.Git(t, dir, "ls-tree", "-r", "--name-only", "mlgit", "runs/"))
		n := 0
		for _, f := range files {
			if strings.HasSuffix(f, "/run.yaml") {
				n++
			}
		}
		if n != wantRuns {
			t.Fatalf("clone %s has %d runs on its branch, want %d", dir, n, wantRuns)
		}
		if got := gittest.Git(t, dir, "for-each-ref", "--sort=version:refname", "--format=%(refname:short)", "refs/tags/team@*"); got != strings.Join(verTags, "\n") {
			t.Fatalf("registration tags in %s:\n%s", dir, got)
		}
		gittest.Git(t, dir, "fsck", "--strict")
	}
	gittest.Git(t, bare, "fsck", "--strict")
	// Every value the remote's branch ever had is in its final history:
	// no update rewrote what was pushed.
	history := map[string]bool{}
	for _, h := range strings.Fields(gittest.Git(t, bare, "rev-list", "refs/heads/mlgit")) {
		history[h] = true
	}
	reflog := strings.Fields(gittest.Git(t, bare, "reflog", "show", "--format=%H", "refs/heads/mlgit"))
	if len(reflog) < 10 {
		t.Fatalf("the remote's reflog has %d entries", len(reflog))
	}
	for _, h := range reflog {
		if !history[h] {
			t.Fatalf("the remote's branch was once at %s, which is not in its history: a forced update", h)
		}
	}
}

// keyValues turns MLflow's [{key, value}] into a map.
func keyValues(v any) map[string]string {
	out := map[string]string{}
	list, _ := v.([]any)
	for _, x := range list {
		kv := x.(map[string]any)
		out[kv["key"].(string)] = fmt.Sprint(kv["value"])
	}
	return out
}
