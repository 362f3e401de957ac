package mlflowimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"strings"
	"sync"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// Options tune Import.
type Options struct {
	// Experiments limits the import to these experiments (names or ids);
	// empty means all.
	Experiments []string
	// DryRun counts what would come across and writes nothing.
	DryRun bool
	// BatchPoints bounds the metric points of one commit (default 2,000,000);
	// BatchRuns the runs (default 2,000).
	BatchPoints int
	BatchRuns   int
	// Progress, when set, is called as items are done.
	Progress func(Progress)
}

// Progress is how far an import is.
type Progress struct {
	Runs, RunsTotal int
	Points          int64
	ArtifactBytes   int64
}

// Summary is what an import did (or, dry, would do).
type Summary struct {
	Source         string  `json:"source"`
	DryRun         bool    `json:"dry_run,omitempty"`
	Experiments    int     `json:"experiments"`     // created or changed
	Runs           int     `json:"runs"`            // created or changed
	RunsUnchanged  int     `json:"runs_unchanged"`  // already on the branch as in the source
	Points         int64   `json:"points"`          // new metric points
	LoggedModels   int     `json:"logged_models"`   // created or changed
	Artifacts      int     `json:"artifacts"`       // artifact files new to the repository
	ArtifactBytes  int64   `json:"artifact_bytes"`  // their size
	Models         int     `json:"models"`          // registered models created or changed
	Versions       int     `json:"versions"`        // model versions registered
	RegistryEvents int     `json:"registry_events"` // stage and alias tags created
	Commits        int     `json:"commits"`         // of runs, experiments and logged models
	Skipped        []Skip  `json:"skipped,omitempty"`
	Seconds        float64 `json:"seconds"`
}

// NothingToDo reports whether the branch already held everything.
func (s *Summary) NothingToDo() bool {
	return s.Experiments+s.Runs+s.LoggedModels+s.Models+s.Versions+s.RegistryEvents == 0
}

// Import brings src into the repository: experiments, runs with every
// metric point, their artifacts (into blobs, the repository's blob cache,
// streamed file by file) and MLflow 3 logged models, with MLflow's ids and
// times. Runs are written in batches, one commit each, so an import that is
// stopped at any point and started again writes each item exactly once;
// a second import of the same source changes nothing.
func Import(ctx context.Context, r *repo.Repo, blobs blob.Store, src *Store, o Options) (*Summary, error) {
	start := time.Now()
	if o.BatchPoints <= 0 {
		o.BatchPoints = 2_000_000
	}
	if o.BatchRuns <= 0 {
		o.BatchRuns = 2000
	}
	sum := &Summary{Source: src.Root, DryRun: o.DryRun}
	sum.Skipped = append(sum.Skipped, src.Skipped...)
	exps, err := selectExperiments(src.Experiments, o.Experiments)
	if err != nil {
		return nil, err
	}
	w := &writer{ctx: ctx, r: r, blobs: blobs, src: src, o: o, sum: sum}
	if !o.DryRun {
		// Shared, until the last batch is committed: a blob gc (exclusive)
		// cannot remove a chunk this import found present.
		lock, err := r.LockBlobCache(false, time.Minute)
		if err != nil {
			return nil, err
		}
		defer lock.Unlock()
	}
	var docs []*manifest.Experiment
	for _, e := range exps {
		docs = append(docs, experimentDoc(e))
	}
	w.expDocs = docs
	if err := w.commit(repo.ImportBatch{Experiments: docs, Message: "import from mlflow: experiments"}); err != nil {
		return nil, err
	}
	var runs []*Run
	var models []*LoggedModel
	for _, e := range exps {
		runs = append(runs, e.Runs...)
		models = append(models, e.LoggedModels...)
	}
	if err := w.runs(runs); err != nil {
		return nil, err
	}
	if err := w.loggedModels(models); err != nil {
		return nil, err
	}
	if len(o.Experiments) == 0 {
		// The registry spans experiments: it comes with a whole-store import.
		if err := w.registry(src.Models); err != nil {
			return nil, err
		}
	}
	sum.Skipped = dedupSkips(sum.Skipped)
	sum.Seconds = time.Since(start).Seconds()
	return sum, nil
}

// dedupSkips drops repeated entries (a dry run meets a skipped experiment
// in every batch), keeping the first of each.
func dedupSkips(in []Skip) []Skip {
	seen := map[Skip]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}

