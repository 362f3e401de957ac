package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strings"
	"sync"
	"testing"

	"github.com/mlgit/mlgit/repo"
)

// client talks to a server over real HTTP the way the MLflow Python client
// does (mlflow/utils/rest_utils.py): JSON bodies from message_to_json, GET
// parameters in the query, both run_id and run_uuid on run calls.
type client struct {
	t    *testing.T
	base string
	hc   *http.Client
}

func (c *client) call(method, path string, body any) map[string]any {
	c.t.Helper()
	var rd io.Reader
	u := c.base + "/api/2.0/mlflow" + path
	if method == "GET" {
		if body != nil {
			u += "?" + body.(string)
		}
	} else {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, u, rd)
	if rd != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("User-Agent", "mlflow-python-client/2.17.0")
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var v map[string]any
	if err := json.Unmarshal(data, &v); err != nil {
		c.t.Fatalf("%s %s: not JSON: %q", method, path, data)
	}
	if res.StatusCode != 200 {
		v["_status"] = res.StatusCode
	}
	return v
}

func (c *client) must(method, path string, body any) map[string]any {
	c.t.Helper()
	v := c.call(method, path, body)
	if v["_status"] != nil {
		c.t.Fatalf("%s %s: %v", method, path, v)
	}
	return v
}

func (c *client) artifact(method, path string, body []byte) (int, []byte, http.Header) {
	c.t.Helper()
	req, _ := http.NewRequest(method, c.base+"/api/2.0/mlflow-artifacts/artifacts"+path, bytes.NewReader(body))
	if method == "PUT" {
		req.Header.Set("Content-Type", "text/plain")
	}
	res, err := c.hc.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, data, res.Header
}

