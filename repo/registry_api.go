package repo

import (
	"context"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/registry"
)

// The model registry's operations (models and versions, promotions,
// aliases, proposals, resolution, history, lineage, tags sync and fsck)
// live in package repo/registry, on a registry.Store that reg builds from
// this Repo; its rules (model keys, the tag grammar, stages, selectors,
// the promotion policy) live there too. This file forwards Repo's registry
// methods to it and re-exports its names, so that callers of package repo
// need not change.

// reg is the registry's view of this store: the tracking branch, its
// identity and clock, and the run lookups the registry needs.
func (r *Repo) reg() *registry.Store {
	return &registry.Store{
		Branch:   r.trackingBranch(),
		Name:     r.branch,
		StateDir: r.stateDir,
		Now:      r.now,
		Identity: func() (string, string) { id := r.identity(); return id.name, id.email },
		User:     r.User,
		ReadRun: func(tx *gitobj.Tx, id string) (*manifest.Run, error) {
			return readRunTx(&Tx{Tx: tx, r: r}, id)
		},
		Runs: r,
		GitNet: func(ctx context.Context, args ...string) (string, string, error) {
			return r.syncStore().Net(ctx, nil, args...)
		},
		Dir:             r.gitRunDir(),
		BeforeTagCreate: beforeTagCreate,
	}
}

// beforeTagCreate, when set by tests, runs between choosing a tag name and
// creating it, to simulate another process taking the name first.
var beforeTagCreate func(name string)

// Stages returns the stages of this repository: None, Staging,
// Production, Archived and the custom ones declared in mlgit.yaml.
func (r *Repo) Stages() (Stages, error) { return r.reg().Stages() }

// CreateModel is registry.Store.CreateModel.
func (r *Repo) CreateModel(spec ModelSpec) (*manifest.RegisteredModel, error) {
	return r.reg().CreateModel(spec)
}

// GetModel is registry.Store.GetModel.
func (r *Repo) GetModel(name string) (*manifest.RegisteredModel, error) {
	return r.reg().GetModel(name)
}

// ListModels is registry.Store.ListModels.
func (r *Repo) ListModels() ([]*manifest.RegisteredModel, error) { return r.reg().ListModels() }

// UpdateModel is registry.Store.UpdateModel.
func (r *Repo) UpdateModel(name string, ch ModelChange) (*manifest.RegisteredModel, error) {
	return r.reg().UpdateModel(name, ch)
}

// UpdateVersion is registry.Store.UpdateVersion.
func (r *Repo) UpdateVersion(name string, version int64, ch ModelChange) (*manifest.ModelVersion, error) {
	return r.reg().UpdateVersion(name, version, ch)
}

// RegisterVersion is registry.Store.RegisterVersion.
func (r *Repo) RegisterVersion(spec VersionSpec) (*Registered, error) {
	return r.reg().RegisterVersion(spec)
}

// GetVersion is registry.Store.GetVersion.
func (r *Repo) GetVersion(name string, version int64) (*manifest.ModelVersion, error) {
	return r.reg().GetVersion(name, version)
}

// ListVersions is registry.Store.ListVersions.
func (r *Repo) ListVersions(name, stage string) ([]*manifest.ModelVersion, error) {
	return r.reg().ListVersions(name, stage)
}

// LatestVersions is registry.Store.LatestVersions.
func (r *Repo) LatestVersions(name string, stages ...string) ([]*manifest.ModelVersion, error) {
	return r.reg().LatestVersions(name, stages...)
}

// Promote is registry.Store.Promote.
func (r *Repo) Promote(spec PromoteSpec) (*Promoted, error) { return r.reg().Promote(spec) }

// SetAlias is registry.Store.SetAlias.
func (r *Repo) SetAlias(spec AliasSpec) (*AliasResult, error) { return r.reg().SetAlias(spec) }

// DeleteAlias is registry.Store.DeleteAlias.
func (r *Repo) DeleteAlias(name, alias, reason string) (*AliasResult, error) {
	return r.reg().DeleteAlias(name, alias, reason)
}

// DeleteVersion is registry.Store.DeleteVersion.
func (r *Repo) DeleteVersion(name string, version int64) error {
	return r.reg().DeleteVersion(name, version)
}

// DeleteModel is registry.Store.DeleteModel.
func (r *Repo) DeleteModel(name string) error { return r.reg().DeleteModel(name) }

// ImportModel is registry.Store.ImportModel.
func (r *Repo) ImportModel(im ImportedModel) (*ModelImport, error) { return r.reg().ImportModel(im) }

// ImportedModel and ModelImport are ImportModel's input and result.
type (
	ImportedModel = registry.ImportedModel
	ModelImport   = registry.ModelImport
)

// RestoreModel is registry.Store.RestoreModel.
func (r *Repo) RestoreModel(name string) (*Restored, error) { return r.reg().RestoreModel(name) }

// Restored is what RestoreModel brought back.
type Restored = registry.Restored

// RenameModel is registry.Store.RenameModel.
func (r *Repo) RenameModel(name, newName string) (*manifest.RegisteredModel, error) {
	return r.reg().RenameModel(name, newName)
}

