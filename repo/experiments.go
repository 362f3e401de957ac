package repo

import (
	"errors"
	"fmt"
	"os"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// InitResult says what Init did.
type InitResult struct {
	GitDir  string `json:"git_dir"`
	Branch  string `json:"branch"`
	Created bool   `json:"created"`
	Commit  string `json:"commit,omitempty"`
}

// Init creates the tracking branch with mlgit.yaml and the Default
// experiment in the repository containing path. Running it again is
// harmless: what exists is kept, what is missing is added. With bare, path
// is created as a bare repository (a dedicated tracking repository) whose
// HEAD names the tracking branch.
func Init(path string, opts Options, bare bool) (*Repo, InitResult, error) {
	if bare {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) || isEmptyDir(path) {
			g, err := git.PlainInit(path, true)
			if err != nil {
				return nil, InitResult{}, fmt.Errorf("create bare repository %s: %w", path, err)
			}
			_ = g
			branch := opts.Branch
			if branch == "" {
				branch = DefaultBranch
			}
			if err := os.WriteFile(path+"/HEAD", []byte("ref: refs/heads/"+branch+"\n"), 0o644); err != nil {
				return nil, InitResult{}, err
			}
		}
	}
	r, err := openAt(path, opts)
	if err != nil {
		return nil, InitResult{}, err
	}
	res := InitResult{GitDir: r.gitDir, Branch: r.branch}
	commit, err := r.Update(func(tx *Tx) error {
		created := false
		if _, ok, err := tx.Read(layout.Config); err != nil {
			return err
		} else if !ok {
			tx.Write(layout.Config, manifest.NewConfig().Encode())
			created = true
		}
		if _, ok, err := tx.Read(layout.Experiment(manifest.DefaultExperimentID)); err != nil {
			return err
		} else if !ok {
			now := nowMillis(r.now())
			e := &manifest.Experiment{
				Header:         manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindExperiment},
				ID:             manifest.DefaultExperimentID,
				Name:           manifest.DefaultExperimentName,
				LifecycleStage: manifest.LifecycleActive,
				CreationTime:   now,
				LastUpdateTime: now,
			}
			tx.Write(layout.Experiment(e.ID), e.Encode())
		}
		subject := "mlgit: add missing configuration"
		if created {
			subject = "mlgit initialized"
		}
		tx.SetMessage(subject, "Mlgit-Op: init")
		return nil
	})
	if err != nil {
		return nil, res, err
	}
	if !commit.IsZero() {
		res.Created = true
		res.Commit = commit.String()
	}
	return r, res, nil
}

func isEmptyDir(p string) bool {
	ents, err := os.ReadDir(p)
	return err == nil && len(ents) == 0
}

// Config returns mlgit.yaml from the tip of the tracking branch.
func (r *Repo) Config() (*manifest.Config, error) {
	var cfg *manifest.Config
	err := r.View(func(tx *Tx) error {
		data, ok, err := tx.Read(layout.Config)
		if err != nil {
			return err
		}
		if !ok {
			cfg = manifest.NewConfig()
			return nil
		}
		cfg, err = manifest.DecodeConfig(data)
		if err != nil {
			return fmt.Errorf("mlgit.yaml: %w", err)
		}
		return nil
	})
	return cfg, err
}

func readExperimentTx(tx *Tx, id string) (*manifest.Experiment, error) {
	if !manifest.ValidExperimentID(id) {
		return nil, fmt.Errorf("%w: experiment %q does not exist", ErrNotFound, id)
	}
	data, ok, err := tx.Read(layout.Experiment(id))
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("%w: experiment %s does not exist", ErrNotFound, id)
	}
	e, err := manifest.DecodeExperiment(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", layout.Experiment(id), err)
	}
	return e, nil
}

