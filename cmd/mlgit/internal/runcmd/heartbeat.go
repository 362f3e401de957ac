package runcmd

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// Heartbeats: mlgit run exec records the process it supervises, the host
// and a heartbeat in <git-dir>/mlgit/heartbeats/<run-id>.json, rewritten
// every interval (a file write, not a commit) and removed when the run ends.
// A run still RUNNING whose process is gone (mlgit was killed with -9, the
// machine lost power, the OOM killer struck) is then recognisable: run list
// and run show mark it stale, and mlgit run end --stale ends it KILLED.
// Runs that no run exec supervises (run start, the REST API) have no
// heartbeat and are never called stale.

type heartbeat struct {
	RunID   string `json:"run_id"`
	PID     int    `json:"pid"`  // the mlgit process supervising the run
	Host    string `json:"host"` // os.Hostname
	Started int64  `json:"started_ms"`
	Beat    int64  `json:"beat_ms"` // the last heartbeat
	Every   int64  `json:"interval_ms"`
}

// heartbeatInterval is how often run exec beats; MLGIT_HEARTBEAT_INTERVAL
// (a Go duration) changes it.
func heartbeatInterval(a *cli.App) time.Duration {
	if d, err := time.ParseDuration(a.Getenv("MLGIT_HEARTBEAT_INTERVAL")); err == nil && d > 0 {
		return d
	}
	return 30 * time.Second
}

func heartbeatDir(r *repo.Repo) string { return filepath.Join(r.StateDir(), "heartbeats") }

func heartbeatPath(r *repo.Repo, runID string) string {
	return filepath.Join(heartbeatDir(r), runID+".json")
}

// startHeartbeat writes the run's heartbeat now and then every interval
// until the returned stop is called, which removes it.
func startHeartbeat(a *cli.App, r *repo.Repo, runID string) (stop func()) {
	host, _ := os.Hostname()
	every := heartbeatInterval(a)
	hb := heartbeat{RunID: runID, PID: os.Getpid(), Host: host, Started: time.Now().UnixMilli(), Every: every.Milliseconds()}
	path := heartbeatPath(r, runID)
	write := func() {
		hb.Beat = time.Now().UnixMilli()
		data, _ := json.Marshal(hb)
		// Best effort: a heartbeat that cannot be written only means the
		// run cannot be told stale later.
		_ = os.MkdirAll(filepath.Dir(path), 0o755)
		tmp := path + ".tmp"
		if os.WriteFile(tmp, data, 0o644) == nil {
			_ = os.Rename(tmp, path)
		}
	}
	write()
	done := make(chan struct{})
	stopped := make(chan struct{})
	go func() {
		defer close(stopped)
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				write()
			}
		}
	}()
	return func() {
		close(done)
		<-stopped
		os.Remove(path)
	}
}

// staleness says whether a RUNNING run's supervising process is gone, and
// why; runs without a heartbeat are never stale.
func staleness(r *repo.Repo, run *manifest.Run) (bool, string) {
	if run.Status != manifest.StatusRunning {
		return false, ""
	}
	data, err := os.ReadFile(heartbeatPath(r, run.ID))
	if err != nil {
		return false, ""
	}
	var hb heartbeat
	if json.Unmarshal(data, &hb) != nil {
		return false, ""
	}
	return hb.stale(time.Now())
}

func (hb heartbeat) stale(now time.Time) (bool, string) {
	last := time.UnixMilli(hb.Beat)
	host, _ := os.Hostname()
	if hb.Host == host && hb.PID > 0 && !processAlive(hb.PID) {
		return true, fmt.Sprintf("mlgit process %d on %s is gone (last heartbeat %s)", hb.PID, hb.Host, last.Format("2006-01-02 15:04:05"))
	}
	if every := time.Duration(hb.Every) * time.Millisecond; every > 0 && now.Sub(last) > 3*every {
		return true, fmt.Sprintf("no heartbeat from process %d on %s since %s", hb.PID, hb.Host, last.Format("2006-01-02 15:04:05"))
	}
	return false, ""
}

// processAlive reports whether a process with that id exists.
func processAlive(pid int) bool {
	err := syscall.Kill(pid, 0)
	return err == nil || errors.Is(err, syscall.EPERM)
}

// staleRuns lists the runs with a heartbeat whose process is gone.
func staleRuns(r *repo.Repo) ([]*manifest.Run, []string, error) {
	ents, err := os.ReadDir(heartbeatDir(r))
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return nil, nil, nil
		}
		return nil, nil, err
	}
	var runs []*manifest.Run
	var why []string
	for _, e := range ents {
		id, ok := strings.CutSuffix(e.Name(), ".json")
		if !ok || !manifest.ValidRunID(id) {
			continue
		}
		run, err := r.GetRun(id)
		if err != nil {
			if errors.Is(err, repo.ErrNotFound) {
				os.Remove(filepath.Join(heartbeatDir(r), e.Name()))
				continue
			}
			return nil, nil, err
		}
		if run.Status != manifest.StatusRunning {
			os.Remove(filepath.Join(heartbeatDir(r), e.Name())) // ended elsewhere
			continue
		}
		if s, reason := staleness(r, run); s {
			runs = append(runs, run)
			why = append(why, reason)
		}
	}
	return runs, why, nil
}

// lockRunEnds serializes run end in this clone: the status is read and
// changed under it, so of two ends racing the first one's status stays.
func lockRunEnds(r *repo.Repo) (unlock func(), err error) {
	if err := os.MkdirAll(r.StateDir(), 0o755); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(filepath.Join(r.StateDir(), "run-end.lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() {
		syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
		f.Close()
	}, nil
}
