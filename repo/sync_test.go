package repo

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

func TestMergeManifestModel(t *testing.T) {
	base := &manifest.RegisteredModel{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
		Name: "churn", CreationTimestamp: 1, LastUpdatedTimestamp: 1, LatestVersion: 2,
		Aliases: map[string]int64{"champion": 1}, Description: "base"}
	remote := *base
	remote.Aliases = map[string]int64{"champion": 1, "canary": 2}
	remote.LatestVersion = 3
	remote.Description = "remote"
	remote.LastUpdatedTimestamp = 5
	local := *base
	local.Aliases = map[string]int64{"champion": 4}
	local.LatestVersion = 4
	local.Description = "local"
	local.LastUpdatedTimestamp = 4
	out, err := mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), local.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.DecodeRegisteredModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Aliases["champion"] != 4 || m.Aliases["canary"] != 2 || m.LatestVersion != 4 || m.Description != "local" {
		t.Fatalf("merged: %+v", m)
	}
	if string(out) != string(m.Encode()) {
		t.Fatal("merge result is not canonical")
	}
	// A field changed on one side only keeps that side's value.
	local2 := *base
	local2.Tags = map[string]string{"team": "ml"}
	out, err = mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), local2.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, _ = manifest.DecodeRegisteredModel(out)
	if m.Description != "remote" || m.Tags["team"] != "ml" || m.LatestVersion != 3 {
		t.Fatalf("merged: %+v", m)
	}
	// Both added: the remote's fields win, local keys are added.
	out, err = mergeManifest("models/churn/model.yaml", nil, remote.Encode(), local.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, _ = manifest.DecodeRegisteredModel(out)
	if m.Description != "remote" || m.Aliases["champion"] != 1 || m.Aliases["canary"] != 2 || m.LatestVersion != 4 {
		t.Fatalf("both added: %+v", m)
	}
	// A result that does not validate is refused.
	if _, err := mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), []byte("apiVersion: mlgit/v1\nkind: RegisteredModel\nname: churn\nbogus: 1\n")); err == nil {
		t.Fatal("an unknown field merged")
	}
}

func TestRenumberMessage(t *testing.T) {
	rn := renumbering{"churn": {2: 5}}
	msg := "churn v2 -> Production\n\nMlgit-Op: model-promote\nMlgit-Model: churn\nMlgit-Version: 2\nMlgit-Stage: Production\n"
	want := "churn v5 -> Production\n\nMlgit-Op: model-promote\nMlgit-Model: churn\nMlgit-Version: 5\nMlgit-Stage: Production\n"
	if got := renumberMessage(msg, rn); got != want {
		t.Fatalf("got %q", got)
	}
	other := strings.ReplaceAll(msg, "Model: churn", "Model: fraud")
	if got := renumberMessage(other, rn); got != other {
		t.Fatalf("another model's message changed: %q", got)
	}
}

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
	if _, err := os.Stat(b.syncIntentPath()); err != nil {
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
