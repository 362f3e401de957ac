// Command mlflowclient drives an MLflow tracking server over HTTP the way
// the MLflow Python client does for a small training: params, a metric
// series in log-batch calls, an artifact upload through the
// mlflow-artifacts proxy, an artifact listing and a filtered search. The
// demo runs it under `mlgit run exec --mlflow`, which sets
// MLFLOW_TRACKING_URI and MLFLOW_RUN_ID; without MLFLOW_RUN_ID it creates
// its own run in experiment MLFLOW_EXPERIMENT_ID (default "0").
package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"strings"
	"time"
)

var base = strings.TrimRight(os.Getenv("MLFLOW_TRACKING_URI"), "/")

func call(method, path string, body any, out any) {
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequest(method, base+path, rd)
	if err != nil {
		fail(err)
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		fail(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		fail(fmt.Errorf("%s %s: %s %s", method, path, resp.Status, data))
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			fail(err)
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "mlflowclient:", err)
	os.Exit(1)
}

func main() {
	if base == "" {
		fail(fmt.Errorf("MLFLOW_TRACKING_URI is not set (run me under mlgit run exec --mlflow)"))
	}
	runID := os.Getenv("MLFLOW_RUN_ID")
	exp := os.Getenv("MLFLOW_EXPERIMENT_ID")
	if exp == "" {
		exp = "0"
	}
	now := time.Now().UnixMilli()
	if runID == "" {
		var created struct {
			Run struct {
				Info struct {
					RunID string `json:"run_id"`
				} `json:"info"`
			} `json:"run"`
		}
		call("POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp, "start_time": now}, &created)
		runID = created.Run.Info.RunID
	}
	// mlflow.log_param
	call("POST", "/api/2.0/mlflow/runs/log-parameter", map[string]any{"run_id": runID, "key": "alpha", "value": "0.5"}, nil)
	call("POST", "/api/2.0/mlflow/runs/log-parameter", map[string]any{"run_id": runID, "key": "l1_ratio", "value": "0.1"}, nil)
	// A training loop logging in batches, as MLflow's autologging does.
	var metrics []map[string]any
	for step := 0; step < 20; step++ {
		rmse := 0.9*math.Exp(-float64(step)/6) + 0.1
		metrics = append(metrics,
			map[string]any{"key": "rmse", "value": rmse, "timestamp": now + int64(step), "step": step},
			map[string]any{"key": "r2", "value": 1 - rmse, "timestamp": now + int64(step), "step": step})
	}
	call("POST", "/api/2.0/mlflow/runs/log-batch", map[string]any{"run_id": runID, "metrics": metrics,
		"tags": []map[string]string{{"key": "mlflow.source.type", "value": "LOCAL"}}}, nil)
	// mlflow.log_artifact("model.txt", artifact_path="model")
	var got struct {
		Run struct {
			Info struct {
				ArtifactURI string `json:"artifact_uri"`
			} `json:"info"`
		} `json:"run"`
	}
	call("GET", "/api/2.0/mlflow/runs/get?run_id="+runID, nil, &got)
	rel := strings.TrimPrefix(got.Run.Info.ArtifactURI, "mlflow-artifacts:/")
	model := []byte("elasticnet alpha=0.5 l1_ratio=0.1\n")
	req, _ := http.NewRequest("PUT", base+"/api/2.0/mlflow-artifacts/artifacts/"+rel+"/model/model.txt", bytes.NewReader(model))
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		fail(fmt.Errorf("artifact upload: %w (response %v)", err, resp))
	}
	resp.Body.Close()
	var listed struct {
		Files []struct {
			Path string `json:"path"`
		} `json:"files"`
	}
	call("GET", "/api/2.0/mlflow/artifacts/list?run_id="+runID+"&path=model", nil, &listed)
	var found struct {
		Runs []any `json:"runs"`
	}
	call("POST", "/api/2.0/mlflow/runs/search", map[string]any{"experiment_ids": []string{exp},
		"filter": "metrics.rmse < 0.2", "order_by": []string{"metrics.rmse ASC"}, "max_results": 10}, &found)
	fmt.Printf("mlflowclient: run %s: 2 params, %d metric points, %d artifact(s) under model/, %d run(s) with rmse < 0.2\n",
		runID, len(metrics), len(listed.Files), len(found.Runs))
}
