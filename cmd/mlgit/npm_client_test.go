package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"regexp"
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

// npmClientDir holds the third-party client: package.json and
// package-lock.json pin the npm package "mlflow" (a Node.js MLflow REST
// client), client.mjs drives it.
const npmClientDir = "testdata/npm-client"

// npmClientResult is what testdata/npm-client/client.mjs prints: the ids
// and values the library observed.
type npmClientResult struct {
	Experiment struct {
		ID             string            `json:"id"`
		Name           string            `json:"name"`
		LifecycleStage string            `json:"lifecycle_stage"`
		Tags           map[string]string `json:"tags"`
	} `json:"experiment"`
	RunID         string `json:"run_id"`
	BaselineRunID string `json:"baseline_run_id"`
	Artifacts     []struct {
		Path     string `json:"path"`
		IsDir    bool   `json:"is_dir"`
		FileSize int64  `json:"file_size"`
	} `json:"artifacts"`
	Run struct {
		RunName   string                     `json:"run_name"`
		UserID    string                     `json:"user_id"`
		Status    string                     `json:"status"`
		StartTime int64                      `json:"start_time"`
		Params    map[string]string          `json:"params"`
		Metrics   map[string]npmClientMetric `json:"metrics"`
		Tags      map[string]string          `json:"tags"`
	} `json:"run"`
	LossHistory []npmClientMetric `json:"loss_history"`
	Search      struct {
		ByAccDesc    []string `json:"by_acc_desc"`
		DefaultOrder []string `json:"default_order"`
		AdamOver090  []string `json:"adam_over_090"`
	} `json:"search"`
	FinalStatus string `json:"final_status"`
	Model       struct {
		Name             string           `json:"name"`
		Description      string           `json:"description"`
		V1               npmClientVersion `json:"v1"`
		V2               npmClientVersion `json:"v2"`
		Champion         string           `json:"champion"`
		LatestProduction []string         `json:"latest_production"`
		Aliases          []string         `json:"aliases"`
	} `json:"model"`
	Gaps map[string]struct {
		Status    int    `json:"status"`
		ErrorCode string `json:"error_code"`
	} `json:"gaps"`
}

type npmClientMetric struct {
	Value     float64 `json:"value"`
	Step      int64   `json:"step"`
	Timestamp int64   `json:"timestamp"`
}

type npmClientVersion struct {
	Version    string `json:"version"`
	Source     string `json:"source"`
	RunID      string `json:"run_id"`
	StageAfter string `json:"stage_after"`
}

