package repo

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

// fakeBlobs is a BlobChecker over a set of present digests.
type fakeBlobs struct {
	have  map[string]bool
	asked []string
}

func (f *fakeBlobs) Location() string { return "fake-store" }

func (f *fakeBlobs) Has(_ context.Context, ds []string) (map[string]bool, error) {
	f.asked = append(f.asked, ds...)
	out := map[string]bool{}
	for _, d := range ds {
		out[d] = f.have[d]
	}
	return out, nil
}

func (f *fakeBlobs) open(context.Context, *manifest.Config) (BlobChecker, error) { return f, nil }

// commitOn writes files (nil content: delete) in one commit on top of
// branch ref (created from parent when missing) and returns the commit.
func commitOn(t *testing.T, r *Repo, ref, parent string, files map[string][]byte) string {
	t.Helper()
	base, err := r.refs.Read(ref)
	if err != nil {
		t.Fatal(err)
	}
	old := base
	if base.IsZero() {
		if base, err = r.ResolveCommit(parent); err != nil {
			t.Fatal(err)
		}
	}
	tx, err := r.newTx(base)
	if err != nil {
		t.Fatal(err)
	}
	for p, data := range files {
		if data == nil {
			tx.Delete(p)
		} else {
			tx.Write(p, data)
		}
	}
	tx.SetMessage("hand edit")
	c, err := tx.Commit(r.signature())
	if err != nil {
		t.Fatal(err)
	}
	if err := r.refs.CAS(ref, old, c, "", ""); err != nil {
		t.Fatal(err)
	}
	return c.String()
}

func TestMergeBase(t *testing.T) {
	r, dir := proposeRepo(t)
	t0, _ := r.Tip()
	commitOn(t, r, "refs/heads/side", "mlgit", map[string][]byte{"notes/a.txt": []byte("a\n")})
	bs := blobs{}
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "3"))
	commitOn(t, r, "refs/heads/side", "", map[string][]byte{"notes/b.txt": []byte("b\n")})
	t2, _ := r.Tip()
	// A merge of the tracking branch into side, then more on both.
	gittest.Git(t, dir, "update-ref", "refs/heads/side",
		gittest.Git(t, dir, "commit-tree", "side^{tree}", "-p", "side", "-p", "mlgit", "-m", "merge"))
	side := commitOn(t, r, "refs/heads/side", "", map[string][]byte{"notes/c.txt": []byte("c\n")})
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "4"))
	t4, _ := r.Tip()
	orphan := gittest.Git(t, dir, "commit-tree", "mlgit^{tree}", "-m", "orphan")

	for _, c := range []struct{ a, b, want string }{
		{t0, t0, t0},
		{t0, t4, t0},
		{t4, t0, t0},
		{t4, side, t2},
		{side, t4, t2},
		{orphan, t4, ""},
	} {
		got, incomplete, err := r.objects.MergeBase(plumbing.NewHash(c.a), plumbing.NewHash(c.b))
		if err != nil || incomplete {
			t.Fatalf("mergeBase: %v %v", err, incomplete)
		}
		want := c.want
		if want != "" {
			// Cross-check with git.
			if g := gittest.Git(t, dir, "merge-base", c.a, c.b); g != want {
				t.Fatalf("git merge-base says %s, test wants %s", g, want)
			}
		} else {
			want = plumbing.ZeroHash.String()
		}
		if got.String() != want {
			t.Errorf("mergeBase(%.8s, %.8s) = %.8s, want %.8s", c.a, c.b, got, want)
		}
	}
}

func versionDigests(t *testing.T, r *Repo, name string, n int64) []string {
	t.Helper()
	v, err := r.GetVersion(name, n)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range v.Artifacts {
		out = append(out, a.Digest)
	}
	sort.Strings(out)
	return out
}

