package repo

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

func digestOf(b []byte) string {
	s := sha256.Sum256(b)
	return "sha256:" + hex.EncodeToString(s[:])
}

const testMLmodel = `artifact_path: model
flavors:
  python_function:
    loader_module: mlflow.sklearn
    model_path: model.pkl
  sklearn:
    pickled_model: model.pkl
    sklearn_version: 1.5.0
signature:
  inputs: '[{"type": "double", "name": "tenure"}]'
  outputs: '[{"type": "long"}]'
  params: null
model_size_bytes: 4242
`

// blobs is a fake blob store for tests: digest -> bytes.
type blobs map[string][]byte

func (b blobs) add(data string) manifest.Artifact {
	d := digestOf([]byte(data))
	b[d] = []byte(data)
	return manifest.Artifact{Digest: d, Size: int64(len(data)), Mode: "0644"}
}

func (b blobs) read(d string) ([]byte, error) {
	if data, ok := b[d]; ok {
		return data, nil
	}
	return nil, errors.New("no such blob")
}

func (b blobs) open(d string) (io.ReadCloser, int64, error) {
	data, err := b.read(d)
	if err != nil {
		return nil, 0, err
	}
	return io.NopCloser(strings.NewReader(string(data))), int64(len(data)), nil
}

// newRunWithModel creates a finished run whose artifacts hold an MLflow
// model under model/ and a plot outside it.
func newRunWithModel(t *testing.T, r *Repo, bs blobs, seed string) string {
	t.Helper()
	run, err := r.CreateRun(RunSpec{Params: map[string]string{"lr": "0.1"}, Source: &manifest.Source{Commit: strings.Repeat("ab", 20), Branch: "main", Dirty: true}})
	if err != nil {
		t.Fatal(err)
	}
	ml := bs.add(testMLmodel)
	ml.Path = "model/MLmodel"
	pkl := bs.add("pickle " + seed)
	pkl.Path = "model/model.pkl"
	exe := bs.add("#!/bin/sh\necho serve\n")
	exe.Path, exe.Mode = "model/serve.sh", "0755"
	plot := bs.add("png")
	plot.Path = "plot.png"
	if _, err := r.LogBatch(run.ID, Batch{
		Artifacts: []manifest.Artifact{ml, pkl, exe, plot},
		Metrics:   []manifest.MetricPoint{{Key: "acc", Value: 0.91, Step: 3, Timestamp: 1}},
		Inputs:    []manifest.Dataset{{Name: "train.csv", Digest: "sha256:00", Source: "s3://data/train.csv"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateRun(run.ID, RunUpdate{Status: manifest.StatusFinished, EndTime: 5}); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func register(t *testing.T, r *Repo, bs blobs, name, runID string) *Registered {
	t.Helper()
	_, arts, err := r.RunModelFiles(runID, "model")
	if err != nil {
		t.Fatal(err)
	}
	spec := VersionSpec{Name: name, RunID: runID, Source: "runs:/" + runID + "/model", Artifacts: arts, CreateModel: true}
	if w := spec.ApplyMLmodel(bs.read); w != "" {
		t.Fatal(w)
	}
	res, err := r.RegisterVersion(spec)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func tagTarget(t *testing.T, dir, tag string) string {
	t.Helper()
	return gittest.Git(t, dir, "rev-parse", "refs/tags/"+tag+"^{commit}")
}

func TestRegistryEndToEnd(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run1 := newRunWithModel(t, r, bs, "1")
	run2 := newRunWithModel(t, r, bs, "2")
	run3 := newRunWithModel(t, r, bs, "3")

	v1 := register(t, r, bs, "churn", run1)
	if !v1.CreatedModel || v1.Version.Version != 1 || v1.Tag != "churn@v1" {
		t.Fatalf("v1: %+v", v1)
	}
	v := v1.Version
	if fmt.Sprint(v.Flavors) != "[python_function sklearn]" || v.ModelSize != 4242 ||
		v.Signature != `{"inputs":"[{\"type\": \"double\", \"name\": \"tenure\"}]","outputs":"[{\"type\": \"long\"}]","params":null}` {
		t.Fatalf("MLmodel not recorded: %q %d %q", v.Flavors, v.ModelSize, v.Signature)
	}
	if len(v.Artifacts) != 3 || v.Artifacts[0].Path != "MLmodel" || v.Artifacts[2].Mode != "0755" || v.Source != "runs:/"+run1+"/model" {
		t.Fatalf("artifacts %+v source %s", v.Artifacts, v.Source)
	}
	register(t, r, bs, "churn", run2)
	register(t, r, bs, "churn", run3)

	// The registration tag is annotated, on the commit that added the file.
	if got := tagTarget(t, dir, "churn@v1"); got != v1.Commit {
		t.Fatalf("churn@v1 -> %s, want %s", got, v1.Commit)
	}
	if got := gittest.Git(t, dir, "diff-tree", "--no-commit-id", "--name-only", "-r", v1.Commit); !strings.Contains(got, "models/churn/versions/1.yaml") {
		t.Fatalf("registration commit changes %s", got)
	}
	if got := gittest.Git(t, dir, "cat-file", "-t", "churn@v1"); got != "tag" {
		t.Fatalf("churn@v1 is a %s", got)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%s%n%b", v1.Commit); !strings.Contains(got, "churn v1 registered from run "+run1[:8]) ||
		!strings.Contains(got, "Mlgit-Op: model-register") || !strings.Contains(got, "Mlgit-Model: churn") {
		t.Fatalf("commit message %q", got)
	}

	p, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "production", Reason: "beats v1"})
	if err != nil {
		t.Fatal(err)
	}
	if p.Version.Stage != "Production" || len(p.Changes) != 1 || p.Changes[0].Tag != "churn#production#1" {
		t.Fatalf("promote: %+v", p)
	}
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Staging"}); err != nil {
		t.Fatal(err)
	}
	p, err = r.Promote(PromoteSpec{Name: "churn", Version: 3, Stage: "PRODUCTION", ArchiveExisting: true, Reason: "retrained"})
	if err != nil {
		t.Fatal(err)
	}
	if len(p.Changes) != 2 || p.Changes[1].Version != 2 || p.Changes[1].To != "Archived" || p.Changes[1].Tag != "churn#archived#4" {
		t.Fatalf("archive existing: %+v", p.Changes)
	}
	if got := gittest.Git(t, dir, "log", "-1", "--format=%s", "mlgit"); got != "churn v3 -> Production (archived v2)" {
		t.Fatalf("subject %q", got)
	}
	if _, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 3}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "challenger", Version: 1}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.DeleteAlias("churn", "challenger", "not needed"); err != nil {
		t.Fatal(err)
	}

	// Event tags point at the version's registration commit, with YAML.
	if tagTarget(t, dir, "churn#production#3") != tagTarget(t, dir, "churn@v3") {
		t.Fatal("event tag not on the registration commit")
	}
	body := gittest.Git(t, dir, "cat-file", "-p", "churn#production#3")
	for _, want := range []string{"type commit", "tag churn#production#3", "tagger Test Author <author@example.com>",
		"# churn v3 -> production", "model: churn", "version: 3", "kind: stage", "label: production", "previous: none",
		"reason: retrained", "actor: Test Author <author@example.com>", "commit: " + p.Commit} {
		if !strings.Contains(body, want) {
			t.Errorf("tag body lacks %q:\n%s", want, body)
		}
	}
	tags := strings.Fields(gittest.Git(t, dir, "tag", "-l"))
	want := []string{"churn#!challenger#7", "churn#archived#4", "churn#challenger#6", "churn#champion#5", "churn#production#1",
		"churn#production#3", "churn#staging#2", "churn@v1", "churn@v2", "churn@v3"}
	if fmt.Sprint(tags) != fmt.Sprint(want) {
		t.Fatalf("tags\n%v\nwant\n%v", tags, want)
	}

	for ref, want := range map[string]int64{"churn@production": 3, "churn@Staging": 1, "churn@archived": 2, "churn@champion": 3,
		"churn@latest": 3, "churn@v2": 2, "models:/churn/Production": 3, "models:/churn@champion": 3, "models:/churn/1": 1} {
		res, err := r.Resolve(ref)
		if err != nil || res.Version != want || len(res.Warnings) > 0 {
			t.Errorf("Resolve(%s) = %+v, %v; want v%d", ref, res, err, want)
		}
	}
	res, _ := r.Resolve("churn@champion")
	if res.RunID != run3 || res.Stage != "Production" || res.Digest != VersionDigest(res.Artifacts) || res.URI != "models:/churn/3" ||
		fmt.Sprint(res.Aliases) != "[champion]" || res.ResolvedFrom != "tags" || res.RegistrationCommit != tagTarget(t, dir, "churn@v3") {
		t.Fatalf("resolution %+v", res)
	}

	hist, warns, err := r.ModelHistory("churn")
	if err != nil || len(warns) > 0 {
		t.Fatal(err, warns)
	}
	var lines []string
	for _, h := range hist {
		lines = append(lines, fmt.Sprintf("%s v%d %s->%s", h.Kind, h.Version, h.From, h.To))
	}
	wantHist := []string{"registration v1 ->v1", "registration v2 ->v2", "registration v3 ->v3", "stage v2 none->production",
		"stage v1 none->staging", "stage v3 none->production", "stage v2 production->archived", "alias v3 ->v3",
		"alias v1 ->v1", "alias-removed v1 v1->"}
	if strings.Join(lines, "\n") != strings.Join(wantHist, "\n") {
		t.Fatalf("history:\n%s\nwant:\n%s", strings.Join(lines, "\n"), strings.Join(wantHist, "\n"))
	}
	if hist[5].Reason != "retrained" || hist[5].Actor != "Test Author <author@example.com>" || hist[5].Commit != p.Commit || hist[5].Time.IsZero() {
		t.Fatalf("history entry %+v", hist[5])
	}

	rep, err := r.Fsck()
	if err != nil || len(rep.Problems) > 0 || rep.Models != 1 || rep.Versions != 3 || rep.Tags != 10 {
		t.Fatalf("fsck: %+v %v", rep, err)
	}
	sync, err := r.SyncTags(nil, false)
	if err != nil || len(sync.Created) != 0 {
		t.Fatalf("sync on a clean registry: %+v %v", sync, err)
	}
	gittest.Git(t, dir, "fsck", "--strict")

	// Files come out verified, with their modes.
	out := t.TempDir()
	if err := WriteFiles(out, res.Artifacts, bs.open); err != nil {
		t.Fatal(err)
	}
	if fi, err := os.Stat(filepath.Join(out, "serve.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("serve.sh: %v %v", fi, err)
	}
	if b, _ := os.ReadFile(filepath.Join(out, "model.pkl")); string(b) != "pickle 3" {
		t.Fatalf("model.pkl = %q", b)
	}
	bad := blobs{}
	for d := range bs {
		bad[d] = []byte("tampered")
	}
	if err := WriteFiles(t.TempDir(), res.Artifacts, bad.open); err == nil || !strings.Contains(err.Error(), "content mismatch") {
		t.Fatalf("tampered blob: %v", err)
	}

	// Lineage: version -> run -> code, inputs.
	l, err := r.Lineage("churn@production")
	if err != nil || l.Version.Version != 3 || l.Run.ID != run3 || l.Run.Code == nil || !l.Run.Code.Dirty || l.Run.Params["lr"] != "0.1" ||
		float64(l.Run.Metrics["acc"]) != 0.91 || len(l.Run.Inputs) != 1 {
		t.Fatalf("lineage %+v %v", l, err)
	}
}

func TestRegistryBadInput(t *testing.T) {
	r, _ := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	if _, err := r.CreateModel(ModelSpec{Name: "fraud"}); err != nil {
		t.Fatal(err)
	}
	if err := r.DeleteVersion("churn", 1); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name string
		err  error
		want string
		fn   func() error
	}{
		{"unknown model", ErrNotFound, `model "chrun" does not exist (models: "churn", "fraud")`, func() error {
			_, err := r.Promote(PromoteSpec{Name: "chrun", Version: 1, Stage: "Production"})
			return err
		}},
		{"unknown version", ErrNotFound, `model "churn" has no version 9 (latest is 2; versions: 2)`, func() error {
			_, err := r.Promote(PromoteSpec{Name: "churn", Version: 9, Stage: "Production"})
			return err
		}},
		{"deleted version", ErrNotFound, `version 1 of model "churn" was deleted (versions: 2)`, func() error {
			_, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Production"})
			return err
		}},
		{"unknown stage", ErrInvalid, `stage "prod" is not one of None, Staging, Production, Archived`, func() error {
			_, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "prod"})
			return err
		}},
		{"archive to None", ErrInvalid, "--archive-existing needs a target stage other than None and Archived", func() error {
			_, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "none", ArchiveExisting: true})
			return err
		}},
		{"unknown alias", ErrNotFound, `model "churn" has no alias "champ" (aliases: none)`, func() error {
			_, err := r.DeleteAlias("churn", "champ", "")
			return err
		}},
		{"alias on deleted version", ErrNotFound, "was deleted", func() error {
			_, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 1})
			return err
		}},
		{"alias named like a stage", ErrInvalid, `alias "Staging" is also a stage name`, func() error {
			_, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "Staging", Version: 2})
			return err
		}},
		{"reserved alias", ErrInvalid, "reserved", func() error {
			_, err := r.SetAlias(AliasSpec{Name: "churn", Alias: "v3", Version: 2})
			return err
		}},
		{"resolve unknown stage", ErrNotFound, "no version of model \"churn\" is in stage production (stages in use: none (v2))", func() error {
			_, err := r.Resolve("churn@production")
			return err
		}},
		{"resolve unknown alias", ErrNotFound, `model "churn" has no alias "champion"`, func() error {
			_, err := r.Resolve("churn@champion")
			return err
		}},
		{"resolve unknown model", ErrNotFound, `model "nope" does not exist`, func() error {
			_, err := r.Resolve("nope@latest")
			return err
		}},
		{"resolve deleted version", ErrNotFound, "version 1 of model \"churn\" was deleted", func() error {
			_, err := r.Resolve("churn@v1")
			return err
		}},
		{"run path without artifacts", ErrNotFound, `has no artifacts under "weights" (it has: model/, plot.png)`, func() error {
			_, _, err := r.RunModelFiles(run, "weights")
			return err
		}},
		{"create existing", ErrExists, `model "fraud" already exists`, func() error {
			_, err := r.CreateModel(ModelSpec{Name: "fraud"})
			return err
		}},
		{"register into a missing model via the API", ErrNotFound, `model "new" does not exist`, func() error {
			_, err := r.RegisterVersion(VersionSpec{Name: "new", Source: "file:///x"})
			return err
		}},
		{"name too long for tags", ErrInvalid, "escapes to a", func() error {
			_, err := r.CreateModel(ModelSpec{Name: strings.Repeat("模", 100)})
			return err
		}},
	}
	tip, _ := r.Tip()
	for _, c := range cases {
		err := c.fn()
		if !errors.Is(err, c.err) || !strings.Contains(err.Error(), c.want) {
			t.Errorf("%s: %v; want %v with %q", c.name, err, c.err, c.want)
		}
	}
	if now, _ := r.Tip(); now != tip {
		t.Error("bad input changed the branch")
	}
}

