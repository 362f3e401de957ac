package repo

import (
	"bufio"
	"fmt"
	"math/rand"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// The stress tests re-execute this test binary as worker processes, so the
// concurrency is between real processes with their own file descriptors,
// locks and page cache views.
func TestMain(m *testing.M) {
	if w := os.Getenv("MLGIT_TEST_WORKER"); w != "" {
		os.Exit(worker(w))
	}
	os.Exit(m.Run())
}

// worker logs to runs and prints "ack <what>" after each acknowledged write.
func worker(kind string) int {
	dir := os.Getenv("MLGIT_TEST_REPO")
	r, err := Open(dir, Options{})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if n, _ := strconv.Atoi(os.Getenv("MLGIT_TEST_CKPT_FILES")); n > 0 {
		CheckpointMaxFiles = n
	}
	own, shared := os.Getenv("MLGIT_TEST_OWN"), os.Getenv("MLGIT_TEST_SHARED")
	name := os.Getenv("MLGIT_TEST_NAME")
	n, _ := strconv.Atoi(os.Getenv("MLGIT_TEST_N"))
	out := bufio.NewWriter(os.Stdout)
	defer out.Flush()
	for i := 0; i < n; i++ {
		ts := int64(1000 + i)
		if own != "" {
			_, err := r.LogBatch(own, Batch{
				Metrics: []manifest.MetricPoint{{Key: "m", Value: float64(i), Step: int64(i), Timestamp: ts}},
				Params:  []KV{{fmt.Sprintf("p%d", i), strconv.Itoa(i)}},
				Tags:    []KV{{fmt.Sprintf("t%d", i), "v"}},
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "own:", err)
				return 1
			}
			fmt.Fprintf(out, "ack own %d\n", i)
			out.Flush()
		}
		if shared != "" {
			_, err := r.LogBatch(shared, Batch{
				Metrics: []manifest.MetricPoint{{Key: name, Value: float64(i), Step: int64(i), Timestamp: ts}},
				Params:  []KV{{fmt.Sprintf("%s_p%d", name, i), strconv.Itoa(i)}},
				Tags:    []KV{{fmt.Sprintf("%s_t%d", name, i), "v"}},
			})
			if err != nil {
				fmt.Fprintln(os.Stderr, "shared:", err)
				return 1
			}
			fmt.Fprintf(out, "ack shared %d\n", i)
			out.Flush()
		}
		if kind == "crash" && i%7 == 6 {
			if _, err := r.Checkpoint(); err != nil {
				fmt.Fprintln(os.Stderr, "checkpoint:", err)
				return 1
			}
		}
	}
	return 0
}

func workerCmd(t *testing.T, kind, dir string, env ...string) *exec.Cmd {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "MLGIT_TEST_WORKER="+kind, "MLGIT_TEST_REPO="+dir)
	cmd.Env = append(cmd.Env, env...)
	cmd.Stderr = os.Stderr
	return cmd
}

// TestConcurrentProcesses: 8 processes log 500 points, params and tags each
// to their own run and to one shared run while git gc and git pack-refs run
// in a loop. Every acknowledged write is present exactly once and git fsck
// is clean.
func TestConcurrentProcesses(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	r, dir := newTestRepo(t)
	const workers, n = 8, 500
	shared, err := r.CreateRun(RunSpec{Name: "shared"})
	if err != nil {
		t.Fatal(err)
	}
	own := make([]string, workers)
	for i := range own {
		run, err := r.CreateRun(RunSpec{Name: fmt.Sprintf("own-%d", i)})
		if err != nil {
			t.Fatal(err)
		}
		own[i] = run.ID
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var gcWG sync.WaitGroup
	gcWG.Add(1)
	gcRounds := 0
	go func() {
		defer gcWG.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			gittest.Run(dir, "pack-refs", "--all")
			// Default expiry: --prune=now would delete objects another
			// writer has written but not yet referenced, which is unsafe
			// with any concurrent Git writer, git itself included.
			gittest.Run(dir, "gc", "--quiet")
			gcRounds++
			time.Sleep(250 * time.Millisecond)
		}
	}()
	var wg sync.WaitGroup
	errs := make(chan error, workers)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			cmd := workerCmd(t, "stress", dir, "MLGIT_TEST_OWN="+own[w], "MLGIT_TEST_SHARED="+shared.ID,
				fmt.Sprintf("MLGIT_TEST_NAME=w%d", w), fmt.Sprintf("MLGIT_TEST_N=%d", n))
			out, err := cmd.Output()
			if err != nil {
				errs <- fmt.Errorf("worker %d: %v", w, err)
				return
			}
			if got := strings.Count(string(out), "ack "); got != 2*n {
				errs <- fmt.Errorf("worker %d acknowledged %d writes, want %d", w, got, 2*n)
			}
		}(w)
	}
	wg.Wait()
	close(stop)
	gcWG.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if r.journalHasPending() {
		t.Fatal("journal not empty after the final checkpoint")
	}
	t.Logf("%d gc rounds ran alongside", gcRounds)
	for w, id := range own {
		run, err := r.GetRun(id)
		if err != nil {
			t.Fatal(err)
		}
		hist, err := r.MetricHistory(id, "m")
		if err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, fmt.Sprintf("own run %d", w), hist, n, n)
		if len(run.Params) != n || len(run.Tags) != n+2 {
			t.Errorf("own run %d: %d params, %d tags; want %d and %d", w, len(run.Params), len(run.Tags), n, n+2)
		}
	}
	run, err := r.GetRun(shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	all, err := r.AllMetricHistory(shared.ID)
	if err != nil {
		t.Fatal(err)
	}
	for w := 0; w < workers; w++ {
		checkExactlyOnce(t, fmt.Sprintf("shared run, worker %d", w), all[fmt.Sprintf("w%d", w)], n, n)
	}
	if len(run.Params) != workers*n || len(run.Tags) != workers*n+2 {
		t.Errorf("shared run: %d params, %d tags", len(run.Params), len(run.Tags))
	}
	gittest.Git(t, dir, "fsck", "--strict")
}

