package repo

import (
	"context"
	"errors"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

func TestHistoryPage(t *testing.T) {
	r, _ := proposeRepo(t)
	all, err := r.History(0)
	if err != nil {
		t.Fatal(err)
	}
	var got []Event
	before := ""
	for {
		page, more, err := r.HistoryPage(before, 2)
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, page...)
		if !more {
			break
		}
		before = page[len(page)-1].Commit
	}
	if len(got) != len(all) {
		t.Fatalf("pages hold %d commits, history %d", len(got), len(all))
	}
	for i := range all {
		if got[i].Commit != all[i].Commit || got[i].Subject != all[i].Subject {
			t.Fatalf("entry %d: %+v, want %+v", i, got[i], all[i])
		}
	}
	if _, _, err := r.HistoryPage("nothex", 2); !errors.Is(err, ErrInvalid) {
		t.Fatalf("bad commit: %v", err)
	}
	if _, _, err := r.HistoryPage("0123456789012345678901234567890123456789", 2); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown commit: %v", err)
	}
}

func TestProposals(t *testing.T) {
	r, dir := proposeRepo(t)
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"production": {Review: true}}))
	if ps, err := r.Proposals("churn", 2); err != nil || len(ps) != 0 {
		t.Fatalf("before: %v %v", ps, err)
	}
	p, err := r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "Production", Reason: "AUC 0.91 > 0.89"})
	if err != nil {
		t.Fatal(err)
	}
	ps, err := r.Proposals("churn", 2)
	if err != nil || len(ps) != 1 {
		t.Fatalf("proposals %v %v", ps, err)
	}
	if g := ps[0]; g.Branch != p.Branch || g.Commit != p.Commit || g.Base != p.Base || g.Stage != "Production" || g.Reason != "AUC 0.91 > 0.89" || g.Subject != "churn v2 -> Production" {
		t.Fatalf("proposal %+v", g)
	}
	if ps, _ := r.Proposals("churn", 1); len(ps) != 0 {
		t.Fatalf("v1 has %v", ps)
	}

	// Pushed and fetched: the local branch says where it is; without the
	// local branch, the remote-tracking one is listed.
	remote := t.TempDir()
	gittest.Git(t, remote, "init", "--bare", "-q")
	gittest.Git(t, dir, "remote", "add", "origin", remote)
	if _, err := r.PushProposal(context.Background(), "", p); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "fetch", "-q", "origin")
	ps, _ = r.Proposals("churn", 2)
	if len(ps) != 1 || len(ps[0].PushedTo) != 1 || ps[0].PushedTo[0] != "origin" || ps[0].Remote != "" {
		t.Fatalf("after the push %+v", ps)
	}
	gittest.Git(t, dir, "branch", "-D", p.Branch)
	ps, _ = r.Proposals("churn", 2)
	if len(ps) != 1 || ps[0].Remote != "origin" || ps[0].Branch != p.Branch || ps[0].Commit != p.Commit {
		t.Fatalf("remote only %+v", ps)
	}
}
