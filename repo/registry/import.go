package registry

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// ImportedModel is a registered model brought from another registry with
// its own version numbers (mlgit import mlflow).
type ImportedModel struct {
	// Model holds the name, description, tags, times and aliases.
	Model *manifest.RegisteredModel
	// Versions hold their numbers, stages, times and the rest as the
	// source has them, with their artifacts.
	Versions []*manifest.ModelVersion
	// Actor and Reason go into the tag messages.
	Actor, Reason string
}

// ModelImport is what ImportModel changed.
type ModelImport struct {
	Created  bool `json:"created,omitempty"`
	Changed  bool `json:"changed,omitempty"` // the model's description, tags or aliases
	Versions int  `json:"versions"`          // versions registered
	Events   int  `json:"events"`            // stage and alias tags created
	// Skipped lists versions left out, with why.
	Skipped []string `json:"skipped,omitempty"`
}

// ImportModel brings a model into the registry as a promotion would have
// made it, keeping its version numbers: each version the registry lacks
// is registered in its own commit (its registration commit) with its
// registration tag dated by its creation, then its stage as a stage event
// dated by its last update; the aliases are alias events dated by the
// model's last update. Run again with the same model it changes nothing;
// with a model whose stages or aliases moved, it records the moves as
// events. A version number the registry used for something else (a version
// deleted here, or registered here and not by the source) is skipped and
// named.
func (s *Store) ImportModel(im ImportedModel) (*ModelImport, error) {
	name := im.Model.Name
	if err := CheckModelName(name); err != nil {
		return nil, err
	}
	key := ModelKey(name)
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	st, err := s.modelTagState(key, stages)
	if err != nil {
		return nil, err
	}
	res := &ModelImport{}
	var have map[int64]*manifest.ModelVersion
	var model *manifest.RegisteredModel
	if err := s.view(func(tx *gitobj.Tx) error {
		m, ok, err := decodeModelAt(tx, key)
		if err != nil || !ok {
			return err
		}
		model = m
		vs, err := listVersionsTx(tx, key)
		have = map[int64]*manifest.ModelVersion{}
		for _, v := range vs {
			have[v.Version] = v
		}
		return err
	}); err != nil {
		return nil, err
	}
	versions := append([]*manifest.ModelVersion(nil), im.Versions...)
	sort.Slice(versions, func(i, j int) bool { return versions[i].Version < versions[j].Version })
	at := func(ms int64) *Store { c := *s; c.Now = func() time.Time { return time.UnixMilli(ms) }; return &c }
	for _, v := range versions {
		n := v.Version
		v.Name = name
		v.Header = manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion}
		stage, ok := stages.Canonical(v.Stage)
		if !ok {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s v%d: stage %q is not one of %s (add it to stages in mlgit.yaml)", name, n, v.Stage, stages))
			continue
		}
		v.Stage = stage
		if old := have[n]; old != nil {
			if old.Stage != v.Stage {
				if err := s.importStage(key, name, old, v.Stage, im, at(v.LastUpdatedTimestamp)); err != nil {
					return res, err
				}
				res.Events++
			}
			continue
		}
		if tv := st.Versions[n]; tv != nil || (model != nil && n <= model.LatestVersion) {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s v%d: the number was used here (a version since deleted); not imported", name, n))
			continue
		}
		if err := v.Validate(); err != nil {
			res.Skipped = append(res.Skipped, fmt.Sprintf("%s v%d: %v", name, n, err))
			continue
		}
		commit, err := s.update(func(tx *gitobj.Tx) error {
			m, ok, err := decodeModelAt(tx, key)
			if err != nil {
				return err
			}
			if !ok {
				m = importedModelDoc(im.Model)
				res.Created = true
			}
			m.LatestVersion = max(m.LatestVersion, n)
			if err := writeVersionTx(tx, v); err != nil {
				return err
			}
			if err := writeModelTx(tx, m); err != nil {
				return err
			}
			trailers := []string{"Mlgit-Op: model-register", "Mlgit-Model: " + key, fmt.Sprintf("Mlgit-Version: %d", n)}
			if v.RunID != "" {
				trailers = append(trailers, "Mlgit-Run: "+v.RunID)
			}
			tx.SetMessage(fmt.Sprintf("%s v%d imported (%s)", name, n, im.Reason), trailers...)
			return nil
		})
		if err != nil {
			return res, err
		}
		res.Versions++
		msg := &TagMessage{Model: name, Version: n, Kind: TagRegistration, Actor: im.Actor, Reason: im.Reason, Commit: commit.String(), Run: v.RunID, Source: v.Source}
		if _, err := at(v.CreationTimestamp).createVersionTag(TagName{Key: key, Kind: TagRegistration, Version: n}, commit, msg); err != nil && !errors.Is(err, gitobj.ErrExists) {
			return res, fmt.Errorf("%w: %s v%d was imported (commit %s) but its tag was not created: %v; run mlgit tags sync", ErrTagSync, name, n, short(commit.String()), err)
		}
		if v.Stage != StageNone {
			m := &TagMessage{Model: name, Version: n, Kind: EventStage, Label: StageLabel(v.Stage), Previous: "none", Actor: im.Actor, Reason: im.Reason, Commit: commit.String()}
			if _, err := at(v.LastUpdatedTimestamp).tagEvent(key, name, n, StageLabel(v.Stage), m); err != nil {
				return res, fmt.Errorf("%w: %s v%d: %v; run mlgit tags sync", ErrTagSync, name, n, err)
			}
			res.Events++
		}
	}
	return res, s.importModelFields(key, im, res, at(im.Model.LastUpdatedTimestamp))
}

