package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// TestMain lets the test binary act as a server process for
// TestKillNineUnderLoad: with MLGIT_SERVER_CHILD=<repo> it serves that
// repository on a free port, writes the address to <repo>/addr, and runs
// until killed.
func TestMain(m *testing.M) {
	if dir := os.Getenv("MLGIT_SERVER_CHILD"); dir != "" {
		if n, err := strconv.Atoi(os.Getenv("MLGIT_CHILD_CKPT_FILES")); err == nil && n > 0 {
			repo.CheckpointMaxFiles = n
		}
		r, err := repo.Open(dir, repo.Options{})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		s, err := New(Config{Repo: r})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		os.WriteFile(filepath.Join(dir, "addr.tmp"), []byte(ln.Addr().String()), 0o644)
		os.Rename(filepath.Join(dir, "addr.tmp"), filepath.Join(dir, "addr"))
		http.Serve(ln, s)
		os.Exit(0)
	}
	code := m.Run()
	if fixturesDir != "" {
		os.RemoveAll(fixturesDir)
	}
	os.Exit(code)
}

func startChild(t testing.TB, dir string) (*exec.Cmd, string) {
	t.Helper()
	os.Remove(filepath.Join(dir, "addr"))
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MLGIT_SERVER_CHILD="+dir)
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 20000; i++ { // 100 s: a cold start over 100,000 runs takes seconds
		if b, err := os.ReadFile(filepath.Join(dir, "addr")); err == nil {
			return cmd, "http://" + string(b)
		}
		time.Sleep(5 * time.Millisecond)
	}
	cmd.Process.Kill()
	t.Fatal("child server did not start")
	return nil, ""
}

// TestKillNineUnderLoad kills the server process with SIGKILL while
// clients log metrics, then checks that every write the server had
// acknowledged (200) is in the store exactly once.
func TestKillNineUnderLoad(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	e := newEnv(t)
	run := e.createRun("0")
	e.s.Close()
	e.r.Close()
	acked := map[string]bool{}
	cmd, base := startChild(t, e.dir)
	n := loadUntilKilled(t, cmd, base, run, 0, 150, acked)
	cmd2, base2 := startChild(t, e.dir)
	defer func() { cmd2.Process.Kill(); cmd2.Wait() }()
	stored := checkAcked(t, base2, run, acked)
	t.Logf("%d requests acknowledged before kill -9; all present exactly once (%d points stored)", n, stored)
}

// TestKillNineDuringCheckpoints kills the server five times while clients
// log and its background checkpoints commit every few files, so that some
// kills land inside a checkpoint (fold, ref update, file deletion), and
// checks after each restart that every acknowledged write is present
// exactly once.
func TestKillNineDuringCheckpoints(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	e := newEnv(t)
	total, stored, _ := killRounds(t, e, 5, 60, 40)
	commits, err := exec.Command("git", "-C", e.dir, "rev-list", "--count", "mlgit").Output()
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d requests acknowledged over 5 kills; all present exactly once (%d points, %s commits)", total, stored, strings.TrimSpace(string(commits)))
}

