package repo

import (
	"errors"
	"fmt"
	"maps"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

// Importing brings another tracker's history onto the branch with its own
// ids and times (mlgit import mlflow). An import writes documents whole, in
// batches, each batch one commit: the ids are the source's, so a batch that
// is written again (an import resumed after it was killed, or run a second
// time) finds the documents it wrote and changes only what differs. Metric
// histories are append-only on both sides: a run's new points are the
// source's points past the count the branch already holds for each key,
// written as one new segment.

// ImportRun is one run of an import batch.
type ImportRun struct {
	// Doc is the run as the source has it: id, experiment, name, status,
	// times, params, tags, inputs, outputs and artifacts. Its metric
	// summaries and segment count are computed here from Points.
	Doc *manifest.Run
	// Points is every metric point of the run, in the order each key's
	// points were logged.
	Points []manifest.MetricPoint
}

// ImportBatch is what one import commit brings.
type ImportBatch struct {
	Experiments  []*manifest.Experiment
	Runs         []ImportRun
	LoggedModels []*manifest.LoggedModel
	// Message is the commit's subject ("import" if empty).
	Message string
	// DryRun computes the stats and writes nothing.
	DryRun bool
}

// ImportStats counts what a batch changed.
type ImportStats struct {
	Experiments  int `json:"experiments"`   // created or changed
	Runs         int `json:"runs"`          // created or changed
	Points       int `json:"points"`        // new metric points
	LoggedModels int `json:"logged_models"` // created or changed
	// Artifacts and ArtifactBytes count the artifact entries written that
	// the branch did not hold (new paths or new content).
	Artifacts     int   `json:"artifacts"`
	ArtifactBytes int64 `json:"artifact_bytes"`
	// RunsUnchanged counts runs the branch already held as given.
	RunsUnchanged int `json:"runs_unchanged"`
	// Skipped lists the documents left out, with why.
	Skipped []ImportSkip `json:"skipped,omitempty"`
}

// ImportSkip is a document an import left out, and why.
type ImportSkip struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

var errDryRun = errors.New("dry run")

func (s *ImportStats) skip(item string, err error) {
	s.Skipped = append(s.Skipped, ImportSkip{Item: item, Reason: err.Error()})
}

// countArtifacts counts the entries of now that were not in had.
func (s *ImportStats) countArtifacts(had, now []manifest.Artifact) {
	old := make(map[manifest.Artifact]bool, len(had))
	for _, a := range had {
		old[a] = true
	}
	for _, a := range now {
		if !old[a] {
			s.Artifacts++
			s.ArtifactBytes += a.Size
		}
	}
}

// Changed reports whether the batch changed anything.
func (s ImportStats) Changed() bool {
	return s.Experiments+s.Runs+s.LoggedModels > 0
}

// Import writes a batch of imported documents in one commit, keeping their
// ids and times. A document the branch already holds unchanged is left
// alone; one that differs is replaced by the source's (a run keeps its
// segments and gets its new points appended). An experiment whose name is
// taken by another id, or a document that does not validate, is skipped
// and named in ImportStats.Skipped; the rest of the batch is written.
// Pending journal records are checkpointed first, so the import sees every
// acknowledged write.
func (r *Repo) Import(b ImportBatch) (ImportStats, error) {
	if _, err := r.Checkpoint(); err != nil {
		return ImportStats{}, err
	}
	var st ImportStats
	_, err := r.Update(func(tx *Tx) error {
		st = ImportStats{}
		if err := importExperiments(tx, b.Experiments, &st); err != nil {
			return err
		}
		for _, ir := range b.Runs {
			if err := importRun(tx, ir, &st); err != nil {
				return err
			}
		}
		for _, m := range b.LoggedModels {
			if err := importLoggedModel(tx, m, &st); err != nil {
				return err
			}
		}
		if !st.Changed() {
			return nil
		}
		if b.DryRun {
			return errDryRun
		}
		msg := b.Message
		if msg == "" {
			msg = "import"
		}
		var parts []string
		for _, c := range []struct {
			n    int
			what string
		}{{st.Experiments, "experiments"}, {st.Runs, "runs"}, {st.Points, "metric points"}, {st.LoggedModels, "logged models"}} {
			if c.n > 0 {
				parts = append(parts, fmt.Sprintf("%d %s", c.n, c.what))
			}
		}
		tx.SetMessage(msg+" ("+strings.Join(parts, ", ")+")", "Mlgit-Op: import")
		return nil
	})
	if errors.Is(err, errDryRun) {
		err = nil
	}
	return st, err
}

func importExperiments(tx *Tx, exps []*manifest.Experiment, st *ImportStats) error {
	if len(exps) == 0 {
		return nil
	}
	all, err := listExperimentsTx(tx)
	if err != nil {
		return err
	}
	byName := map[string]string{}
	for _, e := range all {
		byName[e.Name] = e.ID
	}
	for _, e := range exps {
		e.Header = manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindExperiment}
		if err := e.Validate(); err != nil {
			st.skip("experiment "+e.ID+" ("+e.Name+")", err)
			continue
		}
		if id, ok := byName[e.Name]; ok && id != e.ID {
			st.skip("experiment "+e.ID+" ("+e.Name+")", fmt.Errorf("the name is taken by experiment %s here; rename one of them and import again", id))
			continue
		}
		old, err := readExperimentTx(tx, e.ID)
		switch {
		case errors.Is(err, ErrNotFound):
		case err != nil:
			return err
		case string(old.Encode()) == string(e.Encode()):
			continue
		}
		delete(byName, nameOf(old))
		byName[e.Name] = e.ID
		tx.Write(layout.Experiment(e.ID), e.Encode())
		st.Experiments++
	}
	return nil
}

