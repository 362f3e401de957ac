package gitobj

import "errors"

// Errors of the Git layer. Package repo exports the same sentinels under
// the same names, so callers test them with errors.Is against either.
var (
	// ErrExists marks a create that collides with an existing ref.
	ErrExists = errors.New("already exists")
	// ErrConflict marks a compare-and-swap that lost and could not be retried.
	ErrConflict = errors.New("conflict")
	// ErrLocked marks a lock held by another process for too long.
	ErrLocked = errors.New("locked")
	// ErrRemote marks a failure of the remote (unreachable, refused, denied).
	ErrRemote = errors.New("remote error")
)
