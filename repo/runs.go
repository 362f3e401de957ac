package repo

import (
	"errors"
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

// readRunTx reads a committed run manifest in tx.
func readRunTx(tx *Tx, id string) (*manifest.Run, error) {
	if !manifest.ValidRunID(id) {
		return nil, fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", ErrInvalid, id)
	}
	p := layout.Run(id)
	if c, pending := tx.Pending(p); pending || tx.DeletedAbove(p) {
		if !pending || c.Del {
			return nil, fmt.Errorf("run %s: %w", id, ErrNotFound)
		}
		doc, err := manifest.DecodeRun(c.Data)
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", p, err)
		}
		return doc, nil
	}
	e, ok, err := tx.r.objects.Lookup(tx.Trees(), tx.BaseTree(), p)
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, fmt.Errorf("run %s: %w", id, ErrNotFound)
	}
	if doc := tx.r.cachedRun(e.Hash); doc != nil {
		return doc, nil
	}
	data, err := tx.r.objects.ReadObject(plumbing.BlobObject, e.Hash)
	if err != nil {
		return nil, err
	}
	doc, err := manifest.DecodeRun(data)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	tx.r.cacheRun(e.Hash, doc)
	return doc, nil
}

// runCacheSize bounds the decoded run.yaml cache of one process. Decoding a
// large run (thousands of params) costs milliseconds; long-lived writers
// (the server, a streaming logger) read the same blob again and again.
const runCacheSize = 512

func (r *Repo) cachedRun(h plumbing.Hash) *manifest.Run {
	r.mu.Lock()
	doc := r.runCache[h]
	r.mu.Unlock()
	if doc == nil {
		return nil
	}
	return journal.CloneRun(doc)
}

func (r *Repo) cacheRun(h plumbing.Hash, doc *manifest.Run) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.runCache == nil || len(r.runCache) >= runCacheSize {
		r.runCache = map[plumbing.Hash]*manifest.Run{}
	}
	r.runCache[h] = journal.CloneRun(doc)
}

// RunSpec describes a new run.
type RunSpec struct {
	ExperimentID string
	Name         string
	User         string
	StartTime    int64 // ms; 0 means now
	Params       map[string]string
	Tags         map[string]string
	Source       *manifest.Source
	ParentModel  string
	ArtifactURI  string
}

// CreateRun starts a run. The run is acknowledged (journaled) when it
// returns; it is committed at the next checkpoint.
func (r *Repo) CreateRun(spec RunSpec) (*manifest.Run, error) {
	if spec.ExperimentID == "" {
		spec.ExperimentID = manifest.DefaultExperimentID
	}
	var exp *manifest.Experiment
	var err error
	if v := r.live; v != nil {
		exp, err = v.Experiment(spec.ExperimentID)
	} else {
		exp, err = r.GetExperiment(spec.ExperimentID)
	}
	if err != nil {
		return nil, err
	}
	if exp.LifecycleStage != manifest.LifecycleActive {
		return nil, fmt.Errorf("%w: experiment %s (%s) is deleted; restore it with mlgit exp restore", ErrInvalid, exp.ID, exp.Name)
	}
	id := NewRunID()
	now := nowMillis(r.now())
	if spec.StartTime == 0 {
		spec.StartTime = now
	}
	if spec.User == "" {
		spec.User = r.User()
	}
	if spec.Name == "" {
		if n, ok := spec.Tags["mlflow.runName"]; ok && n != "" {
			spec.Name = n
		} else {
			spec.Name = RandomRunName()
		}
	}
	// The name is the mlflow.runName tag: cut to a tag value's limit, as
	// MLflow cuts over-long values.
	spec.Name, _ = manifest.Truncate(spec.Name, manifest.MaxTagValue)
	doc := &manifest.Run{
		Header:         manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun},
		ID:             id,
		ExperimentID:   exp.ID,
		Name:           spec.Name,
		Status:         manifest.StatusRunning,
		LifecycleStage: manifest.LifecycleActive,
		User:           spec.User,
		StartTime:      spec.StartTime,
		Source:         spec.Source,
		ParentModel:    spec.ParentModel,
		ArtifactURI:    spec.ArtifactURI,
		Tags:           map[string]string{"mlflow.runName": spec.Name, "mlflow.user": spec.User},
	}
	if doc.ArtifactURI == "" {
		doc.ArtifactURI = fmt.Sprintf("mlflow-artifacts:/%s/%s/artifacts", exp.ID, id)
	}
	for k, v := range spec.Tags {
		if err := manifest.ValidateKey("tag", k); err != nil {
			return nil, err
		}
		// MLflow truncates over-long tag values at creation, silently.
		if t, cut := manifest.Truncate(v, manifest.MaxTagValue); cut {
			v = t
		}
		doc.Tags[k] = v
	}
	if len(spec.Params) > 0 {
		doc.Params = map[string]string{}
		for k, v := range spec.Params {
			if err := manifest.ValidateKey("param", k); err != nil {
				return nil, err
			}
			v, _ = manifest.Truncate(v, manifest.MaxParamValue)
			doc.Params[k] = v
		}
	}
	if err := doc.Validate(); err != nil {
		return nil, err
	}
	if err := r.group.Append([]journal.Op{{Op: journal.OpCreate, Run: id, Doc: doc}}); err != nil {
		return nil, err
	}
	r.maybeCheckpoint()
	return doc, nil
}

