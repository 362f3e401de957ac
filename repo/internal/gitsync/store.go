package gitsync

import (
	"bytes"
	"context"
	"errors"
	"io"

	"github.com/mlgit/mlgit/internal/gitexec"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Store is what sharing needs from the store that holds the tracking
// branch. Package repo builds one for each call and forwards its Repo's
// Fetch, Pull and Push to it; sharing reaches for nothing else.
type Store struct {
	// Branch is the tracking branch: its object database, its refs (the
	// registry's tags and the remotes' mirrors live there too), its full
	// ref name, and who signs the commits a sync re-applies and when.
	Branch gitobj.Branch
	// Name is the tracking branch's short name, as the remotes have it
	// (refs/heads/<Name>).
	Name string
	// StateDir is the tracking branch's local state folder, where the tag
	// plan of a sync in progress (sync.intent) is kept.
	StateDir string
	// CheckpointLock is the journal's checkpoint lock file: a pull or a
	// push holds it for its whole run, so that no checkpoint commits on a
	// tip that is being replaced.
	CheckpointLock string
	// Checkpoint folds the journal into commits, with the checkpoint lock
	// already held, so that every acknowledged record is in a commit that
	// gets re-applied.
	Checkpoint func() error
	// IsRemote reports whether name is a remote configured with a URL in
	// the repository's Git configuration.
	IsRemote func(name string) bool
	// Dir is where git runs for the repository: the working tree, or the
	// Git directory of a bare repository.
	Dir string
	// GitDir is the repository's Git directory (GIT_DIR for git).
	GitDir string
	// AfterBranchMove, when set by tests, runs after a sync moved the
	// branch and before it applies its tag plan; an error stands for the
	// process dying there.
	AfterBranchMove func() error
}

// Net runs the system git for a network operation in the repository
// (through gitexec, with the caller's environment, credential helpers and
// terminal) and returns its standard output and standard error, which is
// copied to progress as git writes it when progress is set. err says how
// git failed (an *exec.ExitError, the context's error, ...); what git said
// is in stderr.
func (s *Store) Net(ctx context.Context, progress io.Writer, args ...string) (stdout, stderr string, err error) {
	var errb bytes.Buffer
	g := gitexec.Git{Dir: s.Dir, Env: []string{"GIT_DIR=" + s.GitDir}, Stderr: &errb}
	if progress != nil {
		g.Stderr = io.MultiWriter(&errb, progress)
	}
	out, err := g.Run(ctx, nil, args...)
	var ge *gitexec.Error
	if errors.As(err, &ge) {
		err = ge.Err
	}
	return string(out), errb.String(), err
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