func nameOf(e *manifest.Experiment) string {
	if e == nil {
		return ""
	}
	return e.Name
}

func importRun(tx *Tx, ir ImportRun, st *ImportStats) error {
	doc := journal.CloneRun(ir.Doc)
	doc.Header = manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun}
	skip := func(err error) { st.skip("run "+doc.ID, err) }
	if !manifest.ValidRunID(doc.ID) {
		skip(fmt.Errorf("%w: id %q is not 32 lower-case hex characters", ErrInvalid, doc.ID))
		return nil
	}
	if _, err := readExperimentTx(tx, doc.ExperimentID); err != nil {
		if errors.Is(err, ErrNotFound) {
			skip(fmt.Errorf("its experiment %s is not in the repository (skipped, or left out of the import)", doc.ExperimentID))
			return nil
		}
		return err
	}
	old, err := readRunTx(tx, doc.ID)
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	// The points past what the branch holds, key by key.
	have := map[string]int64{}
	if old != nil {
		for k, s := range old.Metrics {
			have[k] = s.Count
		}
		doc.Metrics = old.Metrics
		doc.MetricSegments = old.MetricSegments
	} else {
		doc.Metrics, doc.MetricSegments = nil, 0
	}
	seen := map[string]int64{}
	var fresh []manifest.MetricPoint
	for _, p := range ir.Points {
		seen[p.Key]++
		if seen[p.Key] > have[p.Key] {
			fresh = append(fresh, p)
		}
	}
	// Keep the points of a key together, in their order: a segment's
	// lines are in logging order, which across keys the source does not
	// record.
	sort.SliceStable(fresh, func(i, j int) bool { return fresh[i].Key < fresh[j].Key })
	if len(fresh) > 0 {
		doc.Metrics = journal.AddPoints(maps.Clone(doc.Metrics), fresh)
		doc.MetricSegments++
	}
	if err := doc.Validate(); err != nil {
		skip(err)
		return nil
	}
	if old != nil && len(fresh) == 0 && string(old.Encode()) == string(doc.Encode()) {
		st.RunsUnchanged++
		return nil
	}
	if len(fresh) > 0 {
		var spill int64
		if historyPoints(doc) > manifest.MinSpillAbove {
			var err error
			if spill, err = spillThreshold(tx); err != nil {
				return err
			}
		}
		if spill > 0 && historyPoints(doc) > spill {
			if err := tx.r.writeSegmentBlob(tx, doc.ID, doc.MetricSegments, fresh); err != nil {
				return err
			}
		} else {
			tx.Write(layout.Segment(doc.ID, doc.MetricSegments), journal.EncodeSegment(fresh))
		}
	}
	tx.Write(layout.Run(doc.ID), doc.Encode())
	var had []manifest.Artifact
	if old != nil {
		had = old.Artifacts
	}
	st.countArtifacts(had, doc.Artifacts)
	st.Runs++
	st.Points += len(fresh)
	return nil
}

func importLoggedModel(tx *Tx, m *manifest.LoggedModel, st *ImportStats) error {
	m.Header = manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindLoggedModel}
	if err := m.Validate(); err != nil {
		st.skip("logged model "+m.ID, err)
		return nil
	}
	data, ok, err := tx.Read(layout.LoggedModel(m.ID))
	if err != nil {
		return err
	}
	enc := m.Encode()
	if ok && string(data) == string(enc) {
		return nil
	}
	tx.Write(layout.LoggedModel(m.ID), enc)
	var had []manifest.Artifact
	if ok {
		if old, err := manifest.DecodeLoggedModel(data); err == nil {
			had = old.Artifacts
		}
	}
	st.countArtifacts(had, m.Artifacts)
	st.LoggedModels++
	return nil
}
