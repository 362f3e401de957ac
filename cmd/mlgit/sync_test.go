package main

import (
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
)

// mlgitExe returns a path named mlgit that runs this test binary as the
// mlgit command (testscript dispatches on the program name), so tests can
// start real, separate mlgit processes.
func mlgitExe(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	exe := filepath.Join(dir, "mlgit")
	self, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(self, exe); err != nil {
		t.Fatal(err)
	}
	return exe
}

// proc runs the mlgit executable in dir and returns combined output.
func proc(t *testing.T, exe, dir string, args ...string) (string, error) {
	t.Helper()
	cmd := exec.Command(exe, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_TERMINAL_PROMPT=0", "MLGIT_BLOB_REMOTE="+filepath.Join(filepath.Dir(exe), "blobs"))
	out, err := cmd.CombinedOutput()
	return string(out), err
}

func mustProc(t *testing.T, exe, dir string, args ...string) string {
	t.Helper()
	out, err := proc(t, exe, dir, args...)
	if err != nil {
		t.Fatalf("mlgit %s in %s: %v\n%s", strings.Join(args, " "), dir, err, out)
	}
	return out
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func waitListening(t *testing.T, addr string) {
	t.Helper()
	for i := 0; i < 200; i++ {
		if c, err := net.Dial("tcp", addr); err == nil {
			c.Close()
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Fatalf("nothing listens on %s", addr)
}

// remoteRuns lists the run names on the remote's tracking branch.
func remoteRuns(t *testing.T, bare string) []string {
	t.Helper()
	out := gittest.Git(t, bare, "grep", "-h", "^name:", "mlgit", "--", "runs")
	var names []string
	for _, l := range strings.Split(out, "\n") {
		if l = strings.TrimSpace(strings.TrimPrefix(l, "mlgit:")); l != "" {
			names = append(names, strings.TrimSpace(strings.TrimPrefix(l, "name:")))
		}
	}
	sort.Strings(names)
	return names
}

// seedClone makes a clone with an initialized tracking branch that pushes
// to url, and pushes it.
func seedClone(t *testing.T, exe, url string) string {
	t.Helper()
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q", "-b", "main")
	gittest.Git(t, dir, "commit", "-q", "--allow-empty", "-m", "initial")
	gittest.Git(t, dir, "remote", "add", "origin", url)
	mustProc(t, exe, dir, "init")
	return dir
}

// TestPushPullTransports pushes and pulls through every transport the tests
// can start on loopback: a path, file://, git daemon (git://) and smart HTTP
// (git http-backend behind a Go CGI server with Basic auth, the credentials
// coming from a git credential helper, as a user's would).
func TestPushPullTransports(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	root := t.TempDir()

	// git daemon over a folder of bare repositories.
	daemonRoot := filepath.Join(root, "daemon")
	os.MkdirAll(daemonRoot, 0o755)
	gittest.Git(t, root, "init", "-q", "--bare", filepath.Join(daemonRoot, "team.git"))
	port := freePort(t)
	daemon := exec.Command("git", "daemon", "--reuseaddr", "--listen=127.0.0.1", fmt.Sprintf("--port=%d", port),
		"--base-path="+daemonRoot, "--export-all", "--enable=receive-pack", daemonRoot)
	if err := daemon.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { daemon.Process.Kill(); daemon.Wait() })
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))

	// Smart HTTP with Basic auth.
	httpRoot := filepath.Join(root, "http")
	os.MkdirAll(httpRoot, 0o755)
	gittest.Git(t, root, "init", "-q", "--bare", filepath.Join(httpRoot, "team.git"))
	gittest.Git(t, filepath.Join(httpRoot, "team.git"), "config", "http.receivepack", "true")
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + httpRoot, "GIT_HTTP_EXPORT_ALL=1"}}
	var denied int
	var mu sync.Mutex
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		if u, p, ok := req.BasicAuth(); !ok || u != "alice" || p != "s3cret" {
			mu.Lock()
			denied++
			mu.Unlock()
			w.Header().Set("WWW-Authenticate", `Basic realm="git"`)
			http.Error(w, "authentication required", http.StatusUnauthorized)
			return
		}
		backend.ServeHTTP(w, req)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })

	bare := filepath.Join(root, "plain.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare)
	bare2 := filepath.Join(root, "plain2.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare2)
	cases := []struct {
		name, url, bare string
		creds           bool
	}{
		{"path", bare, bare, false},
		{"file-url", "file://" + bare2, bare2, false},
		{"git-daemon", fmt.Sprintf("git://127.0.0.1:%d/team.git", port), filepath.Join(daemonRoot, "team.git"), false},
		{"smart-http", "http://" + l.Addr().String() + "/team.git", filepath.Join(httpRoot, "team.git"), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			a := seedClone(t, exe, tc.url)
			if tc.creds {
				// No credentials yet: refused, exit 4, a message that says so.
				out, err := proc(t, exe, a, "push")
				if code := exitOf(err); code != cli.ExitRemote || !strings.Contains(out, "remote error") {
					t.Fatalf("push without credentials: exit %d\n%s", code, out)
				}
				gittest.Git(t, a, "config", "credential.helper", "!f() { echo username=alice; echo password=s3cret; }; f")
			}
			mustProc(t, exe, a, "run", "exec", "--name", "from-a-"+tc.name, "--", "true")
			out := mustProc(t, exe, a, "push")
			if !strings.Contains(out, "pushed 2 commits to origin") {
				t.Fatalf("push: %s", out)
			}
			b := t.TempDir()
			gittest.Git(t, b, "init", "-q", "-b", "main")
			gittest.Git(t, b, "remote", "add", "origin", tc.url)
			if tc.creds {
				gittest.Git(t, b, "config", "credential.helper", "!f() { echo username=alice; echo password=s3cret; }; f")
			}
			out = mustProc(t, exe, b, "pull")
			if !strings.Contains(out, "created branch mlgit from origin/mlgit") {
				t.Fatalf("pull: %s", out)
			}
			mustProc(t, exe, b, "run", "exec", "--name", "from-b-"+tc.name, "--", "true")
			mustProc(t, exe, a, "run", "exec", "--name", "from-a2-"+tc.name, "--", "true")
			mustProc(t, exe, b, "push")
			out = mustProc(t, exe, a, "push")
			if !strings.Contains(out, "re-applied 1 local commit") {
				t.Fatalf("push after b: %s", out)
			}
			want := []string{"from-a-" + tc.name, "from-a2-" + tc.name, "from-b-" + tc.name}
			if got := remoteRuns(t, tc.bare); strings.Join(got, ",") != strings.Join(want, ",") {
				t.Fatalf("remote runs %q, want %q", got, want)
			}
			gittest.Git(t, tc.bare, "fsck", "--strict")
			if merges := gittest.Git(t, tc.bare, "rev-list", "--merges", "mlgit"); merges != "" {
				t.Fatalf("merge commits on the remote: %s", merges)
			}
		})
	}
	if denied == 0 {
		t.Fatal("the HTTP server never asked for credentials")
	}
}