// TestConcurrentPromotions runs promotions from several store handles at
// once (each with its own locks and refs, as separate processes have):
// every event is recorded with a distinct counter and tags and manifests
// agree at the end.
func TestConcurrentPromotions(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	for i := 0; i < 8; i++ {
		register(t, r, bs, "churn", run)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for i := 0; i < 8; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			h, err := Open(dir, Options{})
			if err != nil {
				errs <- err
				return
			}
			defer h.Close()
			stage := []string{"Staging", "Production"}[i%2]
			_, err = h.Promote(PromoteSpec{Name: "churn", Version: int64(1 + i), Stage: stage, ArchiveExisting: true})
			errs <- err
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	events := strings.Fields(gittest.Git(t, dir, "tag", "-l", "churn#*"))
	counters := map[string]bool{}
	for _, e := range events {
		c := e[strings.LastIndexByte(e, '#'):]
		if counters[c] {
			t.Fatalf("counter %s used twice: %v", c, events)
		}
		counters[c] = true
	}
	if len(events) < 8 {
		t.Fatalf("only %d events for 8 promotions: %v", len(events), events)
	}
	rep, err := r.Fsck()
	if err != nil || len(rep.Problems) > 0 {
		t.Fatalf("fsck after concurrent promotions: %+v %v", rep.Problems, err)
	}
}

// TestEventCounterTakenByAnotherProcess simulates a writer that ignores our
// lock (git tag by hand, a fetch) taking the counter we picked.
func TestEventCounterTakenByAnotherProcess(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	stolen := false
	beforeTagCreate = func(name string) {
		if name == "churn#production#1" && !stolen {
			stolen = true
			gittest.Git(t, dir, "tag", "-a", "-m", "by hand", name, "churn@v2^{commit}")
		}
	}
	defer func() { beforeTagCreate = nil }()
	p, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Production"})
	if err != nil {
		t.Fatal(err)
	}
	if !stolen || p.Changes[0].Tag != "churn#production#2" {
		t.Fatalf("tag %q (stolen %v)", p.Changes[0].Tag, stolen)
	}
	res, err := r.Resolve("churn@production")
	if err != nil || res.Version != 2 {
		// v2 (by hand, counter 1) and v1 (ours, counter 2) are both in
		// production: the highest version wins, as in MLflow.
		t.Fatalf("resolve: %+v %v", res, err)
	}
}

func TestHandMadeTagsAreIgnoredWithWarnings(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	register(t, r, bs, "churn", run)
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Production"}); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "tag", "-a", "-m", "hand made", "churn#prod", "mlgit")
	gittest.Git(t, dir, "tag", "churn@v1.2.3", "mlgit")
	gittest.Git(t, dir, "tag", "churn#production#007", "mlgit")
	gittest.Git(t, dir, "tag", "-a", "-m", "not yaml: [", "churn#staging#9", "mlgit") // no version on that commit
	gittest.Git(t, dir, "tag", "churnish@v1", "mlgit")                                // another model's namespace
	for _, pack := range []bool{false, true} {
		if pack {
			gittest.Git(t, dir, "pack-refs", "--all")
		}
		res, err := r.Resolve("churn@production")
		if err != nil || res.Version != 1 {
			t.Fatalf("resolve: %+v %v", res, err)
		}
		all := strings.Join(res.Warnings, "\n")
		for _, w := range []string{"churn#prod:", "churn@v1.2.3", "churn#production#007", "churn#staging#9"} {
			if !strings.Contains(all, w) {
				t.Errorf("packed %v: no warning about %s in\n%s", pack, w, all)
			}
		}
		if strings.Contains(all, "churnish") {
			t.Errorf("warning about another model: %s", all)
		}
		if _, warns, err := r.ModelHistory("churn"); err != nil || len(warns) < 4 {
			t.Fatalf("history: %v %v", warns, err)
		}
	}
	rep, err := r.Fsck()
	if err != nil {
		t.Fatal(err)
	}
	bad := 0
	for _, p := range rep.Problems {
		if p.Kind == "bad-tag" {
			bad++
		}
	}
	if bad != 4 {
		t.Fatalf("fsck found %d bad tags: %+v", bad, rep.Problems)
	}
}

func TestSyncRepairsTags(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	v1 := register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "Production"})
	r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 2})
	// Lose tags, as if creating them had failed or they were not fetched.
	gittest.Git(t, dir, "tag", "-d", "churn@v1", "churn#production#1", "churn#champion#2")
	rep, err := r.Fsck()
	if err != nil {
		t.Fatal(err)
	}
	kinds := problemKinds(rep)
	if kinds != "alias missing-tag stage" {
		t.Fatalf("fsck kinds %q: %+v", kinds, rep.Problems)
	}
	s, err := r.SyncTags(nil, true)
	if err != nil || len(s.Created) != 3 {
		t.Fatalf("dry run: %+v %v", s, err)
	}
	if strings.Contains(gittest.Git(t, dir, "tag", "-l"), "churn@v1\n") {
		t.Fatal("dry run wrote")
	}
	s, err = r.SyncTags(nil, false)
	if err != nil || len(s.Created) != 3 {
		t.Fatalf("sync: %+v %v", s, err)
	}
	if got := tagTarget(t, dir, "churn@v1"); got != v1.Commit {
		t.Fatalf("recreated churn@v1 -> %s, want %s", got, v1.Commit)
	}
	if rep, _ := r.Fsck(); len(rep.Problems) > 0 {
		t.Fatalf("fsck after sync: %+v", rep.Problems)
	}
	if s, _ := r.SyncTags(nil, false); len(s.Created) != 0 {
		t.Fatalf("second sync created %+v", s.Created)
	}

	// Delete a version and the model's deregistration is in the tags.
	if err := r.DeleteVersion("churn", 3); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("churn@v3"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted version resolves: %v", err)
	}
	if res, _ := r.Resolve("churn@latest"); res.Version != 2 {
		t.Fatalf("latest after delete: %+v", res)
	}
	// Delete the model: the name resolves to nothing, and re-creating it
	// continues the numbers.
	if err := r.DeleteModel("churn"); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Resolve("churn@production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("deleted model resolves: %v", err)
	}
	if rep, _ := r.Fsck(); len(rep.Problems) > 0 {
		t.Fatalf("fsck after delete: %+v", rep.Problems)
	}
	again := register(t, r, bs, "churn", run)
	if again.Version.Version != 4 || again.Tag != "churn@v4" {
		t.Fatalf("re-created model registered %+v", again)
	}
	if rep, _ := r.Fsck(); len(rep.Problems) > 0 {
		t.Fatalf("fsck after re-create: %+v", rep.Problems)
	}
}