// GetRun returns a run as acknowledged: the committed manifest plus pending
// journal records.
func (r *Repo) GetRun(id string) (*manifest.Run, error) {
	if v := r.live; v != nil {
		if !manifest.ValidRunID(id) {
			return nil, fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", ErrInvalid, id)
		}
		doc, err := v.GetRun(id)
		return doc, liveRunErr(id, err)
	}
	return r.getRun(id, false)
}

// withRunForWrite calls fn with the run's acknowledged state, as
// runForWrite returns it; fn must not keep or change doc.
func (r *Repo) withRunForWrite(id string, fn func(doc *manifest.Run) error) error {
	if v := r.live; v != nil {
		if !manifest.ValidRunID(id) {
			return fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", ErrInvalid, id)
		}
		return liveRunErr(id, v.WithRun(id, fn))
	}
	doc, err := r.runForWrite(id)
	if err != nil {
		return err
	}
	return fn(doc)
}

// runForWrite returns the run's acknowledged state without its pending
// metric points (the latest metric values may be stale): what validating
// a write needs, at a cost that does not grow with logged points.
func (r *Repo) runForWrite(id string) (*manifest.Run, error) {
	return r.getRun(id, true)
}

// getRun returns a run as acknowledged; with skipMetrics, pending metric
// records are not read (its latest metric values may then be stale).
func (r *Repo) getRun(id string, skipMetrics bool) (*manifest.Run, error) {
	if !manifest.ValidRunID(id) {
		return nil, fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", ErrInvalid, id)
	}
	tip, ops, err := r.snapshotOpts(id, skipMetrics)
	if err != nil {
		return nil, err
	}
	var doc *manifest.Run
	if !tip.IsZero() {
		tx, err := r.newTx(tip)
		if err != nil {
			return nil, err
		}
		doc, err = readRunTx(tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	for _, o := range ops {
		doc = journal.Overlay(doc, o)
	}
	if doc == nil {
		return nil, fmt.Errorf("%w: run %s does not exist (list runs with mlgit run list)", ErrNotFound, id)
	}
	return doc, nil
}

// KV is a key and value, in the order they were given.
type KV struct{ Key, Value string }

// Batch is what one LogBatch call writes to a run (MLflow's log-batch).
type Batch struct {
	Metrics    []manifest.MetricPoint
	Params     []KV
	Tags       []KV
	DeleteTags []string
	Inputs     []manifest.Dataset
	Outputs    []manifest.ModelOutput
	Artifacts  []manifest.Artifact
}

// LogResult reports values MLflow truncates instead of rejecting.
type LogResult struct {
	Truncated []string
}

// LogBatch validates b against the run's acknowledged state and journals it
// as one durable write. Invalid input writes nothing.
func (r *Repo) LogBatch(id string, b Batch) (LogResult, error) {
	var res LogResult
	// What validation needs of the run, copied out under the live lock.
	var lifecycle string
	logged := map[string]string{} // params of b already logged
	hasTag := map[string]bool{}   // tags of b.DeleteTags that exist
	err := r.withRunForWrite(id, func(doc *manifest.Run) error {
		lifecycle = doc.LifecycleStage
		for _, p := range b.Params {
			if v, ok := doc.Params[p.Key]; ok {
				logged[p.Key] = v
			}
		}
		for _, k := range b.DeleteTags {
			_, hasTag[k] = doc.Tags[k]
		}
		return nil
	})
	if err != nil {
		return res, err
	}
	if lifecycle != manifest.LifecycleActive {
		return res, fmt.Errorf("%w: the run %s must be in 'active' lifecycle_stage (restore it with mlgit run restore)", ErrInvalid, id)
	}
	ops := make([]journal.Op, 0, len(b.Params)+len(b.Tags)+len(b.DeleteTags)+2)
	seen := map[string]string{}
	for _, p := range b.Params {
		if err := manifest.ValidateKey("param", p.Key); err != nil {
			return res, err
		}
		v, cut := manifest.Truncate(p.Value, manifest.MaxParamValue)
		if cut {
			res.Truncated = append(res.Truncated, "params."+p.Key)
		}
		if old, ok := seen[p.Key]; ok && old != v {
			return res, fmt.Errorf("%w: duplicate param key %q in one batch with different values", ErrInvalid, p.Key)
		}
		seen[p.Key] = v
		if old, ok := logged[p.Key]; ok {
			if old != v {
				return res, fmt.Errorf("%w: changing param values is not allowed: param %q was already logged with value %q for run %s; attempted new value %q", ErrInvalid, p.Key, old, id, v)
			}
			continue
		}
		ops = append(ops, journal.Op{Op: journal.OpParam, Run: id, Key: p.Key, Value: v})
	}
	for _, t := range b.Tags {
		if err := manifest.ValidateKey("tag", t.Key); err != nil {
			return res, err
		}
		v, cut := manifest.Truncate(t.Value, manifest.MaxTagValue)
		if cut {
			res.Truncated = append(res.Truncated, "tags."+t.Key)
		}
		ops = append(ops, journal.Op{Op: journal.OpTag, Run: id, Key: t.Key, Value: v})
	}
	for _, k := range b.DeleteTags {
		if !hasTag[k] {
			return res, fmt.Errorf("%w: no tag with key %q on run %s", ErrNotFound, k, id)
		}
		ops = append(ops, journal.Op{Op: journal.OpDelTag, Run: id, Key: k})
	}
	// Points are journaled after the other records (the order a
	// checkpoint applies them in anyway); a batch repeats few keys.
	var valid map[string]bool
	for _, m := range b.Metrics {
		if !valid[m.Key] {
			if err := manifest.ValidateKey("metric", m.Key); err != nil {
				return res, err
			}
			if valid == nil {
				valid = map[string]bool{}
			}
			valid[m.Key] = true
		}
		if m.Timestamp < 0 {
			return res, fmt.Errorf("%w: metric %q: timestamp %d must be non-negative (milliseconds since the epoch)", ErrInvalid, m.Key, m.Timestamp)
		}
	}
	if len(b.Inputs) > 0 {
		for _, d := range b.Inputs {
			if d.Name == "" || d.Digest == "" {
				return res, fmt.Errorf("%w: a dataset input needs a name and a digest", ErrInvalid)
			}
		}
		ops = append(ops, journal.Op{Op: journal.OpInputs, Run: id, Inputs: b.Inputs})
	}
	if len(b.Outputs) > 0 {
		for _, o := range b.Outputs {
			if !manifest.ValidLoggedModelID(o.ModelID) || o.Step < 0 {
				return res, fmt.Errorf("%w: output model %q at step %d: want an m-<32 hex> logged model id and a step of 0 or more", ErrInvalid, o.ModelID, o.Step)
			}
		}
		ops = append(ops, journal.Op{Op: journal.OpOutputs, Run: id, Outputs: b.Outputs})
	}
	if len(b.Artifacts) > 0 {
		for _, a := range b.Artifacts {
			if err := manifest.ValidateArtifactPath(a.Path); err != nil {
				return res, err
			}
			if !manifest.ValidDigest(a.Digest) {
				return res, fmt.Errorf("%w: artifact %q: digest %q is not sha256:<64 hex>", ErrInvalid, a.Path, a.Digest)
			}
		}
		ops = append(ops, journal.Op{Op: journal.OpArtifacts, Run: id, Artifacts: b.Artifacts})
	}
	if err := r.group.AppendPoints(ops, id, b.Metrics); err != nil {
		return res, err
	}
	r.maybeCheckpoint()
	return res, nil
}

// RunUpdate changes a run's status, end time or name (MLflow's update-run).
type RunUpdate struct {
	Status  string
	EndTime int64
	Name    *string
	// Exit is the wrapped command's exit status (-1: killed by a signal).
	Exit *int
}

// UpdateRun journals a status, end time or name change. A status other than
// RUNNING also commits the run: before the call returns, or in a live store
// with a commit delay, in a checkpoint shared with the runs that end within
// that delay (commitSoon).
func (r *Repo) UpdateRun(id string, u RunUpdate) (*manifest.Run, error) {
	var doc *manifest.Run
	err := r.withRunForWrite(id, func(d *manifest.Run) error {
		doc = journal.CloneRun(d)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if doc.LifecycleStage != manifest.LifecycleActive {
		return nil, fmt.Errorf("%w: the run %s must be in 'active' lifecycle_stage", ErrInvalid, id)
	}
	if u.Status != "" {
		u.Status = strings.ToUpper(u.Status)
		switch u.Status {
		case manifest.StatusRunning, manifest.StatusScheduled, manifest.StatusFinished, manifest.StatusFailed, manifest.StatusKilled:
		default:
			return nil, fmt.Errorf("%w: status %q is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", ErrInvalid, u.Status)
		}
		if u.Status != manifest.StatusRunning && u.Status != manifest.StatusScheduled && u.EndTime == 0 {
			u.EndTime = nowMillis(r.now())
		}
	}
	if u.Name != nil {
		n, _ := manifest.Truncate(*u.Name, manifest.MaxTagValue)
		u.Name = &n
	}
	op := journal.Op{Op: journal.OpUpdate, Run: id, Status: u.Status, EndTime: u.EndTime, Name: u.Name, Exit: u.Exit}
	if err := r.group.Append([]journal.Op{op}); err != nil {
		return nil, err
	}
	journal.Apply(doc, op)
	if u.Status != "" && u.Status != manifest.StatusRunning && u.Status != manifest.StatusScheduled {
		if err := r.commitSoon(); err != nil {
			return doc, fmt.Errorf("run %s ended and journaled, but the checkpoint failed (run mlgit run flush): %w", id, err)
		}
	} else {
		r.maybeCheckpoint()
	}
	return doc, nil
}

// DeleteRun soft-deletes a run (lifecycle "deleted"), as MLflow.
func (r *Repo) DeleteRun(id string) error { return r.setRunLifecycle(id, true) }

// RestoreRun undoes DeleteRun.
func (r *Repo) RestoreRun(id string) error { return r.setRunLifecycle(id, false) }

func (r *Repo) setRunLifecycle(id string, del bool) error {
	if err := r.withRunForWrite(id, func(*manifest.Run) error { return nil }); err != nil {
		return err
	}
	op := journal.Op{Op: journal.OpRestore, Run: id}
	if del {
		op = journal.Op{Op: journal.OpDelete, Run: id, Time: nowMillis(r.now())}
	}
	if err := r.group.Append([]journal.Op{op}); err != nil {
		return err
	}
	return r.commitSoon()
}

// commitSoon commits what the journal holds: now, or in a live store with
// a commit delay, by a background checkpoint at most that delay later
// (the records are durable already; readers see them from the journal).
func (r *Repo) commitSoon() error {
	if v := r.live; v != nil && r.commitDelay > 0 {
		v.CheckpointWithin(r.commitDelay)
		return nil
	}
	_, err := r.Checkpoint()
	return err
}

// MetricHistory returns every point of a run's metric in logging order:
// committed segments, then pending journal records.
func (r *Repo) MetricHistory(id, key string) ([]manifest.MetricPoint, error) {
	all, err := r.metricHistory(id, func(k string) bool { return k == key })
	if err != nil {
		return nil, err
	}
	return all[key], nil
}

// AllMetricHistory returns every point of every metric of a run.
func (r *Repo) AllMetricHistory(id string) (map[string][]manifest.MetricPoint, error) {
	return r.metricHistory(id, func(string) bool { return true })
}

// historyState is what a history read needs: the committed tree (tx, nil
// before the first commit) and the records not yet committed (ops from
// the journal, or pending points of the live view).
type historyState struct {
	tx      *Tx
	ops     []journal.Op
	pending []manifest.MetricPoint
	created bool
}

func (r *Repo) historyState(id string, want func(string) bool) (*historyState, error) {
	if !manifest.ValidRunID(id) {
		return nil, fmt.Errorf("%w: run id %q is not 32 lower-case hex characters", ErrInvalid, id)
	}
	st := &historyState{}
	if v := r.live; v != nil {
		tree, pts, c, err := v.PendingPoints(id, want)
		if err != nil {
			return nil, err
		}
		st.pending, st.created = pts, c
		if !tree.IsZero() {
			st.tx = r.txOnTree(plumbing.ZeroHash, tree)
		}
		return st, nil
	}
	tip, recs, err := r.snapshot(id)
	if err != nil {
		return nil, err
	}
	st.ops = recs
	if !tip.IsZero() {
		if st.tx, err = r.newTx(tip); err != nil {
			return nil, err
		}
	}
	return st, nil
}

func (r *Repo) metricHistory(id string, want func(string) bool) (map[string][]manifest.MetricPoint, error) {
	st, err := r.historyState(id, want)
	if err != nil {
		return nil, err
	}
	tx, ops, pending, created := st.tx, st.ops, st.pending, st.created
	out := map[string][]manifest.MetricPoint{}
	found := created
	if tx != nil {
		doc, err := readRunTx(tx, id)
		switch {
		case err == nil:
			found = true
			// Read every segment first and count its points per key, so
			// each history is allocated once at its final size.
			// A partial clone fetches the segments it lacks in one request.
			srcs, err := r.segmentSources(tx, id, doc.MetricSegments)
			if err != nil {
				return nil, err
			}
			segs := make([][]byte, len(srcs))
			counts := map[string]int{}
			for i, src := range srcs {
				if src.ptr != nil {
					for k, m := range src.ptr.Metrics {
						counts[k] += int(m.Points)
					}
					continue
				}
				data, err := r.objects.ReadObject(plumbing.BlobObject, src.tsv)
				if err != nil {
					return nil, err
				}
				segs[i] = data
				manifest.SegmentKeyCounts(data, counts)
			}
			for k, n := range counts {
				if want(k) {
					out[k] = make([]manifest.MetricPoint, 0, n)
				}
			}
			for i, data := range segs {
				if src := srcs[i]; src.ptr != nil {
					part := r.parseBlobPart(src.ptr, want)
					if part.err != nil {
						return nil, fmt.Errorf("run %s segment %d: %w", id, i+1, part.err)
					}
					for _, k := range part.keys {
						c, dst := part.cols[k], out[k]
						for j := range c.Values {
							dst = append(dst, manifest.MetricPoint{Key: k, Step: c.Steps[j], Timestamp: c.Timestamps[j], Value: c.Values[j]})
						}
						out[k] = dst
					}
					continue
				}
				// Points come in runs of one key: append to that key's
				// slice held locally, and store it back when the key changes.
				var cur string
				var dst []manifest.MetricPoint
				started, curWant := false, false
				err := manifest.ParseSegmentBytes(data, func(p manifest.MetricPoint) error {
					if !started || p.Key != cur {
						if started && curWant {
							out[cur] = dst
						}
						cur, curWant, started = p.Key, want(p.Key), true
						if curWant {
							dst = out[cur]
						}
					}
					if curWant {
						dst = append(dst, p)
					}
					return nil
				})
				if started && curWant {
					out[cur] = dst
				}
				if err != nil {
					return nil, fmt.Errorf("run %s segment %d: %w", id, i+1, err)
				}
			}
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	for _, o := range ops {
		if o.Op == journal.OpCreate {
			found = true
		}
		if o.Op == journal.OpMetric && want(o.Point.Key) {
			out[o.Point.Key] = append(out[o.Point.Key], o.Point)
		}
	}
	for _, p := range pending {
		out[p.Key] = append(out[p.Key], p)
	}
	if !found {
		return nil, fmt.Errorf("%w: run %s does not exist", ErrNotFound, id)
	}
	return out, nil
}

// Flush checkpoints the journal (mlgit run flush).
func (r *Repo) Flush() (CheckpointResult, error) { return r.Checkpoint() }

var adjectives = []string{"amber", "bold", "brave", "bright", "calm", "clever", "crisp", "dapper", "eager", "fancy", "gentle", "glad", "golden", "grand", "happy", "jolly", "keen", "kind", "lively", "lucid", "merry", "mighty", "nimble", "noble", "polite", "proud", "quick", "quiet", "rare", "shy", "silent", "smart", "sunny", "swift", "tidy", "vast", "warm", "wise", "witty", "zesty"}
var nouns = []string{"ant", "bass", "bear", "bee", "carp", "cat", "colt", "crab", "crow", "deer", "doe", "dove", "eel", "elk", "finch", "fox", "frog", "gnat", "goat", "hare", "hawk", "hen", "jay", "koi", "lark", "lynx", "mole", "moth", "newt", "owl", "ox", "pug", "ram", "seal", "shrew", "slug", "snail", "squid", "toad", "trout", "wasp", "whale", "wolf", "worm", "yak"}

// RandomRunName returns a name like MLflow's generated ones: "bold-owl-417".
func RandomRunName() string {
	id := NewRunID()
	var n [3]int
	for i := range n {
		fmt.Sscanf(id[i*4:i*4+4], "%x", &n[i])
	}
	return fmt.Sprintf("%s-%s-%d", adjectives[n[0]%len(adjectives)], nouns[n[1]%len(nouns)], n[2]%1000)
}
