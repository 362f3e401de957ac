package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
)

// serverProc is an mlgit server process.
type serverProc struct {
	cmd  *exec.Cmd
	base string
}

func startServerProc(t *testing.T, exe, dir string) *serverProc {
	t.Helper()
	cmd := exec.Command(exe, "server", "--port", "0")
	cmd.Dir = dir
	cmd.Env = os.Environ()
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if _, addr, ok := strings.Cut(sc.Text(), " on http://"); ok {
			go io.Copy(io.Discard, stderr)
			return &serverProc{cmd: cmd, base: "http://" + addr}
		}
	}
	cmd.Process.Kill()
	cmd.Wait()
	t.Fatalf("the server did not start: %v", sc.Err())
	return nil
}

func (s *serverProc) kill() { s.cmd.Process.Kill(); s.cmd.Wait() }

// faultKills is how many times TestServerKill9 kills the server: a few in
// make test, 20 in make fault (MLGIT_FAULT_KILLS).
func faultKills() int {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_FAULT_KILLS")); err == nil && n > 0 {
		return n
	}
	return 3
}

// TestServerKill9: 16 clients create runs and log metrics, params and tags
// through mlgit server while it is killed with SIGKILL again and again and
// restarted. Every write the server acknowledged (200) is there exactly
// once afterwards, and git fsck --strict and mlgit fsck find nothing.
func TestServerKill9(t *testing.T) {
	if testing.Short() {
		t.Skip("starts and kills server processes")
	}
	gittest.Setenv(t)
	exe := mlgitExe(t)
	dir := gittest.NewRepo(t)
	mustProc(t, exe, dir, "init")

	type acked struct {
		run    string
		params map[string]string
		points map[string]int // "step" -> acknowledged once
	}
	var (
		mu   sync.Mutex
		runs []*acked
		cur  atomic.Pointer[serverProc]
		stop atomic.Bool
	)
	call := func(path string, body any, out any) bool {
		b, _ := json.Marshal(body)
		s := cur.Load()
		res, err := http.Post(s.base+"/api/2.0/mlflow/"+path, "application/json", bytes.NewReader(b))
		if err != nil {
			return false
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			return false
		}
		if out != nil {
			json.Unmarshal(data, out)
		}
		return true
	}
	cur.Store(startServerProc(t, exe, dir))
	var wg sync.WaitGroup
	for c := 0; c < 16; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			for !stop.Load() {
				var created struct {
					Run struct {
						Info struct {
							ID string `json:"run_id"`
						} `json:"info"`
					} `json:"run"`
				}
				if !call("runs/create", map[string]any{"experiment_id": "0", "start_time": time.Now().UnixMilli()}, &created) {
					time.Sleep(20 * time.Millisecond)
					continue
				}
				a := &acked{run: created.Run.Info.ID, params: map[string]string{}, points: map[string]int{}}
				mu.Lock()
				runs = append(runs, a)
				mu.Unlock()
				for step := 0; step < 20 && !stop.Load(); step++ {
					if call("runs/log-metric", map[string]any{"run_id": a.run, "key": "loss", "value": float64(c*1000 + step), "timestamp": 1, "step": step}, nil) {
						mu.Lock()
						a.points[strconv.Itoa(step)]++
						mu.Unlock()
					}
					if step%5 == 0 {
						k := fmt.Sprintf("p%d", step)
						if call("runs/log-parameter", map[string]any{"run_id": a.run, "key": k, "value": strconv.Itoa(step)}, nil) {
							mu.Lock()
							a.params[k] = strconv.Itoa(step)
							mu.Unlock()
						}
					}
				}
				call("runs/update", map[string]any{"run_id": a.run, "status": "FINISHED", "end_time": time.Now().UnixMilli()}, nil)
			}
		}(c)
	}
	rng := rand.New(rand.NewPCG(7, uint64(time.Now().UnixNano())))
	for k := 0; k < faultKills(); k++ {
		time.Sleep(time.Duration(200+rng.IntN(800)) * time.Millisecond)
		cur.Load().kill()
		cur.Store(startServerProc(t, exe, dir))
	}
	time.Sleep(300 * time.Millisecond)
	stop.Store(true)
	wg.Wait()
	cur.Load().kill()

	// Every acknowledged write, exactly once.
	final := startServerProc(t, exe, dir)
	cur.Store(final)
	defer final.kill()
	points := 0
	for _, a := range runs {
		var got struct {
			Run struct {
				Data struct {
					Params []struct{ Key, Value string } `json:"params"`
				} `json:"data"`
			} `json:"run"`
		}
		res, err := http.Get(final.base + "/api/2.0/mlflow/runs/get?run_id=" + a.run)
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&got)
		res.Body.Close()
		have := map[string]string{}
		for _, p := range got.Run.Data.Params {
			have[p.Key] = p.Value
		}
		for k, v := range a.params {
			if have[k] != v {
				t.Errorf("run %s: acknowledged param %s=%s is %q", a.run, k, v, have[k])
			}
		}
		var hist struct {
			Metrics []struct {
				Step json.Number `json:"step"`
			} `json:"metrics"`
		}
		res, err = http.Get(final.base + "/api/2.0/mlflow/metrics/get-history?run_id=" + a.run + "&metric_key=loss")
		if err != nil {
			t.Fatal(err)
		}
		json.NewDecoder(res.Body).Decode(&hist)
		res.Body.Close()
		seen := map[string]int{}
		for _, m := range hist.Metrics {
			seen[m.Step.String()]++
		}
		for step := range a.points {
			if seen[step] != 1 {
				t.Errorf("run %s: acknowledged point at step %s is there %d times", a.run, step, seen[step])
			}
		}
		for step, n := range seen {
			if n > 1 {
				t.Errorf("run %s: step %s there %d times", a.run, step, n)
			}
		}
		points += len(a.points)
	}
	final.kill()
	t.Logf("%d kills; %d runs, %d acknowledged points checked", faultKills(), len(runs), points)
	if len(runs) == 0 || points == 0 {
		t.Fatal("nothing was acknowledged")
	}
	mustProc(t, exe, dir, "run", "flush")
	gittest.Git(t, dir, "fsck", "--strict")
	mustProc(t, exe, dir, "fsck")
}
