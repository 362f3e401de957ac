package mlflowimport

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/benchfix"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/internal/s3test"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

func newRepo(t testing.TB) (*repo.Repo, blob.Store) {
	t.Helper()
	gittest.Setenv(t)
	dir := t.TempDir()
	gittest.Git(t, dir, "init", "-q")
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	st, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	return r, st
}

func importFixture(t *testing.T, r *repo.Repo, st blob.Store, dir string, o Options) *Summary {
	t.Helper()
	src, err := ReadFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Import(context.Background(), r, st, src, o)
	if err != nil {
		t.Fatal(err)
	}
	return sum
}

// TestImportFileStore imports both fixtures and checks what came across
// against the files, field by field; a second import changes nothing.
func TestImportFileStore(t *testing.T) {
	for _, fx := range fixtures {
		t.Run(filepath.Base(fx.dir), func(t *testing.T) {
			r, st := newRepo(t)
			src, err := ReadFileStore(fx.dir)
			if err != nil {
				t.Fatal(err)
			}
			sum := importFixture(t, r, st, fx.dir, Options{})
			if len(sum.Skipped) > 0 {
				t.Errorf("skipped: %+v", sum.Skipped)
			}
			nruns := 0
			for _, e := range src.Experiments {
				nruns += len(e.Runs)
			}
			if sum.Runs != nruns || sum.Experiments != 4 || sum.Commits < 2 || sum.Points == 0 {
				t.Errorf("summary %+v, want %d runs, 4 experiments", sum, nruns)
			}
			// Experiments with their ids, names, tags and lifecycle.
			for _, e := range src.Experiments {
				got, err := r.GetExperiment(e.ID)
				if err != nil {
					t.Fatalf("experiment %s: %v", e.ID, err)
				}
				wantLC := manifest.LifecycleActive
				if e.Lifecycle == "deleted" {
					wantLC = manifest.LifecycleDeleted
				}
				if got.Name != e.Name || got.LifecycleStage != wantLC || got.CreationTime != e.Created || got.Tags["team"] != e.Tags["team"] {
					t.Errorf("experiment %s: got %+v, source %+v", e.ID, got, e)
				}
				for _, sr := range e.Runs {
					checkRun(t, r, src, sr)
				}
			}
			checkRegistry(t, r, src, fx.version)
			// The same source again: nothing to do, no commit.
			again := importFixture(t, r, st, fx.dir, Options{})
			if !again.NothingToDo() || again.Commits != 0 || again.RunsUnchanged != nruns {
				t.Errorf("second import: %+v", again)
			}
			if out := gittest.Git(t, r.GitDir(), "fsck", "--no-dangling"); strings.Contains(out, "error") {
				t.Errorf("git fsck: %s", out)
			}
		})
	}
}

