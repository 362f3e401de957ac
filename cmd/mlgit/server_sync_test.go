package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/servecmd"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestServerUnderLoadWithListAndPull: many MLflow clients log to many runs
// through mlgit server while other processes run `mlgit run list` in the
// same repository and `mlgit pull` brings in runs another clone pushes
// (re-applying the server's commits on the remote tip under its feet).
// Every acknowledged point is there exactly once at the end, and so is
// every run of the other clone.
func TestServerUnderLoadWithListAndPull(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	gittest.Setenv(t)
	t.Setenv("MLGIT_BLOB_REMOTE", "")
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	dir := seedClone(t, exe, bare)
	mustProc(t, exe, dir, "push")
	other := t.TempDir()
	gittest.Git(t, other, "init", "-q", "-b", "main")
	gittest.Git(t, other, "remote", "add", "origin", bare)
	mustProc(t, exe, other, "pull")

	a, _, _ := clitest.NewApp(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- servecmd.RunServer(ctx, a, &cli.ServerOptions{Host: "127.0.0.1", Port: 0, Quiet: true,
			CheckpointInterval: 300 * time.Millisecond, Ready: func(addr string) { ready <- addr }})
	}()
	var base string
	select {
	case addr := <-ready:
		base = "http://" + addr + "/api/2.0/mlflow"
	case err := <-done:
		t.Fatalf("server exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("server did not start")
	}
	post := func(path, body string) (map[string]any, error) {
		for attempt := 0; ; attempt++ {
			res, err := http.Post(base+path, "application/json", strings.NewReader(body))
			if err != nil {
				return nil, err
			}
			data, _ := io.ReadAll(res.Body)
			res.Body.Close()
			// 503 is TEMPORARILY_UNAVAILABLE (a lock held by a pull):
			// MLflow clients retry it, and so does this one.
			if res.StatusCode == http.StatusServiceUnavailable && attempt < 50 {
				time.Sleep(20 * time.Millisecond)
				continue
			}
			if res.StatusCode != 200 {
				return nil, fmt.Errorf("%s: %d %s", path, res.StatusCode, data)
			}
			var v map[string]any
			return v, json.Unmarshal(data, &v)
		}
	}

	const clients, runsPer, points = 6, 2, 25
	type runLog struct {
		id    string
		steps []int
	}
	var mu sync.Mutex
	var logged []*runLog
	var wg sync.WaitGroup
	errs := make(chan error, 64)
	for c := 0; c < clients; c++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for r := 0; r < runsPer; r++ {
				v, err := post("/runs/create", fmt.Sprintf(`{"experiment_id":"0","run_name":"load-%d-%d"}`, c, r))
				if err != nil {
					errs <- err
					return
				}
				rl := &runLog{id: v["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)}
				for s := 0; s < points; s++ {
					if s%5 == 4 { // a batch now and then
						body := fmt.Sprintf(`{"run_id":%q,"metrics":[{"key":"loss","value":%d,"timestamp":1,"step":%d}]}`, rl.id, s, s)
						_, err = post("/runs/log-batch", body)
					} else {
						_, err = post("/runs/log-metric", fmt.Sprintf(`{"run_id":%q,"key":"loss","value":%d,"timestamp":1,"step":%d}`, rl.id, s, s))
					}
					if err != nil {
						errs <- err
						return
					}
					rl.steps = append(rl.steps, s) // acknowledged
				}
				if _, err := post("/runs/update", fmt.Sprintf(`{"run_id":%q,"status":"FINISHED","end_time":2}`, rl.id)); err != nil {
					errs <- err
					return
				}
				mu.Lock()
				logged = append(logged, rl)
				mu.Unlock()
			}
		}()
	}
	// Meanwhile: another clone pushes runs; this repository lists and pulls.
	stop := make(chan struct{})
	var side sync.WaitGroup
	var otherRuns []string
	side.Add(2)
	go func() {
		defer side.Done()
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			name := fmt.Sprintf("other-%d", i)
			if out, err := proc(t, exe, other, "run", "exec", "--name", name, "--", "true"); err != nil {
				errs <- fmt.Errorf("other run: %v\n%s", err, out)
				return
			}
			if out, err := proc(t, exe, other, "push"); err != nil {
				errs <- fmt.Errorf("other push: %v\n%s", err, out)
				return
			}
			otherRuns = append(otherRuns, name)
			if out, err := proc(t, exe, dir, "pull"); err != nil {
				errs <- fmt.Errorf("pull beside the server: %v\n%s", err, out)
				return
			}
		}
	}()
	go func() {
		defer side.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			if out, err := proc(t, exe, dir, "run", "list", "--max", "1000", "--json"); err != nil {
				errs <- fmt.Errorf("run list beside the server: %v\n%s", err, out)
				return
			}
		}
	}()
	wg.Wait()
	close(stop)
	side.Wait()
	cancel()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server: %v", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("server did not stop")
	}
	close(errs)
	for err := range errs {
		t.Fatal(err)
	}
	if len(otherRuns) == 0 {
		t.Fatal("the other clone pushed nothing while the server ran")
	}
	mustProc(t, exe, dir, "pull")
	mustProc(t, exe, dir, "push")
	// Every acknowledged point exactly once.
	for _, rl := range logged {
		out := mustProc(t, exe, dir, "run", "metrics", rl.id, "loss", "--json")
		var pts []struct {
			Step int `json:"step"`
		}
		if err := json.Unmarshal([]byte(out), &pts); err != nil {
			t.Fatalf("%s: %v\n%s", rl.id, err, out)
		}
		var got []int
		for _, p := range pts {
			got = append(got, p.Step)
		}
		sort.Ints(got)
		if fmt.Sprint(got) != fmt.Sprint(rl.steps) {
			t.Fatalf("run %s: steps %v, acknowledged %v", rl.id, got, rl.steps)
		}
	}
	if len(logged) != clients*runsPer {
		t.Fatalf("%d runs logged, want %d", len(logged), clients*runsPer)
	}
	// The other clone's runs arrived, once each, here and on the remote.
	names := remoteRuns(t, bare)
	count := map[string]int{}
	for _, n := range names {
		count[n]++
	}
	for _, n := range otherRuns {
		if count[n] != 1 {
			t.Fatalf("run %s is on the remote %d times", n, count[n])
		}
	}
	for c := 0; c < clients; c++ {
		for r := 0; r < runsPer; r++ {
			if n := fmt.Sprintf("load-%d-%d", c, r); count[n] != 1 {
				t.Fatalf("run %s is on the remote %d times", n, count[n])
			}
		}
	}
	gittest.Git(t, bare, "fsck", "--strict")
	gittest.Git(t, dir, "fsck", "--strict")
}
