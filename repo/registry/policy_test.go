package registry

import (
	"errors"
	"strings"
	"testing"

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
			if !errors.As(err, &pe) || !errors.Is(err, ErrPolicy) || !errors.Is(err, manifest.ErrInvalid) || errors.Is(err, ErrReviewRequired) {
				t.Fatalf("error %v (%T): want a *PolicyError matching ErrPolicy and manifest.ErrInvalid", err, err)
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
	if !errors.Is(err, manifest.ErrInvalid) || errors.Is(err, ErrPolicy) || !strings.Contains(err.Error(), "promotion.production.require") {
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
		if !errors.Is(err, manifest.ErrInvalid) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: got %v, want %q", c.name, err, c.want)
		}
	}
}
