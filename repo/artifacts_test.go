package repo

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// artOf returns an artifact entry for path with the digest of content.
func artOf(path, content string) manifest.Artifact {
	s := sha256.Sum256([]byte(content))
	return manifest.Artifact{Path: path, Digest: "sha256:" + hex.EncodeToString(s[:]), Size: int64(len(content)), Mode: "0644"}
}

// refSet renders refs as sorted "owner-kind path=content-digest-prefix"
// strings, for exact comparisons.
func refSet(refs []ArtifactRef) []string {
	var out []string
	for _, x := range refs {
		kind, _, _ := strings.Cut(x.Owner, " ")
		out = append(out, fmt.Sprintf("%s %s %s", kind, x.Path, x.Digest[7:15]))
	}
	sort.Strings(out)
	return out
}

func wantRefs(t *testing.T, what string, got []ArtifactRef, err error, want ...string) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
	sort.Strings(want)
	g := refSet(got)
	if strings.Join(g, "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s:\n got %q\nwant %q", what, g, want)
	}
}

func short8(a manifest.Artifact) string { return a.Digest[7:15] }

func logArtifacts(t *testing.T, r *Repo, id string, arts ...manifest.Artifact) {
	t.Helper()
	if _, err := r.LogBatch(id, Batch{Artifacts: arts}); err != nil {
		t.Fatal(err)
	}
}

func flush(t *testing.T, r *Repo) string {
	t.Helper()
	if _, err := r.Flush(); err != nil {
		t.Fatal(err)
	}
	tip, err := r.Tip()
	if err != nil {
		t.Fatal(err)
	}
	return tip
}