// TestEndToEndMLflowClientFlow replays the Python client's seed flow over a
// real listener and checks what the store and plain Git see afterwards.
func TestEndToEndMLflowClientFlow(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	c := &client{t: t, base: ts.URL, hc: ts.Client()}

	// mlflow.set_experiment("churn")
	v := c.call("GET", "/experiments/get-by-name", "experiment_name=churn")
	if v["error_code"] != "RESOURCE_DOES_NOT_EXIST" || v["_status"] != 404 {
		t.Fatalf("get-by-name before create: %v", v)
	}
	exp := c.must("POST", "/experiments/create", map[string]any{"name": "churn"})["experiment_id"].(string)
	c.must("GET", "/experiments/get", "experiment_id="+exp)

	// mlflow.start_run()
	run := c.must("POST", "/runs/create", map[string]any{
		"experiment_id": exp, "user_id": "alice", "start_time": 1767323045000,
		"tags": []map[string]string{{"key": "mlflow.user", "value": "alice"}, {"key": "mlflow.source.name", "value": "train.py"},
			{"key": "mlflow.source.type", "value": "LOCAL"}, {"key": "mlflow.source.git.commit", "value": strings.Repeat("a", 40)}},
	})["run"].(map[string]any)
	info := run["info"].(map[string]any)
	id := info["run_id"].(string)
	if info["artifact_uri"] != "mlflow-artifacts:/"+exp+"/"+id+"/artifacts" {
		t.Fatalf("artifact_uri %v", info["artifact_uri"])
	}
	rid := func(m map[string]any) map[string]any { m["run_id"], m["run_uuid"] = id, id; return m }

	// log_param, log_metric (a series), log_params/log_metrics (batch), set_tag.
	c.must("POST", "/runs/log-parameter", rid(map[string]any{"key": "lr", "value": "0.01"}))
	for step := 0; step < 5; step++ {
		c.must("POST", "/runs/log-metric", rid(map[string]any{"key": "loss", "value": 1.0 / float64(step+1), "timestamp": 1767323046000 + step, "step": step}))
	}
	c.must("POST", "/runs/log-batch", rid(map[string]any{
		"metrics": []map[string]any{{"key": "acc", "value": 0.91, "timestamp": 1767323050000, "step": 4}},
		"params":  []map[string]any{{"key": "epochs", "value": "5"}, {"key": "optimizer", "value": "adam"}},
		"tags":    []map[string]any{{"key": "team", "value": "ml"}},
	}))
	c.must("POST", "/runs/set-tag", rid(map[string]any{"key": "stage", "value": "dev"}))

	// log_artifact("plot.png", "figs") and a 2.x model folder.
	files := map[string][]byte{"figs/plot.png": []byte("PNG"), "model/MLmodel": []byte("artifact_path: model\n"), "model/model.pkl": bytes.Repeat([]byte{1, 2, 3}, 1<<19)}
	c.must("GET", "/runs/get", "run_id="+id+"&run_uuid="+id)
	for p, b := range files {
		if st, body, _ := c.artifact("PUT", "/"+exp+"/"+id+"/artifacts/"+p, b); st != 200 || string(body) != "{}" {
			t.Fatalf("PUT %s: %d %s", p, st, body)
		}
	}
	mj, _ := json.Marshal(map[string]any{"artifact_path": "model", "flavors": map[string]any{"sklearn": map[string]any{"pickled_model": "model.pkl"}},
		"utc_time_created": "2026-01-02 03:04:05.000000", "run_id": id})
	c.must("POST", "/runs/log-model", rid(map[string]any{"model_json": string(mj)}))

	// load_model("runs:/<id>/model"): list then download each file.
	st, body, _ := c.artifact("GET", "?path="+exp+"/"+id+"/artifacts/model", nil)
	if st != 200 {
		t.Fatalf("list: %d %s", st, body)
	}
	wantJSON(t, string(body), `{"files":[{"path":"MLmodel","is_dir":false,"file_size":21},{"path":"model.pkl","is_dir":false,"file_size":1572864}]}`)
	for p, b := range files {
		st, got, h := c.artifact("GET", "/"+exp+"/"+id+"/artifacts/"+p, nil)
		if st != 200 || !bytes.Equal(got, b) {
			t.Fatalf("GET %s: %d, %d bytes", p, st, len(got))
		}
		if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment") || h.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("download headers %v", h)
		}
	}

	// end_run()
	c.must("POST", "/runs/update", rid(map[string]any{"status": "FINISHED", "end_time": 1767323060000}))

	// A few more runs, then search_runs with a filter and pagination.
	for i := 0; i < 4; i++ {
		other := c.must("POST", "/runs/create", map[string]any{"experiment_id": exp, "start_time": 1767323000000 + i})["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
		c.must("POST", "/runs/log-batch", map[string]any{"run_id": other, "metrics": []map[string]any{{"key": "acc", "value": 0.5 + float64(i)/10, "timestamp": 1, "step": 0}}})
	}
	v = c.must("POST", "/runs/search", map[string]any{"experiment_ids": []string{exp}, "filter": "metrics.acc > 0.75 and params.optimizer = 'adam'", "run_view_type": "ACTIVE_ONLY", "max_results": 1000, "order_by": []string{}})
	if rs := v["runs"].([]any); len(rs) != 1 || rs[0].(map[string]any)["info"].(map[string]any)["run_id"] != id {
		t.Fatalf("filtered search: %v", v)
	}
	var seen []string
	tok := ""
	for {
		q := map[string]any{"experiment_ids": []string{exp}, "max_results": 2, "order_by": []string{"metrics.acc DESC"}}
		if tok != "" {
			q["page_token"] = tok
		}
		v = c.must("POST", "/runs/search", q)
		for _, r := range v["runs"].([]any) {
			seen = append(seen, r.(map[string]any)["info"].(map[string]any)["run_id"].(string))
		}
		next, _ := v["next_page_token"].(string)
		if next == "" {
			break
		}
		tok = next
	}
	if len(seen) != 5 || seen[0] != id {
		t.Fatalf("paged search: %v", seen)
	}
	h := c.must("GET", "/metrics/get-history", "run_id="+id+"&run_uuid="+id+"&metric_key=loss")
	if n := len(h["metrics"].([]any)); n != 5 {
		t.Fatalf("history %d points", n)
	}

	// Registry: create_registered_model, create_model_version from the run,
	// transition with archiving, alias, then load models:/churn@champion
	// (get by alias, get-download-uri, list and download via the proxy).
	c.must("POST", "/registered-models/create", map[string]any{"name": "churn"})
	for i := 0; i < 2; i++ {
		mv := c.must("POST", "/model-versions/create", map[string]any{"name": "churn", "source": "runs:/" + id + "/model", "run_id": id})
		if mv["model_version"].(map[string]any)["status"] != "READY" {
			t.Fatalf("version %v", mv)
		}
	}
	c.must("POST", "/model-versions/transition-stage", map[string]any{"name": "churn", "version": "1", "stage": "Production", "archive_existing_versions": false})
	c.must("POST", "/model-versions/transition-stage", map[string]any{"name": "churn", "version": "2", "stage": "Production", "archive_existing_versions": true})
	c.must("POST", "/registered-models/alias", map[string]any{"name": "churn", "alias": "champion", "version": "2"})
	mv := c.must("GET", "/registered-models/alias", "name=churn&alias=champion")["model_version"].(map[string]any)
	lv := c.must("POST", "/registered-models/get-latest-versions", map[string]any{"name": "churn", "stages": []string{"Production"}})
	if mv["version"] != "2" || lv["model_versions"].([]any)[0].(map[string]any)["version"] != "2" {
		t.Fatalf("alias %v, latest %v", mv, lv)
	}
	uri := c.must("GET", "/model-versions/get-download-uri", "name=churn&version=2")["artifact_uri"].(string)
	rel, ok := strings.CutPrefix(uri, "mlflow-artifacts:/")
	if !ok {
		t.Fatalf("download uri %s", uri)
	}
	if st, body, _ := c.artifact("GET", "?path="+rel, nil); st != 200 || !strings.Contains(string(body), "model.pkl") {
		t.Fatalf("list %s: %d %s", rel, st, body)
	}
	if st, body, _ := c.artifact("GET", "/"+rel+"/model.pkl", nil); st != 200 || !bytes.Equal(body, files["model/model.pkl"]) {
		t.Fatalf("download model.pkl via %s: %d", uri, st)
	}
	if v := c.call("GET", "/model-versions/get", "name=churn&version=1")["model_version"].(map[string]any); v["current_stage"] != "Archived" {
		t.Fatalf("v1 %v", v)
	}
	if tags := gitOut(t, e.dir, "tag", "-l", "churn*"); !strings.Contains(tags, "churn#champion#") || !strings.Contains(tags, "churn#archived#") {
		t.Fatalf("registry tags:\n%s", tags)
	}

	// The store reads what the server wrote.
	d, err := e.r.GetRun(id)
	if err != nil {
		t.Fatal(err)
	}
	if d.Status != "FINISHED" || d.Params["optimizer"] != "adam" || d.Metrics["loss"].Value != 0.2 || len(d.Artifacts) != 3 || d.Tags["stage"] != "dev" {
		t.Fatalf("store run: %+v", d)
	}
	page, err := e.r.SearchRuns(repo.RunSearch{ExperimentIDs: []string{exp}, Filter: "params.lr = '0.01'"})
	if err != nil || len(page.Runs) != 1 {
		t.Fatalf("store search: %v %v", page.Runs, err)
	}

	// After the final checkpoint, plain Git shows it.
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	show := gitOut(t, e.dir, "show", fmt.Sprintf("mlgit:runs/%s/%s/run.yaml", id[:2], id))
	for _, want := range []string{"status: FINISHED", "optimizer: adam", "path: model/model.pkl", "mlflow.log-model.history", "experimentId: \"" + exp + "\""} {
		if !strings.Contains(show, want) {
			t.Errorf("git show run.yaml lacks %q:\n%s", want, show)
		}
	}
	seg := gitOut(t, e.dir, "show", fmt.Sprintf("mlgit:runs/%s/%s/metrics/000001.tsv", id[:2], id))
	if strings.Count(seg, "loss\t") != 5 {
		t.Errorf("metric segment:\n%s", seg)
	}
}