func problemKinds(rep *FsckReport) string {
	set := map[string]bool{}
	for _, p := range rep.Problems {
		set[p.Kind] = true
	}
	var ks []string
	for k := range set {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return strings.Join(ks, " ")
}

func TestRenameModel(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	register(t, r, bs, "churn", run)
	register(t, r, bs, "churn", run)
	r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Production"})
	r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 2})
	if _, err := r.RenameModel("churn", "churn/v2 model"); err != nil {
		t.Fatal(err)
	}
	key := "churn%2Fv2%20model"
	if tagTarget(t, dir, key+"@v1") != tagTarget(t, dir, "churn@v1") {
		t.Fatal("renamed version tag is not on the original registration commit")
	}
	for ref, want := range map[string]int64{"churn/v2 model@production": 1, "churn/v2 model@champion": 2} {
		res, err := r.Resolve(ref)
		if err != nil || res.Version != want || len(res.Warnings) > 0 {
			t.Fatalf("%s: %+v %v", ref, res, err)
		}
	}
	if _, err := r.Resolve("churn@production"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("old name still resolves: %v", err)
	}
	if v, err := r.GetVersion("churn/v2 model", 2); err != nil || v.Name != "churn/v2 model" {
		t.Fatalf("version after rename: %+v %v", v, err)
	}
	if rep, _ := r.Fsck(); len(rep.Problems) > 0 {
		t.Fatalf("fsck after rename: %+v", rep.Problems)
	}
	// Sync rebuilds a lost tag of the new name on the original commit,
	// following the rename in history.
	gittest.Git(t, dir, "tag", "-d", key+"@v2")
	want := tagTarget(t, dir, "churn@v2")
	if s, err := r.SyncTags([]string{"churn/v2 model"}, false); err != nil || len(s.Created) != 1 {
		t.Fatalf("sync: %+v %v", s, err)
	}
	if got := tagTarget(t, dir, key+"@v2"); got != want {
		t.Fatalf("synced tag -> %s, want %s", got, want)
	}
	if _, err := r.SyncTags([]string{"chrun"}, false); !errors.Is(err, ErrNotFound) {
		t.Fatalf("sync of an unknown model: %v", err)
	}
	if _, err := r.RenameModel("churn/v2 model", "churn"); !errors.Is(err, ErrExists) {
		t.Fatalf("rename onto a name with tags: %v", err)
	}
	gittest.Git(t, dir, "fsck", "--strict")
}