func exitOf(err error) int {
	if ee, ok := err.(*exec.ExitError); ok {
		return ee.ExitCode()
	}
	if err != nil {
		return -1
	}
	return 0
}

// TestConcurrentClonesPush: four clones log runs and register versions of one
// model, all pushing to one bare remote at the same time. Every run ends up
// there exactly once, version numbers and tag counters are unique, and no
// version number that was pushed ever changes.
func TestConcurrentClonesPush(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	seed := seedClone(t, exe, bare)
	mustProc(t, exe, seed, "push")
	const clones, runs = 4, 6
	dirs := make([]string, clones)
	for i := range dirs {
		dirs[i] = t.TempDir()
		gittest.Git(t, dirs[i], "init", "-q", "-b", "main")
		gittest.Git(t, dirs[i], "remote", "add", "origin", bare)
		mustProc(t, exe, dirs[i], "pull")
		os.MkdirAll(filepath.Join(dirs[i], "m"), 0o755)
	}
	// pushed[v] = the source of version v as its pusher saw it right after a
	// successful push; it must never change.
	var mu sync.Mutex
	pushed := map[string]string{}
	var wg sync.WaitGroup
	errs := make(chan error, clones)
	for i, dir := range dirs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := 0; j < runs; j++ {
				if out, err := proc(t, exe, dir, "run", "exec", "--name", fmt.Sprintf("c%d-r%d", i, j), "--", "true"); err != nil {
					errs <- fmt.Errorf("clone %d run %d: %v\n%s", i, j, err, out)
					return
				}
				if j%3 == 1 {
					os.WriteFile(filepath.Join(dir, "m", "w.bin"), []byte(fmt.Sprintf("clone %d model %d", i, j)), 0o644)
					if out, err := proc(t, exe, dir, "model", "register", "churn", "--from", "m"); err != nil {
						errs <- fmt.Errorf("clone %d register: %v\n%s", i, err, out)
						return
					}
				}
				if j%2 == 1 {
					if out, err := proc(t, exe, dir, "push"); err != nil {
						errs <- fmt.Errorf("clone %d push: %v\n%s", i, err, out)
						return
					}
					out, err := proc(t, exe, dir, "model", "versions", "churn", "--json")
					if err != nil {
						errs <- fmt.Errorf("clone %d versions: %v\n%s", i, err, out)
						return
					}
					var vs []struct {
						Version int64  `json:"version"`
						Source  string `json:"source"`
					}
					if err := json.Unmarshal([]byte(out), &vs); err != nil {
						errs <- fmt.Errorf("clone %d versions json: %v\n%s", i, err, out)
						return
					}
					mu.Lock()
					for _, v := range vs {
						k := fmt.Sprint(v.Version)
						// Only versions that are on the remote count as pushed.
						if _, err := gittest.Run(bare, "cat-file", "-e", "mlgit:models/churn/versions/"+k+".yaml"); err != nil {
							continue
						}
						src, _ := gittest.Run(bare, "show", "mlgit:models/churn/versions/"+k+".yaml")
						if old, ok := pushed[k]; ok && old != src {
							mu.Unlock()
							errs <- fmt.Errorf("pushed version %s changed:\n%s\n---\n%s", k, old, src)
							return
						}
						pushed[k] = src
					}
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	var want []string
	for i := 0; i < clones; i++ {
		for j := 0; j < runs; j++ {
			want = append(want, fmt.Sprintf("c%d-r%d", i, j))
		}
	}
	sort.Strings(want)
	if got := remoteRuns(t, bare); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("remote runs (%d):\n%q\nwant (%d):\n%q", len(got), got, len(want), want)
	}
	// Versions 1..n, each a distinct registration, each with one tag.
	versions := gittest.Git(t, bare, "ls-tree", "--name-only", "mlgit:models/churn/versions")
	n := clones * 2
	var wantV []string
	for v := 1; v <= n; v++ {
		wantV = append(wantV, fmt.Sprintf("%d.yaml", v))
	}
	sort.Strings(wantV)
	if got := strings.Fields(versions); strings.Join(got, ",") != strings.Join(wantV, ",") {
		t.Fatalf("versions %q, want %q", got, wantV)
	}
	tags := strings.Fields(gittest.Git(t, bare, "tag", "-l", "churn@v*"))
	if len(tags) != n {
		t.Fatalf("registration tags %q, want %d", tags, n)
	}
	for _, tag := range tags {
		v := strings.TrimPrefix(tag, "churn@v")
		commit := gittest.Git(t, bare, "rev-parse", tag+"^{commit}")
		// The tag points at the commit that added the version's file.
		added := gittest.Git(t, bare, "log", "--format=%H", "--diff-filter=A", "mlgit", "--", "models/churn/versions/"+v+".yaml")
		if added != commit {
			t.Fatalf("%s points at %s; the file was added by %s", tag, commit, added)
		}
	}
	gittest.Git(t, bare, "fsck", "--strict")
	for _, dir := range dirs {
		mustProc(t, exe, dir, "pull")
		if out := mustProc(t, exe, dir, "fsck"); !strings.Contains(out, "0 problems") {
			t.Fatalf("fsck in %s: %s", dir, out)
		}
	}
}
