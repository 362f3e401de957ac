package repo

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// proposeRepo has churn v1 in Production and v2 in Staging, both from runs
// with acc 0.91.
func proposeRepo(t *testing.T) (*Repo, string) {
	t.Helper()
	r, dir := newTestRepo(t)
	bs := blobs{}
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "1"))
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "2"))
	for _, p := range []PromoteSpec{{Name: "churn", Version: 1, Stage: "production"}, {Name: "churn", Version: 2, Stage: "staging"}} {
		if _, err := r.Promote(p); err != nil {
			t.Fatal(err)
		}
	}
	return r, dir
}

func TestProposeBranchOffTip(t *testing.T) {
	r, dir := proposeRepo(t)
	tagsBefore := gittest.Git(t, dir, "tag", "-l")
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{
		"production": {From: []string{"staging"}, Require: "metrics.acc >= 0.9", Review: true},
	}))
	tip, _ := r.Tip()

	p, err := r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "Production", ArchiveExisting: true, Reason: "AUC 0.91 > 0.89"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Branch != "mlgit-propose/churn-v2-production" || p.Base != tip || p.Target != "mlgit" || p.Existing || len(p.Changes) != 2 ||
		p.Changes[0] != (Transition{Version: 2, From: "Staging", To: "Production"}) || p.Changes[1] != (Transition{Version: 1, From: "Production", To: "Archived"}) {
		t.Fatalf("proposal %+v", p)
	}
	// The tracking branch, the tags, HEAD and the worktree are untouched.
	if now, _ := r.Tip(); now != tip {
		t.Fatal("Propose moved the tracking branch")
	}
	if got := gittest.Git(t, dir, "tag", "-l"); got != tagsBefore {
		t.Fatalf("Propose created tags:\n%s", got)
	}
	if got := gittest.Git(t, dir, "symbolic-ref", "HEAD"); got != "refs/heads/main" {
		t.Fatalf("HEAD is %s", got)
	}
	if got := gittest.Git(t, dir, "status", "--porcelain"); got != "" {
		t.Fatalf("worktree changed: %s", got)
	}
	// One commit on the tip, changing exactly the two versions.
	if got := gittest.Git(t, dir, "rev-parse", p.Branch); got != p.Commit {
		t.Fatalf("branch at %s, want %s", got, p.Commit)
	}
	if got := gittest.Git(t, dir, "rev-parse", p.Branch+"^"); got != tip {
		t.Fatalf("parent %s, want the tip %s", got, tip)
	}
	if got := gittest.Git(t, dir, "diff", "--name-only", "mlgit", p.Branch); got != "models/churn/versions/1.yaml\nmodels/churn/versions/2.yaml" {
		t.Fatalf("changed paths %q", got)
	}
	if got := gittest.Git(t, dir, "show", p.Branch+":models/churn/versions/2.yaml"); !strings.Contains(got, "\nstage: Production\n") {
		t.Fatalf("v2 manifest:\n%s", got)
	}
	if got := gittest.Git(t, dir, "show", p.Branch+":models/churn/versions/1.yaml"); !strings.Contains(got, "\nstage: Archived\n") {
		t.Fatalf("v1 manifest:\n%s", got)
	}
	msg := gittest.Git(t, dir, "log", "-1", "--format=%B", p.Branch)
	for _, want := range []string{"churn v2 -> Production (archived v1)\n\nAUC 0.91 > 0.89\n\n", "Mlgit-Op: model-promote", "Mlgit-Stage: Production",
		"Mlgit-Proposal: mlgit-propose/churn-v2-production"} {
		if !strings.Contains(msg, want) {
			t.Errorf("commit message lacks %q:\n%s", want, msg)
		}
	}
	gittest.Git(t, dir, "fsck", "--strict")

	// A re-run finds the same change and writes nothing.
	again, err := r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "production", ArchiveExisting: true})
	if err != nil || !again.Existing || again.Commit != p.Commit || again.Base != tip {
		t.Fatalf("re-run: %+v %v", again, err)
	}
	// A different change under the same branch name is refused.
	gittest.Git(t, dir, "branch", "-f", p.Branch, "mlgit")
	_, err = r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "production"})
	if !errors.Is(err, ErrExists) || !strings.Contains(err.Error(), "proposal branch mlgit-propose/churn-v2-production exists") {
		t.Fatalf("conflicting branch: %v", err)
	}
	// Nothing to propose: already in the stage on the tracking branch.
	none, err := r.Propose(PromoteSpec{Name: "churn", Version: 1, Stage: "production"})
	if err != nil || none.Branch != "" || none.Version.Stage != "Production" {
		t.Fatalf("already in stage: %+v %v", none, err)
	}
	// The policy's from and require apply to proposals too.
	_, err = r.Propose(PromoteSpec{Name: "churn", Version: 1, Stage: "staging"})
	if err != nil {
		t.Fatalf("no policy for staging: %v", err)
	}
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"production": {Require: "metrics.acc >= 0.95", Review: true}}))
	_, err = r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "production", Reason: "x"})
	if !errors.Is(err, ErrPolicy) || errors.Is(err, ErrReviewRequired) || !strings.Contains(err.Error(), "metrics.acc >= 0.95 not met") {
		t.Fatalf("require on a proposal: %v", err)
	}
	// A direct promotion into a reviewed stage is refused.
	_, err = r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "production"})
	if !errors.Is(err, ErrReviewRequired) {
		t.Fatalf("direct promotion into a reviewed stage: %v", err)
	}
}

