package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// RunID returns the run to act on: the flag, else $MLGIT_RUN_ID.
func (a *App) RunID(r *repo.Repo, flag string) (string, error) {
	id := flag
	if id == "" {
		id = a.Getenv("MLGIT_RUN_ID")
	}
	if id == "" {
		return "", Usagef("no run given: pass --run ID or set MLGIT_RUN_ID (mlgit run start prints the id)")
	}
	return a.ResolveRun(r, id)
}

// ResolveRun turns what a user typed for a run into its id: the id, a
// unique prefix of it (at least 4 characters), or the run's name where no
// other run has it (deleted runs included, so that restore finds them).
func (a *App) ResolveRun(r *repo.Repo, ref string) (string, error) {
	if manifest.ValidRunID(ref) {
		return ref, nil
	}
	id, prefixErr := r.ResolveRunID(ref)
	if prefixErr == nil {
		return id, nil
	}
	if errors.Is(prefixErr, repo.ErrInvalid) && isHexPrefix(ref) {
		return "", prefixErr // an ambiguous id prefix
	}
	byName, err := runsNamed(r, ref)
	if err != nil {
		return "", err
	}
	switch len(byName) {
	case 1:
		return byName[0].ID, nil
	case 0:
		if isHexPrefix(ref) {
			return "", prefixErr
		}
		return "", fmt.Errorf("%w: no run is named %q, and it is not a run id (mlgit run list shows names and ids)", repo.ErrNotFound, ref)
	}
	exps := map[string]string{}
	if list, err := r.ListExperiments(repo.ViewAll); err == nil {
		for _, e := range list {
			exps[e.ID] = e.Name
		}
	}
	var b strings.Builder
	for _, run := range byName {
		fmt.Fprintf(&b, "\n  %s  in %s", run.ID, exps[run.ExperimentID])
	}
	return "", fmt.Errorf("%w: %d runs are named %q; give the id of one:%s", repo.ErrInvalid, len(byName), ref, b.String())
}

// runsNamed returns the runs named name, in every experiment.
func runsNamed(r *repo.Repo, name string) ([]*manifest.Run, error) {
	if name == "" || strings.Contains(name, "'") && strings.Contains(name, "\"") {
		return nil, nil // the filter grammar cannot quote it
	}
	q := "'"
	if strings.Contains(name, "'") {
		q = "\""
	}
	page, err := r.SearchRuns(repo.RunSearch{Filter: "attributes.run_name = " + q + name + q, View: repo.ViewAll, MaxResults: 50})
	if err != nil {
		if errors.Is(err, repo.ErrInvalid) {
			return nil, nil // not a name the filter grammar can hold
		}
		return nil, err
	}
	return page.Runs, nil
}

func isHexPrefix(s string) bool {
	if len(s) < 4 || len(s) > 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// ExperimentID resolves an experiment name or id to its id.
func (a *App) ExperimentID(r *repo.Repo, nameOrID string) (string, error) {
	if nameOrID == "" {
		nameOrID = a.Getenv("MLGIT_EXPERIMENT_NAME")
	}
	if nameOrID == "" {
		return manifest.DefaultExperimentID, nil
	}
	e, err := r.ResolveExperiment(nameOrID)
	if err != nil {
		return "", err
	}
	return e.ID, nil
}
