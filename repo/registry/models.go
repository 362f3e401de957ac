package registry

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/shell"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// The model registry's operations: registered models and their versions
// as manifests under models/<model-key>/, with MLflow's semantics, and
// every stage change and alias move projected onto Git tags (tags_write.go;
// their grammar is in tags.go). The manifests are the source of truth;
// SyncTags repairs the tags and Fsck reports any disagreement
// (tagsync.go). docs/registry.md has the rules.

// ErrTagSync marks a registry change that was committed while creating its
// tags failed; mlgit tags sync creates them.
var ErrTagSync = errors.New("tags not created")

// stagesTx returns the repository's stages (built-in plus mlgit.yaml).
func stagesTx(tx *gitobj.Tx) (Stages, error) {
	data, ok, err := tx.Read(layout.Config)
	if err != nil || !ok {
		return NewStages(), err
	}
	cfg, err := manifest.DecodeConfig(data)
	if err != nil {
		return NewStages(), fmt.Errorf("mlgit.yaml: %w", err)
	}
	return NewStages(cfg.Stages...), nil
}

// Stages returns the stages of this repository: None, Staging,
// Production, Archived and the custom ones declared in mlgit.yaml.
func (s *Store) Stages() (Stages, error) {
	var st Stages
	err := s.view(func(tx *gitobj.Tx) (err error) {
		st, err = stagesTx(tx)
		return err
	})
	return st, err
}

// listModelKeysTx returns the keys of all models.
func listModelKeysTx(tx *gitobj.Tx) ([]string, error) {
	names, err := tx.List(layout.Models)
	if err != nil {
		return nil, err
	}
	var keys []string
	for _, n := range names {
		if strings.HasSuffix(n, "/") {
			keys = append(keys, strings.TrimSuffix(n, "/"))
		}
	}
	return keys, nil
}

func decodeModelAt(tx *gitobj.Tx, key string) (*manifest.RegisteredModel, bool, error) {
	// A partial clone fetches the model and its versions in one request:
	// most callers read a version next.
	if err := tx.PrefetchDir(layout.ModelDir(key)); err != nil {
		return nil, false, err
	}
	data, ok, err := tx.Read(layout.Model(key))
	if err != nil || !ok {
		return nil, false, err
	}
	m, err := manifest.DecodeRegisteredModel(data)
	if err != nil {
		return nil, false, fmt.Errorf("read %s: %w", layout.Model(key), err)
	}
	return m, true, nil
}

// readModelTx reads a model by name; unknown names fail with ErrNotFound
// and a list of the models that exist.
func readModelTx(tx *gitobj.Tx, name string) (*manifest.RegisteredModel, error) {
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, err
	}
	m, ok, err := decodeModelAt(tx, ModelKey(name))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, modelNotFound(tx, name)
	}
	return m, nil
}

func modelNotFound(tx *gitobj.Tx, name string) error {
	keys, _ := listModelKeysTx(tx)
	var names []string
	for _, k := range keys {
		if n, err := ModelName(k); err == nil {
			names = append(names, strconv.Quote(n))
		}
	}
	sort.Strings(names)
	return fmt.Errorf("%w: model %q does not exist (models: %s)", ErrNotFound, name, ListOrNone(names))
}

// versionNumbersTx returns the numbers of a model's versions that exist.
func versionNumbersTx(tx *gitobj.Tx, key string) ([]int64, error) {
	names, err := tx.List(layout.VersionsDir(key))
	if err != nil {
		return nil, err
	}
	var out []int64
	for _, n := range names {
		if s, ok := strings.CutSuffix(n, ".yaml"); ok {
			if v, ok := ParsePositive(s); ok {
				out = append(out, v)
			}
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out, nil
}

func joinVersions(vs []int64) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatInt(v, 10)
	}
	return ListOrNone(parts)
}

// readVersionTx reads version n of model m. A number never issued and a
// deleted version both fail with ErrNotFound, saying which and what exists.
func readVersionTx(tx *gitobj.Tx, m *manifest.RegisteredModel, n int64) (*manifest.ModelVersion, error) {
	key := ModelKey(m.Name)
	data, ok, err := tx.Read(layout.Version(key, n))
	if err != nil {
		return nil, err
	}
	if !ok {
		live, _ := versionNumbersTx(tx, key)
		if n >= 1 && n <= m.LatestVersion {
			return nil, fmt.Errorf("%w: version %d of model %q was deleted (versions: %s)", ErrNotFound, n, m.Name, joinVersions(live))
		}
		return nil, fmt.Errorf("%w: model %q has no version %d (latest is %d; versions: %s)", ErrNotFound, m.Name, n, m.LatestVersion, joinVersions(live))
	}
	v, err := manifest.DecodeModelVersion(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", layout.Version(key, n), err)
	}
	return v, nil
}

func listVersionsTx(tx *gitobj.Tx, key string) ([]*manifest.ModelVersion, error) {
	nums, err := versionNumbersTx(tx, key)
	if err != nil {
		return nil, err
	}
	// A partial clone fetches the versions it lacks in one request.
	if err := tx.PrefetchDir(layout.VersionsDir(key)); err != nil {
		return nil, err
	}
	out := make([]*manifest.ModelVersion, 0, len(nums))
	for _, n := range nums {
		data, ok, err := tx.Read(layout.Version(key, n))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		v, err := manifest.DecodeModelVersion(data)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", layout.Version(key, n), err)
		}
		out = append(out, v)
	}
	return out, nil
}

