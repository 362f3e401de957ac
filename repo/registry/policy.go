package registry

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/runindex"
)

// The promotion policy: mlgit.yaml's promotion: map says, per target stage
// (lower case), which stages a version may come from, what its source run
// must satisfy (a filter in the search grammar), and whether the change must
// go through review. The functions here are pure, so that a direct
// promotion (Promote), a proposal (Propose) and a pull-request check
// (Check) apply exactly the same rules. docs/registry.md, "Review of
// promotions", describes them for users.

var (
	// ErrPolicy marks a stage change that the promotion policy of
	// mlgit.yaml refuses. Errors that match it also match manifest.ErrInvalid
	// (nothing was written).
	ErrPolicy = errors.New("promotion policy not met")
	// ErrReviewRequired marks a direct promotion into a stage whose policy
	// says review: true; propose it instead (Propose). Errors that match it
	// also match ErrPolicy and manifest.ErrInvalid.
	ErrReviewRequired = errors.New("promotion needs review")
)

// Policy rules, as PolicyViolation.Rule names them.
const (
	RuleFrom    = "from"
	RuleRequire = "require"
	RuleReview  = "review"
)

// PolicyViolation is one rule of a stage's policy that a change breaks.
type PolicyViolation struct {
	// Stage is the target stage as the policy names it (lower case).
	Stage string `json:"stage"`
	// Rule is RuleFrom, RuleRequire or RuleReview.
	Rule string `json:"rule"`
	// Message says what was required and what was found.
	Message string `json:"message"`
}

func (v PolicyViolation) String() string { return "policy for " + v.Stage + ": " + v.Message }

// PolicyError is a refusal by the promotion policy: one or more violations.
// errors.Is matches ErrPolicy and manifest.ErrInvalid, and ErrReviewRequired when a
// violation is of the review rule.
type PolicyError struct {
	Violations []PolicyViolation
}

func (e *PolicyError) Error() string {
	parts := make([]string, len(e.Violations))
	for i, v := range e.Violations {
		parts[i] = v.String()
	}
	return strings.Join(parts, "; ")
}

// Is makes errors.Is match ErrPolicy, manifest.ErrInvalid and, for the review
// rule, ErrReviewRequired.
func (e *PolicyError) Is(target error) bool {
	switch target {
	case ErrPolicy, manifest.ErrInvalid:
		return true
	case ErrReviewRequired:
		for _, v := range e.Violations {
			if v.Rule == RuleReview {
				return true
			}
		}
	}
	return false
}

// PolicyFor returns the policy for entering stage (any case), and false when
// mlgit.yaml has none.
func PolicyFor(cfg *manifest.Config, stage string) (manifest.PromotionPolicy, bool) {
	if cfg == nil {
		return manifest.PromotionPolicy{}, false
	}
	p, ok := cfg.Promotion[strings.ToLower(stage)]
	return p, ok
}

// ReviewRequired reports whether entering stage (any case) must go through
// review.
func ReviewRequired(cfg *manifest.Config, stage string) bool {
	p, ok := PolicyFor(cfg, stage)
	return ok && p.Review
}

// ValidatePolicy checks what manifest.Config.Validate cannot: every stage the
// promotion policy names (as a target or in from) is a stage of this
// configuration, and every require filter parses in the search grammar for
// runs. The error wraps manifest.ErrInvalid and names the stage and field.
func ValidatePolicy(cfg *manifest.Config) error {
	if is := PolicyIssues(cfg); len(is) > 0 {
		return fmt.Errorf("%w: mlgit.yaml: %s", manifest.ErrInvalid, is[0])
	}
	return nil
}

// PolicyIssue is one reason a promotion policy does not apply.
type PolicyIssue struct {
	Stage string // the key under promotion:
	Field string // "", "from" or "require"
	Msg   string
}

// String says where in mlgit.yaml the issue is and what it is.
func (i PolicyIssue) String() string {
	if i.Field == "" {
		return "promotion: " + i.Msg
	}
	return "promotion." + i.Stage + "." + i.Field + ": " + i.Msg
}