// checkExactlyOnce checks that steps 0..acked-1 appear exactly once and no
// step appears twice or beyond max.
func checkExactlyOnce(t *testing.T, what string, hist []manifest.MetricPoint, acked, max int) {
	t.Helper()
	seen := map[int64]int{}
	for _, p := range hist {
		seen[p.Step]++
		if p.Step < 0 || p.Step >= int64(max) {
			t.Errorf("%s: unexpected step %d", what, p.Step)
		}
	}
	for s, c := range seen {
		if c > 1 {
			t.Errorf("%s: step %d present %d times", what, s, c)
		}
	}
	for s := 0; s < acked; s++ {
		if seen[int64(s)] != 1 {
			t.Errorf("%s: acknowledged step %d present %d times", what, s, seen[int64(s)])
		}
	}
}

// TestCrashRecovery kills a logging process (which also checkpoints every
// few writes) with SIGKILL at 50 random moments. After each kill, a
// checkpoint recovers, and every acknowledged write is present exactly once.
func TestCrashRecovery(t *testing.T) {
	if testing.Short() {
		t.Skip("stress test")
	}
	r, dir := newTestRepo(t)
	rng := rand.New(rand.NewSource(42))
	const rounds, n = 50, 400
	killedMidway := 0
	for round := 0; round < rounds; round++ {
		run, err := r.CreateRun(RunSpec{Name: fmt.Sprintf("crash-%d", round)})
		if err != nil {
			t.Fatal(err)
		}
		cmd := workerCmd(t, "crash", dir, "MLGIT_TEST_OWN="+run.ID, fmt.Sprintf("MLGIT_TEST_N=%d", n), "MLGIT_TEST_CKPT_FILES=3")
		stdout, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		acked := 0
		done := make(chan struct{})
		go func() {
			sc := bufio.NewScanner(stdout)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "ack own ") {
					acked++
				}
			}
			close(done)
		}()
		time.Sleep(time.Duration(5+rng.Intn(120)) * time.Millisecond)
		cmd.Process.Signal(syscall.SIGKILL)
		<-done
		cmd.Wait()
		if acked < n {
			killedMidway++
		}
		if _, err := r.Checkpoint(); err != nil {
			t.Fatalf("round %d: recovery checkpoint: %v", round, err)
		}
		hist, err := r.MetricHistory(run.ID, "m")
		if err != nil {
			t.Fatal(err)
		}
		checkExactlyOnce(t, fmt.Sprintf("round %d (acked %d)", round, acked), hist, acked, n)
		got, err := r.GetRun(run.ID)
		if err != nil {
			t.Fatal(err)
		}
		for i := 0; i < acked; i++ {
			if got.Params[fmt.Sprintf("p%d", i)] != strconv.Itoa(i) {
				t.Fatalf("round %d: acknowledged param p%d missing", round, i)
			}
		}
	}
	if killedMidway < rounds/2 {
		t.Errorf("only %d of %d kills interrupted the worker; the test is not exercising crashes", killedMidway, rounds)
	}
	gittest.Git(t, dir, "fsck", "--strict")
}