func gitOut(t *testing.T, dir string, args ...string) string {
	t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("git %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// TestConcurrentLogging logs from many clients at once; every
// acknowledged point is in the store afterwards.
func TestConcurrentLogging(t *testing.T) {
	e := newEnv(t)
	ts := httptest.NewServer(e.s)
	defer ts.Close()
	c := &client{t: t, base: ts.URL, hc: ts.Client()}
	const runs, per = 4, 25
	ids := make([]string, runs)
	for i := range ids {
		ids[i] = c.must("POST", "/runs/create", map[string]any{"experiment_id": "0"})["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	}
	var wg sync.WaitGroup
	for w := 0; w < 8; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			for i := 0; i < per; i++ {
				id := ids[(w+i)%runs]
				body, _ := json.Marshal(map[string]any{"run_id": id, "key": "m", "value": w*1000 + i, "timestamp": 1, "step": i})
				res, err := ts.Client().Post(ts.URL+"/api/2.0/mlflow/runs/log-metric", "application/json", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, res.Body)
				res.Body.Close()
				if res.StatusCode != 200 {
					t.Errorf("status %d", res.StatusCode)
				}
			}
		}(w)
	}
	wg.Wait()
	total := 0
	for _, id := range ids {
		h, err := e.r.MetricHistory(id, "m")
		if err != nil {
			t.Fatal(err)
		}
		total += len(h)
	}
	if total != 8*per {
		t.Fatalf("stored %d points, want %d", total, 8*per)
	}
	if err := e.s.Close(); err != nil {
		t.Fatal(err)
	}
	total = 0
	for _, id := range ids {
		h, _ := e.r.MetricHistory(id, "m")
		total += len(h)
	}
	if total != 8*per {
		t.Fatalf("after checkpoint %d points, want %d", total, 8*per)
	}
}