// Resolve is registry.Store.Resolve.
func (r *Repo) Resolve(ref string) (*Resolution, error) { return r.reg().Resolve(ref) }

// Propose is registry.Store.Propose.
func (r *Repo) Propose(spec PromoteSpec) (*Proposal, error) { return r.reg().Propose(spec) }

// PushProposal is registry.Store.PushProposal.
func (r *Repo) PushProposal(ctx context.Context, remote string, p *Proposal) (*PushedProposal, error) {
	return r.reg().PushProposal(ctx, remote, p)
}

// RunModelFiles is registry.Store.RunModelFiles.
func (r *Repo) RunModelFiles(runID, p string) (*manifest.Run, []manifest.Artifact, error) {
	return r.reg().RunModelFiles(runID, p)
}

// ModelHistory is registry.Store.ModelHistory.
func (r *Repo) ModelHistory(name string) ([]HistoryEntry, []string, error) {
	return r.reg().ModelHistory(name)
}

// Lineage is registry.Store.Lineage.
func (r *Repo) Lineage(arg string) (*Lineage, error) { return r.reg().Lineage(arg) }

// SyncTags is registry.Store.SyncTags.
func (r *Repo) SyncTags(names []string, dryRun bool) (*SyncReport, error) {
	return r.reg().SyncTags(names, dryRun)
}

// Fsck is registry.Store.Fsck.
func (r *Repo) Fsck() (*FsckReport, error) { return r.reg().Fsck() }

// CheckRef is registry.CheckRef on the Git repository containing path.
func CheckRef(path, tag string, stages Stages) (*TagEventInfo, error) {
	return registry.CheckRef(tag, stages, func() (*registry.Store, func(), error) {
		r, err := openAt(path, Options{})
		if err != nil {
			return nil, nil, err
		}
		return r.reg(), func() { r.Close() }, nil
	})
}

// ParseModelRef is registry.ParseModelRef.
func ParseModelRef(ref string) (name, selector string, err error) { return registry.ParseModelRef(ref) }

// VersionDigest is registry.VersionDigest.
func VersionDigest(arts []manifest.Artifact) string { return registry.VersionDigest(arts) }

// LsRemoteArgs is registry.LsRemoteArgs.
func LsRemoteArgs(remote, key string) []string { return registry.LsRemoteArgs(remote, key) }

// ResolveRemote is registry.ResolveRemote.
func ResolveRemote(ctx context.Context, remote, ref string, opts RemoteOptions) (*Resolution, error) {
	return registry.ResolveRemote(ctx, remote, ref, opts)
}

// ProposalBranch is registry.ProposalBranch.
func ProposalBranch(name string, version int64, stage string) string {
	return registry.ProposalBranch(name, version, stage)
}

// CompareURL is registry.CompareURL.
func CompareURL(remoteURL, target, branch string) string {
	return registry.CompareURL(remoteURL, target, branch)
}

// ScanModelDir is registry.ScanModelDir.
func ScanModelDir(dir string, add AddFunc) ([]manifest.Artifact, error) {
	return registry.ScanModelDir(dir, add)
}

// ParseMLmodel is registry.ParseMLmodel.
func ParseMLmodel(data []byte) (MLmodelInfo, error) { return registry.ParseMLmodel(data) }

// WriteFiles is registry.WriteFiles.
func WriteFiles(dir string, arts []manifest.Artifact, open OpenFunc) error {
	return registry.WriteFiles(dir, arts, open)
}

// Registry types; see package registry.
type (
	AddFunc        = registry.AddFunc
	AliasResult    = registry.AliasResult
	AliasSpec      = registry.AliasSpec
	FsckProblem    = registry.FsckProblem
	FsckReport     = registry.FsckReport
	HistoryEntry   = registry.HistoryEntry
	Lineage        = registry.Lineage
	LineageCode    = registry.LineageCode
	LineageRun     = registry.LineageRun
	LineageVersion = registry.LineageVersion
	MLmodelInfo    = registry.MLmodelInfo
	ModelChange    = registry.ModelChange
	ModelSpec      = registry.ModelSpec
	OpenFunc       = registry.OpenFunc
	PromoteSpec    = registry.PromoteSpec
	Promoted       = registry.Promoted
	Proposal       = registry.Proposal
	PushedProposal = registry.PushedProposal
	Registered     = registry.Registered
	RemoteOptions  = registry.RemoteOptions
	Resolution     = registry.Resolution
	SyncAction     = registry.SyncAction
	SyncReport     = registry.SyncReport
	TagEventInfo   = registry.TagEventInfo
	TagMessage     = registry.TagMessage
	Transition     = registry.Transition
	VersionSpec    = registry.VersionSpec
)

// ProposalBranchPrefix starts the name of every proposal branch.
const ProposalBranchPrefix = registry.ProposalBranchPrefix

// ErrTagSync marks a registry change that was committed while creating its
// tags failed; mlgit tags sync creates them.
var ErrTagSync = registry.ErrTagSync

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
