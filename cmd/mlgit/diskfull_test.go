package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// smallFS mounts a tmpfs of size bytes (root only) and returns its folder.
func smallFS(t *testing.T, size int) string {
	t.Helper()
	if os.Geteuid() != 0 {
		t.Skip("mounting a small file system needs root (CI runs as root)")
	}
	dir := t.TempDir()
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", fmt.Sprintf("size=%d", size), "tmpfs", dir).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", "-l", dir).Run() })
	return dir
}

// fill writes a file that leaves about leave bytes free on dir's file
// system.
func fill(t *testing.T, dir string, leave int64) string {
	t.Helper()
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		t.Fatal(err)
	}
	free := int64(st.Bavail) * int64(st.Bsize)
	f, err := os.CreateTemp(dir, "filler-")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if free > leave {
		// Writing fails with ENOSPC once the last block is taken (leave 0).
		f.Write(make([]byte, free-leave))
	}
	return f.Name()
}

// TestDiskFull: the repository on a full file system. Writes through the
// server fail with a 5xx and an error_code, the CLI exits 1 saying the disk
// is full, reads go on, nothing acknowledged is lost, and once space is
// freed writes work again without a restart.
func TestDiskFull(t *testing.T) {
	if testing.Short() {
		t.Skip("mounts a file system")
	}
	gittest.Setenv(t)
	exe := mlgitExe(t)
	mnt := smallFS(t, 16<<20)
	dir := filepath.Join(mnt, "repo")
	os.MkdirAll(dir, 0o755)
	gittest.Git(t, dir, "init", "-q", "-b", "main")
	mustProc(t, exe, dir, "init")
	srv := startServerProc(t, exe, dir)
	defer srv.kill()
	post := func(path string, body any) (int, string) {
		b, _ := json.Marshal(body)
		res, err := http.Post(srv.base+"/api/2.0/mlflow/"+path, "application/json", bytes.NewReader(b))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(data)
	}
	code, body := post("runs/create", map[string]any{"experiment_id": "0"})
	if code != 200 {
		t.Fatalf("create: %d %s", code, body)
	}
	var created struct {
		Run struct {
			Info struct {
				ID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	json.Unmarshal([]byte(body), &created)
	id := created.Run.Info.ID
	acked := 0
	batch := func(step int) (int, string) {
		var ms []map[string]any
		for i := 0; i < 1000; i++ {
			ms = append(ms, map[string]any{"key": fmt.Sprintf("m%03d", i), "value": float64(step), "timestamp": 1, "step": step})
		}
		return post("runs/log-batch", map[string]any{"run_id": id, "metrics": ms})
	}
	for step := 0; step < 5; step++ {
		if c, b := batch(step); c != 200 {
			t.Fatalf("batch %d before the disk filled: %d %s", step, c, b)
		}
		acked++
	}
	filler := fill(t, mnt, 4<<10)
	var failed bool
	step := acked
	for ; step < acked+50; step++ {
		c, b := batch(step)
		if c == 200 {
			continue
		}
		if c != 503 || !strings.Contains(b, `"error_code":"TEMPORARILY_UNAVAILABLE"`) || !strings.Contains(b, "disk is full") {
			t.Fatalf("a write to a full disk: %d %s", c, b)
		}
		t.Logf("full: %d %s", c, b)
		failed = true
		break
	}
	if !failed {
		t.Fatal("no write failed on a full disk")
	}
	acked = step // the batches before the failed one were acknowledged
	// Reads go on.
	res, err := http.Get(srv.base + "/api/2.0/mlflow/runs/get?run_id=" + id)
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("read on a full disk: %v %v", res, err)
	}
	res.Body.Close()
	filler2 := fill(t, mnt, 0)
	out, err := proc(t, exe, dir, "run", "log", "--run", id, "--metric", "cli=1")
	if exitOf(err) != 1 || !strings.Contains(strings.ToLower(out), "no space left") {
		t.Fatalf("CLI write on a full disk: exit %d: %s", exitOf(err), out)
	}
	// Space freed: writes work again, without a restart.
	os.Remove(filler)
	os.Remove(filler2)
	if c, b := batch(step); c != 200 {
		t.Fatalf("write after space was freed: %d %s", c, b)
	}
	acked++
	var hist struct {
		Metrics []struct {
			Step json.Number `json:"step"`
		} `json:"metrics"`
	}
	res, err = http.Get(srv.base + "/api/2.0/mlflow/metrics/get-history?run_id=" + id + "&metric_key=m007")
	if err != nil {
		t.Fatal(err)
	}
	json.NewDecoder(res.Body).Decode(&hist)
	res.Body.Close()
	seen := map[string]int{}
	for _, m := range hist.Metrics {
		seen[m.Step.String()]++
	}
	for s := 0; s < acked-1; s++ {
		if seen[fmt.Sprint(s)] != 1 {
			t.Errorf("acknowledged step %d is there %d times", s, seen[fmt.Sprint(s)])
		}
	}
	if seen[fmt.Sprint(step)] != 1 {
		t.Errorf("the write after the disk was freed: %d times", seen[fmt.Sprint(step)])
	}
	srv.kill()
	mustProc(t, exe, dir, "run", "flush")
	gittest.Git(t, dir, "fsck", "--strict")
}