func TestPushProposal(t *testing.T) {
	r, dir := proposeRepo(t)
	ctx := context.Background()
	p, err := r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "production"})
	if err != nil {
		t.Fatal(err)
	}
	// No remote: the branch stays local, with the command to push it.
	res, err := r.PushProposal(ctx, "", p)
	if err != nil || res.Pushed || res.PushCommand != "git push origin refs/heads/mlgit-propose/churn-v2-production:refs/heads/mlgit-propose/churn-v2-production" {
		t.Fatalf("no remote: %+v %v", res, err)
	}
	// A remote that reads from GitHub and pushes to a local bare repository.
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "init", "-q", "--bare", bare)
	gittest.Git(t, dir, "remote", "add", "origin", "git@github.com:acme/models.git")
	gittest.Git(t, dir, "remote", "set-url", "--push", "origin", bare)
	res, err = r.PushProposal(ctx, "", p)
	if err != nil || !res.Pushed || res.Remote != "origin" || res.RemoteURL != "git@github.com:acme/models.git" ||
		res.URL != "https://github.com/acme/models/compare/mlgit...mlgit-propose/churn-v2-production?expand=1" {
		t.Fatalf("push: %+v %v", res, err)
	}
	if got := gittest.Git(t, bare, "rev-parse", "refs/heads/"+p.Branch); got != p.Commit {
		t.Fatalf("remote branch at %s, want %s", got, p.Commit)
	}
	if got := gittest.Git(t, bare, "for-each-ref", "--format=%(refname)"); got != "refs/heads/"+p.Branch {
		t.Fatalf("remote refs: %s (only the proposal branch is pushed)", got)
	}
	// A URL as the remote works too; a rejected push is an error.
	other := filepath.Join(t.TempDir(), "other.git")
	gittest.Git(t, dir, "init", "-q", "--bare", other)
	if res, err := r.PushProposal(ctx, other, p); err != nil || !res.Pushed || res.URL != "" {
		t.Fatalf("push to a path: %+v %v", res, err)
	}
	sibling := gittest.Git(t, dir, "commit-tree", "mlgit^{tree}", "-p", "mlgit", "-m", "someone else's change")
	gittest.Git(t, dir, "push", "-q", "--force", other, sibling+":refs/heads/"+p.Branch)
	if _, err := r.PushProposal(ctx, other, p); !errors.Is(err, ErrRemote) || !strings.Contains(err.Error(), "push mlgit-propose/churn-v2-production to "+other+" failed: ") ||
		!strings.Contains(err.Error(), "rejected") {
		t.Fatalf("rejected push: %v", err)
	}
}