// TestResolveFromLsRemote pushes tags to a bare remote with real git push
// and resolves a stage from real git ls-remote output alone.
func TestResolveFromLsRemote(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	for i := 0; i < 3; i++ {
		register(t, r, bs, "churn", run)
		register(t, r, bs, "fraud", run)
	}
	r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "Production"})
	r.Promote(PromoteSpec{Name: "fraud", Version: 3, Stage: "Production"})
	r.SetAlias(AliasSpec{Name: "churn", Alias: "champion", Version: 1})
	remote := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "init", "-q", "--bare", remote)
	gittest.Git(t, dir, "push", "-q", remote, "--tags")

	out := gittest.Git(t, dir, "ls-remote", "--tags", remote)
	st := StateFromTags("churn", ParseLsRemote(out), NewStages())
	sel, _ := ParseSelector("production", NewStages())
	if v, err := st.Resolve("churn", sel); err != nil || v.Version != 2 || v.Commit != tagTarget(t, dir, "churn@v2") {
		t.Fatalf("from ls-remote output: %+v %v", v, err)
	}

	var asked [][]string
	var got []byte
	gitSpy := func(ctx context.Context, d string, args ...string) ([]byte, error) {
		asked = append(asked, args)
		b, err := gitobj.Git(ctx, d, args...)
		got = b
		return b, err
	}
	res, err := ResolveRemote(context.Background(), remote, "churn@production", RemoteOptions{Dir: t.TempDir(), Git: gitSpy})
	if err != nil || res.Version != 2 || res.ResolvedFrom != "remote" || res.RegistrationCommit != tagTarget(t, dir, "churn@v2") {
		t.Fatalf("ResolveRemote: %+v %v", res, err)
	}
	if len(asked) != 1 || strings.Join(asked[0], " ") != "ls-remote --tags "+remote+" refs/tags/churn@* refs/tags/churn#*" {
		t.Fatalf("git calls %q", asked)
	}
	if strings.Contains(string(got), "fraud") {
		t.Fatalf("ls-remote listed other models' tags:\n%s", got)
	}
	if res, err := ResolveRemote(context.Background(), remote, "churn@champion", RemoteOptions{}); err != nil || res.Version != 1 {
		t.Fatalf("alias from remote: %+v %v", res, err)
	}
	if _, err := ResolveRemote(context.Background(), remote, "churn@staging", RemoteOptions{}); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing stage on remote: %v", err)
	}
	if _, err := ResolveRemote(context.Background(), filepath.Join(t.TempDir(), "nowhere"), "churn@staging", RemoteOptions{}); err == nil || errors.Is(err, ErrNotFound) {
		t.Fatalf("unreachable remote: %v", err)
	}
}

