// Package benchfix builds large tracking branches for benchmarks quickly:
// it writes a git fast-import stream with N runs (each with params,
// metrics, a metric segment) in one commit, so a 100,000-run repository
// takes seconds instead of hours of real logging.
//
// Metric-heavy fixtures (millions of points in a run) set
// Spec.SegmentBytes: histories are then written as a training loop and the
// journal's checkpoints would have left them, in several segments
// metrics/000001.tsv, 000002.tsv, ... read by repo.MetricHistory like any
// logged run.
package benchfix

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"

	blobpkg "github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
)

// Spec describes a fixture.
type Spec struct {
	Runs    int
	Params  int
	Metrics int
	Steps   int // metric points per metric (in one segment)
	Seed    int64
	Branch  string

	// SegmentBytes, when > 0, writes metric histories as a run logs them:
	// at each step one point of every metric (step-major, timestamps one
	// millisecond apart per step), values following training curves
	// (losses falling, acc rising, with noise) rounded to float32 as
	// frameworks log them, cut into segments of at most SegmentBytes
	// bytes each (a checkpoint folds at most repo.CheckpointMaxBytes of
	// journal, 4 MiB, into one segment: use SegmentMax). 0 keeps the
	// original layout: one segment per run, metric by metric, uniform
	// random values.
	SegmentBytes int

	// SpillAbove and BlobDir, with SegmentBytes, keep long histories in
	// the blob store as mlgit does past metrics.spillAbove: once a run's
	// history (the segment included) holds more than SpillAbove points,
	// its segments are written as columnar blobs into the folder blob
	// store BlobDir, with MetricBlob pointers on the branch; mlgit.yaml
	// names BlobDir as the blob remote.
	SpillAbove int64
	BlobDir    string
}

// SegmentMax is the size of the segments a checkpoint writes for a
// steadily logging run: repo.CheckpointMaxBytes (4 MiB) of journal.
const SegmentMax = 4 << 20

// MetricKey is the name of metric m of a fixture run: "acc" for 0, then
// metric_01, metric_02, ... (three digits and more past 99).
func MetricKey(m int) string {
	if m == 0 {
		return "acc"
	}
	return fmt.Sprintf("metric_%02d", m)
}

// RunID returns the id of run i of a fixture (deterministic).
func RunID(seed int64, i int) string {
	r := rand.New(rand.NewSource(seed*1_000_003 + int64(i)))
	return fmt.Sprintf("%016x%016x", r.Uint64(), r.Uint64())
}

// Write writes the fast-import stream for spec to w.
func Write(w io.Writer, spec Spec) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	branch := spec.Branch
	if branch == "" {
		branch = "mlgit"
	}
	rng := rand.New(rand.NewSource(spec.Seed))
	blob := func(mark int, data []byte) {
		fmt.Fprintf(bw, "blob\nmark :%d\ndata %d\n", mark, len(data))
		bw.Write(data)
		bw.WriteByte('\n')
	}
	type file struct {
		path string
		mark int
	}
	var files []file
	mark := 1
	cfgDoc := manifest.NewConfig()
	var store blobpkg.Store
	if spec.SpillAbove > 0 {
		cfgDoc.Metrics.SpillAbove = spec.SpillAbove
		cfgDoc.Blobs.Remote = spec.BlobDir
		st, err := blobpkg.NewLocal(spec.BlobDir)
		if err != nil {
			return err
		}
		store = st
	}
	cfg := cfgDoc.Encode()
	blob(mark, cfg)
	files = append(files, file{"mlgit.yaml", mark})
	mark++
	exp := &manifest.Experiment{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindExperiment},
		ID: "0", Name: "Default", LifecycleStage: "active", CreationTime: 1700000000000, LastUpdateTime: 1700000000000}
	blob(mark, exp.Encode())
	files = append(files, file{"experiments/0/experiment.yaml", mark})
	mark++
	optims := []string{"adam", "sgd", "rmsprop", "adamw"}
	for i := 0; i < spec.Runs; i++ {
		id := RunID(spec.Seed, i)
		run := &manifest.Run{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun},
			ID: id, ExperimentID: "0", Name: fmt.Sprintf("run-%d", i), Status: "FINISHED", LifecycleStage: "active",
			User: "bench", StartTime: 1700000000000 + int64(i)*1000, EndTime: 1700000000000 + int64(i)*1000 + 500,
			Params: map[string]string{}, Tags: map[string]string{"mlflow.runName": fmt.Sprintf("run-%d", i), "team": "vision"},
			Metrics: map[string]manifest.MetricSummary{}}
		for p := 0; p < spec.Params; p++ {
			run.Params[fmt.Sprintf("param_%02d", p)] = fmt.Sprintf("%d", rng.Intn(1000))
		}
		if spec.Params > 0 {
			run.Params["optimizer"] = optims[rng.Intn(len(optims))]
		}
		dir := "runs/" + id[:2] + "/" + id
		if spec.SegmentBytes > 0 {
			var total int64
			var werr error
			n := writeSegments(spec, run, rng, func(seq int, data []byte, pts []manifest.MetricPoint) {
				total += int64(len(pts))
				if store != nil && total > spec.SpillAbove {
					enc, keys := manifest.EncodeColumns(pts)
					d, size, err := blobpkg.Add(context.Background(), store, bytes.NewReader(enc))
					if err != nil && werr == nil {
						werr = err
					}
					blob(mark, manifest.NewMetricBlob(id, seq, d.String(), size, keys).Encode())
					files = append(files, file{fmt.Sprintf("%s/metric-blobs/%06d.yaml", dir, seq), mark})
					mark++
					return
				}
				blob(mark, data)
				files = append(files, file{fmt.Sprintf("%s/metrics/%06d.tsv", dir, seq), mark})
				mark++
			})
			if werr != nil {
				return werr
			}
			run.MetricSegments = n
			blob(mark, run.Encode())
			files = append(files, file{dir + "/run.yaml", mark})
			mark++
			continue
		}
		var seg []manifest.MetricPoint
		for m := 0; m < spec.Metrics; m++ {
			key := MetricKey(m)
			var sum *manifest.MetricSummary
			for s := 0; s < spec.Steps; s++ {
				p := manifest.MetricPoint{Key: key, Value: rng.Float64(), Step: int64(s), Timestamp: run.StartTime + int64(s)}
				seg = append(seg, p)
				v := sum.Add(p)
				sum = &v
			}
			if sum != nil {
				run.Metrics[key] = *sum
			}
		}
		if len(seg) > 0 {
			run.MetricSegments = 1
			blob(mark, manifest.EncodeSegment(seg))
			files = append(files, file{dir + "/metrics/000001.tsv", mark})
			mark++
		}
		blob(mark, run.Encode())
		files = append(files, file{dir + "/run.yaml", mark})
		mark++
	}
	msg := fmt.Sprintf("benchmark fixture: %d runs", spec.Runs)
	fmt.Fprintf(bw, "commit refs/heads/%s\ncommitter bench <bench@example.com> 1700000000 +0000\ndata %d\n%s\n", branch, len(msg), msg)
	for _, f := range files {
		fmt.Fprintf(bw, "M 100644 :%d %s\n", f.mark, f.path)
	}
	bw.WriteString("\n")
	return bw.Flush()
}