// selectExperiments picks the experiments named (by name or id).
func selectExperiments(all []*Experiment, want []string) ([]*Experiment, error) {
	if len(want) == 0 {
		return all, nil
	}
	var out []*Experiment
	for _, w := range want {
		var hit *Experiment
		for _, e := range all {
			if e.ID == w || e.Name == w {
				hit = e
				break
			}
		}
		if hit == nil {
			var names []string
			for _, e := range all {
				names = append(names, fmt.Sprintf("%s (%s)", e.Name, e.ID))
			}
			return nil, fmt.Errorf("%w: experiment %q is not in the MLflow store; it has: %s", repo.ErrNotFound, w, strings.Join(names, ", "))
		}
		out = append(out, hit)
	}
	return out, nil
}

func experimentDoc(e *Experiment) *manifest.Experiment {
	lc := manifest.LifecycleActive
	if e.Lifecycle == "deleted" {
		lc = manifest.LifecycleDeleted
	}
	return &manifest.Experiment{ID: e.ID, Name: e.Name, LifecycleStage: lc, CreationTime: e.Created,
		LastUpdateTime: max(e.Updated, e.Created), Tags: nonEmpty(e.Tags)}
}

func nonEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}

type writer struct {
	ctx   context.Context
	r     *repo.Repo
	blobs blob.Store
	src   *Store
	o     Options
	sum   *Summary
	// expDocs are the experiments imported (dry runs repeat them).
	expDocs []*manifest.Experiment
	read    int64 // artifact bytes read so far

	mu sync.Mutex
}

func (w *writer) skip(item string, err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.sum.Skipped = append(w.sum.Skipped, Skip{Item: item, Reason: err.Error()})
}

// commit writes a batch (or, dry, counts what it would change).
func (w *writer) commit(b repo.ImportBatch) error {
	b.DryRun = w.o.DryRun
	counted := b.Experiments != nil
	if w.o.DryRun && !counted {
		// Nothing was written: the batches of runs bring the experiments
		// the first batch would have created.
		b.Experiments = w.expDocs
	}
	st, err := w.r.Import(b)
	if err != nil {
		return err
	}
	if counted {
		w.sum.Experiments += st.Experiments
	}
	w.sum.Runs += st.Runs
	w.sum.RunsUnchanged += st.RunsUnchanged
	w.sum.Points += int64(st.Points)
	w.sum.LoggedModels += st.LoggedModels
	w.sum.Artifacts += st.Artifacts
	w.sum.ArtifactBytes += st.ArtifactBytes
	for _, s := range st.Skipped {
		w.skip(s.Item, errors.New(s.Reason))
	}
	if st.Changed() && !w.o.DryRun {
		w.sum.Commits++
	}
	return nil
}

// runs reads runs with several in flight (metric files, artifact hashing)
// and commits them in batches bounded by runs and points.
func (w *writer) runs(runs []*Run) error {
	total := len(runs)
	var (
		batch  []repo.ImportRun
		points int
		done   int
	)
	flush := func() error {
		if len(batch) == 0 {
			return nil
		}
		err := w.commit(repo.ImportBatch{Runs: batch, Message: fmt.Sprintf("import from mlflow: runs %d-%d of %d", done-len(batch)+1, done, total)})
		batch, points = nil, 0
		return err
	}
	// Windows of runs are read in parallel, one window ahead of the
	// commits: reading (files, hashing) and committing (encoding, objects)
	// overlap.
	window := min(max(w.o.BatchRuns, 16), 256)
	ctx, cancel := context.WithCancel(w.ctx)
	defer cancel()
	windows := make(chan []*repo.ImportRun, 1)
	go func() {
		defer close(windows)
		for lo := 0; lo < len(runs) && ctx.Err() == nil; lo += window {
			hi := min(lo+window, len(runs))
			got := make([]*repo.ImportRun, hi-lo)
			par.Each(hi-lo, max(4, 2*runtime.GOMAXPROCS(0)), func(i int) {
				ir, err := w.readRun(runs[lo+i])
				if err != nil {
					w.skip("run "+runs[lo+i].ID, err)
					return
				}
				got[i] = ir
			})
			select {
			case windows <- got:
			case <-ctx.Done():
				return
			}
		}
	}()
	for got := range windows {
		for _, ir := range got {
			done++
			if ir == nil {
				continue
			}
			batch = append(batch, *ir)
			points += len(ir.Points)
			if len(batch) >= w.o.BatchRuns || points >= w.o.BatchPoints {
				if err := flush(); err != nil {
					return err
				}
			}
		}
		w.progress(done, total)
	}
	if err := w.ctx.Err(); err != nil {
		return err
	}
	return flush()
}

