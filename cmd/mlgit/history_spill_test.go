package main

import (
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// metricsFile writes key=value@step lines for steps [from, to) of loss and
// acc and returns the file.
func metricsFile(t *testing.T, from, to int) string {
	t.Helper()
	var b strings.Builder
	for s := from; s < to; s++ {
		fmt.Fprintf(&b, "loss=%v@%d\nacc=%v@%d\n", lossAt(s), s, float64(s)/7, s)
	}
	p := filepath.Join(t.TempDir(), "m.txt")
	if err := os.WriteFile(p, []byte(b.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func lossAt(s int) float64 { return 2 / float64(s+1) }

// checkLoss asserts that mlgit run metrics prints loss for steps [0, n).
func checkLoss(t *testing.T, exe, dir, id string, n int) {
	t.Helper()
	out := mustProc(t, exe, dir, "run", "metrics", id, "loss", "--json")
	var pts []manifest.MetricPoint
	if err := json.Unmarshal([]byte(out), &pts); err != nil {
		t.Fatalf("run metrics --json: %v\n%.300s", err, out)
	}
	if len(pts) != n {
		t.Fatalf("run metrics loss in %s: %d points, want %d", dir, len(pts), n)
	}
	for i, p := range pts {
		if p.Step != int64(i) || p.Value != lossAt(i) {
			t.Fatalf("point %d = %+v, want step %d value %v", i, p, i, lossAt(i))
		}
	}
}

// TestLongHistoryOutOfGit: past metrics.spillAbove, a run's new segments
// go to the blob store and the branch keeps a pointer; reads are the same
// in the clone that wrote them and, through the blob remote, in another;
// push uploads the blobs first; mlgit check refuses a branch whose history
// blobs are missing from the blob remote; blob gc keeps them.
func TestLongHistoryOutOfGit(t *testing.T) {
	gittest.Setenv(t)
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	a := seedClone(t, exe, bare)
	mustProc(t, exe, a, "config", "set", "metrics.spillAbove", "1000")
	id := strings.TrimSpace(mustProc(t, exe, a, "run", "start"))
	// 800 points: under the threshold, a TSV segment in Git.
	mustProc(t, exe, a, "run", "log", "--run", id, "--metrics-from", metricsFile(t, 0, 400))
	mustProc(t, exe, a, "run", "flush")
	// 1,000 more: the history passes 1,000 points, so this segment and
	// the next go to the blob store.
	mustProc(t, exe, a, "run", "log", "--run", id, "--metrics-from", metricsFile(t, 400, 900))
	mustProc(t, exe, a, "run", "flush")
	mustProc(t, exe, a, "run", "log", "--run", id, "--metrics-from", metricsFile(t, 900, 1000))
	mustProc(t, exe, a, "run", "end", "--run", id)

	dir := "runs/" + id[:2] + "/" + id
	files := strings.Fields(gittest.Git(t, a, "ls-tree", "-r", "--name-only", "mlgit", dir))
	want := []string{dir + "/metric-blobs/000002.yaml", dir + "/metric-blobs/000003.yaml", dir + "/metrics/000001.tsv", dir + "/run.yaml"}
	if strings.Join(files, " ") != strings.Join(want, " ") {
		t.Fatalf("run folder holds %q, want %q", files, want)
	}
	ptr, err := manifest.DecodeMetricBlob([]byte(gittest.Git(t, a, "show", "mlgit:"+dir+"/metric-blobs/000002.yaml")))
	if err != nil {
		t.Fatal(err)
	}
	if ptr.Points != 1000 || ptr.Metrics["loss"].MinStep != 400 || ptr.Metrics["loss"].MaxStep != 899 || ptr.Metrics["loss"].Last != lossAt(899) || ptr.Metrics["loss"].Max != lossAt(400) {
		t.Fatalf("pointer = %+v", ptr)
	}
	gittest.Git(t, a, "fsck", "--strict")
	checkLoss(t, exe, a, id, 1000)
	if out := mustProc(t, exe, a, "run", "show", id); !strings.Contains(out, "loss") {
		t.Fatalf("run show:\n%s", out)
	}

	// Push uploads the blobs; a fresh clone reads them through the remote
	// into its own cache.
	out := mustProc(t, exe, a, "push")
	if !strings.Contains(out, "Pushed 2 blobs") {
		t.Fatalf("push did not upload the two history blobs:\n%s", out)
	}
	b := filepath.Join(t.TempDir(), "b")
	gittest.Git(t, filepath.Dir(b), "clone", "-q", "-b", "mlgit", bare, b)
	checkLoss(t, exe, b, id, 1000)
	if n := len(listFiles(t, filepath.Join(b, ".git", "mlgit", "blobs", "files"))); n != 2 {
		t.Fatalf("clone b cached %d file objects, want the 2 history blobs", n)
	}
	// A clone whose blob remote lacks them says what to do.
	c := filepath.Join(t.TempDir(), "c")
	gittest.Git(t, filepath.Dir(c), "clone", "-q", "-b", "mlgit", bare, c)
	cmd := exec.Command(exe, "run", "metrics", id, "loss")
	cmd.Dir = c
	cmd.Env = append(os.Environ(), "MLGIT_BLOB_REMOTE="+t.TempDir())
	if out, err := cmd.CombinedOutput(); err == nil || !strings.Contains(string(out), "metric history segment 2") {
		t.Fatalf("run metrics without the blobs: %v\n%s", err, out)
	}

	// A run whose history blobs were never pushed: check refuses it.
	id2 := strings.TrimSpace(mustProc(t, exe, a, "run", "start"))
	mustProc(t, exe, a, "run", "log", "--run", id2, "--metrics-from", metricsFile(t, 0, 600))
	mustProc(t, exe, a, "run", "end", "--run", id2)
	out, err = proc(t, exe, a, "check", "--base", "origin/mlgit")
	if err == nil || !strings.Contains(out, "metric history segment 1") {
		t.Fatalf("check passed a branch whose history blob is not on the blob remote: %v\n%s", err, out)
	}

	// blob gc keeps history blobs, also when they are old.
	old := time.Now().Add(-48 * time.Hour)
	filepath.Walk(filepath.Join(a, ".git", "mlgit", "blobs"), func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	mustProc(t, exe, a, "blob", "gc", "--yes")
	cmd = exec.Command(exe, "run", "metrics", id, "loss")
	cmd.Dir = a
	cmd.Env = append(os.Environ(), "MLGIT_BLOB_REMOTE="+t.TempDir()) // an empty remote: reads must be local
	if out, err := cmd.CombinedOutput(); err != nil || strings.Count(string(out), "\n") < 1000 {
		t.Fatalf("run metrics after blob gc: %v\n%.500s", err, out)
	}
}

func listFiles(t *testing.T, root string) []string {
	t.Helper()
	var out []string
	filepath.Walk(root, func(p string, fi os.FileInfo, err error) error {
		if err == nil && !fi.IsDir() {
			out = append(out, p)
		}
		return nil
	})
	return out
}
