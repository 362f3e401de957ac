package main

import (
	"net"
	"net/http"
	"net/http/cgi"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// cutWriter passes through the first n bytes of a response and then
// drops the connection, as a remote that dies mid-transfer.
type cutWriter struct {
	http.ResponseWriter
	left int
}

func (w *cutWriter) Write(p []byte) (int, error) {
	if len(p) >= w.left {
		w.ResponseWriter.Write(p[:w.left])
		if f, ok := w.ResponseWriter.(http.Flusher); ok {
			f.Flush()
		}
		panic(http.ErrAbortHandler) // the server closes the connection
	}
	w.left -= len(p)
	return w.ResponseWriter.Write(p)
}

// TestSyncSurvivesDroppedConnections: smart HTTP whose connection drops
// part-way through the pack, on push and on pull. Each failure exits 4 and
// changes nothing that matters; the retry completes; every run is on the
// remote exactly once and both clones agree.
func TestSyncSurvivesDroppedConnections(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	root := t.TempDir()
	bare := filepath.Join(root, "team.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare)
	gittest.Git(t, bare, "config", "http.receivepack", "true")
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	backend := &cgi.Handler{Path: gitPath, Args: []string{"http-backend"},
		Env: []string{"GIT_PROJECT_ROOT=" + root, "GIT_HTTP_EXPORT_ALL=1"}}
	var cutPack atomic.Int32 // responses to cut: upload-pack (fetch) ones
	var cutPush atomic.Int32 // requests to cut: receive-pack bodies
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		switch {
		case strings.HasSuffix(req.URL.Path, "/git-upload-pack") && cutPack.Load() > 0:
			cutPack.Add(-1)
			backend.ServeHTTP(&cutWriter{ResponseWriter: w, left: 200}, req)
			return
		case strings.HasSuffix(req.URL.Path, "/git-receive-pack") && cutPush.Load() > 0:
			cutPush.Add(-1)
			// The pack arrives only in part: read a little, then drop.
			buf := make([]byte, 64)
			req.Body.Read(buf)
			panic(http.ErrAbortHandler)
		}
		backend.ServeHTTP(w, req)
	})}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go srv.Serve(l)
	t.Cleanup(func() { srv.Close() })
	url := "http://" + l.Addr().String() + "/team.git"

	a := seedClone(t, exe, url)
	mustProc(t, exe, a, "push")
	for i := 0; i < 3; i++ {
		mustProc(t, exe, a, "run", "exec", "--name", "a-"+string(rune('0'+i)), "--", "true")
	}
	before := gittest.Git(t, bare, "rev-parse", "mlgit")
	cutPush.Store(1000) // every attempt, also curl's own retry on a dropped connection
	out, err := proc(t, exe, a, "push")
	if code := exitOf(err); code != 4 {
		t.Fatalf("push through a dropped connection: exit %d\n%s", code, out)
	}
	if got := gittest.Git(t, bare, "rev-parse", "mlgit"); got != before {
		t.Fatalf("the remote moved on a broken push: %s -> %s", before, got)
	}
	cutPush.Store(0)
	mustProc(t, exe, a, "push")

	b := t.TempDir()
	gittest.Git(t, b, "init", "-q", "-b", "main")
	gittest.Git(t, b, "remote", "add", "origin", url)
	cutPack.Store(1000)
	out, err = proc(t, exe, b, "pull")
	if code := exitOf(err); code != 4 {
		t.Fatalf("pull through a dropped connection: exit %d\n%s", code, out)
	}
	if _, err := os.Stat(filepath.Join(b, ".git", "refs", "heads", "mlgit")); err == nil {
		t.Fatal("a broken pull created the branch")
	}
	cutPack.Store(0)
	mustProc(t, exe, b, "pull")
	mustProc(t, exe, b, "run", "exec", "--name", "b-0", "--", "true")
	mustProc(t, exe, a, "run", "exec", "--name", "a-3", "--", "true")
	mustProc(t, exe, a, "push")
	cutPack.Store(1000) // b's push is refused, fetches, and that fetch breaks
	if _, err := proc(t, exe, b, "push"); exitOf(err) != 4 {
		t.Fatalf("push whose fetch broke: %v", err)
	}
	cutPack.Store(0)
	mustProc(t, exe, b, "push")
	mustProc(t, exe, a, "pull")
	want := "a-0,a-1,a-2,a-3,b-0"
	if got := strings.Join(remoteRuns(t, bare), ","); got != want {
		t.Fatalf("remote runs %s, want %s (each once)", got, want)
	}
	if ta, tb := gittest.Git(t, a, "rev-parse", "mlgit"), gittest.Git(t, b, "rev-parse", "mlgit"); ta != tb {
		t.Fatalf("the clones differ: %s %s", ta, tb)
	}
	gittest.Git(t, bare, "fsck", "--strict")
}