// TestNpmMLflowClient runs a real third-party MLflow client, the npm
// package "mlflow" (version pinned in testdata/npm-client/package-lock.json)
// in a node process, against `mlgit server` on a loopback port, then checks
// with the mlgit CLI (separate processes) and plain git what the server
// wrote.
//
// The package covers experiments, runs, metrics history and artifact
// listing; client.mjs sends the model-registry calls, which the package
// lacks, through its own transport (MLflowBase.req), and only the artifact
// upload and the alias DELETE with fetch. Known gaps, asserted so that a
// change is noticed: Experiments.list calls GET experiments/list, which
// MLflow 2 removed (use experiments/search) and mlgit does not serve (404
// ENDPOINT_NOT_FOUND); Experiments.setExperimentTag requests
// "experimentsset-experiment-tag" (a missing slash in the package), 404.
//
// node_modules is installed once per lock file under the user cache
// directory (mlgit-npm/<hash>) and reused; see npmClientModules.
func TestNpmMLflowClient(t *testing.T) {
	if testing.Short() {
		t.Skip("installs and runs a Node.js MLflow client")
	}
	node, npm := npmTools(t)
	// Install before the hermetic HOME hides the user's npm configuration.
	modules := npmClientModules(t, npm)
	script := filepath.Join(t.TempDir(), "client")
	if err := os.MkdirAll(script, 0o755); err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(npmClientDir, "client.mjs"))
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(script, "client.mjs"), src, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(filepath.Join(modules, "node_modules"), filepath.Join(script, "node_modules")); err != nil {
		t.Fatal(err)
	}

	gittest.Setenv(t)
	t.Setenv("MLGIT_BLOB_REMOTE", "")
	exe := mlgitExe(t)
	dir := gittest.NewRepo(t)
	mustProc(t, exe, dir, "init")
	srv := startNpmServer(t, dir)

	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "client.mjs")
	cmd.Dir = script
	cmd.Env = append(os.Environ(), "MLFLOW_TRACKING_URI="+srv.url, "NO_COLOR=1")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("node client.mjs: %v\nstderr:\n%s\nserver log:\n%s", err, tail(stderr.String(), 4000), tail(srv.log.String(), 4000))
	}
	var got npmClientResult
	dec := json.NewDecoder(&stdout)
	dec.DisallowUnknownFields()
	if err := dec.Decode(&got); err != nil {
		t.Fatalf("client.mjs output: %v\n%s", err, stdout.String())
	}

	// What the library itself observed.
	id, base := got.RunID, got.BaselineRunID
	if !runIDRe.MatchString(id) || !runIDRe.MatchString(base) || id == base {
		t.Fatalf("run ids %q %q", id, base)
	}
	if got.Experiment.Name != "npm-client" || got.Experiment.LifecycleStage != "active" || !reflect.DeepEqual(got.Experiment.Tags, map[string]string{"owner": "npm"}) {
		t.Errorf("experiment %+v", got.Experiment)
	}
	wantParams := map[string]string{"lr": "0.01", "optimizer": "adam", "epochs": "5"}
	wantTags := map[string]string{"mlflow.runName": "npm-main", "mlflow.user": "npm-ci", "stage": "seed", "team": "ml", "framework": "node"}
	wantMetrics := map[string]npmClientMetric{
		"loss": {Value: 0.35, Step: 4, Timestamp: 1700000005000},
		"acc":  {Value: 0.93, Step: 2, Timestamp: 1700000010002},
	}
	r := got.Run
	if r.RunName != "npm-main" || r.UserID != "npm-ci" || r.Status != "RUNNING" || r.StartTime != 1700000000000 ||
		!reflect.DeepEqual(r.Params, wantParams) || !reflect.DeepEqual(r.Tags, wantTags) || !reflect.DeepEqual(r.Metrics, wantMetrics) {
		t.Errorf("runs/get through the library:\n%+v", r)
	}
	var wantLoss []npmClientMetric
	for i, v := range []float64{0.9, 0.7, 0.5, 0.4, 0.35} {
		wantLoss = append(wantLoss, npmClientMetric{Value: v, Step: int64(i), Timestamp: 1700000000000 + 1000*int64(i+1)})
	}
	if !reflect.DeepEqual(got.LossHistory, wantLoss) {
		t.Errorf("loss history %+v", got.LossHistory)
	}
	if s := got.Search; !reflect.DeepEqual(s.ByAccDesc, []string{id, base}) || !reflect.DeepEqual(s.DefaultOrder, []string{base, id}) ||
		!reflect.DeepEqual(s.AdamOver090, []string{id}) {
		t.Errorf("searches (main %s, baseline %s): %+v", id, base, s)
	}
	if len(got.Artifacts) != 2 || got.Artifacts[0].Path != "model/MLmodel" || got.Artifacts[1].Path != "model/weights.bin" ||
		got.Artifacts[1].FileSize != int64(len("weights of "+id+"\n")) || got.Artifacts[0].IsDir {
		t.Errorf("artifacts/list: %+v", got.Artifacts)
	}
	if got.FinalStatus != "FINISHED" {
		t.Errorf("status after runs/update: %q", got.FinalStatus)
	}
	m := got.Model
	wantV1 := npmClientVersion{Version: "1", Source: "runs:/" + base + "/model", RunID: base, StageAfter: "Archived"}
	wantV2 := npmClientVersion{Version: "2", Source: "runs:/" + id + "/model", RunID: id, StageAfter: "Production"}
	if m.Name != "npm-churn" || m.Description != "registered by the npm mlflow client" || m.V1 != wantV1 || m.V2 != wantV2 ||
		m.Champion != "2" || !reflect.DeepEqual(m.LatestProduction, []string{"2"}) || !reflect.DeepEqual(m.Aliases, []string{"champion=2"}) {
		t.Errorf("registry through the library's transport:\n%+v", m)
	}
	// The gaps (see the doc comment). If one starts working, move the call
	// into the covered flow of client.mjs and drop it here.
	for _, call := range []string{"Experiments.list", "Experiments.setExperimentTag"} {
		if g, ok := got.Gaps[call]; !ok || g.Status != 404 || g.ErrorCode != "ENDPOINT_NOT_FOUND" {
			t.Errorf("known gap %s: now %+v (was 404 ENDPOINT_NOT_FOUND)", call, g)
		}
	}

	// Another process reads what the server acknowledged (journal included).
	var shown struct {
		RunID     string                     `json:"run_id"`
		Name      string                     `json:"run_name"`
		Status    string                     `json:"status"`
		User      string                     `json:"user_id"`
		StartTime int64                      `json:"start_time"`
		EndTime   int64                      `json:"end_time"`
		Params    map[string]string          `json:"params"`
		Tags      map[string]string          `json:"tags"`
		Metrics   map[string]npmClientMetric `json:"metrics"`
		Artifacts []struct {
			Path string `json:"path"`
			Size int64  `json:"size"`
		} `json:"artifacts"`
	}
	npmJSON(t, mustProc(t, exe, dir, "run", "show", id, "--json"), &shown)
	if shown.RunID != id || shown.Name != "npm-main" || shown.Status != "FINISHED" || shown.User != "npm-ci" ||
		shown.StartTime != 1700000000000 || shown.EndTime != 1700000200000 ||
		!reflect.DeepEqual(shown.Params, wantParams) || !reflect.DeepEqual(shown.Tags, wantTags) || !reflect.DeepEqual(shown.Metrics, wantMetrics) {
		t.Errorf("mlgit run show %s --json:\n%+v", id, shown)
	}
	if len(shown.Artifacts) != 2 || shown.Artifacts[0].Path != "model/MLmodel" || shown.Artifacts[1].Path != "model/weights.bin" {
		t.Errorf("run show artifacts: %+v", shown.Artifacts)
	}
	var history []npmClientMetric
	npmJSON(t, mustProc(t, exe, dir, "run", "metrics", id, "loss", "--json"), &history)
	if !reflect.DeepEqual(history, wantLoss) {
		t.Errorf("mlgit run metrics %s loss: %+v", id, history)
	}
	var listed []struct {
		RunID string `json:"run_id"`
	}
	npmJSON(t, mustProc(t, exe, dir, "run", "list", "--exp", "npm-client", "--filter", "tags.stage = 'seed'", "--order-by", "metrics.acc DESC", "--json"), &listed)
	if len(listed) != 2 || listed[0].RunID != id || listed[1].RunID != base {
		t.Errorf("mlgit run list, same search as the client: %+v", listed)
	}

	// Stop as SIGTERM does: everything acknowledged is committed.
	srv.stop(t)
	runYAML := gittest.Git(t, dir, "show", "mlgit:runs/"+id[:2]+"/"+id+"/run.yaml")
	for _, want := range []string{"name: npm-main", "status: FINISHED", "optimizer: adam", `epochs: "5"`, "framework: node", "path: model/weights.bin"} {
		if !strings.Contains(runYAML, want) {
			t.Errorf("committed run.yaml lacks %q:\n%s", want, runYAML)
		}
	}
	if strings.Contains(runYAML, "scratch") {
		t.Errorf("deleted tag still committed:\n%s", runYAML)
	}
	if p, _ := filepath.Glob(filepath.Join(dir, ".git", "mlgit", "journal", "*.jnl")); len(p) != 0 {
		t.Errorf("journal not empty after shutdown: %v", p)
	}

	// The registry, as CI reads it: the CLI, then plain git tags.
	var resolved struct {
		Version int      `json:"version"`
		Stage   string   `json:"stage"`
		Aliases []string `json:"aliases"`
		RunID   string   `json:"run_id"`
		Source  string   `json:"source"`
		Tag     string   `json:"tag"`
		From    string   `json:"resolved_from"`
	}
	npmJSON(t, mustProc(t, exe, dir, "model", "resolve", "npm-churn@production", "--json"), &resolved)
	if resolved.Version != 2 || resolved.Stage != "Production" || !reflect.DeepEqual(resolved.Aliases, []string{"champion"}) ||
		resolved.RunID != id || resolved.Source != "runs:/"+id+"/model" || resolved.Tag != "npm-churn@v2" || resolved.From != "tags" {
		t.Errorf("mlgit model resolve npm-churn@production: %+v", resolved)
	}
	for ref, want := range map[string]string{"npm-churn@champion": "2", "npm-churn@archived": "1", "models:/npm-churn/Production": "2"} {
		if v := strings.TrimSpace(mustProc(t, exe, dir, "model", "resolve", ref, "--field", "version")); v != want {
			t.Errorf("mlgit model resolve %s: version %q, want %s", ref, v, want)
		}
	}
	if out, err := proc(t, exe, dir, "model", "resolve", "npm-churn@challenger"); exitStatus(err) != cli.ExitNotFound {
		t.Errorf("removed alias challenger still resolves (err %v):\n%s", err, out)
	}
	// docs/registry.md §3: one tag per registration and per event, each
	// peeling to the registration commit of its version; counters follow
	// the order of the client's calls.
	v1 := gittest.Git(t, dir, "rev-parse", "refs/tags/npm-churn@v1^{commit}")
	v2 := gittest.Git(t, dir, "rev-parse", "refs/tags/npm-churn@v2^{commit}")
	wantRefs := map[string]string{
		"npm-churn@v1":            v1,
		"npm-churn@v2":            v2,
		"npm-churn#production#1":  v1,
		"npm-churn#production#2":  v2,
		"npm-churn#archived#3":    v1,
		"npm-churn#champion#4":    v2,
		"npm-churn#challenger#5":  v1,
		"npm-churn#!challenger#6": v1,
	}
	gotRefs := map[string]string{}
	for _, line := range strings.Split(gittest.Git(t, dir, "for-each-ref", "--format=%(refname:strip=2) %(objecttype) %(*objectname)", "refs/tags"), "\n") {
		f := strings.Fields(line)
		if len(f) != 3 || f[1] != "tag" {
			t.Errorf("not an annotated tag: %q", line)
			continue
		}
		gotRefs[f[0]] = f[2]
	}
	if v1 == v2 || !reflect.DeepEqual(gotRefs, wantRefs) {
		t.Errorf("git tags (v1 %s, v2 %s):\n got %v\nwant %v", v1, v2, refList(gotRefs), refList(wantRefs))
	}
	msg := gittest.Git(t, dir, "for-each-ref", "--format=%(contents)", "refs/tags/npm-churn#production#2")
	for _, want := range []string{"# npm-churn v2 -> production", "kind: stage", "label: production", "version: 2", "reason: MLflow API"} {
		if !strings.Contains(msg, want) {
			t.Errorf("tag message of npm-churn#production#2 lacks %q:\n%s", want, msg)
		}
	}
	gittest.Git(t, dir, "fsck", "--no-progress")
}