func TestCheckProposalAfterBaseMoved(t *testing.T) {
	r, _ := proposeRepo(t)
	ctx := context.Background()
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"production": {From: []string{"staging"}, Require: "metrics.acc >= 0.9", Review: true}}))
	t0, _ := r.Tip()
	p, err := r.Propose(PromoteSpec{Name: "churn", Version: 2, Stage: "production"})
	if err != nil {
		t.Fatal(err)
	}
	// Work lands on the tracking branch after the proposal was made.
	bs := blobs{}
	register(t, r, bs, "churn", newRunWithModel(t, r, bs, "3"))

	present := &fakeBlobs{have: map[string]bool{}}
	for _, d := range versionDigests(t, r, "churn", 2) {
		present.have[d] = true
	}
	rep, err := r.Check(ctx, CheckOptions{Base: "mlgit", Head: p.Branch, Blobs: present.open})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.MergeBase != t0 || rep.Files != 1 || rep.Manifests != 1 || rep.Deleted != 0 || rep.Blobs != 3 || rep.BlobStore != "fake-store" ||
		len(rep.StageChanges) != 1 || rep.StageChanges[0] != (StageChange{Model: "churn", Version: 2, From: "Staging", To: "Production", Path: "models/churn/versions/2.yaml", Allowed: true}) {
		t.Fatalf("report %+v", rep)
	}
	if fmt.Sprint(present.asked) != fmt.Sprint(versionDigests(t, r, "churn", 2)) {
		t.Fatalf("asked for %v", present.asked)
	}

	// The base's policy applies: tightened after the proposal, it refuses.
	setConfig(t, r, policyConfig(map[string]manifest.PromotionPolicy{"production": {Require: "metrics.acc >= 0.95 and params.lr = '0.1'"}}))
	rep, err = r.Check(ctx, CheckOptions{Base: "mlgit", Head: p.Branch})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || rep.StageChanges[0].Allowed || len(rep.Warnings) != 0 {
		t.Fatalf("policy: %+v", rep)
	}
	pr := rep.Problems[0]
	if pr.Path != "models/churn/versions/2.yaml" || pr.Kind != ProblemPolicy || pr.Line == 0 ||
		!strings.HasPrefix(pr.Message, "churn v2 Staging -> Production: policy for production: metrics.acc >= 0.95 not met by run ") ||
		!strings.HasSuffix(pr.Message, "(acc = 0.91)") {
		t.Fatalf("problem %+v", pr)
	}
	data, _ := r.readFileAt(t, p.Branch, pr.Path)
	if line := strings.Split(data, "\n")[pr.Line-1]; line != "stage: Production" {
		t.Fatalf("line %d is %q", pr.Line, line)
	}

	// A missing blob is named, at the line of its digest.
	missing := &fakeBlobs{have: map[string]bool{}}
	ds := versionDigests(t, r, "churn", 2)
	for _, d := range ds[1:] {
		missing.have[d] = true
	}
	rep, err = r.Check(ctx, CheckOptions{Base: t0, Head: p.Branch, Blobs: missing.open})
	if err != nil {
		t.Fatal(err)
	}
	var blobProblems []CheckProblem
	for _, pr := range rep.Problems {
		if pr.Kind == ProblemBlob {
			blobProblems = append(blobProblems, pr)
		}
	}
	if len(blobProblems) != 1 || !strings.Contains(blobProblems[0].Message, "blob "+ds[0]+" (") || !strings.Contains(blobProblems[0].Message, "is not in fake-store") {
		t.Fatalf("missing blob: %+v", rep.Problems)
	}
	if line := strings.Split(data, "\n")[blobProblems[0].Line-1]; !strings.Contains(line, ds[0]) {
		t.Fatalf("blob problem at line %q", line)
	}
}

// readFileAt reads a file at a revision with git.
func (r *Repo) readFileAt(t *testing.T, rev, p string) (string, error) {
	t.Helper()
	return gittest.Run(r.workTree, "show", rev+":"+p)
}

