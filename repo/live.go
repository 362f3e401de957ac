package repo

import (
	"errors"
	"fmt"
	"path/filepath"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/live"
)

// A live Repo (StartLive; the server is one) keeps the acknowledged state
// in memory instead of re-reading the journal for every request: the
// journal's live view (repo/internal/live) and, with LiveOptions.Index,
// an in-memory run index (memindex.go). This file builds what the view
// needs of the store.

// LiveOptions configure StartLive.
type LiveOptions struct {
	// Index keeps an in-memory run index that SearchRuns then uses,
	// built at start from the index cache and updated incrementally.
	Index bool
	// CommitDelay is how long the commit of an ended (or deleted or
	// restored) run may wait so that runs ending close together share one
	// commit; the request returns once the change is durable in the
	// journal. 0 commits before each such request returns.
	CommitDelay time.Duration
}

// DefaultCommitDelay is LiveOptions.CommitDelay of mlgit server.
const DefaultCommitDelay = time.Second

// StartLive makes r keep its acknowledged state in memory for a
// long-lived process that serves many requests (mlgit server): journal
// appends of concurrent goroutines are group-committed as always, writes
// are validated and runs read without re-reading the journal, checkpoints
// triggered by writes run in a background goroutine, and with o.Index
// SearchRuns uses an in-memory index. Call it before r is used
// concurrently; StopLive ends it. Starting a live Repo again does nothing.
func (r *Repo) StartLive(o LiveOptions) error {
	if r.live != nil {
		return nil
	}
	v, err := live.Start(r.liveStore())
	if err != nil {
		return err
	}
	if o.Index {
		mi, err := newMemIndex(r, v)
		if err != nil {
			v.Close()
			return err
		}
		r.liveIndex = mi
	}
	// Appends are acknowledged by one fdatasync of the process's log
	// (journal.Writer.StartWAL), not an fsync of each journal file and
	// of the folder.
	if err := r.group.StartWAL(); err != nil {
		if r.liveIndex != nil {
			r.liveIndex = nil
		}
		v.Close()
		return err
	}
	r.live = v
	r.commitDelay = o.CommitDelay
	v.Begin()
	return nil
}

// StopLive stops the background checkpoints and saves the run index cache;
// r then reads the journal from disk again. Call it when r is no longer
// used concurrently (after the server stopped); it does not checkpoint.
func (r *Repo) StopLive() error {
	v := r.live
	if v == nil {
		return nil
	}
	v.Stop()
	r.live = nil
	r.commitDelay = 0
	if err := r.group.StopWAL(); err != nil {
		return err
	}
	if mi := r.liveIndex; mi != nil {
		r.liveIndex = nil
		return mi.idx.SaveCache(r.indexPath())
	}
	return nil
}

// liveStore is what the live view needs of r.
func (r *Repo) liveStore() live.Store {
	return live.Store{
		JournalDir:     r.journalDir(),
		GitDir:         r.gitDir,
		RefPath:        filepath.Join(r.gitDir, filepath.FromSlash(r.BranchRef())),
		PendingLock:    r.pendingLockPath(),
		CheckpointLock: r.checkpointLockPath(),
		Spares:         initialSpares,
		Intent:         r.intentPath(),
		Writer:         r.group,
		Tip:            r.tip,
		CommitTree:     r.commitTree,
		ReadRun: func(tip, tree plumbing.Hash, id string) (*manifest.Run, error) {
			doc, err := readRunTx(r.txOnTree(tip, tree), id)
			if errors.Is(err, ErrNotFound) {
				return nil, nil
			}
			return doc, err
		},
		ReadExperiment: func(tip, tree plumbing.Hash, id string) (*manifest.Experiment, error) {
			return readExperimentTx(r.txOnTree(tip, tree), id)
		},
		Thresholds: func() (int, int64, time.Duration) {
			return CheckpointMaxFiles, CheckpointMaxBytes, CheckpointMaxAge
		},
		// Best effort: the journal keeps the records until a checkpoint
		// succeeds, and every checkpoint recovers an interrupted one.
		Checkpoint:       func() { _, _ = r.Checkpoint() },
		CheckpointLocked: func() { _, _ = r.checkpointLocked() },
		RecoverIntent:    func() { _ = r.recoverIntent() },
	}
}

// liveRunErr turns the live view's error for a missing run into the
// store's.
func liveRunErr(id string, err error) error {
	if errors.Is(err, live.ErrNoRun) {
		return fmt.Errorf("%w: run %s does not exist (list runs with mlgit run list)", ErrNotFound, id)
	}
	return err
}

func (r *Repo) commitTree(commit plumbing.Hash) (plumbing.Hash, error) {
	if commit.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := r.objects.ReadCommit(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.TreeHash, nil
}
