package benchfix

import (
	"bufio"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
)

// MLflowStore writes an MLflow 2.x file store at root, as MLflow's
// file store lays it out: one experiment "synthetic" (id 1) with runs runs,
// each with 3 params, 2 tags, keys metrics of steps points each (the
// first key's last point is NaN) and one small artifact. Runs get
// deterministic ids, so two stores written with the same arguments are the
// same store. It is for benchmarks and for the tests that need a store
// larger than the fixtures.
func MLflowStore(root string, runs, keys, steps int) error {
	exp := filepath.Join(root, "1")
	if err := os.MkdirAll(exp, 0o755); err != nil {
		return err
	}
	const t0 = 1_700_000_000_000
	meta := fmt.Sprintf("artifact_location: file://%s\ncreation_time: %d\nexperiment_id: '1'\nlast_update_time: %d\nlifecycle_stage: active\nname: synthetic\n", exp, t0, t0)
	if err := os.WriteFile(filepath.Join(exp, "meta.yaml"), []byte(meta), 0o644); err != nil {
		return err
	}
	for i := 0; i < runs; i++ {
		if err := writeMLflowRun(exp, i, keys, steps, t0+int64(i)*1000); err != nil {
			return err
		}
	}
	return nil
}

// MLflowRunID is the id of run i of an MLflowStore.
func MLflowRunID(i int) string { return fmt.Sprintf("%032x", uint64(i)*0x9e3779b97f4a7c15+1) }

func writeMLflowRun(exp string, i, keys, steps int, start int64) error {
	id := MLflowRunID(i)
	dir := filepath.Join(exp, id)
	for _, sub := range []string{"params", "tags", "metrics", "artifacts"} {
		if err := os.MkdirAll(filepath.Join(dir, sub), 0o755); err != nil {
			return err
		}
	}
	end := start + int64(steps)
	meta := fmt.Sprintf("artifact_uri: file://%s/artifacts\nend_time: %d\nentry_point_name: ''\nexperiment_id: '1'\nlifecycle_stage: active\n"+
		"run_id: %s\nrun_name: run-%d\nrun_uuid: %s\nsource_name: ''\nsource_type: 4\nsource_version: ''\nstart_time: %d\nstatus: 3\ntags: []\nuser_id: synth\n",
		dir, end, id, i, id, start)
	files := map[string]string{
		"meta.yaml":                   meta,
		"params/lr":                   strconv.FormatFloat(0.001*float64(i%100+1), 'g', -1, 64),
		"params/batch_size":           strconv.Itoa(32 << (i % 4)),
		"params/optimizer":            []string{"adam", "sgd", "rmsprop"}[i%3],
		"tags/mlflow.runName":         fmt.Sprintf("run-%d", i),
		"tags/mlflow.user":            "synth",
		"artifacts/notes/summary.txt": fmt.Sprintf("run %d\n", i),
	}
	for name, content := range files {
		if err := os.MkdirAll(filepath.Dir(filepath.Join(dir, name)), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			return err
		}
	}
	for k := 0; k < keys; k++ {
		f, err := os.Create(filepath.Join(dir, "metrics", fmt.Sprintf("m%02d", k)))
		if err != nil {
			return err
		}
		w := bufio.NewWriter(f)
		for s := 0; s < steps; s++ {
			v := 1 / float64(s+k+1)
			if k == 0 && s == steps-1 {
				v = math.NaN()
			}
			val := strconv.FormatFloat(v, 'g', -1, 64)
			if math.IsNaN(v) {
				val = "nan"
			}
			fmt.Fprintf(w, "%d %s %d\n", start+int64(s), val, s)
		}
		if err := w.Flush(); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