func TestCheckHandEditedManifests(t *testing.T) {
	r, _ := proposeRepo(t)
	ctx := context.Background()
	t0, _ := r.Tip()
	v2, _ := r.readFileAt(t, "mlgit", "models/churn/versions/2.yaml")
	model, _ := r.readFileAt(t, "mlgit", "models/churn/model.yaml")
	runs := gittest.Git(t, r.workTree, "ls-tree", "-r", "--name-only", "mlgit", "runs/")
	var segment string
	for _, p := range strings.Split(runs, "\n") {
		if strings.Contains(p, "/metrics/") {
			segment = p
		}
	}
	if segment == "" {
		t.Fatalf("no metric segment in %s", runs)
	}
	badCfg := string(policyConfig(map[string]manifest.PromotionPolicy{
		"production": {From: []string{"staging"}}, "prod": {Review: true}, "staging": {Require: "metrics.acc >> 1"},
	}).Encode())
	cfgLine := func(prefix string) int {
		for i, l := range strings.Split(badCfg, "\n") {
			if strings.HasPrefix(l, prefix) {
				return i + 1
			}
		}
		t.Fatalf("no %q in\n%s", prefix, badCfg)
		return 0
	}
	head := commitOn(t, r, "refs/heads/edit", "mlgit", map[string][]byte{
		"models/churn/versions/2.yaml": []byte(strings.Replace(v2, "stage: Staging", "stage: Staging\n  colour: red", 1)),
		"models/churn/model.yaml":      []byte(strings.Replace(model, "name: churn", "name: churn\ncolour: red", 1)),
		"mlgit.yaml":                   []byte(badCfg),
		segment:                        []byte("acc\t1\t1\t0.5\n"),
		"runs/aa/" + strings.Repeat("a", 32) + "/metrics/000001.tsv": []byte("acc\t01\t1\t0.5\n"),
		"experiments/0/experiment.yaml":                              nil,
		"README.md":                                                  []byte("not checked\n"),
	})
	rep, err := r.Check(ctx, CheckOptions{Base: t0, Head: "edit"})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Head != head || rep.Files != 6 || rep.Deleted != 1 || rep.Manifests != 3 {
		t.Fatalf("report %+v", rep)
	}
	if len(rep.Warnings) != 1 || !strings.Contains(rep.Warnings[0], "edit changes the promotion policy: stage changes were checked against the policy of "+t0) {
		t.Fatalf("warnings %q", rep.Warnings)
	}
	var got []string
	for _, p := range rep.Problems {
		got = append(got, fmt.Sprintf("%s:%d %s", p.Path, p.Line, p.Kind))
	}
	want := []string{
		fmt.Sprintf("mlgit.yaml:%d config", cfgLine("  prod:")),
		fmt.Sprintf("mlgit.yaml:%d config", cfgLine("    require:")),
		"models/churn/model.yaml:4 manifest",
		"models/churn/versions/2.yaml:" + fmt.Sprint(strings.Count(v2[:strings.Index(v2, "stage: Staging")], "\n")+2) + " manifest",
		"runs/aa/" + strings.Repeat("a", 32) + "/metrics/000001.tsv:1 segment",
		segment + ":0 segment",
	}
	sort.Strings(want)
	sort.Strings(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("problems\n%s\nwant\n%s\n%+v", strings.Join(got, "\n"), strings.Join(want, "\n"), rep.Problems)
	}
	for _, p := range rep.Problems {
		switch {
		case p.Path == "models/churn/model.yaml" && !strings.Contains(p.Message, "field colour not found"):
			t.Errorf("unknown field: %s", p)
		case strings.HasSuffix(p.Path, "versions/2.yaml") && !strings.Contains(p.Message, "malformed manifest"):
			t.Errorf("invalid YAML: %s", p)
		case p.Path == "mlgit.yaml" && p.Line == cfgLine("  prod:") && !strings.Contains(p.Message, `promotion: "prod" is not a stage`):
			t.Errorf("policy stage: %s", p)
		case p.Path == "mlgit.yaml" && p.Line == cfgLine("    require:") && !strings.Contains(p.Message, "promotion.staging.require:"):
			t.Errorf("policy filter: %s", p)
		case p.Path == segment && !strings.Contains(p.Message, "segments are append-only"):
			t.Errorf("rewritten segment: %s", p)
		}
	}

	// A manifest in the wrong place, and a non-canonical one.
	run1 := gittest.Git(t, r.workTree, "ls-tree", "-r", "--name-only", "mlgit", "runs/")
	var runPath string
	for _, p := range strings.Split(run1, "\n") {
		if strings.HasSuffix(p, "/run.yaml") {
			runPath = p
			break
		}
	}
	runData, _ := r.readFileAt(t, "mlgit", runPath)
	commitOn(t, r, "refs/heads/edit2", "mlgit", map[string][]byte{
		"runs/bb/" + strings.Repeat("b", 32) + "/run.yaml": []byte(runData + "\n"),
		"models/churn/versions/1.yaml":                     []byte(strings.Replace(strings.Replace(versionYAML(t, r, 1), "stage: Production", "stage: Archived", 1), "status: READY", "status: 'READY'", 1)),
	})
	rep, err = r.Check(ctx, CheckOptions{Base: "mlgit", Head: "edit2"})
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 2 || !strings.Contains(rep.Problems[0].Message, "not in mlgit's canonical encoding") ||
		!strings.Contains(rep.Problems[1].Message, "belongs at "+runPath) {
		t.Fatalf("problems %+v", rep.Problems)
	}
}

func versionYAML(t *testing.T, r *Repo, n int64) string {
	t.Helper()
	s, err := r.readFileAt(t, "mlgit", fmt.Sprintf("models/churn/versions/%d.yaml", n))
	if err != nil {
		t.Fatal(err)
	}
	return s + "\n"
}

func TestCheckRefs(t *testing.T) {
	r, dir := proposeRepo(t)
	// HEAD on the code branch, no origin: head is the tracking branch and
	// there is nothing to compare it with.
	if _, _, err := r.CheckRefs("", ""); !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), "pass --base REF") {
		t.Fatalf("no base: %v", err)
	}
	if b, h, err := r.CheckRefs("", "main"); err != nil || b != "mlgit" || h != "main" {
		t.Fatalf("head given: %s %s %v", b, h, err)
	}
	gittest.Git(t, dir, "update-ref", "refs/remotes/origin/mlgit", "mlgit~1")
	if b, h, err := r.CheckRefs("", ""); err != nil || b != "origin/mlgit" || h != "mlgit" {
		t.Fatalf("with origin: %s %s %v", b, h, err)
	}
	// A checkout of the tracking branch (or a pull request): head is HEAD.
	gittest.Git(t, dir, "checkout", "-q", "--detach", "mlgit")
	if b, h, err := r.CheckRefs("", ""); err != nil || b != "origin/mlgit" || h != "HEAD" {
		t.Fatalf("detached on mlgit: %s %s %v", b, h, err)
	}
	rep, err := r.Check(context.Background(), CheckOptions{})
	if err != nil || !rep.OK() || rep.Files != 1 || rep.HeadRef != "HEAD" || rep.BaseRef != "origin/mlgit" {
		t.Fatalf("default check: %+v %v", rep, err)
	}
	if _, err := r.Check(context.Background(), CheckOptions{Base: "nope"}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("unknown base: %v", err)
	}
}
