package registry

import (
	"context"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Store is what the registry's operations need from the store that holds
// the tracking branch. Package repo builds one for each call and forwards
// its Repo's registry methods (CreateModel, Promote, SyncTags, ...) to it;
// the operations reach for nothing else.
type Store struct {
	// Branch is the tracking branch: its object database, its refs (the
	// registry's tags live there too), its full ref name, and who signs
	// its commits.
	Branch gitobj.Branch
	// Name is the tracking branch's short name, for messages and as the
	// target of a proposal.
	Name string
	// StateDir is <git-dir>/mlgit; the per-model write locks live in its
	// locks folder.
	StateDir string
	// Now is the store's clock.
	Now func() time.Time
	// Identity returns who signs commits and tags.
	Identity func() (name, email string)
	// User returns the user recorded on a new version (MLflow's user_id).
	User func() string
	// ReadRun reads a run as committed in tx, failing with ErrNotFound when
	// it does not exist: the promotion policy checks the source run.
	ReadRun func(tx *gitobj.Tx, id string) (*manifest.Run, error)
	// Runs looks runs and experiments up, for lineage and for the files a
	// registration takes from a run.
	Runs Runs
	// GitNet runs the system git for a network operation in the
	// repository (pushing a proposal) and returns its output.
	GitNet func(ctx context.Context, args ...string) (stdout, stderr string, err error)
	// Dir is where git runs for the repository: the working tree, or the
	// Git directory of a bare repository.
	Dir string
	// BeforeTagCreate, when set by tests, runs between choosing a tag name
	// and creating it, to simulate another process taking the name first.
	BeforeTagCreate func(name string)
}

// Runs reads the runs and experiments of the tracking branch, with any
// pending journal records applied (package repo's Repo implements it).
type Runs interface {
	GetRun(id string) (*manifest.Run, error)
	// ResolveRunID resolves a run id or unique prefix.
	ResolveRunID(prefix string) (string, error)
	GetExperiment(id string) (*manifest.Experiment, error)
}

// update runs fn in a transaction on the tip of the tracking branch and
// commits its changes as one commit (gitobj.Branch.Update).
func (s *Store) update(fn func(tx *gitobj.Tx) error) (plumbing.Hash, error) {
	return s.Branch.Update(fn, nil)
}

// view runs fn on a read-only snapshot of the tip.
func (s *Store) view(fn func(tx *gitobj.Tx) error) error { return s.Branch.View(fn) }

// actor is who makes a registry change, as tag messages record it.
func (s *Store) actor() string {
	name, email := s.Identity()
	return name + " <" + email + ">"
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