func (w *writer) progress(done, total int) {
	if w.o.Progress != nil {
		w.mu.Lock()
		read := w.read
		w.mu.Unlock()
		w.o.Progress(Progress{Runs: done, RunsTotal: total, Points: w.sum.Points, ArtifactBytes: read})
	}
}

// readRun reads one run's metric points and artifacts into an ImportRun.
func (w *writer) readRun(sr *Run) (*repo.ImportRun, error) {
	doc := runDoc(sr)
	ms, err := w.src.RunMetrics(w.ctx, sr)
	if err != nil {
		return nil, err
	}
	var pts []manifest.MetricPoint
	for _, k := range sr.MetricKeys {
		for _, p := range ms[k] {
			pts = append(pts, manifest.MetricPoint{Key: k, Value: p.Value, Timestamp: p.Timestamp, Step: p.Step})
		}
	}
	// MLflow makes a run's artifact folder on the first upload: a missing
	// local one means no artifacts. A remote one is not read.
	if w.src.remote == nil && sr.ArtifactDir == "" && strings.Contains(sr.ArtifactURI, "://") &&
		!strings.HasPrefix(sr.ArtifactURI, "file:") && !strings.HasPrefix(sr.ArtifactURI, "s3://") &&
		!strings.HasPrefix(sr.ArtifactURI, "gs://") && !blob.IsAzureURL(sr.ArtifactURI) {
		w.skip("artifacts of run "+sr.ID, fmt.Errorf("%s is not a local folder; the run comes without its artifacts", sr.ArtifactURI))
	}
	doc.Artifacts, err = w.importFiles(func() ([]File, error) { return w.src.RunFiles(w.ctx, sr) }, func() []manifest.Artifact {
		if old, err := w.r.GetRun(sr.ID); err == nil {
			return old.Artifacts
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return &repo.ImportRun{Doc: doc, Points: pts}, nil
}

// runDoc is a run's manifest from MLflow's fields; the system tags stay as
// they are and also fill mlgit's own fields where it has them.
func runDoc(sr *Run) *manifest.Run {
	lc := manifest.LifecycleActive
	if sr.Lifecycle == "deleted" {
		lc = manifest.LifecycleDeleted
	}
	doc := &manifest.Run{ID: sr.ID, ExperimentID: sr.ExperimentID, Name: sr.Name, Status: sr.Status, LifecycleStage: lc,
		User: sr.User, StartTime: sr.Start, EndTime: sr.End, Params: nonEmpty(sr.Params), Tags: nonEmpty(sr.Tags),
		ArtifactURI: fmt.Sprintf("mlflow-artifacts:/%s/%s/artifacts", sr.ExperimentID, sr.ID)}
	if c := sr.Tags["mlflow.source.git.commit"]; manifest.ValidCommit(c) {
		doc.Source = &manifest.Source{Commit: c, Branch: sr.Tags["mlflow.source.git.branch"]}
	}
	for _, in := range sr.Inputs {
		doc.Inputs = append(doc.Inputs, manifest.Dataset{Name: in.Name, Digest: in.Digest, SourceType: in.SourceType,
			Source: in.Source, Schema: in.Schema, Profile: in.Profile, Context: in.Context})
	}
	for _, m := range sr.OutputModels {
		doc.Outputs = append(doc.Outputs, manifest.ModelOutput{ModelID: m})
	}
	return doc
}

// importFiles lists an item's files and stores them (storeFiles). A dry
// run hashes nothing: a file the branch holds (had) at the same path with
// the same size counts as the same.
func (w *writer) importFiles(list func() ([]File, error), had func() []manifest.Artifact) ([]manifest.Artifact, error) {
	files, err := list()
	if err != nil || len(files) == 0 {
		return nil, wrapArtifacts(err)
	}
	arts, err := w.storeFiles(files)
	if err != nil {
		return nil, wrapArtifacts(err)
	}
	if w.o.DryRun {
		sameDigests(arts, had())
	}
	return arts, nil
}

func wrapArtifacts(err error) error {
	if err == nil {
		return nil
	}
	return fmt.Errorf("artifacts: %w", err)
}

// storeFiles streams every file into the blob store, one at a time (dry:
// reads nothing and lists paths and sizes only, with no digest).
func (w *writer) storeFiles(files []File) ([]manifest.Artifact, error) {
	out := make([]manifest.Artifact, 0, len(files))
	for _, f := range files {
		a := manifest.Artifact{Path: f.Path, Size: f.Size, Mode: f.Mode}
		if !w.o.DryRun {
			rc, err := f.Open(w.ctx)
			if err != nil {
				return nil, err
			}
			res, err := blob.AddReader(w.ctx, w.blobs, rc, blob.AddOptions{})
			rc.Close()
			if err != nil {
				return nil, fmt.Errorf("%s: %w", f.Path, err)
			}
			if f.Size >= 0 && res.Size != f.Size {
				return nil, fmt.Errorf("%s: read %d bytes, the source lists %d", f.Path, res.Size, f.Size)
			}
			a.Digest, a.Size = res.Digest.String(), res.Size
		} else {
			a.Digest = "sha256:" + strings.Repeat("0", 64)
		}
		w.mu.Lock()
		w.read += a.Size
		w.mu.Unlock()
		out = append(out, a)
	}
	return out, nil
}

// sameDigests gives the entries of arts the digest of the entry of had with
// the same path and size.
func sameDigests(arts, had []manifest.Artifact) {
	by := make(map[string]manifest.Artifact, len(had))
	for _, a := range had {
		by[a.Path] = a
	}
	for i, a := range arts {
		if h, ok := by[a.Path]; ok && h.Size == a.Size {
			arts[i].Digest = h.Digest
		}
	}
}

// loggedModels imports MLflow 3 logged models, with their metrics'
// summaries and artifacts, in one commit.
func (w *writer) loggedModels(ms []*LoggedModel) error {
	var docs []*manifest.LoggedModel
	for _, m := range ms {
		doc, err := w.loggedModelDoc(m)
		if err != nil {
			w.skip("logged model "+m.ID, err)
			continue
		}
		docs = append(docs, doc)
	}
	if len(docs) == 0 {
		return nil
	}
	return w.commit(repo.ImportBatch{LoggedModels: docs, Message: "import from mlflow: logged models"})
}

func (w *writer) loggedModelDoc(m *LoggedModel) (*manifest.LoggedModel, error) {
	doc := &manifest.LoggedModel{ID: m.ID, ExperimentID: m.ExperimentID, Name: m.Name, SourceRunID: m.SourceRunID,
		ModelType: m.ModelType, Status: m.Status, LifecycleStage: manifest.LifecycleActive,
		CreationTimestamp: m.Created, LastUpdatedTimestamp: max(m.Updated, m.Created),
		ArtifactLocation: fmt.Sprintf("mlflow-artifacts:/%s/models/%s/artifacts", m.ExperimentID, m.ID),
		Params:           nonEmpty(m.Params), Tags: nonEmpty(m.Tags)}
	ms, err := w.src.ModelMetrics(w.ctx, m)
	if err != nil {
		return nil, err
	}
	for _, k := range m.MetricKeys {
		for _, p := range ms[k] {
			if doc.Metrics == nil {
				doc.Metrics = map[string]manifest.MetricSummary{}
			}
			s := doc.Metrics[k]
			doc.Metrics[k] = s.Add(manifest.MetricPoint{Key: k, Value: p.Value, Timestamp: p.Timestamp, Step: p.Step})
		}
	}
	doc.Artifacts, err = w.importFiles(func() ([]File, error) { return w.src.ModelFiles(w.ctx, m) }, func() []manifest.Artifact {
		if old, err := w.r.GetLoggedModel(m.ID); err == nil {
			return old.Artifacts
		}
		return nil
	})
	return doc, err
}

// deletedStage is the stage MLflow's file store gives a deleted version
// (its folder stays).
const deletedStage = "Deleted_Internal"

// registry imports the registered models with their version numbers,
// stages and aliases (registry tags as promotions would have made them).
func (w *writer) registry(models []*RegisteredModel) error {
	for _, sm := range models {
		im, err := w.modelDoc(sm)
		if err != nil {
			w.skip("registered model "+sm.Name, err)
			continue
		}
		if w.o.DryRun {
			w.dryModel(im)
			continue
		}
		res, err := w.r.ImportModel(im)
		if err != nil {
			if res == nil {
				w.skip("registered model "+sm.Name, err)
				continue
			}
			return err
		}
		w.sum.Versions += res.Versions
		w.sum.RegistryEvents += res.Events
		if res.Created || res.Changed || res.Versions > 0 || res.Events > 0 {
			w.sum.Models++
		}
		for _, s := range res.Skipped {
			w.skip("registered model "+sm.Name, errors.New(s))
		}
	}
	return nil
}

// dryModel counts what importing a model would add: its versions the
// repository lacks.
func (w *writer) dryModel(im repo.ImportedModel) {
	have := map[int64]bool{}
	if vs, err := w.r.ListVersions(im.Model.Name, ""); err == nil {
		for _, v := range vs {
			have[v.Version] = true
		}
	}
	n := 0
	for _, v := range im.Versions {
		if !have[v.Version] {
			n++
		}
	}
	if _, err := w.r.GetModel(im.Model.Name); err != nil || n > 0 {
		w.sum.Models++
	}
	w.sum.Versions += n
}

// modelDoc turns an MLflow registered model into what ImportModel takes:
// version sources rewritten to ones that resolve here (runs:/<run>/<path>
// for a path inside an imported run's artifacts; models:/m-<id> for an
// MLflow 3 logged model), and each version's files and MLmodel facts.
func (w *writer) modelDoc(sm *RegisteredModel) (repo.ImportedModel, error) {
	im := repo.ImportedModel{
		Model: &manifest.RegisteredModel{Name: sm.Name, Description: sm.Description, Tags: nonEmpty(sm.Tags),
			CreationTimestamp: sm.Created, LastUpdatedTimestamp: max(sm.Updated, sm.Created), Aliases: map[string]int64{}},
		Actor: "mlgit import mlflow", Reason: "imported from MLflow",
	}
	live := map[int64]bool{}
	for _, v := range sm.Versions {
		im.Model.LatestVersion = max(im.Model.LatestVersion, v.Version)
		if v.Stage == deletedStage {
			continue
		}
		live[v.Version] = true
		mv, err := w.versionDoc(sm, v)
		if err != nil {
			w.skip(fmt.Sprintf("%s v%d", sm.Name, v.Version), err)
			continue
		}
		im.Versions = append(im.Versions, mv)
	}
	for a, n := range sm.Aliases {
		if live[n] {
			im.Model.Aliases[a] = n
		}
	}
	return im, nil
}

func (w *writer) versionDoc(sm *RegisteredModel, v *ModelVersion) (*manifest.ModelVersion, error) {
	mv := &manifest.ModelVersion{Name: sm.Name, Version: v.Version, Description: v.Description, Stage: v.Stage,
		Status: v.Status, RunID: v.RunID, ModelID: v.ModelID, UserID: v.User,
		CreationTimestamp: v.Created, LastUpdatedTimestamp: max(v.Updated, v.Created), Tags: nonEmpty(v.Tags)}
	spec := repo.VersionSpec{}
	switch {
	case strings.HasPrefix(v.Source, "models:/m-") || v.ModelID != "" && !strings.HasPrefix(v.Source, "runs:/"):
		id := v.ModelID
		if id == "" {
			id = strings.TrimPrefix(v.Source, "models:/")
		}
		mv.ModelID, mv.Source = id, "models:/"+id
		if m, err := w.r.GetLoggedModel(id); err == nil {
			spec.Artifacts = m.Artifacts
		}
	case v.RunID != "":
		p := w.runPath(v)
		mv.Source = "runs:/" + v.RunID + "/" + p
		if _, arts, err := w.r.RunModelFiles(v.RunID, p); err == nil {
			spec.Artifacts = arts
		} else if !errors.Is(err, repo.ErrNotFound) {
			return nil, err
		}
	default:
		mv.Source = v.Source
	}
	if len(spec.Artifacts) > 0 && !w.o.DryRun {
		spec.ApplyMLmodel(func(d string) ([]byte, error) {
			dg, err := blob.ParseDigest(d)
			if err != nil {
				return nil, err
			}
			rc, _, err := blob.Open(w.ctx, w.blobs, dg)
			if err != nil {
				return nil, err
			}
			defer rc.Close()
			return io.ReadAll(io.LimitReader(rc, 1<<20))
		})
		mv.Artifacts, mv.Flavors, mv.Signature, mv.ModelSize = spec.Artifacts, spec.Flavors, spec.Signature, spec.ModelSize
	}
	return mv, nil
}

// runPath is the path inside the run's artifacts that a version's source
// names: runs:/<run>/<path>, or a file store location
// .../<run>/artifacts/<path> (recorded on another machine or not).
func (w *writer) runPath(v *ModelVersion) string {
	if rest, ok := strings.CutPrefix(v.Source, "runs:/"+v.RunID+"/"); ok {
		return strings.Trim(rest, "/")
	}
	for _, loc := range []string{v.Source, v.StorageLocation} {
		if _, rest, ok := strings.Cut(loc, "/"+v.RunID+"/artifacts/"); ok {
			return strings.Trim(rest, "/")
		}
	}
	return "model"
}
