package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestSourceInfo: the checkout's branch and commit, dirty only when a
// tracked file differs (git status without untracked files).
func TestSourceInfo(t *testing.T) {
	r, dir := newTestRepo(t)
	head := strings.TrimSpace(gittest.Git(t, dir, "rev-parse", "HEAD"))
	branch := strings.TrimSpace(gittest.Git(t, dir, "rev-parse", "--abbrev-ref", "HEAD"))
	src := r.SourceInfo()
	if src == nil || src.Commit != head || src.Branch != branch || src.Dirty {
		t.Fatalf("clean checkout: %+v, want %s on %s", src, head, branch)
	}
	if err := os.WriteFile(filepath.Join(dir, "untracked.txt"), []byte("x"), 0o644); err != nil {
		t.Fatal(err)
	}
	if src := r.SourceInfo(); src.Dirty {
		t.Fatal("an untracked file made the checkout dirty")
	}
	tracked := strings.Fields(gittest.Git(t, dir, "ls-files"))
	if len(tracked) == 0 {
		t.Fatal("no tracked file")
	}
	if err := os.WriteFile(filepath.Join(dir, tracked[0]), []byte("changed\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if src := r.SourceInfo(); !src.Dirty {
		t.Fatal("a changed tracked file did not make the checkout dirty")
	}
}