func checkRun(t *testing.T, r *repo.Repo, src *Store, sr *Run) {
	t.Helper()
	got, err := r.GetRun(sr.ID)
	if err != nil {
		t.Fatalf("run %s (%s): %v", sr.ID, sr.Name, err)
	}
	if got.ExperimentID != sr.ExperimentID || got.Name != sr.Name || got.Status != sr.Status || got.StartTime != sr.Start ||
		got.EndTime != sr.End || got.User != sr.User || (got.LifecycleStage == manifest.LifecycleDeleted) != (sr.Lifecycle == "deleted") {
		t.Errorf("run %s: got %+v, source %+v", sr.ID, got, sr)
	}
	if len(got.Params) != len(sr.Params) || len(got.Tags) != len(sr.Tags) {
		t.Errorf("run %s: %d params %d tags, source %d %d", sr.Name, len(got.Params), len(got.Tags), len(sr.Params), len(sr.Tags))
	}
	for k, v := range sr.Params {
		if got.Params[k] != v {
			t.Errorf("run %s param %s = %q, source %q", sr.Name, k, got.Params[k], v)
		}
	}
	for k, v := range sr.Tags {
		if got.Tags[k] != v {
			t.Errorf("run %s tag %s = %q, source %q", sr.Name, k, got.Tags[k], v)
		}
	}
	if len(got.Inputs) != len(sr.Inputs) || len(got.Outputs) != len(sr.OutputModels) {
		t.Errorf("run %s: inputs %v outputs %v, source %v %v", sr.Name, got.Inputs, got.Outputs, sr.Inputs, sr.OutputModels)
	}
	hist, err := r.AllMetricHistory(sr.ID)
	if err != nil {
		t.Fatal(err)
	}
	want, err := src.Metrics(sr.MetricsDir(), sr.MetricKeys)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range sr.MetricKeys {
		g, w := hist[k], want[k]
		if len(g) != len(w) {
			t.Errorf("run %s metric %s: %d points, source %d", sr.Name, k, len(g), len(w))
			continue
		}
		for i := range w {
			same := g[i].Value == w[i].Value || math.IsNaN(g[i].Value) && math.IsNaN(w[i].Value)
			if !same || g[i].Step != w[i].Step || g[i].Timestamp != w[i].Timestamp {
				t.Errorf("run %s metric %s point %d: %+v, source %+v", sr.Name, k, i, g[i], w[i])
				break
			}
		}
	}
	// Every artifact file, with the digest of its content.
	var files []string
	if sr.ArtifactDir != "" {
		filepath.WalkDir(sr.ArtifactDir, func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				rel, _ := filepath.Rel(sr.ArtifactDir, p)
				files = append(files, filepath.ToSlash(rel))
			}
			return nil
		})
	}
	sort.Strings(files)
	if len(got.Artifacts) != len(files) {
		t.Fatalf("run %s: artifacts %v, source files %v", sr.Name, got.Artifacts, files)
	}
	for i, a := range got.Artifacts {
		data, err := os.ReadFile(filepath.Join(sr.ArtifactDir, files[i]))
		if err != nil {
			t.Fatal(err)
		}
		if a.Path != files[i] || a.Digest != blob.Sum(data).String() || a.Size != int64(len(data)) {
			t.Errorf("run %s artifact %d: %+v, source %s (%d bytes, %s)", sr.Name, i, a, files[i], len(data), blob.Sum(data))
		}
	}
}

