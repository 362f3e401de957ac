package server

import (
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestSyncStatusWithoutSync: a server started without --sync answers its
// status with "sync": null and refuses the webhook with a clear error.
func TestSyncStatusWithoutSync(t *testing.T) {
	e := newEnv(t)
	r := e.do("GET", statusPath, "")
	if r.status != 200 {
		t.Fatalf("status: %d %s", r.status, r.body)
	}
	var st map[string]any
	if err := json.Unmarshal([]byte(r.body), &st); err != nil {
		t.Fatal(err)
	}
	tip, _ := e.r.Tip()
	if st["branch"] != "mlgit" || st["tip"] != tip || st["sync"] != nil {
		t.Fatalf("status without sync: %s", r.body)
	}
	wantError(t, e.do("POST", syncPath, "{}"), 400, "BAD_REQUEST")
	if r := e.do("POST", syncPath, "{}"); !strings.Contains(r.body, "--sync REMOTE") {
		t.Fatalf("webhook without sync: %s", r.body)
	}
	wantError(t, e.do("DELETE", statusPath, ""), 404, "ENDPOINT_NOT_FOUND")
}

// TestSyncServerPushesAndAnswersWebhook: a syncing server pushes its
// branch to a bare remote at start and after a checkpoint moves its tip;
// the webhook and the status need credentials like any call; the webhook
// with wait=true answers when the round is done.
func TestSyncServerPushesAndAnswersWebhook(t *testing.T) {
	gittest.Setenv(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	a, err := ParseAuth(strings.NewReader("token hook " + HashSHA256([]byte("salt"), "tok-1") + "\n"))
	if err != nil {
		t.Fatal(err)
	}
	e := newEnv(t, func(c *Config) {
		c.Auth = a
		c.Sync = &SyncConfig{Remote: bare, Interval: time.Hour, PushGap: 10 * time.Millisecond, Poll: 10 * time.Millisecond}
	})
	t.Cleanup(func() { e.s.sync.close() })
	auth := []string{"Authorization", "Bearer tok-1"}
	wantError(t, e.do("GET", statusPath, ""), 401, "UNAUTHENTICATED")
	wantError(t, e.do("POST", syncPath, "{}"), 401, "UNAUTHENTICATED")
	wantError(t, e.do("POST", syncPath+"?wait=maybe", "{}", auth...), 400, "BAD_REQUEST")
	wantError(t, e.do("GET", syncPath, "", auth...), 404, "ENDPOINT_NOT_FOUND")

	remoteTip := func() string {
		out, _ := gittest.Run(bare, "rev-parse", "--verify", "-q", "refs/heads/mlgit")
		return out
	}
	waitPushed := func(what string) string {
		t.Helper()
		tip, _ := e.r.Tip()
		for deadline := time.Now().Add(20 * time.Second); remoteTip() != tip; {
			if time.Now().After(deadline) {
				t.Fatalf("%s: the remote is at %q, the server at %s", what, remoteTip(), tip)
			}
			time.Sleep(20 * time.Millisecond)
		}
		return tip
	}
	waitPushed("first round")

	// A checkpoint moves the tip: the syncer pushes it.
	cr := e.api("POST", "/runs/create", `{"experiment_id":"0","run_name":"pushed"}`, auth...)
	var created struct {
		Run struct {
			Info struct {
				ID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	if err := json.Unmarshal([]byte(cr.body), &created); err != nil || cr.status != 200 {
		t.Fatalf("create run: %d %s", cr.status, cr.body)
	}
	run := created.Run.Info.ID
	if err := e.s.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	tip := waitPushed("after a checkpoint")
	if out := gittest.Git(t, bare, "ls-tree", "-r", "--name-only", "mlgit", "runs/"+run[:2]+"/"+run); !strings.HasSuffix(out, "run.yaml") {
		t.Fatalf("the run is not on the remote: %q", out)
	}

	r := e.do("POST", syncPath+"?wait=true", "{}", auth...)
	if r.status != 200 {
		t.Fatalf("webhook: %d %s", r.status, r.body)
	}
	var got struct {
		OK   bool `json:"ok"`
		Sync struct {
			Remote      string `json:"remote"`
			State       string `json:"state"`
			Pending     *int   `json:"pending_commits"`
			RemoteTip   string `json:"remote_tip"`
			LastSuccess string `json:"last_success"`
			NextAttempt string `json:"next_attempt"`
			Pulls       int    `json:"pulls"`
		} `json:"sync"`
	}
	if err := json.Unmarshal([]byte(r.body), &got); err != nil {
		t.Fatal(err)
	}
	s := got.Sync
	if !got.OK || s.Remote != bare || s.State != "ok" || s.Pending == nil || *s.Pending != 0 || s.RemoteTip != tip || s.LastSuccess == "" || s.Pulls < 2 {
		t.Fatalf("webhook answer: %s", r.body)
	}
	if next, err := time.Parse(time.RFC3339Nano, s.NextAttempt); err != nil || next.Before(time.Now().Add(50*time.Minute)) {
		t.Fatalf("next pull %q: %v (interval 1h)", s.NextAttempt, err)
	}
}

// TestSyncHangingRemoteBlocksNoWrite: while the remote hangs (a fetch
// that does not answer), runs are still created, logged and ended with a
// commit at once: the syncer reaches the remote before it takes the
// checkpoint lock. The round then fails and the status says so.
func TestSyncHangingRemoteBlocksNoWrite(t *testing.T) {
	gittest.Setenv(t)
	// git runs this as its ssh: it answers nothing for 6 s.
	t.Setenv("GIT_SSH_COMMAND", "sleep 6; false")
	e := newEnv(t, func(c *Config) {
		c.Sync = &SyncConfig{Remote: "ssh://git.invalid/team.git", Interval: time.Hour, Timeout: 4 * time.Second}
	})
	t.Cleanup(func() { e.s.sync.close() })
	time.Sleep(300 * time.Millisecond) // the first round is waiting for the remote
	if st := e.s.sync.status(); st.State != "starting" || !st.Syncing {
		t.Fatalf("state %q (syncing %v) while the first round waits", st.State, st.Syncing)
	}
	before, _ := e.r.Tip()
	start := time.Now()
	id := e.ok("POST", "/runs/create", `{"experiment_id":"0"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	e.ok("POST", "/runs/log-metric", `{"run_id":"`+id+`","key":"loss","value":0.5,"timestamp":1,"step":0}`)
	e.ok("POST", "/runs/update", `{"run_id":"`+id+`","status":"FINISHED","end_time":2}`)
	if d := time.Since(start); d > 2*time.Second {
		t.Fatalf("writes took %v while the remote hung", d)
	}
	if after, _ := e.r.Tip(); after == before {
		t.Fatal("the run end did not commit")
	}
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		st := e.s.sync.status()
		if st.State == "failing" {
			if st.LastError == "" || st.Failures != 1 || st.NextAttempt == "" {
				t.Fatalf("status after the hung round: %+v", st)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the hung round never failed: %+v", st)
		}
	}
}