func listExperimentsTx(tx *Tx) ([]*manifest.Experiment, error) {
	names, err := tx.List(layout.Experiments)
	if err != nil {
		return nil, err
	}
	// A partial clone fetches the experiments it lacks in one request.
	if tx.Partial() {
		paths := make([]string, 0, len(names))
		for _, n := range names {
			if strings.HasSuffix(n, "/") {
				paths = append(paths, layout.Experiment(strings.TrimSuffix(n, "/")))
			}
		}
		if err := tx.Prefetch(paths); err != nil {
			return nil, err
		}
	}
	var out []*manifest.Experiment
	for _, n := range names {
		if !strings.HasSuffix(n, "/") {
			continue
		}
		e, err := readExperimentTx(tx, strings.TrimSuffix(n, "/"))
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return nil, err
		}
		out = append(out, e)
	}
	return out, nil
}

// GetExperiment returns the experiment with the given id.
func (r *Repo) GetExperiment(id string) (*manifest.Experiment, error) {
	var e *manifest.Experiment
	err := r.View(func(tx *Tx) (err error) {
		e, err = readExperimentTx(tx, id)
		return err
	})
	return e, err
}

// GetExperimentByName returns the experiment with the given name (active
// or deleted).
func (r *Repo) GetExperimentByName(name string) (*manifest.Experiment, error) {
	exps, err := r.ListExperiments(ViewAll)
	if err != nil {
		return nil, err
	}
	for _, e := range exps {
		if e.Name == name {
			return e, nil
		}
	}
	return nil, fmt.Errorf("%w: no experiment named %q (create it with mlgit exp create %q)", ErrNotFound, name, name)
}

// ResolveExperiment finds an experiment by name, or by id when no
// experiment has that name.
func (r *Repo) ResolveExperiment(nameOrID string) (*manifest.Experiment, error) {
	e, err := r.GetExperimentByName(nameOrID)
	if err == nil || !errors.Is(err, ErrNotFound) {
		return e, err
	}
	if manifest.ValidExperimentID(nameOrID) {
		if e, err2 := r.GetExperiment(nameOrID); err2 == nil {
			return e, nil
		}
	}
	return nil, err
}

// ViewType selects active, deleted or all entities (MLflow's ViewType).
type ViewType int

// View types.
const (
	ViewActive ViewType = iota
	ViewDeleted
	ViewAll
)

func (v ViewType) match(stage string) bool {
	switch v {
	case ViewActive:
		return stage == manifest.LifecycleActive
	case ViewDeleted:
		return stage == manifest.LifecycleDeleted
	}
	return true
}

// ListExperiments returns experiments ordered by id.
func (r *Repo) ListExperiments(view ViewType) ([]*manifest.Experiment, error) {
	var out []*manifest.Experiment
	err := r.View(func(tx *Tx) error {
		all, err := listExperimentsTx(tx)
		for _, e := range all {
			if view.match(e.LifecycleStage) {
				out = append(out, e)
			}
		}
		return err
	})
	sort.Slice(out, func(i, j int) bool {
		if len(out[i].ID) != len(out[j].ID) {
			return len(out[i].ID) < len(out[j].ID)
		}
		return out[i].ID < out[j].ID
	})
	return out, err
}

// CreateExperiment creates an experiment with a fresh random id. Names are
// unique among active and deleted experiments.
func (r *Repo) CreateExperiment(name, artifactLocation string, tags map[string]string) (*manifest.Experiment, error) {
	if err := manifest.ValidateExperimentName(name); err != nil {
		return nil, err
	}
	for k, v := range tags {
		if err := manifest.ValidateKey("experiment tag", k); err != nil {
			return nil, err
		}
		if len(v) > manifest.MaxExperimentTagValue {
			return nil, fmt.Errorf("%w: experiment tag %q: value is %d characters; the limit is %d", ErrInvalid, k, len(v), manifest.MaxExperimentTagValue)
		}
	}
	id := NewExperimentID()
	var e *manifest.Experiment
	_, err := r.Update(func(tx *Tx) error {
		all, err := listExperimentsTx(tx)
		if err != nil {
			return err
		}
		for _, x := range all {
			if x.Name == name {
				state := ""
				if x.LifecycleStage == manifest.LifecycleDeleted {
					state = " (deleted; restore it with mlgit exp restore " + x.ID + ")"
				}
				return fmt.Errorf("%w: experiment %q already exists with id %s%s", ErrExists, name, x.ID, state)
			}
		}
		now := nowMillis(r.now())
		e = &manifest.Experiment{
			Header:           manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindExperiment},
			ID:               id,
			Name:             name,
			LifecycleStage:   manifest.LifecycleActive,
			ArtifactLocation: artifactLocation,
			CreationTime:     now,
			LastUpdateTime:   now,
		}
		if len(tags) > 0 {
			e.Tags = map[string]string{}
			for k, v := range tags {
				e.Tags[k] = v
			}
		}
		tx.Write(layout.Experiment(id), e.Encode())
		tx.SetMessage(fmt.Sprintf("experiment %s created (%s)", id, name), "Mlgit-Op: experiment-create", "Mlgit-Experiment: "+id)
		return nil
	})
	return e, err
}

