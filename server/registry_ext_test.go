package server

import (
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// TestTransitionStageComment: the mlgit extension comment is the reason in
// the event tags of a promotion and of alias moves; without it the reason
// stays "MLflow API".
func TestTransitionStageComment(t *testing.T) {
	e := newEnv(t)
	id := modelRun(t, e)
	e.ok("POST", "/registered-models/create", `{"name":"churn"}`)
	e.ok("POST", "/model-versions/create", `{"name":"churn","source":"runs:/`+id+`/model","run_id":"`+id+`"}`)
	e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Staging","comment":"AUC 0.91 > 0.89"}`)
	e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production"}`)
	e.ok("POST", "/registered-models/alias", `{"name":"churn","alias":"champion","version":"1","comment":"won the A/B test"}`)
	e.ok("DELETE", "/registered-models/alias", `{"name":"churn","alias":"champion","comment":"retired"}`)
	h, _, err := e.r.ModelHistory("churn")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, ev := range h {
		got[ev.Tag] = ev.Reason
	}
	want := map[string]string{"churn#staging#1": "AUC 0.91 > 0.89", "churn#production#2": registryReason,
		"churn#champion#3": "won the A/B test", "churn#!champion#4": "retired"}
	for tag, reason := range want {
		if got[tag] != reason {
			t.Errorf("%s: reason %q, want %q (history %v)", tag, got[tag], reason, got)
		}
	}
	msg := gittest.Git(t, e.dir, "cat-file", "-p", "churn#staging#1")
	if !strings.Contains(msg, "reason: AUC 0.91 > 0.89") {
		t.Errorf("tag message:\n%s", msg)
	}
}

// TestTransitionStagePropose: propose: true makes the proposal branch that
// mlgit model promote --propose makes (no tag, tracking branch unchanged);
// without it a reviewed stage is refused; read-only refuses it.
func TestTransitionStagePropose(t *testing.T) {
	e := newEnv(t)
	id := modelRun(t, e)
	e.ok("POST", "/registered-models/create", `{"name":"churn"}`)
	e.ok("POST", "/model-versions/create", `{"name":"churn","source":"runs:/`+id+`/model","run_id":"`+id+`"}`)
	cfg := manifest.NewConfig()
	cfg.Promotion = map[string]manifest.PromotionPolicy{"production": {Review: true}}
	if _, err := e.r.Update(func(tx *repo.Tx) error {
		tx.Write("mlgit.yaml", cfg.Encode())
		tx.SetMessage("mlgit.yaml: policy")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	tip, _ := e.r.Tip()
	wantError(t, e.api("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production"}`), 400, "INVALID_PARAMETER_VALUE")

	v := e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production","comment":"ready","propose":true}`)
	p := v["proposal"].(map[string]any)
	if p["branch"] != "mlgit-propose/churn-v1-production" || p["target"] != "mlgit" || p["base"] != tip || p["pushed"] != false ||
		!strings.Contains(p["push_command"].(string), "git push origin refs/heads/mlgit-propose/churn-v1-production") {
		t.Fatalf("proposal %s", mustJSON(p))
	}
	if st := v["model_version"].(map[string]any)["current_stage"]; st != "None" {
		t.Fatalf("stage %v after a proposal", st)
	}
	if now, _ := e.r.Tip(); now != tip {
		t.Fatal("the proposal moved the tracking branch")
	}
	if tags := gittest.Git(t, e.dir, "tag", "-l", "churn#*"); tags != "" {
		t.Fatalf("the proposal created tags: %s", tags)
	}
	if b := gittest.Git(t, e.dir, "for-each-ref", "--format=%(refname)", "refs/heads/mlgit-propose/"); b != "refs/heads/mlgit-propose/churn-v1-production" {
		t.Fatalf("branches: %q", b)
	}
	body := gittest.Git(t, e.dir, "log", "-1", "--format=%B", "mlgit-propose/churn-v1-production")
	if !strings.Contains(body, "churn v1 -> Production") || !strings.Contains(body, "ready") || !strings.Contains(body, "Mlgit-Proposal: mlgit-propose/churn-v1-production") {
		t.Fatalf("proposal commit:\n%s", body)
	}
	// Again: the same branch, existing.
	v = e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production","comment":"ready","propose":"true"}`)
	if p := v["proposal"].(map[string]any); p["existing"] != true {
		t.Fatalf("second proposal %s", mustJSON(p))
	}

	// With an origin, the branch is pushed there.
	remote := t.TempDir()
	if out, err := exec.Command("git", "init", "--bare", "-q", remote).CombinedOutput(); err != nil {
		t.Fatal(string(out))
	}
	gittest.Git(t, e.dir, "remote", "add", "origin", remote)
	e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Staging","propose":true}`)
	if b := gittest.Git(t, remote, "for-each-ref", "--format=%(refname)"); b != "refs/heads/mlgit-propose/churn-v1-staging" {
		t.Fatalf("remote branches: %q", b)
	}

	ro := newEnv(t, func(c *Config) { c.ReadOnly = true })
	r := ro.api("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production","propose":true}`)
	if r.status != 403 {
		t.Fatalf("read-only: %d %s", r.status, r.body)
	}
	var x map[string]any
	if err := json.Unmarshal([]byte(r.body), &x); err != nil || x["error_code"] != "PERMISSION_DENIED" {
		t.Fatalf("read-only answer %s", r.body)
	}
}
