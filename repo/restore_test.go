package repo

import (
	"errors"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestRestoreModel deletes a model and restores it: its versions, stages
// and aliases come back, the re-registrations are tags of the next
// generation on the first registrations' commits, fsck finds nothing, and
// a second delete and restore take the generation after.
func TestRestoreModel(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	if err := r.DeleteVersion("churn", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Production"}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 2}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.RestoreModel("churn"); !errors.Is(err, ErrExists) {
		t.Fatalf("restore of a live model: %v", err)
	}
	if _, err := r.RestoreModel("never"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("restore of a model that never was: %v", err)
	}
	for gen, suffix := range []string{"#2", "#3"} {
		if err := r.DeleteModel("churn"); err != nil {
			t.Fatal(err)
		}
		if _, err := r.Resolve("churn@production"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("deleted model resolves: %v", err)
		}
		res, err := r.RestoreModel("churn")
		if err != nil {
			t.Fatal(err)
		}
		if len(res.Versions) != 2 || res.Versions[0] != 1 || res.Versions[1] != 2 || len(res.Tags) != 2 ||
			res.Tags[0] != "churn@v1"+suffix || res.Tags[1] != "churn@v2"+suffix {
			t.Fatalf("restore %d: %+v", gen, res)
		}
		if got, want := tagTarget(t, dir, "churn@v1"+suffix), tagTarget(t, dir, "churn@v1"); got != want {
			t.Errorf("churn@v1%s -> %s, want the first registration's %s", suffix, got, want)
		}
		m, err := r.GetModel("churn")
		if err != nil || m.LatestVersion != 3 || m.Aliases["champion"] != 2 {
			t.Fatalf("restored model: %+v %v", m, err)
		}
		if v, err := r.Resolve("churn@production"); err != nil || v.Version != 1 {
			t.Fatalf("churn@production: %+v %v", v, err)
		}
		if v, err := r.Resolve("churn@champion"); err != nil || v.Version != 2 {
			t.Fatalf("churn@champion: %+v %v", v, err)
		}
		if _, err := r.Resolve("churn@v3"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("v3, deleted before the model was, came back: %v", err)
		}
		if rep, err := r.Fsck(); err != nil || len(rep.Problems) > 0 {
			t.Fatalf("fsck after restore %d: %+v %v", gen, rep, err)
		}
	}
	// The deregistration of generation 2 is spelled as GTO spells it.
	tags := gittest.Git(t, dir, "tag", "--list", "churn@*")
	for _, want := range []string{"churn@v1!", "churn@v1!#2", "churn@v1#2", "churn@v1#3", "churn@v3!"} {
		if !strings.Contains("\n"+tags+"\n", "\n"+want+"\n") {
			t.Errorf("tag %s missing from:\n%s", want, tags)
		}
	}
	if strings.Contains(tags, "churn@v3#") {
		t.Errorf("the version deleted before the model was re-registered:\n%s", tags)
	}
	// A new version continues the numbers.
	if again := register(t, r, bs, "churn", run); again.Version.Version != 4 {
		t.Fatalf("registered %+v", again.Version)
	}
	if out := gittest.Git(t, dir, "fsck", "--no-dangling"); strings.Contains(out, "error") {
		t.Fatal(out)
	}
}

// TestRestoreRenamedModel: a name that was renamed away is not restored.
func TestRestoreRenamedModel(t *testing.T) {
	r, _ := newTestRepo(t)
	bs := blobs{}
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "1"))
	if _, err := r.RenameModel("churn", "churn-v2"); err != nil {
		t.Fatal(err)
	}
	_, err := r.RestoreModel("churn")
	if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), `renamed to "churn-v2"`) {
		t.Fatalf("restore of a renamed model: %v", err)
	}
}