func writeModelTx(tx *gitobj.Tx, m *manifest.RegisteredModel) error {
	if err := m.Validate(); err != nil {
		return err
	}
	tx.Write(layout.Model(ModelKey(m.Name)), m.Encode())
	return nil
}

func writeVersionTx(tx *gitobj.Tx, v *manifest.ModelVersion) error {
	if err := v.Validate(); err != nil {
		return err
	}
	tx.Write(layout.Version(ModelKey(v.Name), v.Version), v.Encode())
	return nil
}

func checkRegistryTags(what string, tags map[string]string) error {
	for k, v := range tags {
		if err := manifest.ValidateKey(what, k); err != nil {
			return err
		}
		if n := len([]rune(v)); n > manifest.MaxRegistryTagValue {
			return fmt.Errorf("%w: %s %q: value is %d characters; the limit is %d", manifest.ErrInvalid, what, k, n, manifest.MaxRegistryTagValue)
		}
	}
	return nil
}

// ---- Registered models

// ModelSpec describes a new registered model.
type ModelSpec struct {
	Name        string
	Description string
	Tags        map[string]string
}

// CreateModel creates a registered model (MLflow's create_registered_model).
// It fails with gitobj.ErrExists when the name is taken. A model created under a
// name whose tags remain from a deleted or renamed model continues that
// name's version numbers, so no tag is ever reused.
func (s *Store) CreateModel(spec ModelSpec) (*manifest.RegisteredModel, error) {
	if err := CheckModelName(spec.Name); err != nil {
		return nil, err
	}
	if err := checkRegistryTags("model tag", spec.Tags); err != nil {
		return nil, err
	}
	key := ModelKey(spec.Name)
	st, err := s.modelTagState(key, NewStages())
	if err != nil {
		return nil, err
	}
	var out *manifest.RegisteredModel
	_, err = s.update(func(tx *gitobj.Tx) error {
		if _, ok, err := decodeModelAt(tx, key); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: model %q already exists", gitobj.ErrExists, spec.Name)
		}
		out = newModel(spec, s.Now().UnixMilli(), st.MaxVersion)
		if err := writeModelTx(tx, out); err != nil {
			return err
		}
		tx.SetMessage(fmt.Sprintf("model %s created", spec.Name), "Mlgit-Op: model-create", "Mlgit-Model: "+key)
		return nil
	})
	return out, err
}

func newModel(spec ModelSpec, now, latest int64) *manifest.RegisteredModel {
	return &manifest.RegisteredModel{
		Header:               manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
		Name:                 spec.Name,
		Description:          spec.Description,
		CreationTimestamp:    now,
		LastUpdatedTimestamp: now,
		Tags:                 maps.Clone(spec.Tags),
		LatestVersion:        latest,
	}
}

// GetModel returns a registered model.
func (s *Store) GetModel(name string) (*manifest.RegisteredModel, error) {
	var m *manifest.RegisteredModel
	err := s.view(func(tx *gitobj.Tx) (err error) {
		m, err = readModelTx(tx, name)
		return err
	})
	return m, err
}

// ListModels returns every registered model, ordered by name.
func (s *Store) ListModels() ([]*manifest.RegisteredModel, error) {
	var out []*manifest.RegisteredModel
	err := s.view(func(tx *gitobj.Tx) error {
		keys, err := listModelKeysTx(tx)
		if err != nil {
			return err
		}
		// A partial clone fetches the models and their versions in one
		// request (callers list the versions next), not one per file.
		if err := tx.PrefetchDir(layout.Models); err != nil {
			return err
		}
		for _, k := range keys {
			m, ok, err := decodeModelAt(tx, k)
			if err != nil {
				return err
			}
			if ok {
				out = append(out, m)
			}
		}
		return nil
	})
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, err
}

// ModelChange is a partial update of a model or version: nil fields stay.
type ModelChange struct {
	Description *string
	SetTags     map[string]string
	DeleteTags  []string
}

func applyChange(what string, desc *string, tags *map[string]string, ch ModelChange) error {
	if err := checkRegistryTags(what, ch.SetTags); err != nil {
		return err
	}
	for _, k := range ch.DeleteTags {
		if _, ok := (*tags)[k]; !ok {
			keys := make([]string, 0, len(*tags))
			for k := range *tags {
				keys = append(keys, k)
			}
			sort.Strings(keys)
			return fmt.Errorf("%w: no %s %q (tags: %s)", ErrNotFound, what, k, ListOrNone(keys))
		}
		delete(*tags, k)
	}
	for k, v := range ch.SetTags {
		if *tags == nil {
			*tags = map[string]string{}
		}
		(*tags)[k] = v
	}
	if len(*tags) == 0 {
		*tags = nil
	}
	if ch.Description != nil {
		*desc = *ch.Description
	}
	return nil
}