// TestKillNineWithHistoryInBlobs is TestKillNineDuringCheckpoints on a
// repository whose mlgit.yaml sends long histories to the blob store: the
// kills land while checkpoints write history blobs and their pointers, and
// every acknowledged point is still read back exactly once, through the
// blobs.
func TestKillNineWithHistoryInBlobs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	e := newEnv(t)
	_, err := e.r.Update(func(tx *repo.Tx) error {
		cfg := manifest.NewConfig()
		cfg.Metrics.SpillAbove = manifest.MinSpillAbove
		tx.Write("mlgit.yaml", cfg.Encode())
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	total, stored, run := killRounds(t, e, 3, 100, 50)
	ptrs, err := exec.Command("git", "-C", e.dir, "ls-tree", "-r", "--name-only", "mlgit", "runs/"+run[:2]+"/"+run+"/metric-blobs").Output()
	if err != nil {
		t.Fatal(err)
	}
	if len(strings.Fields(string(ptrs))) == 0 {
		t.Fatalf("no history went to the blob store (%d points stored)", stored)
	}
	if out, err := exec.Command("git", "-C", e.dir, "fsck", "--strict").CombinedOutput(); err != nil {
		t.Fatalf("git fsck: %v\n%s", err, out)
	}
	t.Logf("%d requests acknowledged over 3 kills; all present exactly once (%d points, %d segments in blobs)", total, stored, len(strings.Fields(string(ptrs))))
}

// killRounds creates a run in e's repository, closes e's server, then
// rounds times starts a server process with background checkpoints every
// three journal files, loads it with clients and kills it with SIGKILL
// after min+round*step acknowledged requests; finally it checks on a last
// server that every acknowledged write is stored exactly once. It returns
// the requests acknowledged, the points stored and the run.
func killRounds(t *testing.T, e *testEnv, rounds, min, step int) (total, stored int, run string) {
	t.Helper()
	t.Setenv("MLGIT_CHILD_CKPT_FILES", "3")
	run = e.createRun("0")
	e.s.Close()
	e.r.Close()
	acked := map[string]bool{}
	for round := 0; round < rounds; round++ {
		cmd, base := startChild(t, e.dir)
		total += loadUntilKilled(t, cmd, base, run, round, min+round*step, acked)
	}
	cmd, base := startChild(t, e.dir)
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return total, checkAcked(t, base, run, acked), run
}

// loadUntilKilled runs six clients logging to run (log-metric, and every
// fifth request a log-batch of 20 points) until after min acknowledged
// requests, kills the server with SIGKILL, and adds what was acknowledged
// to acked (values are unique per round).
func loadUntilKilled(t *testing.T, cmd *exec.Cmd, base, run string, round, min int, acked map[string]bool) int {
	var mu sync.Mutex
	var n atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	hc := &http.Client{Timeout: 5 * time.Second}
	for w := 0; w < 6; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				v := round*100_000_000 + w*1_000_000 + i
				var body []byte
				path := "/runs/log-metric"
				if i%5 == 0 { // every fifth request is a batch of 20 points
					path = "/runs/log-batch"
					var ms []map[string]any
					for k := 0; k < 20; k++ {
						ms = append(ms, map[string]any{"key": "b", "value": v*100 + k, "timestamp": 1, "step": i})
					}
					body, _ = json.Marshal(map[string]any{"run_id": run, "metrics": ms})
				} else {
					body, _ = json.Marshal(map[string]any{"run_id": run, "key": "m", "value": v, "timestamp": 1, "step": i})
				}
				res, err := hc.Post(base+"/api/2.0/mlflow"+path, "application/json", bytes.NewReader(body))
				if err != nil {
					return // the server is gone
				}
				res.Body.Close()
				if res.StatusCode == 200 {
					mu.Lock()
					if path == "/runs/log-batch" {
						for k := 0; k < 20; k++ {
							acked[fmt.Sprintf("b=%d", v*100+k)] = true
						}
					} else {
						acked[fmt.Sprintf("m=%d", v)] = true
					}
					mu.Unlock()
					n.Add(1)
				}
			}
		}(w)
	}
	// Let the load run, then kill -9 in the middle of it.
	deadline := time.Now().Add(10 * time.Second)
	for n.Load() < int64(min) && time.Now().Before(deadline) {
		time.Sleep(time.Millisecond)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	close(stop)
	wg.Wait()
	if n.Load() == 0 {
		t.Fatal("no write was acknowledged before the kill")
	}
	return int(n.Load())
}

// checkAcked reads the run's metric histories from a server and checks
// that every acknowledged value is there once and no value twice. It
// returns the number of points stored.
func checkAcked(t *testing.T, base, run string, acked map[string]bool) int {
	t.Helper()
	count := map[string]int{}
	for _, key := range []string{"m", "b"} {
		res, err := http.Get(base + "/api/2.0/mlflow/metrics/get-history?run_id=" + run + "&metric_key=" + key)
		if err != nil {
			t.Fatal(err)
		}
		var h struct {
			Metrics []struct {
				Value float64 `json:"value"`
			} `json:"metrics"`
		}
		json.NewDecoder(res.Body).Decode(&h)
		res.Body.Close()
		for _, p := range h.Metrics {
			count[fmt.Sprintf("%s=%d", key, int64(p.Value))]++
		}
	}
	missing := 0
	for k := range acked {
		if count[k] == 0 {
			missing++
		}
	}
	for k, c := range count {
		if c > 1 {
			t.Errorf("%s stored %d times", k, c)
		}
	}
	if missing > 0 {
		t.Fatalf("%d acknowledged points lost (of %d acknowledged)", missing, len(acked))
	}
	return len(count)
}
