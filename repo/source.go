package repo

import (
	"context"
	"os"
	"strings"

	"github.com/mlgit/mlgit/internal/gitexec"
	"github.com/mlgit/mlgit/manifest"
)

// SourceInfo describes the user's checkout: the commit HEAD points at, the
// branch, and whether tracked files differ from it (untracked files do not
// count). For a bare repository it returns nil.
func (r *Repo) SourceInfo() *manifest.Source {
	if r.workTree == "" {
		return nil
	}
	src := &manifest.Source{}
	head, err := os.ReadFile(r.gitDir + "/HEAD")
	if err != nil {
		return nil
	}
	hs := strings.TrimSpace(string(head))
	if strings.HasPrefix(hs, "ref: ") {
		ref := strings.TrimPrefix(hs, "ref: ")
		src.Branch = strings.TrimPrefix(ref, "refs/heads/")
		if h, err := r.refs.Read(ref); err == nil && !h.IsZero() {
			src.Commit = h.String()
		}
	} else if len(hs) == 40 {
		src.Commit = hs
	}
	// Dirty detection needs the index and .gitignore rules; git status is
	// both faster and exactly what the user sees.
	out, err := gitexec.In(r.workTree).Run(context.Background(), nil, "status", "--porcelain", "--untracked-files=no")
	if err == nil && len(strings.TrimSpace(string(out))) > 0 {
		src.Dirty = true
	}
	return src
}