func changeSubject(ch ModelChange) (string, string) {
	switch {
	case ch.Description != nil:
		return "description updated", "description-set"
	case len(ch.DeleteTags) > 0 && len(ch.SetTags) == 0:
		return "tag " + strings.Join(ch.DeleteTags, ", ") + " removed", "tag-delete"
	}
	keys := make([]string, 0, len(ch.SetTags))
	for k := range ch.SetTags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return "tag " + strings.Join(keys, ", ") + " set", "tag-set"
}

// UpdateModel changes a model's description or tags (MLflow's
// update_registered_model, set/delete_registered_model_tag).
func (s *Store) UpdateModel(name string, ch ModelChange) (*manifest.RegisteredModel, error) {
	var out *manifest.RegisteredModel
	_, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		if err := applyChange("model tag", &m.Description, &m.Tags, ch); err != nil {
			return err
		}
		m.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		what, op := changeSubject(ch)
		tx.SetMessage(fmt.Sprintf("model %s: %s", name, what), "Mlgit-Op: model-"+op, "Mlgit-Model: "+ModelKey(name))
		out = m
		return nil
	})
	return out, err
}

// UpdateVersion changes a version's description or tags (MLflow's
// update_model_version, set/delete_model_version_tag).
func (s *Store) UpdateVersion(name string, version int64, ch ModelChange) (*manifest.ModelVersion, error) {
	var out *manifest.ModelVersion
	_, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		v, err := readVersionTx(tx, m, version)
		if err != nil {
			return err
		}
		if err := applyChange("model version tag", &v.Description, &v.Tags, ch); err != nil {
			return err
		}
		v.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeVersionTx(tx, v); err != nil {
			return err
		}
		what, op := changeSubject(ch)
		tx.SetMessage(fmt.Sprintf("%s v%d: %s", name, version, what), "Mlgit-Op: version-"+op, "Mlgit-Model: "+ModelKey(name), fmt.Sprintf("Mlgit-Version: %d", version))
		out = v
		return nil
	})
	return out, err
}

// ---- Versions

// VersionSpec describes a new model version (MLflow's
// create_model_version plus what mlgit records from the files).
type VersionSpec struct {
	Name        string
	Source      string
	RunID       string
	ModelID     string
	Description string
	Tags        map[string]string
	Artifacts   []manifest.Artifact
	Flavors     []string
	Signature   string
	ModelSize   int64
	// CreateModel creates the model when it does not exist (the CLI's
	// register does; MLflow's API does not).
	CreateModel bool
}

// Registered is the result of RegisterVersion.
type Registered struct {
	Version      *manifest.ModelVersion `json:"model_version"`
	Commit       string                 `json:"commit"`
	Tag          string                 `json:"tag"`
	CreatedModel bool                   `json:"created_model,omitempty"`
}

// RegisterVersion adds the next version of a model (numbers are never
// reused, even after deletion) in one commit and creates its registration
// tag <key>@v<n> on that commit. If the commit succeeds and the tag does
// not, the error wraps ErrTagSync and the result is still returned.
func (s *Store) RegisterVersion(spec VersionSpec) (*Registered, error) {
	if err := CheckModelName(spec.Name); err != nil {
		return nil, err
	}
	if err := checkRegistryTags("model version tag", spec.Tags); err != nil {
		return nil, err
	}
	if spec.RunID != "" && !manifest.ValidRunID(spec.RunID) {
		return nil, fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", manifest.ErrInvalid, spec.RunID)
	}
	key := ModelKey(spec.Name)
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	st, err := s.modelTagState(key, NewStages())
	if err != nil {
		return nil, err
	}
	res := &Registered{}
	commit, err := s.update(func(tx *gitobj.Tx) error {
		res.CreatedModel = false
		m, ok, err := decodeModelAt(tx, key)
		if err != nil {
			return err
		}
		now := s.Now().UnixMilli()
		if !ok {
			if !spec.CreateModel {
				return modelNotFound(tx, spec.Name)
			}
			m = newModel(ModelSpec{Name: spec.Name}, now, st.MaxVersion)
			res.CreatedModel = true
		}
		n := max(m.LatestVersion, st.MaxVersion) + 1
		v := &manifest.ModelVersion{
			Header:               manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion},
			Name:                 spec.Name,
			Version:              n,
			Description:          spec.Description,
			Stage:                StageNone,
			Status:               "READY",
			Source:               spec.Source,
			RunID:                spec.RunID,
			ModelID:              spec.ModelID,
			UserID:               s.User(),
			CreationTimestamp:    now,
			LastUpdatedTimestamp: now,
			Tags:                 maps.Clone(spec.Tags),
			Flavors:              spec.Flavors,
			Signature:            spec.Signature,
			ModelSize:            spec.ModelSize,
			Artifacts:            spec.Artifacts,
		}
		if err := writeVersionTx(tx, v); err != nil {
			return err
		}
		m.LatestVersion = n
		m.LastUpdatedTimestamp = now
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		subject := fmt.Sprintf("%s v%d registered", spec.Name, n)
		trailers := []string{"Mlgit-Op: model-register", "Mlgit-Model: " + key, fmt.Sprintf("Mlgit-Version: %d", n)}
		if spec.RunID != "" {
			subject += " from run " + short(spec.RunID) + "…"
			trailers = append(trailers, "Mlgit-Run: "+spec.RunID)
		} else if spec.Source != "" {
			subject += " from " + spec.Source
		}
		tx.SetMessage(subject, trailers...)
		res.Version = v
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	msg := &TagMessage{Model: spec.Name, Version: res.Version.Version, Kind: TagRegistration, Actor: s.actor(),
		Commit: res.Commit, Run: spec.RunID, Source: spec.Source}
	res.Tag, err = s.createVersionTag(TagName{Key: key, Kind: TagRegistration, Version: res.Version.Version}, commit, msg)
	if err != nil {
		return res, fmt.Errorf("%w: %s v%d was registered (commit %s) but its tag was not created: %v; run mlgit tags sync", ErrTagSync, spec.Name, res.Version.Version, short(res.Commit), err)
	}
	return res, nil
}

// GetVersion returns one version of a model.
func (s *Store) GetVersion(name string, version int64) (*manifest.ModelVersion, error) {
	var v *manifest.ModelVersion
	err := s.view(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		v, err = readVersionTx(tx, m, version)
		return err
	})
	return v, err
}

