package repo

import (
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

// DeleteRunArtifacts removes from run id's artifact index the file p, or
// every file below the folder p, and returns how many entries it removed
// (0: nothing matched, nothing written). The blobs stay in the blob store
// (blob gc removes unreferenced ones). It is the MLflow artifact proxy's
// DELETE: a journal record like every other write to a run, acknowledged
// once durable and ordered with the run's other records (an upload
// journaled before the delete is deleted, one after it stays).
func (r *Repo) DeleteRunArtifacts(id, p string) (int, error) {
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return 0, err
	}
	removed := 0
	err := r.withRunForWrite(id, func(doc *manifest.Run) error {
		if doc.LifecycleStage != manifest.LifecycleActive {
			return fmt.Errorf("%w: the run %s must be in 'active' lifecycle_stage", ErrInvalid, id)
		}
		_, removed = journal.RemoveArtifacts(doc.Artifacts, p)
		return nil
	})
	if err != nil || removed == 0 {
		return 0, err
	}
	if err := r.group.Append([]journal.Op{{Op: journal.OpDelArtifacts, Run: id, Key: p}}); err != nil {
		return 0, err
	}
	r.maybeCheckpoint()
	return removed, nil
}

// ---- MLflow 3 logged models (logged-models/<id[2:4]>/<id>/model.yaml)
//
// Logged models change rarely (create, a few artifact uploads, finalize), so
// each change is one commit through Update rather than a journal record.

// NewLoggedModelID returns a new logged-model id: "m-" and 32 hex.
func NewLoggedModelID() string { return "m-" + NewRunID() }

func readLoggedModelTx(tx *Tx, id string) (*manifest.LoggedModel, error) {
	if !manifest.ValidLoggedModelID(id) {
		return nil, fmt.Errorf("%w: logged model id %q is not m-<32 hex>", ErrInvalid, id)
	}
	data, ok, err := tx.Read(layout.LoggedModel(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: logged model %s does not exist", ErrNotFound, id)
	}
	m, err := manifest.DecodeLoggedModel(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", layout.LoggedModel(id), err)
	}
	return m, nil
}

// CreateLoggedModel writes a new logged model (its ID, header, lifecycle
// and times are set here) in one commit. The experiment must be active.
func (r *Repo) CreateLoggedModel(m *manifest.LoggedModel) (*manifest.LoggedModel, error) {
	exp, err := r.GetExperiment(m.ExperimentID)
	if err != nil {
		return nil, err
	}
	if exp.LifecycleStage != manifest.LifecycleActive {
		return nil, fmt.Errorf("%w: experiment %s is deleted", ErrInvalid, exp.ID)
	}
	if m.SourceRunID != "" {
		if _, err := r.GetRun(m.SourceRunID); err != nil {
			return nil, err
		}
	}
	m.Header = manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindLoggedModel}
	if m.ID == "" {
		m.ID = NewLoggedModelID()
	}
	m.LifecycleStage = manifest.LifecycleActive
	now := nowMillis(r.now())
	m.CreationTimestamp, m.LastUpdatedTimestamp = now, now
	if err := m.Validate(); err != nil {
		return nil, err
	}
	_, err = r.Update(func(tx *Tx) error {
		if _, ok, err := tx.Read(layout.LoggedModel(m.ID)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: logged model %s", ErrExists, m.ID)
		}
		tx.Write(layout.LoggedModel(m.ID), m.Encode())
		tx.SetMessage(fmt.Sprintf("logged model %s created (%s)", m.ID, m.Name),
			"Mlgit-Op: logged-model-create", "Mlgit-Model: "+m.ID)
		return nil
	})
	if err != nil {
		return nil, err
	}
	return m, nil
}

// GetLoggedModel returns a logged model.
func (r *Repo) GetLoggedModel(id string) (*manifest.LoggedModel, error) {
	var m *manifest.LoggedModel
	err := r.View(func(tx *Tx) (err error) {
		m, err = readLoggedModelTx(tx, id)
		return err
	})
	return m, err
}

// UpdateLoggedModel applies fn to a logged model and commits the result
// (what names the change in the commit message). fn may run more than once
// (compare-and-swap retries) and must derive everything from its argument.
func (r *Repo) UpdateLoggedModel(id, what string, fn func(*manifest.LoggedModel) error) (*manifest.LoggedModel, error) {
	var out *manifest.LoggedModel
	_, err := r.Update(func(tx *Tx) error {
		m, err := readLoggedModelTx(tx, id)
		if err != nil {
			return err
		}
		if err := fn(m); err != nil {
			return err
		}
		m.LastUpdatedTimestamp = nowMillis(r.now())
		if err := m.Validate(); err != nil {
			return err
		}
		out = m
		tx.Write(layout.LoggedModel(id), m.Encode())
		tx.SetMessage(fmt.Sprintf("logged model %s: %s", id, what), "Mlgit-Op: logged-model-update", "Mlgit-Model: "+id)
		return nil
	})
	return out, err
}

// ListLoggedModels returns every logged model on the branch.
func (r *Repo) ListLoggedModels() ([]*manifest.LoggedModel, error) {
	var out []*manifest.LoggedModel
	err := r.View(func(tx *Tx) error {
		shards, err := tx.List(layout.LoggedModels)
		if err != nil {
			return err
		}
		for _, s := range shards {
			if !strings.HasSuffix(s, "/") {
				continue
			}
			ids, err := tx.List(layout.LoggedModels + "/" + strings.TrimSuffix(s, "/"))
			if err != nil {
				return err
			}
			for _, id := range ids {
				if !strings.HasSuffix(id, "/") {
					continue
				}
				m, err := readLoggedModelTx(tx, strings.TrimSuffix(id, "/"))
				if err != nil {
					return err
				}
				out = append(out, m)
			}
		}
		return nil
	})
	return out, err
}