// writeSegments writes run's metric histories step-major in segments of
// at most spec.SegmentBytes (emit gets each with its sequence number, from
// 1, its text and its points; both are reused after it returns), fills
// run.Metrics and returns the
// number of segments.
func writeSegments(spec Spec, run *manifest.Run, rng *rand.Rand, emit func(seq int, data []byte, pts []manifest.MetricPoint)) int {
	if spec.Metrics == 0 || spec.Steps == 0 {
		return 0
	}
	type curve struct {
		key             string
		start, end, tau float64
		noise           float64
		sum             manifest.MetricSummary
	}
	cs := make([]curve, spec.Metrics)
	for m := range cs {
		c := &cs[m]
		c.key = MetricKey(m)
		c.tau = float64(spec.Steps) * (0.05 + 0.3*rng.Float64())
		if m == 0 { // accuracy rises
			c.start, c.end, c.noise = 0.1+0.1*rng.Float64(), 0.85+0.1*rng.Float64(), 0.01
		} else { // losses fall
			c.start, c.end, c.noise = 1+2*rng.Float64(), 0.05+0.2*rng.Float64(), 0.02
		}
	}
	buf := make([]byte, 0, spec.SegmentBytes+256)
	var pts []manifest.MetricPoint
	seq := 0
	var line []byte
	for s := 0; s < spec.Steps; s++ {
		ts := run.StartTime + int64(s)
		for m := range cs {
			c := &cs[m]
			v := c.end + (c.start-c.end)*math.Exp(-float64(s)/c.tau) + c.noise*rng.NormFloat64()
			p := manifest.MetricPoint{Key: c.key, Value: float64(float32(v)), Step: int64(s), Timestamp: ts}
			c.sum = c.sum.Add(p)
			line = manifest.AppendSegmentLine(line[:0], p)
			if len(buf) > 0 && len(buf)+len(line) > spec.SegmentBytes {
				seq++
				emit(seq, buf, pts)
				buf, pts = buf[:0], pts[:0]
			}
			buf = append(buf, line...)
			pts = append(pts, p)
		}
	}
	if len(buf) > 0 {
		seq++
		emit(seq, buf, pts)
	}
	for _, c := range cs {
		run.Metrics[c.key] = c.sum
	}
	return seq
}

// Build creates the fixture in the Git repository at dir with git
// fast-import (one pack) and returns the run ids.
func Build(dir string, spec Spec) ([]string, error) {
	args := []string{"fast-import", "--quiet", "--force"}
	if spec.SegmentBytes > 0 {
		// Megabytes of segments: no delta search against the previous
		// blob (random digits do not delta) and fast compression, 5x
		// faster to build (10 keys x 1,000,000 steps: 10 s, not 50).
		args = append([]string{"-c", "core.compression=1"}, append(args, "--depth=0")...)
	}
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	in, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	werr := Write(in, spec)
	in.Close()
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Errorf("git fast-import: %w", err)
	}
	if werr != nil {
		return nil, werr
	}
	ids := make([]string, spec.Runs)
	for i := range ids {
		ids[i] = RunID(spec.Seed, i)
	}
	return ids, nil
}

// Must panics on error, for benchmark set-up.
func Must[T any](v T, err error) T {
	if err != nil {
		panic(err)
	}
	return v
}
