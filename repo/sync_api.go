package repo

import (
	"context"
	"fmt"

	"github.com/go-git/go-git/v5/plumbing"

	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/gitsync"
)

// Sharing (fetch, pull, push, and the re-applying of local commits on a
// remote tip that pull and push do) lives in package repo/internal/gitsync,
// on a gitsync.Store that syncStore builds from this Repo. This file
// forwards Repo's Fetch, Pull and Push to it and re-exports its types, so
// that callers of package repo need not change (docs/sharing.md).

type (
	// SyncOptions configure Fetch, Pull and Push.
	SyncOptions = gitsync.Options
	// SyncResult says what a Fetch, Pull or Push did.
	SyncResult = gitsync.Result
	// Renumbered is one model version that got a new number because
	// another clone pushed the same number first.
	Renumbered = gitsync.Renumbered
	// ExperimentMerge is a local experiment merged into the remote's of the same name.
	ExperimentMerge = gitsync.ExperimentMerge
)

// ErrRemote marks a failure of the remote (unreachable, refused, denied).
var ErrRemote = gitobj.ErrRemote

// syncStore is sharing's view of this store: the tracking branch, its
// state folder, the journal's checkpoint lock and checkpoint, the
// configured remotes, and where git runs.
func (r *Repo) syncStore() *gitsync.Store {
	return &gitsync.Store{
		Branch:         r.trackingBranch(),
		Name:           r.branch,
		StateDir:       r.branchState(),
		CheckpointLock: r.checkpointLockPath(),
		Checkpoint: func() error {
			_, err := r.checkpointLocked()
			return err
		},
		IsRemote:        r.isRemote,
		Dir:             r.gitRunDir(),
		GitDir:          r.gitDir,
		AfterBranchMove: afterSyncCAS,
	}
}

// afterSyncCAS, when set by tests, runs after a sync moved the branch and
// before it applies its tag plan; an error stands for the process dying
// there.
var afterSyncCAS func() error

// isRemote reports whether name is a remote with a URL in the
// repository's Git configuration.
func (r *Repo) isRemote(name string) bool {
	cfg, err := r.st.Config()
	if err != nil {
		return false
	}
	rc, ok := cfg.Remotes[name]
	return ok && len(rc.URLs) > 0
}

// gitRunDir is where git runs for this repository: the working tree, or
// the Git directory of a bare repository.
func (r *Repo) gitRunDir() string {
	if r.workTree != "" {
		return r.workTree
	}
	return r.gitDir
}

// Fetch brings the remote's tracking branch and registry tags into this
// clone without changing the local branch (gitsync.Store.Fetch).
func (r *Repo) Fetch(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	return r.syncStore().Fetch(ctx, o)
}

// Pull fetches the remote's tracking branch and registry tags and brings
// the local branch onto it (gitsync.Store.Pull).
func (r *Repo) Pull(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	return r.syncStore().Pull(ctx, o)
}

// Push sends the tracking branch and the registry tags the remote lacks,
// pulling first and starting over when another clone pushed in between;
// it never force-pushes (gitsync.Store.Push).
func (r *Repo) Push(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	return r.syncStore().Push(ctx, o)
}

// CountCommits returns how many commits are reachable from tip and not
// from base, as git rev-list --count base..tip does; an empty base counts
// tip's whole history, an empty tip none. A syncing server reports its
// unpushed commits with it.
func (r *Repo) CountCommits(base, tip string) (int, error) {
	if tip == "" {
		return 0, nil
	}
	if !plumbing.IsHash(tip) || base != "" && !plumbing.IsHash(base) {
		return 0, fmt.Errorf("%w: %q..%q is not a range of commit ids", ErrInvalid, base, tip)
	}
	to := plumbing.NewHash(tip)
	if to.IsZero() {
		return 0, nil
	}
	from := plumbing.ZeroHash
	if base != "" {
		from = plumbing.NewHash(base)
	}
	cs, err := r.objects.RangeCommits(from, to)
	return len(cs), err
}