// ListVersions returns the versions of a model in ascending order; with a
// stage, only those in it (any case).
func (s *Store) ListVersions(name, stage string) ([]*manifest.ModelVersion, error) {
	var out []*manifest.ModelVersion
	err := s.view(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		if stage != "" {
			stages, err := stagesTx(tx)
			if err != nil {
				return err
			}
			if stage, err = stages.CanonicalOrErr(stage); err != nil {
				return err
			}
		}
		all, err := listVersionsTx(tx, ModelKey(m.Name))
		for _, v := range all {
			if stage == "" || strings.EqualFold(v.Stage, stage) {
				out = append(out, v)
			}
		}
		return err
	})
	return out, err
}

// LatestVersions returns the highest version in each stage (MLflow's
// get_latest_versions), in the order of stages; with no stages given, of
// every stage that has a version.
func (s *Store) LatestVersions(name string, stages ...string) ([]*manifest.ModelVersion, error) {
	all, err := s.ListVersions(name, "")
	if err != nil {
		return nil, err
	}
	return latestPerStage(all, stages), nil
}

func latestPerStage(all []*manifest.ModelVersion, stages []string) []*manifest.ModelVersion {
	latest := map[string]*manifest.ModelVersion{}
	var order []string
	for _, v := range all {
		k := strings.ToLower(v.Stage)
		if latest[k] == nil {
			order = append(order, k)
		}
		if latest[k] == nil || v.Version > latest[k].Version {
			latest[k] = v
		}
	}
	if len(stages) > 0 {
		order = order[:0]
		for _, s := range stages {
			order = append(order, strings.ToLower(s))
		}
	}
	var out []*manifest.ModelVersion
	for _, k := range order {
		if v := latest[k]; v != nil {
			out = append(out, v)
		}
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// ---- Stage changes and aliases

// Transition is one version's stage change.
type Transition struct {
	Version int64  `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
	Tag     string `json:"tag,omitempty"`
}

// PromoteSpec asks for a stage change (MLflow's
// transition_model_version_stage).
type PromoteSpec struct {
	Name    string
	Version int64
	Stage   string
	// ArchiveExisting moves the other versions in the target stage to
	// Archived (MLflow's archive_existing_versions).
	ArchiveExisting bool
	Reason          string
}

// Promoted is the result of Promote.
type Promoted struct {
	Version *manifest.ModelVersion `json:"model_version"`
	// Commit is the manifest change ("" when nothing changed).
	Commit  string       `json:"commit,omitempty"`
	Changes []Transition `json:"changes"`
}

// Promote moves a version to a stage in one commit, then records each
// change as an event tag <key>#<stage>#<counter> on the version's
// registration commit (the archived versions get their own events).
// Promoting a version to the stage it is in changes nothing, except that a
// missing event tag is created.
func (s *Store) Promote(spec PromoteSpec) (*Promoted, error) {
	stages, stage, key, err := s.preparePromotion(spec)
	if err != nil {
		return nil, err
	}
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res := &Promoted{}
	commit, err := s.update(func(tx *gitobj.Tx) error {
		return s.applyPromotion(tx, spec, stage, s.Now().UnixMilli(), false, res)
	})
	if err != nil {
		return nil, err
	}
	if !commit.IsZero() {
		res.Commit = commit.String()
	}
	// Record every change; when nothing changed, repair a missing event.
	todo := res.Changes
	if len(todo) == 0 {
		st, err := s.modelTagState(key, stages)
		if err != nil {
			return res, err
		}
		if tv := st.Versions[spec.Version]; tv == nil || tv.Stage != StageLabel(stage) {
			prev := ""
			if tv != nil {
				prev = tv.Stage
			}
			todo = []Transition{{Version: spec.Version, From: prev, To: stage}}
		}
	}
	for i, c := range todo {
		m := &TagMessage{Model: spec.Name, Version: c.Version, Kind: EventStage, Label: StageLabel(c.To),
			Previous: StageLabel(c.From), Actor: s.actor(), Reason: spec.Reason, Commit: res.Commit}
		if c.Version != spec.Version && m.Reason == "" {
			m.Reason = fmt.Sprintf("archived when v%d entered %s", spec.Version, stage)
		}
		name, err := s.tagEvent(key, spec.Name, c.Version, StageLabel(c.To), m)
		if err != nil {
			return res, fmt.Errorf("%w: %s v%d -> %s was committed but its tag was not created: %v; run mlgit tags sync", ErrTagSync, spec.Name, c.Version, c.To, err)
		}
		if i < len(res.Changes) {
			res.Changes[i].Tag = name
		}
	}
	return res, nil
}

// preparePromotion checks a promotion request and returns the stages, the
// canonical target stage and the model key.
func (s *Store) preparePromotion(spec PromoteSpec) (Stages, string, string, error) {
	if err := manifest.ValidateModelName(spec.Name); err != nil {
		return Stages{}, "", "", err
	}
	stages, err := s.Stages()
	if err != nil {
		return Stages{}, "", "", err
	}
	stage, err := stages.CanonicalOrErr(spec.Stage)
	if err != nil {
		return Stages{}, "", "", err
	}
	if spec.ArchiveExisting && (stage == StageNone || stage == StageArchived) {
		return Stages{}, "", "", fmt.Errorf("%w: --archive-existing needs a target stage other than None and Archived (got %s)", manifest.ErrInvalid, stage)
	}
	return stages, stage, ModelKey(spec.Name), nil
}

// applyPromotion makes the manifest change of a promotion in tx (the same
// for a direct promotion and a proposal): the version enters stage, and
// with ArchiveExisting every other version in that stage moves to
// Archived. Every stage change is checked against the promotion policy of
// mlgit.yaml as tx reads it (policy.go); unless reviewed, a change into a
// stage whose policy says review: true is refused with ErrReviewRequired.
// It sets the commit message; res receives the version and the changes.
func (s *Store) applyPromotion(tx *gitobj.Tx, spec PromoteSpec, stage string, now int64, reviewed bool, res *Promoted) error {
	res.Changes = nil
	key := ModelKey(spec.Name)
	m, err := readModelTx(tx, spec.Name)
	if err != nil {
		return err
	}
	v, err := readVersionTx(tx, m, spec.Version)
	if err != nil {
		return err
	}
	changed := map[int64]*manifest.ModelVersion{}
	if v.Stage != stage {
		res.Changes = append(res.Changes, Transition{Version: v.Version, From: v.Stage, To: stage})
		changed[v.Version] = v
	}
	res.Version = v
	if spec.ArchiveExisting {
		all, err := listVersionsTx(tx, key)
		if err != nil {
			return err
		}
		for _, o := range all {
			if o.Version == v.Version || !strings.EqualFold(o.Stage, stage) {
				continue
			}
			res.Changes = append(res.Changes, Transition{Version: o.Version, From: o.Stage, To: StageArchived})
			changed[o.Version] = o
		}
	}
	if len(res.Changes) == 0 {
		return nil
	}
	if err := s.checkPolicyTx(tx, spec, stage, changed, res.Changes, reviewed); err != nil {
		return err
	}
	for _, c := range res.Changes {
		o := changed[c.Version]
		o.Stage, o.LastUpdatedTimestamp = c.To, now
		if err := writeVersionTx(tx, o); err != nil {
			return err
		}
	}
	subject := fmt.Sprintf("%s v%d -> %s", spec.Name, v.Version, stage)
	var archived []string
	for _, c := range res.Changes {
		if c.Version != v.Version {
			archived = append(archived, "v"+strconv.FormatInt(c.Version, 10))
		}
	}
	if len(archived) > 0 {
		subject += " (archived " + strings.Join(archived, ", ") + ")"
	}
	tx.SetMessage(subject, "Mlgit-Op: model-promote", "Mlgit-Model: "+key,
		fmt.Sprintf("Mlgit-Version: %d", v.Version), "Mlgit-Stage: "+stage)
	return nil
}

// checkPolicyTx checks every change of a promotion against the policy of
// mlgit.yaml in tx. The runs are read as committed in tx.
func (s *Store) checkPolicyTx(tx *gitobj.Tx, spec PromoteSpec, stage string, versions map[int64]*manifest.ModelVersion, changes []Transition, reviewed bool) error {
	cfg, err := readConfigTx(tx)
	if err != nil {
		return err
	}
	if len(cfg.Promotion) == 0 {
		return nil
	}
	if err := ValidatePolicy(cfg); err != nil {
		return err
	}
	var vs []PolicyViolation
	for _, c := range changes {
		var run *manifest.Run
		if id := versions[c.Version].RunID; id != "" {
			run, err = s.ReadRun(tx, id)
			if errors.Is(err, ErrNotFound) {
				run, err = nil, nil
			}
			if err != nil {
				return err
			}
		}
		err := CheckPromotion(cfg, c.From, c.To, run)
		var pe *PolicyError
		switch {
		case errors.As(err, &pe):
			for _, v := range pe.Violations {
				if c.Version != spec.Version {
					v.Message = fmt.Sprintf("v%d (archived by --archive-existing): %s", c.Version, v.Message)
				}
				vs = append(vs, v)
			}
		case err != nil:
			return err
		}
		if !reviewed && ReviewRequired(cfg, c.To) {
			vs = append(vs, ReviewViolation(c.To, proposeCommand(spec)))
		}
	}
	if len(vs) == 0 {
		return nil
	}
	return fmt.Errorf("%s v%d -> %s refused: %w", spec.Name, spec.Version, stage, &PolicyError{Violations: vs})
}

// readConfigTx reads mlgit.yaml in tx (the default configuration when the
// branch has none).
func readConfigTx(tx *gitobj.Tx) (*manifest.Config, error) {
	data, ok, err := tx.Read(layout.Config)
	if err != nil {
		return nil, err
	}
	if !ok {
		return manifest.NewConfig(), nil
	}
	cfg, err := manifest.DecodeConfig(data)
	if err != nil {
		return nil, fmt.Errorf("mlgit.yaml: %w", err)
	}
	return cfg, nil
}

// proposeCommand is the command that proposes spec instead.
func proposeCommand(spec PromoteSpec) string {
	cmd := fmt.Sprintf("mlgit model promote %s %d %s --propose", shell.Quote(spec.Name), spec.Version, StageLabel(spec.Stage))
	if spec.ArchiveExisting {
		cmd += " --archive-existing"
	}
	return cmd
}

// tagEvent creates an event tag on the version's registration commit,
// creating the registration tag first when it is missing.
func (s *Store) tagEvent(key, name string, version int64, label string, m *TagMessage) (string, error) {
	target, err := s.ensureRegistrationTag(key, name, version)
	if err != nil {
		return "", err
	}
	return s.createEventTag(key, label, target, m)
}

// ensureRegistrationTag returns the version's registration commit,
// creating its @v tag (found from history, as tags sync does) if missing.
func (s *Store) ensureRegistrationTag(key, name string, version int64) (plumbing.Hash, error) {
	target, err := s.registrationCommit(key, version)
	if err != nil || !target.IsZero() {
		return target, err
	}
	found, err := s.findRegistrationCommits(key, []int64{version})
	if err != nil {
		return plumbing.ZeroHash, err
	}
	target = found[version]
	if target.IsZero() {
		return plumbing.ZeroHash, fmt.Errorf("no commit on %s adds %s", s.Name, layout.Version(key, version))
	}
	m := &TagMessage{Model: name, Version: version, Kind: TagRegistration, Actor: s.actor(), Commit: target.String(), Synced: true}
	if _, err := s.createVersionTag(TagName{Key: key, Kind: TagRegistration, Version: version}, target, m); err != nil && !errors.Is(err, gitobj.ErrExists) {
		return plumbing.ZeroHash, err
	}
	return s.registrationCommit(key, version)
}

// AliasSpec asks to point an alias at a version.
type AliasSpec struct {
	Name    string
	Alias   string
	Version int64
	Reason  string
}

// AliasResult is the result of SetAlias and DeleteAlias.
type AliasResult struct {
	Alias   string `json:"alias"`
	Version int64  `json:"version"`
	// Previous is the version the alias pointed at before (0: none).
	Previous int64  `json:"previous,omitempty"`
	Commit   string `json:"commit,omitempty"`
	Tag      string `json:"tag,omitempty"`
}

// checkAlias validates an alias: MLflow's rules, not a stage name (so tag
// labels are unambiguous), and short enough for its tag names.
func checkAlias(key, alias string, stages Stages) error {
	if err := manifest.ValidateAlias(alias); err != nil {
		return err
	}
	if stages.IsStage(alias) {
		return fmt.Errorf("%w: alias %q is also a stage name (stages: %s); pick another alias", manifest.ErrInvalid, alias, stages)
	}
	if n := len(key) + len(alias) + 22; n > MaxTagNameLength {
		return fmt.Errorf("%w: alias %q is too long for this model's tag names (%d bytes; the limit is %d)", manifest.ErrInvalid, alias, n, MaxTagNameLength)
	}
	return nil
}

// SetAlias points an alias at a version (moving it if it is elsewhere; an
// alias is on at most one version) and records an event tag
// <key>#<alias>#<counter>.
func (s *Store) SetAlias(spec AliasSpec) (*AliasResult, error) {
	if err := manifest.ValidateModelName(spec.Name); err != nil {
		return nil, err
	}
	key := ModelKey(spec.Name)
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	if err := checkAlias(key, spec.Alias, stages); err != nil {
		return nil, err
	}
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res := &AliasResult{Alias: spec.Alias, Version: spec.Version}
	commit, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, spec.Name)
		if err != nil {
			return err
		}
		if _, err := readVersionTx(tx, m, spec.Version); err != nil {
			return err
		}
		res.Previous = m.Aliases[spec.Alias]
		if res.Previous == spec.Version {
			return nil
		}
		if m.Aliases == nil {
			m.Aliases = map[string]int64{}
		}
		m.Aliases[spec.Alias] = spec.Version
		m.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		tx.SetMessage(fmt.Sprintf("%s alias %s -> v%d", spec.Name, spec.Alias, spec.Version),
			"Mlgit-Op: alias-set", "Mlgit-Model: "+key, fmt.Sprintf("Mlgit-Version: %d", spec.Version), "Mlgit-Alias: "+spec.Alias)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if commit.IsZero() {
		st, err := s.modelTagState(key, stages)
		if err != nil {
			return res, err
		}
		if st.Aliases[spec.Alias] == spec.Version {
			return res, nil
		}
	} else {
		res.Commit = commit.String()
	}
	m := &TagMessage{Model: spec.Name, Version: spec.Version, Kind: EventAlias, Label: spec.Alias, Actor: s.actor(), Reason: spec.Reason, Commit: res.Commit}
	if res.Previous != 0 {
		m.Previous = "v" + strconv.FormatInt(res.Previous, 10)
	}
	if res.Tag, err = s.tagEvent(key, spec.Name, spec.Version, spec.Alias, m); err != nil {
		return res, fmt.Errorf("%w: alias %s -> v%d was committed but its tag was not created: %v; run mlgit tags sync", ErrTagSync, spec.Alias, spec.Version, err)
	}
	return res, nil
}

// DeleteAlias removes an alias and records a removal event
// <key>#!<alias>#<counter> on the version it pointed at.
func (s *Store) DeleteAlias(name, alias, reason string) (*AliasResult, error) {
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, err
	}
	key := ModelKey(name)
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	res := &AliasResult{Alias: alias}
	commit, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		v, ok := m.Aliases[alias]
		if !ok {
			return fmt.Errorf("%w: model %q has no alias %q (aliases: %s)", ErrNotFound, name, alias, AliasList(m.Aliases))
		}
		res.Version, res.Previous = v, v
		delete(m.Aliases, alias)
		if len(m.Aliases) == 0 {
			m.Aliases = nil
		}
		m.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		tx.SetMessage(fmt.Sprintf("%s alias %s removed (was v%d)", name, alias, v),
			"Mlgit-Op: alias-delete", "Mlgit-Model: "+key, fmt.Sprintf("Mlgit-Version: %d", v), "Mlgit-Alias: "+alias)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	m := &TagMessage{Model: name, Version: res.Version, Kind: EventAliasRemoved, Label: alias, Actor: s.actor(), Reason: reason, Commit: res.Commit}
	if res.Tag, err = s.tagEvent(key, name, res.Version, "!"+alias, m); err != nil {
		return res, fmt.Errorf("%w: removal of alias %s was committed but its tag was not created: %v; run mlgit tags sync", ErrTagSync, alias, err)
	}
	return res, nil
}

// ---- Deletion and rename

// DeleteVersion deletes a version's manifest (MLflow's
// delete_model_version) and removes the aliases on it. Its number is never
// reused. Its tags stay; a deregistration tag <key>@v<n>! and alias-removal
// events tell tag readers that it is gone.
func (s *Store) DeleteVersion(name string, version int64) error {
	if err := manifest.ValidateModelName(name); err != nil {
		return err
	}
	key := ModelKey(name)
	lock, err := s.lockModel(key)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	var removed []string
	commit, err := s.update(func(tx *gitobj.Tx) error {
		removed = nil
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		if _, err := readVersionTx(tx, m, version); err != nil {
			return err
		}
		tx.Delete(layout.Version(key, version))
		for a, v := range m.Aliases {
			if v == version {
				delete(m.Aliases, a)
				removed = append(removed, a)
			}
		}
		sort.Strings(removed)
		if len(m.Aliases) == 0 {
			m.Aliases = nil
		}
		m.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		tx.SetMessage(fmt.Sprintf("%s v%d deleted", name, version), "Mlgit-Op: version-delete", "Mlgit-Model: "+key, fmt.Sprintf("Mlgit-Version: %d", version))
		return nil
	})
	if err != nil {
		return err
	}
	var errs []string
	for _, a := range removed {
		m := &TagMessage{Model: name, Version: version, Kind: EventAliasRemoved, Label: a, Actor: s.actor(), Reason: fmt.Sprintf("v%d deleted", version), Commit: commit.String()}
		if _, err := s.tagEvent(key, name, version, "!"+a, m); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := s.deregister(key, name, version, commit, ""); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s v%d was deleted (commit %s) but: %s; run mlgit tags sync", ErrTagSync, name, version, short(commit.String()), strings.Join(errs, "; "))
	}
	return nil
}

// deregister creates <key>@v<n>! (or !#<g> for a restored version) when
// the version has a live registration.
func (s *Store) deregister(key, name string, version int64, commit plumbing.Hash, reason string) error {
	st, err := s.modelTagState(key, NewStages())
	if err != nil {
		return err
	}
	v := st.Versions[version]
	if v == nil || v.Deleted {
		return nil
	}
	return s.deregisterVersion(key, name, v, commit, reason)
}

func (s *Store) deregisterVersion(key, name string, v *TagVersion, commit plumbing.Hash, reason string) error {
	m := &TagMessage{Model: name, Version: v.Version, Kind: TagDeregistration, Actor: s.actor(), Reason: reason, Commit: commit.String()}
	if _, err := s.createVersionTag(v.DeregistrationTag(key), plumbing.NewHash(v.Commit), m); err != nil && !errors.Is(err, gitobj.ErrExists) {
		return err
	}
	return nil
}

// DeleteModel deletes a model and all its versions (MLflow's
// delete_registered_model): models/<key>/ is removed in one commit. Its
// tags stay; every live version gets a deregistration tag, so the name
// resolves to nothing. A model created later under the same name continues
// its version numbers.
func (s *Store) DeleteModel(name string) error {
	if err := manifest.ValidateModelName(name); err != nil {
		return err
	}
	key := ModelKey(name)
	lock, err := s.lockModel(key)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	commit, err := s.update(func(tx *gitobj.Tx) error {
		if _, err := readModelTx(tx, name); err != nil {
			return err
		}
		tx.Delete(layout.ModelDir(key))
		tx.SetMessage(fmt.Sprintf("model %s deleted", name), "Mlgit-Op: model-delete", "Mlgit-Model: "+key)
		return nil
	})
	if err != nil {
		return err
	}
	return s.deregisterAll(key, name, commit, "model deleted")
}

func (s *Store) deregisterAll(key, name string, commit plumbing.Hash, reason string) error {
	st, err := s.modelTagState(key, NewStages())
	if err != nil {
		return err
	}
	var errs []string
	for _, v := range st.Live() {
		if err := s.deregisterVersion(key, name, v, commit, reason); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("%w: %s was changed (commit %s) but: %s; run mlgit tags sync", ErrTagSync, name, short(commit.String()), strings.Join(errs, "; "))
	}
	return nil
}

// RenameModel renames a model (MLflow's rename_registered_model): in one
// commit its folder moves to the new key and every manifest takes the new
// name. The new name gets registration tags on the same commits as the
// old name's (so its events map to the same versions) and events for the
// current stages and aliases; the old name's tags stay, with every version
// deregistered.
func (s *Store) RenameModel(name, newName string) (*manifest.RegisteredModel, error) {
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, err
	}
	if err := CheckModelName(newName); err != nil {
		return nil, err
	}
	if name == newName {
		return nil, fmt.Errorf("%w: the new name is the old name", manifest.ErrInvalid)
	}
	key, newKey := ModelKey(name), ModelKey(newName)
	for _, k := range sortedPair(key, newKey) {
		lock, err := s.lockModel(k)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	newTags, err := s.modelTagState(newKey, stages)
	if err != nil {
		return nil, err
	}
	if len(newTags.Versions) > 0 {
		return nil, fmt.Errorf("%w: tags of an earlier model named %q remain (%s@v1..v%d); its version numbers cannot be reused: pick another name, or delete those tags here and on every remote", gitobj.ErrExists, newName, newKey, newTags.MaxVersion)
	}
	var out *manifest.RegisteredModel
	var versions []*manifest.ModelVersion
	commit, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		if _, ok, err := decodeModelAt(tx, newKey); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: model %q already exists", gitobj.ErrExists, newName)
		}
		if versions, err = listVersionsTx(tx, key); err != nil {
			return err
		}
		now := s.Now().UnixMilli()
		m.Name, m.LastUpdatedTimestamp = newName, now
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		for _, v := range versions {
			v.Name = newName
			if err := writeVersionTx(tx, v); err != nil {
				return err
			}
		}
		tx.Delete(layout.ModelDir(key))
		tx.SetMessage(fmt.Sprintf("model %s renamed to %s", name, newName), "Mlgit-Op: model-rename", "Mlgit-Model: "+newKey, "Mlgit-Renamed-From: "+key)
		out = m
		return nil
	})
	if err != nil {
		return nil, err
	}
	var errs []string
	for _, v := range versions {
		target, err := s.registrationCommit(key, v.Version)
		if err != nil || target.IsZero() {
			errs = append(errs, fmt.Sprintf("%s@v%d has no tag to carry over", key, v.Version))
			continue
		}
		m := &TagMessage{Model: newName, Version: v.Version, Kind: TagRegistration, Actor: s.actor(), Commit: commit.String(),
			Run: v.RunID, Source: v.Source, Reason: "renamed from " + name}
		if _, err := s.createVersionTag(TagName{Key: newKey, Kind: TagRegistration, Version: v.Version}, target, m); err != nil && !errors.Is(err, gitobj.ErrExists) {
			errs = append(errs, err.Error())
		}
	}
	for _, v := range versions {
		if v.Stage == StageNone {
			continue
		}
		m := &TagMessage{Model: newName, Version: v.Version, Kind: EventStage, Label: StageLabel(v.Stage), Previous: "none", Actor: s.actor(), Reason: "renamed from " + name, Commit: commit.String()}
		if _, err := s.tagEvent(newKey, newName, v.Version, StageLabel(v.Stage), m); err != nil {
			errs = append(errs, err.Error())
		}
	}
	for _, a := range sortedAliases(out.Aliases) {
		m := &TagMessage{Model: newName, Version: out.Aliases[a], Kind: EventAlias, Label: a, Actor: s.actor(), Reason: "renamed from " + name, Commit: commit.String()}
		if _, err := s.tagEvent(newKey, newName, out.Aliases[a], a, m); err != nil {
			errs = append(errs, err.Error())
		}
	}
	if err := s.deregisterAll(key, name, commit, "renamed to "+newName); err != nil {
		errs = append(errs, err.Error())
	}
	if len(errs) > 0 {
		return out, fmt.Errorf("%w: %s was renamed to %s (commit %s) but: %s; run mlgit tags sync", ErrTagSync, name, newName, short(commit.String()), strings.Join(errs, "; "))
	}
	return out, nil
}

func sortedPair(a, b string) []string {
	if a < b {
		return []string{a, b}
	}
	return []string{b, a}
}

func sortedAliases(m map[string]int64) []string {
	out := make([]string, 0, len(m))
	for a := range m {
		out = append(out, a)
	}
	sort.Strings(out)
	return out
}