func TestArtifactRefsScopes(t *testing.T) {
	r, dir := newTestRepo(t)
	runA, err := r.CreateRun(RunSpec{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	runB, err := r.CreateRun(RunSpec{Name: "b"})
	if err != nil {
		t.Fatal(err)
	}
	a1, a2 := artOf("model/w.bin", "weights v1"), artOf("plot.png", "png")
	logArtifacts(t, r, runA.ID, a1, a2)
	m1 := artOf("model.pkl", "pickled")
	if _, err := r.RegisterVersion(VersionSpec{Name: "churn", RunID: runA.ID, Artifacts: []manifest.Artifact{m1}, CreateModel: true}); err != nil {
		t.Fatal(err)
	}
	l1 := artOf("model/MLmodel", "mlmodel")
	lmID := "m-" + strings.Repeat("ab", 16)
	if _, err := r.Update(func(tx *Tx) error {
		lm := &manifest.LoggedModel{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindLoggedModel},
			ID: lmID, ExperimentID: "0", Name: "lm", Status: "READY", LifecycleStage: manifest.LifecycleActive, Artifacts: []manifest.Artifact{l1}}
		tx.Write("logged-models/"+lmID[2:4]+"/"+lmID+"/model.yaml", lm.Encode())
		tx.SetMessage("logged model")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	c1 := flush(t, r)

	// Acknowledged but not yet committed: run B's artifact is in the journal.
	b1 := artOf("out.txt", "b output")
	logArtifacts(t, r, runB.ID, b1)

	got, err := r.TipArtifactRefs()
	wantRefs(t, "tip", got, err,
		"run model/w.bin "+short8(a1), "run plot.png "+short8(a2), "run out.txt "+short8(b1),
		"model model.pkl "+short8(m1), "logged-model model/MLmodel "+short8(l1))

	got, err = r.RunArtifactRefs(runB.ID)
	wantRefs(t, "pending run", got, err, "run out.txt "+short8(b1))

	// Replacing a path: the tip has only the new digest, history both.
	a1b := artOf("model/w.bin", "weights v2")
	logArtifacts(t, r, runA.ID, a1b)
	c2 := flush(t, r)
	got, err = r.RunArtifactRefs(runA.ID)
	wantRefs(t, "run A", got, err, "run model/w.bin "+short8(a1b), "run plot.png "+short8(a2))

	got, err = r.CommitArtifactRefs(c1)
	wantRefs(t, "commit c1", got, err,
		"run model/w.bin "+short8(a1), "run plot.png "+short8(a2),
		"model model.pkl "+short8(m1), "logged-model model/MLmodel "+short8(l1))

	// The range reads only what its commits changed: runs A and B.
	got, err = r.RangeArtifactRefs(c1, c2)
	wantRefs(t, "range c1..c2", got, err,
		"run model/w.bin "+short8(a1b), "run plot.png "+short8(a2), "run out.txt "+short8(b1))
	got, err = r.ArtifactRefsFor(c1[:10] + "..")
	wantRefs(t, "range abbrev..", got, err,
		"run model/w.bin "+short8(a1b), "run plot.png "+short8(a2), "run out.txt "+short8(b1))
	got, err = r.ArtifactRefsFor(c2 + ".." + c2)
	wantRefs(t, "empty range", got, err)

	got, err = r.ArtifactRefsFor("churn@v1")
	wantRefs(t, "model ref", got, err, "model model.pkl "+short8(m1))
	got, err = r.ArtifactRefsFor(runB.ID[:6])
	wantRefs(t, "run prefix", got, err, "run out.txt "+short8(b1))
	got, err = r.ArtifactRefsFor("mlgit~1")
	if err != nil || len(got) == 0 {
		t.Fatalf("mlgit~1: %v %v", got, err)
	}
	// HEAD is the user's main branch: no manifests there.
	got, err = r.ArtifactRefsFor("HEAD")
	wantRefs(t, "HEAD", got, err)

	hist, warnings, err := r.HistoryArtifactRefs()
	if len(warnings) > 0 {
		t.Fatalf("warnings: %v", warnings)
	}
	digests := ArtifactDigests(hist)
	for _, a := range []manifest.Artifact{a1, a1b, a2, b1, m1, l1} {
		if i := sort.SearchStrings(digests, a.Digest); i == len(digests) || digests[i] != a.Digest {
			t.Errorf("history lacks %s (%s)", a.Path, a.Digest)
		}
	}
	if err == nil && len(digests) != 6 {
		t.Errorf("history has %d digests, want 6: %v", len(digests), digests)
	}

	for _, bad := range []string{"nosuchref", "0000000000000000000000000000000000000000", "mlgit~99", "no-model@v1"} {
		if _, err := r.ArtifactRefsFor(bad); !errors.Is(err, ErrNotFound) {
			t.Errorf("%q: got %v, want ErrNotFound", bad, err)
		}
	}
	for _, bad := range []string{"~1", "a b", "mlgit~x"} {
		if _, err := r.ArtifactRefsFor(bad); !errors.Is(err, ErrInvalid) {
			t.Errorf("%q: got %v, want ErrInvalid", bad, err)
		}
	}
	gittest.Git(t, dir, "fsck", "--strict")
}

func TestResolveCommit(t *testing.T) {
	r, dir := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	c1 := flush(t, r)
	logArtifacts(t, r, run.ID, artOf("x", "x"))
	c2 := flush(t, r)
	gittest.Git(t, dir, "tag", "-a", "-m", "release", "rel", c1)
	gittest.Git(t, dir, "update-ref", "refs/remotes/origin/mlgit", c1)
	parent := gittest.Git(t, dir, "rev-parse", c1+"^")
	for rev, want := range map[string]string{
		c2: c2, c2[:7]: c2, "mlgit": c2, "refs/heads/mlgit": c2, "mlgit^": c1, "mlgit~1": c1, "mlgit^0": c2,
		"mlgit~2": parent, "mlgit^^": parent, "mlgit~1^": parent, "rel": c1, "refs/tags/rel": c1,
		"origin/mlgit": c1, "rel~1": parent,
	} {
		h, err := r.ResolveCommit(rev)
		if err != nil || h.String() != want {
			t.Errorf("%s: got %s %v, want %s", rev, h, err, want)
		}
		if git := gittest.Git(t, dir, "rev-parse", rev+"^{commit}"); git != want {
			t.Errorf("%s: git says %s, test wants %s", rev, git, want)
		}
	}
}

func TestRangeCommitsWithMergesAndEqualTimes(t *testing.T) {
	r, dir := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	base := flush(t, r)
	var side []string
	for i := range 3 {
		logArtifacts(t, r, run.ID, artOf(fmt.Sprintf("f%d", i), fmt.Sprint(i)))
		side = append(side, flush(t, r))
	}
	// A merge of a second line of history made with plain git, all commits
	// with the same (pinned) time.
	tree := gittest.Git(t, dir, "rev-parse", base+"^{tree}")
	other := gittest.Git(t, dir, "commit-tree", tree, "-p", base, "-m", "other line")
	merge := gittest.Git(t, dir, "commit-tree", tree, "-p", side[2], "-p", other, "-m", "merge")
	for _, tc := range []struct {
		from, to string
		want     []string
	}{
		{base, side[2], side},
		{side[0], side[2], side[1:]},
		{side[2], merge, []string{other, merge}},
		{other, merge, append(append([]string{}, side...), merge)},
		{merge, side[2], nil},
		{side[2], side[2], nil},
	} {
		fh, _ := r.ResolveCommit(tc.from)
		th, _ := r.ResolveCommit(tc.to)
		got, err := r.objects.RangeCommits(fh, th)
		if err != nil {
			t.Fatal(err)
		}
		var g []string
		for _, h := range got {
			g = append(g, h.String())
		}
		sort.Strings(g)
		want := append([]string(nil), tc.want...)
		sort.Strings(want)
		gitOut := gittest.Git(t, dir, "rev-list", tc.from+".."+tc.to)
		var gitList []string
		if gitOut != "" {
			gitList = strings.Split(gitOut, "\n")
		}
		sort.Strings(gitList)
		if strings.Join(g, ",") != strings.Join(want, ",") || strings.Join(g, ",") != strings.Join(gitList, ",") {
			t.Errorf("%s..%s: got %v, want %v, git rev-list %v", tc.from[:7], tc.to[:7], g, want, gitList)
		}
	}
}

// An old manifest that no longer decodes: ranges and commits after it do
// not read it; the commit that has it fails; gc's history walk falls back
// to scanning it for digests and warns.
func TestUndecodableManifestInHistory(t *testing.T) {
	r, dir := newTestRepo(t)
	lost := artOf("w", "lost")
	badID := strings.Repeat("cd", 16)
	if _, err := r.Update(func(tx *Tx) error {
		tx.Write("runs/cd/"+badID+"/run.yaml", []byte("apiVersion: mlgit/v1\nkind: Run\nbogus: 1\nartifacts:\n- digest: "+lost.Digest+"\n"))
		tx.SetMessage("broken")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	bad, _ := r.Tip()
	if _, err := r.Update(func(tx *Tx) error { tx.Delete("runs/cd"); tx.SetMessage("fix"); return nil }); err != nil {
		t.Fatal(err)
	}
	run, err := r.CreateRun(RunSpec{Name: "a"})
	if err != nil {
		t.Fatal(err)
	}
	ok := artOf("ok", "ok")
	logArtifacts(t, r, run.ID, ok)
	tip := flush(t, r)

	got, err := r.RangeArtifactRefs(bad, tip)
	wantRefs(t, "range after the bad commit", got, err, "run ok "+short8(ok))
	got, err = r.TipArtifactRefs()
	wantRefs(t, "tip", got, err, "run ok "+short8(ok))
	if _, err := r.CommitArtifactRefs(bad); !errors.Is(err, manifest.ErrSyntax) {
		t.Fatalf("commit with broken manifest: %v", err)
	}
	hist, warnings, err := r.HistoryArtifactRefs()
	if err != nil {
		t.Fatal(err)
	}
	if len(warnings) != 1 || !strings.Contains(warnings[0], "keeping every digest") {
		t.Fatalf("warnings: %q", warnings)
	}
	ds := ArtifactDigests(hist)
	if strings.Join(ds, ",") != strings.Join(ArtifactDigests([]ArtifactRef{{Digest: lost.Digest}, {Digest: ok.Digest}}), ",") {
		t.Fatalf("history digests: %v", ds)
	}
	gittest.Git(t, dir, "fsck")
}

// Blobs another clone pushed are known through the remote-tracking copy of
// the branch, loose or packed, and count for gc.
func TestHistoryIncludesRemoteTrackingBranch(t *testing.T) {
	r, dir := newTestRepo(t)
	if _, err := Open(dir, Options{Branch: "elsewhere"}); err == nil {
		t.Fatal("branch elsewhere should not exist yet")
	}
	_, _, err := Init(dir, Options{Branch: "elsewhere", Now: func() time.Time { return time.Unix(1800000000, 0) }}, false)
	if err != nil {
		t.Fatal(err)
	}
	other, err := Open(dir, Options{Branch: "elsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	run, err := other.CreateRun(RunSpec{Name: "theirs"})
	if err != nil {
		t.Fatal(err)
	}
	theirs := artOf("t", "theirs")
	logArtifacts(t, other, run.ID, theirs)
	theirTip := flush(t, other)
	other.Close()
	gittest.Git(t, dir, "update-ref", "refs/remotes/origin/mlgit", theirTip)

	for _, packed := range []bool{false, true} {
		if packed {
			gittest.Git(t, dir, "pack-refs", "--all")
		}
		hist, _, err := r.HistoryArtifactRefs()
		if err != nil {
			t.Fatal(err)
		}
		if ds := ArtifactDigests(hist); len(ds) != 1 || ds[0] != theirs.Digest {
			t.Fatalf("packed=%v: history digests %v, want %s", packed, ds, theirs.Digest)
		}
		// An abbreviated id finds their commit too.
		if h, err := r.ResolveCommit(theirTip[:8]); err != nil || h.String() != theirTip {
			t.Fatalf("packed=%v: abbreviated: %s %v", packed, h, err)
		}
	}
}

func TestLockBlobCache(t *testing.T) {
	r, _ := newTestRepo(t)
	shared1, err := r.LockBlobCache(false, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	shared2, err := r.LockBlobCache(false, time.Second)
	if err != nil {
		t.Fatalf("two shared holders: %v", err)
	}
	if _, err := r.LockBlobCache(true, 50*time.Millisecond); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "run gc again when it is done") {
		t.Fatalf("exclusive while shared held: %v", err)
	}
	shared1.Unlock()
	shared2.Unlock()
	ex, err := r.LockBlobCache(true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.LockBlobCache(false, 50*time.Millisecond); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "locked by a running mlgit blob gc") {
		t.Fatalf("shared while exclusive held: %v", err)
	}
	ex.Unlock()
}
