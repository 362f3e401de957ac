package repo

import (
	"errors"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/registry"
)

// Errors of the store. Callers test them with errors.Is; the wrapped
// message names the thing and what to do.
var (
	// ErrNotFound marks a run, experiment or object that does not exist.
	ErrNotFound = registry.ErrNotFound
	// ErrExists marks a create that collides with an existing name or id.
	ErrExists = gitobj.ErrExists
	// ErrInvalid marks bad input: a value that breaks a rule. It is the same
	// sentinel as manifest.ErrInvalid.
	ErrInvalid = manifest.ErrInvalid
	// ErrNotInitialized marks a repository without a tracking branch.
	ErrNotInitialized = errors.New("not initialized")
	// ErrNotGitRepo marks a path that is not inside a Git repository.
	ErrNotGitRepo = errors.New("not a git repository")
	// ErrConflict marks a compare-and-swap that lost and could not be retried.
	ErrConflict = gitobj.ErrConflict
	// ErrLocked marks a lock held by another process for too long.
	ErrLocked = gitobj.ErrLocked
)