// ExperimentChange edits an experiment; fields left nil are unchanged.
type ExperimentChange struct {
	Name       *string
	Lifecycle  *string
	SetTags    map[string]string
	DeleteTags []string
}

// UpdateExperiment applies a change to an experiment in one commit.
func (r *Repo) UpdateExperiment(id string, ch ExperimentChange) (*manifest.Experiment, error) {
	if ch.Name != nil {
		if err := manifest.ValidateExperimentName(*ch.Name); err != nil {
			return nil, err
		}
	}
	for k, v := range ch.SetTags {
		if err := manifest.ValidateKey("experiment tag", k); err != nil {
			return nil, err
		}
		if len(v) > manifest.MaxExperimentTagValue {
			return nil, fmt.Errorf("%w: experiment tag %q: value is %d characters; the limit is %d", ErrInvalid, k, len(v), manifest.MaxExperimentTagValue)
		}
	}
	var e *manifest.Experiment
	_, err := r.Update(func(tx *Tx) error {
		var err error
		e, err = readExperimentTx(tx, id)
		if err != nil {
			return err
		}
		var what []string
		op := "experiment-update"
		if ch.Name != nil && *ch.Name != e.Name {
			all, err := listExperimentsTx(tx)
			if err != nil {
				return err
			}
			for _, x := range all {
				if x.Name == *ch.Name && x.ID != id {
					return fmt.Errorf("%w: experiment %q already exists with id %s", ErrExists, *ch.Name, x.ID)
				}
			}
			what = append(what, fmt.Sprintf("renamed %q -> %q", e.Name, *ch.Name))
			e.Name = *ch.Name
			op = "experiment-rename"
		}
		if ch.Lifecycle != nil && *ch.Lifecycle != e.LifecycleStage {
			if *ch.Lifecycle == manifest.LifecycleDeleted {
				what = append(what, "deleted")
				op = "experiment-delete"
			} else {
				what = append(what, "restored")
				op = "experiment-restore"
			}
			e.LifecycleStage = *ch.Lifecycle
		}
		if id == manifest.DefaultExperimentID && e.LifecycleStage == manifest.LifecycleDeleted {
			return fmt.Errorf("%w: the Default experiment (id 0) cannot be deleted", ErrInvalid)
		}
		for k, v := range ch.SetTags {
			if e.Tags == nil {
				e.Tags = map[string]string{}
			}
			e.Tags[k] = v
			what = append(what, "tag "+k+" set")
		}
		for _, k := range ch.DeleteTags {
			if _, ok := e.Tags[k]; !ok {
				return fmt.Errorf("%w: experiment %s has no tag %q", ErrNotFound, id, k)
			}
			delete(e.Tags, k)
			what = append(what, "tag "+k+" deleted")
		}
		if len(e.Tags) == 0 {
			e.Tags = nil
		}
		if len(what) == 0 {
			return nil
		}
		e.LastUpdateTime = nowMillis(r.now())
		tx.Write(layout.Experiment(id), e.Encode())
		tx.SetMessage(fmt.Sprintf("experiment %s %s", id, strings.Join(what, ", ")), "Mlgit-Op: "+op, "Mlgit-Experiment: "+id)
		return nil
	})
	return e, err
}
