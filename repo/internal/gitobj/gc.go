package gitobj

import (
	"context"
	"os"
	"path/filepath"

	"github.com/mlgit/mlgit/internal/gitexec"
)

// looseObjectLimit mirrors git's gc.auto (6700 loose objects): git estimates
// the count from one fan-out folder, objects/17, as we do.
const looseObjectLimit = 6700

// MaybeGC starts a detached `git gc --auto` when the repository holds more
// loose objects than Git's own threshold. Each checkpoint leaves a few loose
// objects behind; packing them keeps the repository small and refs packed.
// It never blocks logging: git daemonizes itself (gc.autoDetach) and takes
// its own locks, which our ref updates honour.
func MaybeGC(gitDir string) {
	ents, err := os.ReadDir(filepath.Join(gitDir, "objects", "17"))
	if err != nil || len(ents)*256 < looseObjectLimit {
		return
	}
	if os.Getenv("MLGIT_NO_AUTO_GC") != "" {
		return
	}
	cmd := gitexec.OnGitDir(gitDir).Command(context.Background(), "gc", "--auto", "--quiet")
	if err := cmd.Start(); err == nil {
		go cmd.Wait()
	}
}