// npmTools finds node and npm; without them the test is skipped (failed
// under CI, whose .ci/run installs them).
func npmTools(t *testing.T) (node, npm string) {
	t.Helper()
	node, errNode := exec.LookPath("node")
	npm, errNpm := exec.LookPath("npm")
	if err := errors.Join(errNode, errNpm); err != nil {
		npmSkip(t, "needs Node.js and npm: install the Debian packages nodejs npm (apt-get install nodejs npm; .ci/run does): %v", err)
	}
	return node, npm
}

// npmSkip skips the test, or fails it when the CI environment variable is
// set (as internal/s3test does), so CI never passes without running it.
func npmSkip(t *testing.T, format string, args ...any) {
	t.Helper()
	if os.Getenv("CI") != "" {
		t.Fatalf(format, args...)
	}
	t.Skipf(format+" (set CI=1 to make this a failure)", args...)
}

// npmNetworkErr matches npm's messages for a registry it cannot reach.
var npmNetworkErr = regexp.MustCompile(`ENOTFOUND|EAI_AGAIN|ECONNREFUSED|ECONNRESET|ETIMEDOUT|ENETUNREACH|EHOSTUNREACH|network`)

// npmClientModules returns a folder holding package.json, package-lock.json
// and the node_modules that "npm ci" installed from them. It is
// <user cache dir>/mlgit-npm/<hash of both files>: installed once per lock
// file (under a file lock, so concurrent test processes install once), then
// reused. The install goes to a temporary sibling renamed into place with
// a marker inside, so a folder that exists is complete.
func npmClientModules(t *testing.T, npm string) string {
	t.Helper()
	pkg, err := os.ReadFile(filepath.Join(npmClientDir, "package.json"))
	if err != nil {
		t.Fatal(err)
	}
	lock, err := os.ReadFile(filepath.Join(npmClientDir, "package-lock.json"))
	if err != nil {
		t.Fatal(err)
	}
	h := sha256.New()
	h.Write(pkg)
	h.Write([]byte{0})
	h.Write(lock)
	root, err := os.UserCacheDir()
	if err != nil {
		root = os.TempDir()
	}
	root = filepath.Join(root, "mlgit-npm")
	dir := filepath.Join(root, hex.EncodeToString(h.Sum(nil))[:16])
	marker := filepath.Join(dir, ".mlgit-installed")
	if _, err := os.Stat(marker); err == nil {
		return dir
	}
	if err := os.MkdirAll(root, 0o755); err != nil {
		t.Fatal(err)
	}
	lf, err := os.OpenFile(filepath.Join(root, "install.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer lf.Close() //nolint:errcheck // a lock file, nothing written
	if err := syscall.Flock(int(lf.Fd()), syscall.LOCK_EX); err != nil {
		t.Fatalf("lock %s: %v", lf.Name(), err)
	}
	defer syscall.Flock(int(lf.Fd()), syscall.LOCK_UN) //nolint:errcheck
	// Another process may have installed it meanwhile.
	if _, err := os.Stat(marker); err == nil {
		return dir
	}
	tmp := dir + ".tmp"
	for _, d := range []string{dir, tmp} {
		if err := os.RemoveAll(d); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(tmp, 0o755); err != nil {
		t.Fatal(err)
	}
	for name, data := range map[string][]byte{"package.json": pkg, "package-lock.json": lock} {
		if err := os.WriteFile(filepath.Join(tmp, name), data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Retries a second or a few apart, not npm's 10-60 s: an unreachable
	// registry costs seconds before the skip, a flaky one is still retried.
	cmd := exec.CommandContext(ctx, npm, "ci", "--ignore-scripts", "--no-audit", "--no-fund", "--prefer-offline",
		"--fetch-retries=3", "--fetch-retry-mintimeout=1000", "--fetch-retry-maxtimeout=5000")
	cmd.Dir = tmp
	out, err := cmd.CombinedOutput()
	if err != nil {
		_ = os.RemoveAll(tmp)
		if npmNetworkErr.Match(out) || ctx.Err() != nil {
			npmSkip(t, "npm ci could not reach the npm registry and %s has no installed client: %v\n%s", root, err, tail(string(out), 2000))
		}
		t.Fatalf("npm ci in %s: %v\n%s", tmp, err, tail(string(out), 4000))
	}
	if err := os.WriteFile(filepath.Join(tmp, ".mlgit-installed"), []byte(time.Now().UTC().Format(time.RFC3339)+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		t.Fatal(err)
	}
	t.Logf("npm ci: installed the client in %s (%v); later runs reuse it", dir, time.Since(start).Round(time.Millisecond))
	return dir
}

// npmServer is `mlgit server` serving dir in this process on a free
// loopback port, as cmd_server_test.go runs it; stop cancels its context,
// which is what SIGTERM does in main.
type npmServer struct {
	url    string
	cancel context.CancelFunc
	done   chan error
	log    *syncBuffer
}

func startNpmServer(t *testing.T, dir string) *npmServer {
	t.Helper()
	a, _, _ := clitest.NewApp(t, dir)
	s := &npmServer{done: make(chan error, 1), log: &syncBuffer{}}
	a.Err = s.log
	ctx, cancel := context.WithCancel(context.Background())
	s.cancel = cancel
	ready := make(chan string, 1)
	go func() {
		s.done <- servecmd.RunServer(ctx, a, &cli.ServerOptions{Host: "127.0.0.1", Port: 0, CheckpointInterval: 30 * time.Second,
			Ready: func(addr string) { ready <- addr }})
	}()
	t.Cleanup(func() {
		if s.cancel != nil {
			s.cancel()
			if err := <-s.done; err != nil {
				t.Logf("mlgit server: %v", err)
			}
		}
	})
	select {
	case addr := <-ready:
		s.url = "http://" + addr
	case err := <-s.done:
		s.cancel = nil
		t.Fatalf("mlgit server exited: %v\n%s", err, s.log)
	case <-time.After(20 * time.Second):
		t.Fatalf("mlgit server did not start within 20s\n%s", s.log)
	}
	return s
}

// stop shuts the server down and waits for its final checkpoint.
func (s *npmServer) stop(t *testing.T) {
	t.Helper()
	s.cancel()
	s.cancel = nil
	select {
	case err := <-s.done:
		if err != nil {
			t.Fatalf("mlgit server: %v\n%s", err, tail(s.log.String(), 4000))
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("mlgit server did not stop within 30s\n%s", tail(s.log.String(), 4000))
	}
	if !strings.Contains(s.log.String(), "everything acknowledged is committed") {
		t.Fatalf("no final checkpoint in the server log:\n%s", tail(s.log.String(), 4000))
	}
}

// syncBuffer is a bytes.Buffer safe for the server's log writes and the
// test's reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

func npmJSON(t *testing.T, out string, v any) {
	t.Helper()
	if err := json.Unmarshal([]byte(out), v); err != nil {
		t.Fatalf("decode %T: %v\n%s", v, err, out)
	}
}

// exitStatus is a finished process's exit code, -1 if it did not exit.
func exitStatus(err error) int {
	if err == nil {
		return 0
	}
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// refList shows tag -> commit pairs in order, commits shortened.
func refList(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k, v := range m {
		keys = append(keys, fmt.Sprintf("%s=%.7s", k, v))
	}
	sort.Strings(keys)
	return keys
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