func TestPackedAndLooseTagsResolveAlike(t *testing.T) {
	r, dir := newTestRepo(t)
	bs := blobs{}
	run := newRunWithModel(t, r, bs, "1")
	for i := 0; i < 5; i++ {
		register(t, r, bs, "churn", run)
	}
	for i := int64(1); i <= 5; i++ {
		r.Promote(PromoteSpec{Name: "churn", Version: i, Stage: []string{"Staging", "Production"}[i%2]})
	}
	before, _ := r.Resolve("churn@production")
	h1, _, _ := r.ModelHistory("churn")
	gittest.Git(t, dir, "pack-refs", "--all")
	if n, _ := os.ReadDir(filepath.Join(dir, ".git", "refs", "tags")); len(n) != 0 {
		t.Fatalf("%d loose tags left after pack-refs", len(n))
	}
	after, err := r.Resolve("churn@production")
	if err != nil || after.Version != before.Version || after.Version != 5 {
		t.Fatalf("packed: %+v, loose: %+v (%v)", after, before, err)
	}
	h2, _, _ := r.ModelHistory("churn")
	if fmt.Sprint(h1) != fmt.Sprint(h2) {
		t.Fatal("history differs between loose and packed tags")
	}
	// A promotion on top of packed tags continues the counters.
	p, err := r.Promote(PromoteSpec{Name: "churn", Version: 1, Stage: "Archived"})
	if err != nil || p.Changes[0].Tag != "churn#archived#6" {
		t.Fatalf("%+v %v", p, err)
	}
	_ = time.Second
}

