// Package benchfix builds large tracking branches for benchmarks quickly:
// it writes a git fast-import stream with N runs (each with params,
// metrics, a metric segment) in one commit, so a 100,000-run repository
// takes seconds instead of hours of real logging.
package benchfix

import (
	"bufio"
	"fmt"
	"io"
	"math/rand"
	"os"
	"os/exec"

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
	cfg := manifest.NewConfig().Encode()
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
		var seg []manifest.MetricPoint
		for m := 0; m < spec.Metrics; m++ {
			key := fmt.Sprintf("metric_%02d", m)
			if m == 0 {
				key = "acc"
			}
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
		dir := "runs/" + id[:2] + "/" + id
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

// Build creates the fixture in the Git repository at dir with git
// fast-import (one pack) and returns the run ids.
func Build(dir string, spec Spec) ([]string, error) {
	cmd := exec.Command("git", "fast-import", "--quiet", "--force")
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
