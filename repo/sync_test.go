package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestSyncCrashBetweenBranchAndTags: a pull that dies after moving the
// branch and before re-creating the local tags is finished by the next
// sync, from the plan it wrote first.
func TestSyncCrashBetweenBranchAndTags(t *testing.T) {
	gittest.Setenv(t)
	root := t.TempDir()
	bare := filepath.Join(root, "remote.git")
	gittest.Git(t, root, "init", "-q", "--bare", bare)
	ctx := context.Background()
	a, _ := newTestRepo(t)
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	bdir := t.TempDir()
	gittest.Git(t, bdir, "init", "-q", "-b", "main")
	b, err := OpenRepository(bdir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Pull(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	reg := func(r *Repo, src string) {
		t.Helper()
		if _, err := r.RegisterVersion(VersionSpec{Name: "churn", Source: src, CreateModel: true}); err != nil {
			t.Fatal(err)
		}
	}
	reg(a, "file:///a")
	if _, err := a.Push(ctx, SyncOptions{Remote: bare}); err != nil {
		t.Fatal(err)
	}
	reg(b, "file:///b")
	crash := errors.New("killed")
	afterSyncCAS = func() error { return crash }
	_, err = b.Pull(ctx, SyncOptions{Remote: bare})
	afterSyncCAS = nil
	if !errors.Is(err, crash) {
		t.Fatalf("pull: %v", err)
	}
	if _, err := os.Stat(filepath.Join(b.branchState(), "sync.intent")); err != nil {
		t.Fatalf("no plan left behind: %v", err)
	}
	// The branch moved: b's v1 now is v2, on top of a's v1.
	if got := gittest.Git(t, bdir, "show", "mlgit:models/churn/versions/2.yaml"); !strings.Contains(got, "file:///b") {
		t.Fatalf("v2 after the crash: %s", got)
	}
	res, err := b.Push(ctx, SyncOptions{Remote: bare})
	if err != nil {
		t.Fatal(err)
	}
	if strings.Join(res.TagsPushed, ",") != "churn@v2" {
		t.Fatalf("tags pushed: %q", res.TagsPushed)
	}
	if got := gittest.Git(t, bare, "tag", "-l", "churn*"); got != "churn@v1\nchurn@v2" {
		t.Fatalf("remote tags: %q", got)
	}
	v2 := gittest.Git(t, bare, "rev-parse", "churn@v2^{commit}")
	added := gittest.Git(t, bare, "log", "--format=%H", "--diff-filter=A", "mlgit", "--", "models/churn/versions/2.yaml")
	if v2 != added {
		t.Fatalf("churn@v2 -> %s, file added by %s", v2, added)
	}
	gittest.Git(t, bare, "fsck", "--strict")
}
