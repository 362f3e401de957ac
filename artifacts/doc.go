// Package artifacts moves a run's artifacts between the file system and the
// blob store: it expands the files and folders given to an add into
// artifact files (following only the symbolic links that stay inside a
// folder, checking every path before anything is stored), stores them in a
// blob.Store, selects a run's artifacts by path, and writes artifacts back
// below a folder, verified, each renamed into place, never outside the
// folder or through a symbolic link.
//
// It knows manifests (manifest.Artifact) and blob stores, not Git: callers
// read and record the run's manifest through repo. Errors about the input
// (a missing file, an invalid artifact path, two sources for one path)
// match manifest.ErrInvalid; nothing was stored or written then.
package artifacts

import (
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// Progress counts the bytes of a transfer. A nil Progress counts nothing.
type Progress interface {
	Add(n int64)
}

func add(p Progress, n int64) {
	if p != nil {
		p.Add(n)
	}
}

// inputError is bad input: it reads as its message and matches
// manifest.ErrInvalid.
type inputError struct{ msg string }

func (e *inputError) Error() string        { return e.msg }
func (e *inputError) Is(target error) bool { return target == manifest.ErrInvalid }

func invalidf(format string, args ...any) error {
	return &inputError{msg: fmt.Sprintf(format, args...)}
}

// joinProblems lists up to ten problems, one per line.
func joinProblems(ps []string) string {
	if len(ps) > 10 {
		ps = append(ps[:10:10], fmt.Sprintf("... and %d more", len(ps)-10))
	}
	return strings.Join(ps, "\n")
}
