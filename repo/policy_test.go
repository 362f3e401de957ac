package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

func policyConfig(p map[string]manifest.PromotionPolicy, stages ...string) *manifest.Config {
	cfg := manifest.NewConfig()
	cfg.Stages = stages
	cfg.Promotion = p
	return cfg
}

// setConfig commits mlgit.yaml on the tracking branch.
func setConfig(t *testing.T, r *Repo, cfg *manifest.Config) {
	t.Helper()
	if _, err := r.Update(func(tx *Tx) error {
		tx.Write(layout.Config, cfg.Encode())
		tx.SetMessage("mlgit.yaml: policy")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
}

// policyRepo has churn v1 (run acc 0.91) and v2 (run acc 0.80) and the
// policy: production from staging with acc >= 0.9; archived needs review.
func policyRepo(t *testing.T) (*Repo, string) {
	t.Helper()
	r, dir := newTestRepo(t)
	bs := blobs{}
	run1 := newRunWithModel(t, r, bs, "1")
	run2 := newRunWithModel(t, r, bs, "2")
	if _, err := r.LogBatch(run2, Batch{Metrics: []manifest.MetricPoint{{Key: "acc", Value: 0.8, Step: 9, Timestamp: 9}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	register(t, r, bs, "churn", run1)
	register(t, r, bs, "churn", run2)
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{
		"production": {From: []string{"staging"}, Require: "metrics.acc >= 0.9"},
		"archived":   {Review: true},
	}))
	return r, dir
}

func TestPromoteEnforcesPolicy(t *testing.T) {
	r, dir := policyRepo(t)
	tip, _ := r.Tip()
	tags := gittest.Git(t, dir, "tag", "-l")

	// From None: refused by from; nothing written.
	_, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "production"})
	if !errors.Is(err, ErrPolicy) || !errors.Is(err, ErrInvalid) ||
		!strings.Contains(err.Error(), "churn v1 -> Production refused: policy for production: a version may enter Production only from Staging (this one is in None)") {
		t.Fatalf("from None: %v", err)
	}
	// v2's run misses the metric threshold.
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "staging"}); err != nil {
		t.Fatal(err)
	}
	tip2, _ := r.Tip()
	_, err = r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "Production"})
	if !errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "metrics.acc >= 0.9 not met by run") || !strings.Contains(err.Error(), "(acc = 0.8)") {
		t.Fatalf("threshold: %v", err)
	}
	if now, _ := r.Tip(); now != tip2 {
		t.Fatal("a refused promotion moved the branch")
	}
	// Archived needs review: refused with the command to propose it.
	_, err = r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "archived"})
	if !errors.Is(err, ErrReviewRequired) || !errors.Is(err, ErrPolicy) ||
		!strings.Contains(err.Error(), "mlgit model promote churn 2 archived --propose") {
		t.Fatalf("review: %v", err)
	}
	// v1 from Staging with acc 0.91: allowed, with its tag.
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "staging"}); err != nil {
		t.Fatal(err)
	}
	p, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "production"})
	if err != nil || p.Version.Stage != StageProduction || p.Changes[0].Tag == "" {
		t.Fatalf("allowed promotion: %+v %v", p, err)
	}
	// --archive-existing would archive v1, which needs review.
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "staging"}); err != nil {
		t.Fatal(err) // already in staging: no change, no policy
	}
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"archived": {Review: true}}))
	_, err = r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "production", ArchiveExisting: true})
	if !errors.Is(err, ErrReviewRequired) || !strings.Contains(err.Error(), "--archive-existing") {
		t.Fatalf("archive-existing into a reviewed stage: %v", err)
	}
	if tip == "" || gittest.Git(t, dir, "tag", "-l", "churn#production*") != "churn#production#3" || tags == "" {
		t.Fatalf("tags: %q", gittest.Git(t, dir, "tag", "-l"))
	}

	// A policy naming an unknown stage refuses every promotion: fix mlgit.yaml.
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"prod": {Review: true}}))
	_, err = r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "none"})
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `"prod" is not a stage`) {
		t.Fatalf("bad policy: %v", err)
	}
}