// importedModelDoc is the model's manifest without aliases (they come
// last, once their versions exist).
func importedModelDoc(src *manifest.RegisteredModel) *manifest.RegisteredModel {
	m := &manifest.RegisteredModel{
		Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
		Name:   src.Name, Description: src.Description, Tags: maps.Clone(src.Tags),
		CreationTimestamp: src.CreationTimestamp, LastUpdatedTimestamp: src.LastUpdatedTimestamp,
		// The source's highest number, deleted versions included: numbers
		// are never reused.
		LatestVersion: src.LatestVersion,
	}
	if len(m.Tags) == 0 {
		m.Tags = nil
	}
	return m
}

// importStage records a stage the source moved a version to, as Promote
// would: the manifest's stage in one commit, then the stage event.
func (s *Store) importStage(key, name string, old *manifest.ModelVersion, stage string, im ImportedModel, dated *Store) error {
	n := old.Version
	commit, err := s.update(func(tx *gitobj.Tx) error {
		m, err := readModelTx(tx, name)
		if err != nil {
			return err
		}
		v, err := readVersionTx(tx, m, n)
		if err != nil {
			return err
		}
		v.Stage = stage
		v.LastUpdatedTimestamp = dated.Now().UnixMilli()
		if err := writeVersionTx(tx, v); err != nil {
			return err
		}
		tx.SetMessage(fmt.Sprintf("%s v%d -> %s (%s)", name, n, stage, im.Reason), "Mlgit-Op: model-promote", "Mlgit-Model: "+key, fmt.Sprintf("Mlgit-Version: %d", n), "Mlgit-Stage: "+stage)
		return nil
	})
	if err != nil {
		return err
	}
	m := &TagMessage{Model: name, Version: n, Kind: EventStage, Label: StageLabel(stage), Previous: StageLabel(old.Stage), Actor: im.Actor, Reason: im.Reason, Commit: commit.String()}
	if _, err := dated.tagEvent(key, name, n, StageLabel(stage), m); err != nil {
		return fmt.Errorf("%w: %s v%d: %v; run mlgit tags sync", ErrTagSync, name, n, err)
	}
	return nil
}

// importModelFields brings the model's description, tags and aliases
// (those on versions that exist here) in one commit when they differ, and
// an alias event for each alias that moved.
func (s *Store) importModelFields(key string, im ImportedModel, res *ModelImport, dated *Store) error {
	name := im.Model.Name
	var moved, removed []string
	var prev map[string]int64
	commit, err := s.update(func(tx *gitobj.Tx) error {
		moved, removed = nil, nil
		m, ok, err := decodeModelAt(tx, key)
		if err != nil {
			return err
		}
		if !ok {
			m = importedModelDoc(im.Model)
			res.Created = true
		}
		before := string(m.Encode())
		prev = maps.Clone(m.Aliases)
		m.Description, m.Tags = im.Model.Description, maps.Clone(im.Model.Tags)
		if len(m.Tags) == 0 {
			m.Tags = nil
		}
		aliases := map[string]int64{}
		for a, n := range im.Model.Aliases {
			if _, ok, err := tx.Read(layout.Version(key, n)); err != nil {
				return err
			} else if ok {
				aliases[a] = n
				if prev[a] != n {
					moved = append(moved, a)
				}
			}
		}
		for a := range prev {
			if _, ok := aliases[a]; !ok {
				removed = append(removed, a)
			}
		}
		sort.Strings(moved)
		sort.Strings(removed)
		m.Aliases = aliases
		if len(aliases) == 0 {
			m.Aliases = nil
		}
		if string(m.Encode()) == before && ok {
			return nil
		}
		m.LastUpdatedTimestamp = max(m.LastUpdatedTimestamp, im.Model.LastUpdatedTimestamp)
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		res.Changed = true
		tx.SetMessage(fmt.Sprintf("model %s imported (%s)", name, im.Reason), "Mlgit-Op: model-update", "Mlgit-Model: "+key)
		return nil
	})
	if err != nil {
		return err
	}
	for _, a := range moved {
		n := im.Model.Aliases[a]
		m := &TagMessage{Model: name, Version: n, Kind: EventAlias, Label: a, Actor: im.Actor, Reason: im.Reason, Commit: commit.String()}
		if p := prev[a]; p != 0 {
			m.Previous = fmt.Sprintf("v%d", p)
		}
		if _, err := dated.tagEvent(key, name, n, a, m); err != nil {
			return fmt.Errorf("%w: %s alias %s: %v; run mlgit tags sync", ErrTagSync, name, a, err)
		}
		res.Events++
	}
	for _, a := range removed {
		n := prev[a]
		m := &TagMessage{Model: name, Version: n, Kind: EventAliasRemoved, Label: a, Actor: im.Actor, Reason: im.Reason, Commit: commit.String()}
		if _, err := dated.tagEvent(key, name, n, "!"+a, m); err != nil {
			return fmt.Errorf("%w: %s alias %s: %v; run mlgit tags sync", ErrTagSync, name, a, err)
		}
		res.Events++
	}
	return nil
}
