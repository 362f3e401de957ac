package registry

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
)

// Lineage is where a model version or run came from: the version, the run
// that produced it (params, final metrics, code, inputs), and the model
// version that run fine-tuned, recursively.
type Lineage struct {
	Version *LineageVersion `json:"model_version,omitempty"`
	Run     *LineageRun     `json:"run,omitempty"`
	// Parent is the lineage of the model version the run fine-tuned.
	Parent *Lineage `json:"parent,omitempty"`
	// Notes say what could not be followed.
	Notes []string `json:"notes,omitempty"`
}

// LineageVersion is the model-version node of a lineage.
type LineageVersion struct {
	Model              string   `json:"model"`
	Version            int64    `json:"version"`
	Stage              string   `json:"stage,omitempty"`
	Aliases            []string `json:"aliases,omitempty"`
	Source             string   `json:"source,omitempty"`
	Digest             string   `json:"digest,omitempty"`
	RegistrationCommit string   `json:"registration_commit,omitempty"`
}

// LineageRun is the run node of a lineage.
type LineageRun struct {
	ID           string                        `json:"run_id"`
	Name         string                        `json:"run_name,omitempty"`
	ExperimentID string                        `json:"experiment_id"`
	Experiment   string                        `json:"experiment,omitempty"`
	Status       string                        `json:"status"`
	User         string                        `json:"user_id,omitempty"`
	StartTime    int64                         `json:"start_time"`
	EndTime      int64                         `json:"end_time,omitempty"`
	Params       map[string]string             `json:"params,omitempty"`
	Metrics      map[string]manifest.JSONFloat `json:"metrics,omitempty"`
	Code         *LineageCode                  `json:"code,omitempty"`
	Inputs       []manifest.Dataset            `json:"inputs,omitempty"`
	ParentModel  string                        `json:"parent_model,omitempty"`
}

// LineageCode is the code a run was trained from.
type LineageCode struct {
	Commit string `json:"commit"`
	Branch string `json:"branch,omitempty"`
	Dirty  bool   `json:"dirty"`
	// Subject is the commit's first line, when the commit is in this
	// repository.
	Subject string   `json:"subject,omitempty"`
	Command []string `json:"command,omitempty"`
}

// maxLineageDepth bounds how many parent models are followed.
const maxLineageDepth = 16

// Lineage traces a model reference (name@selector, models:/...) or a run
// id (or unique prefix) back through runs and parent models.
func (s *Store) Lineage(arg string) (*Lineage, error) {
	return s.lineage(arg, map[string]bool{}, 0)
}

func isModelRef(arg string) bool {
	return strings.Contains(arg, "@") || strings.HasPrefix(arg, "models:/")
}

func (s *Store) lineage(arg string, seen map[string]bool, depth int) (*Lineage, error) {
	l := &Lineage{}
	var runID string
	if isModelRef(arg) {
		res, err := s.Resolve(arg)
		if err != nil {
			return nil, err
		}
		id := fmt.Sprintf("%s@v%d", res.Model, res.Version)
		if seen[id] {
			l.Notes = append(l.Notes, fmt.Sprintf("%s is its own ancestor; stopping", id))
			return l, nil
		}
		seen[id] = true
		l.Version = &LineageVersion{Model: res.Model, Version: res.Version, Stage: res.Stage, Aliases: res.Aliases,
			Source: res.Source, Digest: res.Digest, RegistrationCommit: res.RegistrationCommit}
		runID = res.RunID
		if runID == "" {
			l.Notes = append(l.Notes, fmt.Sprintf("%s v%d was not registered from a run (source %s)", res.Model, res.Version, orDash(res.Source)))
			return l, nil
		}
	} else {
		id, err := s.Runs.ResolveRunID(arg)
		if err != nil {
			return nil, err
		}
		runID = id
	}
	run, err := s.Runs.GetRun(runID)
	if errors.Is(err, ErrNotFound) && l.Version != nil {
		l.Notes = append(l.Notes, fmt.Sprintf("run %s is not on this branch (not pulled?)", runID))
		return l, nil
	}
	if err != nil {
		return nil, err
	}
	l.Run = s.lineageRun(run)
	if run.ParentModel == "" {
		return l, nil
	}
	if depth >= maxLineageDepth {
		l.Notes = append(l.Notes, fmt.Sprintf("stopped after %d parent models", maxLineageDepth))
		return l, nil
	}
	ref := run.ParentModel
	if !isModelRef(ref) {
		l.Notes = append(l.Notes, fmt.Sprintf("parent model %q is not a model reference (want name@v3)", ref))
		return l, nil
	}
	parent, err := s.lineage(ref, seen, depth+1)
	if err != nil {
		l.Notes = append(l.Notes, fmt.Sprintf("parent model %s: %v", ref, err))
		return l, nil
	}
	l.Parent = parent
	return l, nil
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func (s *Store) lineageRun(run *manifest.Run) *LineageRun {
	lr := &LineageRun{ID: run.ID, Name: run.Name, ExperimentID: run.ExperimentID, Status: run.Status, User: run.User,
		StartTime: run.StartTime, EndTime: run.EndTime, Params: run.Params, Inputs: run.Inputs, ParentModel: run.ParentModel}
	if e, err := s.Runs.GetExperiment(run.ExperimentID); err == nil {
		lr.Experiment = e.Name
	}
	if len(run.Metrics) > 0 {
		lr.Metrics = map[string]manifest.JSONFloat{}
		for k, m := range run.Metrics {
			lr.Metrics[k] = manifest.JSONFloat(m.Value)
		}
	}
	if src := run.Source; src != nil && src.Commit != "" {
		lr.Code = &LineageCode{Commit: src.Commit, Branch: src.Branch, Dirty: src.Dirty, Command: src.Command}
		if plumbing.IsHash(src.Commit) {
			if c, err := s.Branch.DB.ReadCommit(plumbing.NewHash(src.Commit)); err == nil {
				lr.Code.Subject, _, _ = strings.Cut(c.Message, "\n")
			}
		}
	}
	return lr
}
