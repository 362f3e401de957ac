package repo

import (
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/registry"
)

// The registry's rules (model keys, the tag grammar, stages, the state a
// model's tags describe, selectors and the promotion policy) live in
// package repo/registry. They are re-exported here under their old names,
// so that callers of package repo need not change.

// Registry rule constants; see package registry.
const (
	RuleFrom          = registry.RuleFrom
	RuleRequire       = registry.RuleRequire
	RuleReview        = registry.RuleReview
	TagRegistration   = registry.TagRegistration
	TagDeregistration = registry.TagDeregistration
	TagEvent          = registry.TagEvent
	EventStage        = registry.EventStage
	EventAlias        = registry.EventAlias
	EventAliasRemoved = registry.EventAliasRemoved
	StageNone         = registry.StageNone
	StageStaging      = registry.StageStaging
	StageProduction   = registry.StageProduction
	StageArchived     = registry.StageArchived
	SelectVersion     = registry.SelectVersion
	SelectLatest      = registry.SelectLatest
	SelectStage       = registry.SelectStage
	SelectAlias       = registry.SelectAlias
	MaxModelKeyLength = registry.MaxModelKeyLength
)

// Registry rule errors; see package registry.
var (
	ErrPolicy         = registry.ErrPolicy
	ErrReviewRequired = registry.ErrReviewRequired
)

// Registry rule types; see package registry.
type (
	PolicyError     = registry.PolicyError
	PolicyViolation = registry.PolicyViolation
	Selector        = registry.Selector
	Stages          = registry.Stages
	TagEventRef     = registry.TagEventRef
	TagName         = registry.TagName
	TagRef          = registry.TagRef
	TagState        = registry.TagState
	TagVersion      = registry.TagVersion
)

// ModelKey is registry.ModelKey.
func ModelKey(name string) string { return registry.ModelKey(name) }

// ModelName is registry.ModelName.
func ModelName(key string) (string, error) { return registry.ModelName(key) }

// ParseTagName is registry.ParseTagName.
func ParseTagName(s string) (TagName, error) { return registry.ParseTagName(s) }

// NewStages is registry.NewStages.
func NewStages(custom ...string) Stages { return registry.NewStages(custom...) }

// StateFromTags is registry.StateFromTags.
func StateFromTags(key string, refs []TagRef, stages Stages) *TagState {
	return registry.StateFromTags(key, refs, stages)
}

// ParseSelector is registry.ParseSelector.
func ParseSelector(sel string, stages Stages) (Selector, error) {
	return registry.ParseSelector(sel, stages)
}

// ParseLsRemote is registry.ParseLsRemote.
func ParseLsRemote(out string) []TagRef { return registry.ParseLsRemote(out) }

// PolicyFor is registry.PolicyFor.
func PolicyFor(cfg *manifest.Config, stage string) (manifest.PromotionPolicy, bool) {
	return registry.PolicyFor(cfg, stage)
}

// ReviewRequired is registry.ReviewRequired.
func ReviewRequired(cfg *manifest.Config, stage string) bool {
	return registry.ReviewRequired(cfg, stage)
}

// ValidatePolicy is registry.ValidatePolicy.
func ValidatePolicy(cfg *manifest.Config) error { return registry.ValidatePolicy(cfg) }

// CheckPromotion is registry.CheckPromotion.
func CheckPromotion(cfg *manifest.Config, from, to string, run *manifest.Run) error {
	return registry.CheckPromotion(cfg, from, to, run)
}