// PolicyIssues lists what ValidatePolicy reports, in stage order.
func PolicyIssues(cfg *manifest.Config) []PolicyIssue {
	if cfg == nil || len(cfg.Promotion) == 0 {
		return nil
	}
	stages := NewStages(cfg.Stages...)
	keys := make([]string, 0, len(cfg.Promotion))
	for k := range cfg.Promotion {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var out []PolicyIssue
	for _, k := range keys {
		p := cfg.Promotion[k]
		if !stages.IsStage(k) {
			out = append(out, PolicyIssue{Stage: k, Msg: fmt.Sprintf("%q is not a stage (stages: %s; declare custom stages under stages:)", k, stages)})
		}
		for _, f := range p.From {
			if !stages.IsStage(f) {
				out = append(out, PolicyIssue{Stage: k, Field: "from", Msg: fmt.Sprintf("%q is not a stage (stages: %s)", f, stages)})
			}
		}
		if _, err := query.ParseFilter(query.Runs, p.Require); err != nil {
			out = append(out, PolicyIssue{Stage: k, Field: "require", Msg: err.Error()})
		}
	}
	return out
}

// CheckPromotion checks one stage change of a model version, from stage
// from to stage to (any case), against the promotion policy of cfg: the
// version must come from one of the stages in from (when set), and its
// source run (nil when the version has none) must match require. Review is
// not checked here: it is a property of how the change is made (see
// ReviewRequired). It returns nil when the change is allowed or when there
// is no policy for to; a *PolicyError listing every broken rule; or an
// error wrapping manifest.ErrInvalid when the policy itself does not parse.
func CheckPromotion(cfg *manifest.Config, from, to string, run *manifest.Run) error {
	p, ok := PolicyFor(cfg, to)
	if !ok {
		return nil
	}
	stages := NewStages(cfg.Stages...)
	label := StageLabel(to)
	toName := canonicalStage(stages, to)
	var vs []PolicyViolation
	if len(p.From) > 0 && !containsFold(p.From, from) {
		allowed := make([]string, len(p.From))
		for i, f := range p.From {
			allowed[i] = canonicalStage(stages, f)
		}
		vs = append(vs, PolicyViolation{Stage: label, Rule: RuleFrom,
			Message: fmt.Sprintf("a version may enter %s only from %s (this one is in %s)", toName, joinOr(allowed), canonicalStage(stages, orNone(from)))})
	}
	if strings.TrimSpace(p.Require) != "" {
		f, err := query.ParseFilter(query.Runs, p.Require)
		if err != nil {
			return fmt.Errorf("%w: mlgit.yaml: promotion.%s.require: %v", manifest.ErrInvalid, label, err)
		}
		if run == nil {
			vs = append(vs, PolicyViolation{Stage: label, Rule: RuleRequire,
				Message: fmt.Sprintf("%s cannot be checked: the version has no source run on the tracking branch", f)})
		} else {
			row := runindex.RunRow{Run: run}
			var failed, actual []string
			for _, c := range f.Clauses {
				one := &query.Filter{Clauses: []query.Clause{c}}
				if !one.Match(row) {
					failed = append(failed, c.String())
					actual = append(actual, actualValue(c, run))
				}
			}
			if len(failed) > 0 {
				vs = append(vs, PolicyViolation{Stage: label, Rule: RuleRequire,
					Message: fmt.Sprintf("%s not met by run %s… (%s)", strings.Join(failed, " AND "), run.ID[:min(8, len(run.ID))], strings.Join(actual, "; "))})
			}
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return &PolicyError{Violations: vs}
}

// ReviewViolation is the violation of a direct promotion into a stage that
// needs review; command is what to run instead.
func ReviewViolation(stage, command string) PolicyViolation {
	return PolicyViolation{Stage: StageLabel(stage), Rule: RuleReview,
		Message: fmt.Sprintf("changes to %s need review: propose it as a pull request with\n  %s", stage, command)}
}

// actualValue describes what the run has for the clause's identifier.
func actualValue(c query.Clause, run *manifest.Run) string {
	row := runindex.RunRow{Run: run}
	switch c.Entity {
	case query.Metric:
		if m, ok := run.Metrics[c.Key]; ok {
			return c.Key + " = " + manifest.FormatFloat(m.Value)
		}
		return "the run has no metric " + c.Key
	case query.Param:
		if v, ok := row.Param(c.Key); ok {
			return fmt.Sprintf("param %s = %q", c.Key, v)
		}
		return "the run has no param " + c.Key
	case query.Tag:
		if v, ok := row.Tag(c.Key); ok {
			return fmt.Sprintf("tag %s = %q", c.Key, v)
		}
		return "the run has no tag " + c.Key
	case query.Dataset:
		if len(run.Inputs) == 0 {
			return "the run has no dataset inputs"
		}
		var vals []string
		for _, d := range run.Inputs {
			switch c.Key {
			case "digest":
				vals = append(vals, d.Digest)
			case "context":
				vals = append(vals, d.Context)
			default:
				vals = append(vals, d.Name)
			}
		}
		return "dataset " + c.Key + "s: " + strings.Join(vals, ", ")
	}
	v, ok := row.Attr(c.Key)
	if !ok {
		return "the run has no " + c.Key
	}
	if v.IsNum {
		return c.Key + " = " + manifest.FormatFloat(v.Num)
	}
	return fmt.Sprintf("%s = %q", c.Key, v.Str)
}

func canonicalStage(s Stages, name string) string {
	if c, ok := s.Canonical(name); ok {
		return c
	}
	return name
}

func containsFold(list []string, s string) bool {
	s = orNone(s)
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

func orNone(stage string) string {
	if stage == "" {
		return StageNone
	}
	return stage
}

func joinOr(items []string) string {
	switch len(items) {
	case 0:
		return ""
	case 1:
		return items[0]
	}
	return strings.Join(items[:len(items)-1], ", ") + " or " + items[len(items)-1]
}
