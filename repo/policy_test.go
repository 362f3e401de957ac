package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

func policyConfig(p map[string]manifest.PromotionPolicy, stages ...string) *manifest.Config {
	cfg := manifest.NewConfig()
	cfg.Stages = stages
	cfg.Promotion = p
	return cfg
}

func policyRun(metrics map[string]float64, params map[string]string) *manifest.Run {
	run := &manifest.Run{ID: "3f2a9c1e00000000000000000000abcd", Status: manifest.StatusFinished, Params: params, Metrics: map[string]manifest.MetricSummary{}}
	for k, v := range metrics {
		run.Metrics[k] = manifest.MetricSummary{Value: v, Count: 1}
	}
	return run
}

func TestCheckPromotion(t *testing.T) {
	cfg := policyConfig(map[string]manifest.PromotionPolicy{
		"production": {From: []string{"staging"}, Require: "metrics.accuracy >= 0.9 and params.optimizer = 'adam'"},
		"staging":    {Require: "metrics.accuracy > 0.5"},
		"archived":   {Review: true},
		"canary":     {From: []string{"Staging", "none"}},
	}, "Canary")
	good := policyRun(map[string]float64{"accuracy": 0.93}, map[string]string{"optimizer": "adam"})
	for _, c := range []struct {
		name     string
		from, to string
		run      *manifest.Run
		want     []string // substrings of the error; nil: allowed
		rules    []string
	}{
		{"allowed", "Staging", "Production", good, nil, nil},
		{"stage names in any case", "STAGING", "production", good, nil, nil},
		{"no policy for the stage", "None", "Staging", policyRun(map[string]float64{"accuracy": 0.6}, nil), nil, nil},
		{"review only", "Production", "Archived", good, nil, nil}, // review is not CheckPromotion's business
		{"wrong source stage", "None", "Production", good,
			[]string{"policy for production: a version may enter Production only from Staging (this one is in None)"}, []string{RuleFrom}},
		{"empty from means None", "", "Canary", good, nil, nil},
		{"from list", "Production", "canary", good,
			[]string{"a version may enter Canary only from Staging or None (this one is in Production)"}, []string{RuleFrom}},
		{"metric below threshold", "Staging", "Production", policyRun(map[string]float64{"accuracy": 0.85}, map[string]string{"optimizer": "adam"}),
			[]string{"policy for production: metrics.accuracy >= 0.9 not met by run 3f2a9c1e… (accuracy = 0.85)"}, []string{RuleRequire}},
		{"missing metric and wrong param", "Staging", "Production", policyRun(nil, map[string]string{"optimizer": "sgd"}),
			[]string{"metrics.accuracy >= 0.9 AND params.optimizer = 'adam' not met by run 3f2a9c1e… (the run has no metric accuracy; param optimizer = \"sgd\")"}, []string{RuleRequire}},
		{"no run", "Staging", "Production", nil,
			[]string{"metrics.accuracy >= 0.9 AND params.optimizer = 'adam' cannot be checked: the version has no source run"}, []string{RuleRequire}},
		{"both rules", "None", "Production", policyRun(map[string]float64{"accuracy": 0.1}, map[string]string{"optimizer": "adam"}),
			[]string{"only from Staging", "(accuracy = 0.1)"}, []string{RuleFrom, RuleRequire}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := CheckPromotion(cfg, c.from, c.to, c.run)
			if c.want == nil {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			var pe *PolicyError
			if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) || !errors.Is(err, ErrInvalid) || errors.Is(err, ErrReviewRequired) {
				t.Fatalf("error %v (%T): want a *PolicyError matching ErrPolicy and ErrInvalid", err, err)
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error\n%s\nlacks\n%s", err, w)
				}
			}
			var rules []string
			for _, v := range pe.Violations {
				rules = append(rules, v.Rule)
			}
			if strings.Join(rules, ",") != strings.Join(c.rules, ",") {
				t.Errorf("rules %v, want %v", rules, c.rules)
			}
		})
	}
}

func TestCheckPromotionBadFilter(t *testing.T) {
	cfg := policyConfig(map[string]manifest.PromotionPolicy{"production": {Require: "metrics.accuracy >> 0.9"}})
	err := CheckPromotion(cfg, "Staging", "Production", policyRun(nil, nil))
	if !errors.Is(err, ErrInvalid) || errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "promotion.production.require") {
		t.Fatalf("bad filter: %v", err)
	}
}

func TestValidatePolicy(t *testing.T) {
	for _, c := range []struct {
		name string
		cfg  *manifest.Config
		want string
	}{
		{"none", manifest.NewConfig(), ""},
		{"good", policyConfig(map[string]manifest.PromotionPolicy{"canary": {From: []string{"Staging"}, Require: "metrics.auc > 0.8"}}, "Canary"), ""},
		{"unknown target", policyConfig(map[string]manifest.PromotionPolicy{"prod": {Review: true}}), `promotion: "prod" is not a stage`},
		{"unknown from", policyConfig(map[string]manifest.PromotionPolicy{"production": {From: []string{"qa"}}}), `promotion.production.from: "qa" is not a stage`},
		{"bad require", policyConfig(map[string]manifest.PromotionPolicy{"production": {Require: "accuracy > 0.9 or x"}}), `promotion.production.require:`},
	} {
		err := ValidatePolicy(c.cfg)
		if c.want == "" {
			if err != nil {
				t.Errorf("%s: %v", c.name, err)
			}
			continue
		}
		if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}

// setConfig commits mlgit.yaml on the tracking branch.
func setConfig(t *testing.T, r *Repo, cfg *manifest.Config) {
	t.Helper()
	if _, err := r.Update(func(tx *Tx) error {
		tx.Write("mlgit.yaml", cfg.Encode())
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