// TestSyncAnchorsSquashedRegistrations: when one commit adds several
// versions (a squash merge), each still gets its own registration commit,
// so events map to versions unambiguously.
func TestSyncAnchorsSquashedRegistrations(t *testing.T) {
	r, dir := newTestRepo(t)
	squash, err := r.Update(func(tx *Tx) error {
		m := &manifest.RegisteredModel{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
			Name: "churn", CreationTimestamp: 1, LastUpdatedTimestamp: 1, LatestVersion: 2}
		if err := m.Validate(); err != nil {
			return err
		}
		tx.Write(layout.Model(ModelKey("churn")), m.Encode())
		for n := int64(1); n <= 2; n++ {
			v := &manifest.ModelVersion{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion},
				Name: "churn", Version: n, Stage: StageNone, Status: "READY", Source: "file:///m", CreationTimestamp: 1, LastUpdatedTimestamp: 1}
			if err := v.Validate(); err != nil {
				return err
			}
			tx.Write(layout.Version(ModelKey("churn"), n), v.Encode())
		}
		tx.SetMessage("Merge pull request #7 (squashed)", "Mlgit-Op: merge")
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if rep, _ := r.Fsck(); problemKinds(rep) != "missing-tag" {
		t.Fatalf("fsck before sync: %+v", rep.Problems)
	}
	s, err := r.SyncTags(nil, false)
	if err != nil || len(s.Created) != 2 {
		t.Fatalf("sync: %+v %v", s, err)
	}
	c1, c2 := tagTarget(t, dir, "churn@v1"), tagTarget(t, dir, "churn@v2")
	if c1 != squash.String() || c2 == c1 || gittest.Git(t, dir, "rev-parse", c2+"^") != c1 {
		t.Fatalf("v1 -> %s, v2 -> %s (squash %s)", c1, c2, squash)
	}
	if _, err := r.Promote(PromoteSpec{Name: "churn", Version: 2, Stage: "Production"}); err != nil {
		t.Fatal(err)
	}
	if res, err := r.Resolve("churn@production"); err != nil || res.Version != 2 || len(res.Warnings) > 0 {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	if s, _ := r.SyncTags(nil, false); len(s.Created) != 0 {
		t.Fatalf("second sync: %+v", s.Created)
	}
	// Deleting the anchored version deregisters it: its anchor counts as
	// being on the branch.
	if err := r.DeleteVersion("churn", 2); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, dir, "tag", "-d", "churn@v2!")
	if s, err := r.SyncTags(nil, false); err != nil || len(s.Created) != 1 || s.Created[0].Tag != "churn@v2!" {
		t.Fatalf("sync after delete: %+v %v", s, err)
	}
	if rep, _ := r.Fsck(); len(rep.Problems) > 0 {
		t.Fatalf("fsck: %+v", rep.Problems)
	}
	gittest.Git(t, dir, "fsck", "--strict")
}
