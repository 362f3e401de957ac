package repo

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/mlgit/mlgit/internal/crashfs"
)

// TestPowerLossRegistryAndExperiments cuts the power at every durability
// point of the writes that commit at once rather than through the
// journal: creating an experiment, registering model versions, moving a
// stage and an alias (commits and tags). After each cut the store opens,
// git fsck finds the repository sound (no ref names an object the cut
// lost), and every write that returned before the cut is there.
func TestPowerLossRegistryAndExperiments(t *testing.T) {
	r, dir := newTestRepo(t)
	if _, err := r.CreateModel(ModelSpec{Name: "churn"}); err != nil {
		t.Fatal(err)
	}
	rec, err := crashfs.Start(dir)
	if err != nil {
		t.Fatal(err)
	}
	// done[i] is the last crash point before write i returned (-1: not
	// yet returned).
	const writes = 5
	done := make([]int, writes)
	ack := func(i int) { done[i] = rec.Points() - 1 }
	if _, err := r.CreateExperiment("powerloss", "", nil); err != nil {
		t.Fatal(err)
	}
	ack(0)
	for v := 1; v <= 2; v++ {
		if _, err := r.RegisterVersion(VersionSpec{Name: "churn", Source: "file:///m" + strconv.Itoa(v)}); err != nil {
			t.Fatal(err)
		}
		ack(v)
	}
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "Production"}); err != nil {
		t.Fatal(err)
	}
	ack(3)
	if _, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 1}); err != nil {
		t.Fatal(err)
	}
	ack(4)
	if err := rec.Stop(); err != nil {
		t.Fatal(err)
	}
	n := rec.Points()
	base := t.TempDir()
	for k := 0; k < n; k++ {
		crashed := filepath.Join(base, strconv.Itoa(k))
		if err := rec.Materialize(k, crashed); err != nil {
			t.Fatal(err)
		}
		where := fmt.Sprintf("power cut after %d of %d (%s)", k, n, rec.Label(k))
		if out, err := exec.Command("git", "-C", crashed, "fsck", "--strict", "--no-dangling").CombinedOutput(); err != nil {
			t.Fatalf("%s: git fsck: %v\n%s", where, err, out)
		}
		r2, err := Open(crashed, Options{})
		if err != nil {
			t.Fatalf("%s: open: %v", where, err)
		}
		if done[0] <= k {
			if _, err := r2.ResolveExperiment("powerloss"); err != nil {
				t.Fatalf("%s: the experiment created before the cut: %v", where, err)
			}
		}
		for v := 1; v <= 2; v++ {
			if done[v] <= k {
				if _, err := r2.GetVersion("churn", int64(v)); err != nil {
					t.Fatalf("%s: version %d registered before the cut: %v", where, v, err)
				}
			}
		}
		if done[3] <= k {
			res, err := r2.Resolve("churn@production")
			if err != nil || res.Version != 2 {
				t.Fatalf("%s: churn@production after the promotion: %+v, %v", where, res, err)
			}
		}
		if done[4] <= k {
			res, err := r2.Resolve("churn@champion")
			if err != nil || res.Version != 1 {
				t.Fatalf("%s: churn@champion after the alias: %+v, %v", where, res, err)
			}
		}
		r2.Close()
	}
	t.Logf("%d power cuts", n)
}