// TestImportAppendsNewPoints: points logged in the source after an import
// come across on the next one, as one new segment, and nothing else moves.
func TestImportAppendsNewPoints(t *testing.T) {
	src := copyFixture(t, fixtures[0].dir)
	r, st := newRepo(t)
	importFixture(t, r, st, src, Options{})
	s, _ := ReadFileStore(src)
	run := runNamed(byName(s, "churn"), "lr-0.1")
	f, err := os.OpenFile(filepath.Join(run.MetricsDir(), "loss"), os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("1700000000000 0.125 50\n1700000000001 0.0625 51\n")
	f.Close()
	before, _ := r.AllMetricHistory(run.ID)
	sum := importFixture(t, r, st, src, Options{})
	if sum.Runs != 1 || sum.Points != 2 || sum.Commits != 1 {
		t.Fatalf("summary %+v", sum)
	}
	after, _ := r.AllMetricHistory(run.ID)
	if len(after["loss"]) != len(before["loss"])+2 || after["loss"][len(after["loss"])-1].Value != 0.0625 || len(after["acc"]) != len(before["acc"]) {
		t.Errorf("loss %d → %d points", len(before["loss"]), len(after["loss"]))
	}
	doc, _ := r.GetRun(run.ID)
	if doc.Metrics["loss"].Step != 51 || doc.Metrics["loss"].Count != int64(len(after["loss"])) {
		t.Errorf("summary %+v", doc.Metrics["loss"])
	}
}

// TestImportDryRun counts and writes nothing.
func TestImportDryRun(t *testing.T) {
	r, st := newRepo(t)
	before := gittest.Git(t, r.GitDir(), "rev-parse", "refs/heads/mlgit")
	sum := importFixture(t, r, st, fixtures[1].dir, Options{DryRun: true})
	if sum.Runs == 0 || sum.Experiments != 4 || sum.Commits != 0 {
		t.Errorf("dry run: %+v", sum)
	}
	if after := gittest.Git(t, r.GitDir(), "rev-parse", "refs/heads/mlgit"); after != before {
		t.Errorf("dry run moved the branch %s → %s", before, after)
	}
	if _, err := r.GetExperiment(byNameOf(t, fixtures[1].dir, "churn")); err == nil {
		t.Error("dry run created an experiment")
	}
}

func byNameOf(t *testing.T, dir, name string) string {
	s, err := ReadFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return byName(s, name).ID
}

// copyFixture copies a fixture store into a temporary folder (tests that
// change the source).
func copyFixture(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "mlruns")
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(dir, p)
		out := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(out, 0o755)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		return os.WriteFile(out, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	return dst
}

// TestImportChild is the import that TestImportResumesAfterKill kills: it
// runs only as that test's child process.
func TestImportChild(t *testing.T) {
	dir, store := os.Getenv("MLGIT_IMPORT_CHILD_REPO"), os.Getenv("MLGIT_IMPORT_CHILD_STORE")
	if dir == "" {
		t.Skip("child of TestImportResumesAfterKill")
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	st, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	src, err := ReadFileStore(store)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Import(context.Background(), r, st, src, Options{BatchRuns: 7}); err != nil {
		t.Fatal(err)
	}
}

// TestImportResumesAfterKill kills an import (SIGKILL) at random points,
// again and again, then lets one finish: every run and point is there
// exactly once and Git finds nothing wrong.
func TestImportResumesAfterKill(t *testing.T) {
	if testing.Short() {
		t.Skip("kills child processes; not in -short")
	}
	const nruns = 400
	store := filepath.Join(t.TempDir(), "mlruns")
	if err := benchfix.MLflowStore(store, nruns, 4, 40); err != nil {
		t.Fatal(err)
	}
	r, st := newRepo(t)
	dir := r.WorkTree()
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	count := func() int {
		r, err := repo.Open(dir, repo.Options{})
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		page, err := r.SearchRuns(repo.RunSearch{View: repo.ViewAll})
		if err != nil {
			t.Fatal(err)
		}
		return len(page.Runs)
	}
	partial := 0
	for i := 0; i < 12; i++ {
		cmd := exec.Command(os.Args[0], "-test.run=^TestImportChild$", "-test.count=1")
		cmd.Env = append(os.Environ(), "MLGIT_IMPORT_CHILD_REPO="+dir, "MLGIT_IMPORT_CHILD_STORE="+store)
		var out strings.Builder
		cmd.Stdout, cmd.Stderr = &out, &out
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		// Later kills come later: each child starts over from what the
		// previous ones committed, and some kill must land mid-import.
		time.Sleep(time.Duration(100+200*i+rng.IntN(200)) * time.Millisecond)
		cmd.Process.Kill()
		if err := cmd.Wait(); err == nil || !strings.Contains(err.Error(), "killed") {
			t.Logf("child %d was not killed (%v): %s", i, err, out.String())
		}
		n := count()
		t.Logf("kill %d: %d runs imported", i, n)
		if n == nruns {
			break
		}
		if n > 0 {
			partial++
		}
	}
	if partial == 0 {
		t.Error("no kill landed in the middle of the import")
	}
	r2, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	src, err := ReadFileStore(store)
	if err != nil {
		t.Fatal(err)
	}
	sum, err := Import(context.Background(), r2, st, src, Options{BatchRuns: 7})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("after the kills: %+v", sum)
	diffs, err := Verify(context.Background(), r2, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range diffs {
		t.Error(d)
	}
	again, err := Import(context.Background(), r2, st, src, Options{})
	if err != nil || !again.NothingToDo() || again.RunsUnchanged != nruns {
		t.Errorf("import after completion: %+v, %v", again, err)
	}
	if out := gittest.Git(t, dir, "fsck", "--no-dangling"); strings.Contains(out, "error") {
		t.Errorf("git fsck: %s", out)
	}
}

// BenchmarkImportFileStore imports a file store of 10,000 runs × 10
// metrics × 100 steps (10 million points, one artifact each) into a new
// repository: b.N imports, each of the whole store.
func BenchmarkImportFileStore(b *testing.B) {
	store := filepath.Join(b.TempDir(), "mlruns")
	if err := benchfix.MLflowStore(store, 10000, 10, 100); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		r, st := newRepo(b)
		b.StartTimer()
		src, err := ReadFileStore(store)
		if err != nil {
			b.Fatal(err)
		}
		sum, err := Import(context.Background(), r, st, src, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if sum.Runs != 10000 || sum.Points != 10_000_000 {
			b.Fatalf("%+v", sum)
		}
		b.ReportMetric(float64(sum.Runs)/b.Elapsed().Seconds(), "runs/s")
		r.Close()
	}
}

// checkRegistry compares the imported registry with the fixture's: version
// numbers, stages, aliases, descriptions, tags, sources that resolve here,
// the files and MLmodel facts, and tags dated as MLflow dated the changes.
func checkRegistry(t *testing.T, r *repo.Repo, src *Store, mlflowVersion int) {
	t.Helper()
	var sm *RegisteredModel
	for _, m := range src.Models {
		if m.Name == "churn-model" {
			sm = m
		}
	}
	m, err := r.GetModel("churn-model")
	if err != nil {
		t.Fatal(err)
	}
	if m.Description != sm.Description || m.Tags["owner"] != "growth" || m.Aliases["champion"] != 3 || m.Aliases["previous"] != 2 || m.LatestVersion != 3 {
		t.Errorf("model: %+v", m)
	}
	if _, err := r.GetModel("empty-model"); err != nil {
		t.Errorf("empty-model: %v", err)
	}
	wantStage := map[int64]string{1: "Staging", 2: "Archived", 3: "Production"}
	for _, sv := range sm.Versions {
		v, err := r.GetVersion("churn-model", sv.Version)
		if err != nil {
			t.Fatalf("v%d: %v", sv.Version, err)
		}
		if v.Stage != wantStage[sv.Version] || v.Stage != sv.Stage || v.Description != sv.Description || v.Tags["validated"] != sv.Tags["validated"] ||
			v.RunID != sv.RunID || v.CreationTimestamp != sv.Created {
			t.Errorf("v%d: %+v, source %+v", sv.Version, v, sv)
		}
		wantSource := "runs:/" + sv.RunID + "/model"
		if mlflowVersion == 3 {
			wantSource = sv.Source
		}
		if v.Source != wantSource || len(v.Artifacts) < 3 || !contains(v.Flavors, "sklearn") {
			t.Errorf("v%d: source %s (want %s), %d files, flavors %v", sv.Version, v.Source, wantSource, len(v.Artifacts), v.Flavors)
		}
		// The registration tag is dated when MLflow created the version.
		when := gittest.Git(t, r.GitDir(), "for-each-ref", "--format=%(taggerdate:unix)", "refs/tags/churn-model@v"+strconv.FormatInt(sv.Version, 10))
		if when != strconv.FormatInt(sv.Created/1000, 10) {
			t.Errorf("v%d registration tag dated %s, created %d", sv.Version, when, sv.Created)
		}
	}
	for ref, want := range map[string]int64{"churn-model@production": 3, "churn-model@staging": 1, "churn-model@champion": 3, "churn-model@previous": 2} {
		if res, err := r.Resolve(ref); err != nil || res.Version != want {
			t.Errorf("%s: %+v %v", ref, res, err)
		}
	}
	if rep, err := r.Fsck(); err != nil || len(rep.Problems) > 0 {
		t.Errorf("fsck: %+v %v", rep, err)
	}
}

func contains(xs []string, x string) bool {
	for _, y := range xs {
		if y == x {
			return true
		}
	}
	return false
}

// TestVerifyFindsDifferences: a change made after the import is reported.
func TestVerifyFindsDifferences(t *testing.T) {
	r, st := newRepo(t)
	importFixture(t, r, st, fixtures[0].dir, Options{})
	src, err := ReadFileStore(fixtures[0].dir)
	if err != nil {
		t.Fatal(err)
	}
	if diffs, err := Verify(context.Background(), r, src, Options{}); err != nil || len(diffs) != 0 {
		t.Fatalf("right after the import: %v %v", diffs, err)
	}
	run := runNamed(byName(src, "churn"), "lr-0.1")
	if _, err := r.LogBatch(run.ID, repo.Batch{Tags: []repo.KV{{Key: "stage", Value: "changed"}},
		Metrics: []manifest.MetricPoint{{Key: "loss", Value: 1, Step: 99, Timestamp: 1}}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Promote(repo.PromoteSpec{Name: "churn-model", Version: 1, Stage: "Production"}); err != nil {
		t.Fatal(err)
	}
	diffs, err := Verify(context.Background(), r, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, d := range diffs {
		got = append(got, d.String())
	}
	all := strings.Join(got, "\n")
	for _, want := range []string{`tag stage = "changed", source "sweep"`, "metric loss: 51 points, source 50", "churn-model v1: stage Production"} {
		if !strings.Contains(all, want) {
			t.Errorf("differences lack %q:\n%s", want, all)
		}
	}
}

// TestImportRemoteArtifacts: a run whose artifacts live where mlgit does
// not read them (HDFS) comes across without them, and the
// summary says where they are.
func TestImportRemoteArtifacts(t *testing.T) {
	src := copyFixture(t, fixtures[0].dir)
	s, _ := ReadFileStore(src)
	run := runNamed(byName(s, "vision/resnet"), "resnet-baseline")
	meta := filepath.Join(src, run.ExperimentID, run.ID, "meta.yaml")
	data, _ := os.ReadFile(meta)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "artifact_uri:") {
			l = "artifact_uri: hdfs://namenode/runs/" + run.ID + "/artifacts"
		}
		out = append(out, l)
	}
	os.WriteFile(meta, []byte(strings.Join(out, "\n")), 0o644)
	os.RemoveAll(filepath.Join(src, run.ExperimentID, run.ID, "artifacts"))
	r, st := newRepo(t)
	sum := importFixture(t, r, st, src, Options{})
	if len(sum.Skipped) != 1 || sum.Skipped[0].Item != "artifacts of run "+run.ID || !strings.Contains(sum.Skipped[0].Reason, "hdfs://namenode/runs/") {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
	if got, err := r.GetRun(run.ID); err != nil || len(got.Artifacts) != 0 || got.Params["depth"] == "" && len(got.Params) == 0 {
		t.Errorf("run: %+v %v", got, err)
	}
}

// TestImportSkipsNamesMlgitCannotStore: a registered model whose name
// escapes to a key too long for Git's tag names is skipped with the rule;
// the rest comes across.
func TestImportSkipsNamesMlgitCannotStore(t *testing.T) {
	src := copyFixture(t, fixtures[0].dir)
	long := strings.Repeat("é", 150)
	dir := filepath.Join(src, "models", "long")
	os.MkdirAll(dir, 0o755)
	os.WriteFile(filepath.Join(dir, "meta.yaml"), []byte("aliases: {}\ncreation_timestamp: 1\ndescription: null\nlast_updated_timestamp: 1\nname: "+long+"\n"), 0o644)
	r, st := newRepo(t)
	sum := importFixture(t, r, st, src, Options{})
	if len(sum.Skipped) != 1 || !strings.Contains(sum.Skipped[0].Item, "registered model "+long) || !strings.Contains(sum.Skipped[0].Reason, "the limit is 200 bytes") {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
	if sum.Runs != 9 || sum.Versions != 3 {
		t.Errorf("summary %+v", sum)
	}
}

// TestImportArtifactsFromS3: a run whose artifact URI is s3:// has its
// files read from S3 (versitygw here) with the blob store's client and the
// AWS environment, each with its digest.
func TestImportArtifactsFromS3(t *testing.T) {
	srv := s3test.StartServer(t)
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_REGION", "us-east-1")
	src := copyFixture(t, fixtures[0].dir)
	s, _ := ReadFileStore(src)
	run := runNamed(byName(s, "vision/resnet"), "resnet-baseline")
	uri := srv.URL("mlflow/" + run.ID + "/artifacts")
	ctx := context.Background()
	st, err := blob.OpenStore(ctx, uri)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{"notes/notes.txt": "from s3\n", "model/MLmodel": "flavors: {}\n"}
	for k, v := range files {
		if err := st.Put(ctx, k, strings.NewReader(v), int64(len(v))); err != nil {
			t.Fatal(err)
		}
	}
	meta := filepath.Join(src, run.ExperimentID, run.ID, "meta.yaml")
	data, _ := os.ReadFile(meta)
	var out []string
	for _, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, "artifact_uri:") {
			l = "artifact_uri: " + uri
		}
		out = append(out, l)
	}
	os.WriteFile(meta, []byte(strings.Join(out, "\n")), 0o644)
	os.RemoveAll(filepath.Join(src, run.ExperimentID, run.ID, "artifacts"))
	r, bs := newRepo(t)
	sum := importFixture(t, r, bs, src, Options{})
	if len(sum.Skipped) != 0 {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
	got, err := r.GetRun(run.ID)
	if err != nil || len(got.Artifacts) != 2 {
		t.Fatalf("run: %+v %v", got, err)
	}
	for _, a := range got.Artifacts {
		if a.Digest != blob.Sum([]byte(files[a.Path])).String() {
			t.Errorf("%s: %s", a.Path, a.Digest)
		}
	}
	src2, _ := ReadFileStore(src)
	if diffs, err := Verify(ctx, r, src2, Options{}); err != nil || len(diffs) != 0 {
		t.Fatalf("verify: %v %v", diffs, err)
	}
}
