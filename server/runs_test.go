package server

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strings"
	"testing"
)

func TestRunCreateGet(t *testing.T) {
	e := newEnv(t)
	v := e.ok("POST", "/runs/create", `{"experiment_id":"0","user_id":"alice","start_time":1767323045000,
		"tags":[{"key":"mlflow.user","value":"alice"},{"key":"mlflow.source.name","value":"train.py"}]}`)
	info := v["run"].(map[string]any)["info"].(map[string]any)
	id := info["run_id"].(string)
	if !regexp.MustCompile(`^[0-9a-f]{32}$`).MatchString(id) {
		t.Fatalf("run id %q", id)
	}
	name := info["run_name"].(string)
	if name == "" {
		t.Fatal("no generated run name")
	}
	want := `{"run":{"info":{"run_id":"` + id + `","run_uuid":"` + id + `","run_name":"` + name + `","experiment_id":"0",
		"user_id":"alice","status":"RUNNING","start_time":1767323045000,
		"artifact_uri":"mlflow-artifacts:/0/` + id + `/artifacts","lifecycle_stage":"active"},
		"data":{"tags":[{"key":"mlflow.runName","value":"` + name + `"},{"key":"mlflow.source.name","value":"train.py"},
		{"key":"mlflow.user","value":"alice"}]},"inputs":{}}}`
	wantJSON(t, e.api("GET", "/runs/get?run_id="+id, "").body, want)
	wantJSON(t, e.api("GET", "/runs/get?run_uuid="+id, "").body, want)

	// run_name wins as the mlflow.runName tag.
	v = e.ok("POST", "/runs/create", `{"experiment_id":"0","run_name":"my-run"}`)
	if n := v["run"].(map[string]any)["info"].(map[string]any)["run_name"]; n != "my-run" {
		t.Fatalf("run_name %v", n)
	}
	wantError(t, e.api("POST", "/runs/create", `{"experiment_id":"0","run_name":"a","tags":[{"key":"mlflow.runName","value":"b"}]}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/create", `{"experiment_id":"424242"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/runs/get?run_id=0123456789abcdef0123456789abcdef", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/runs/get", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/runs/get?run_id=../../etc", ""), 400, "INVALID_PARAMETER_VALUE")
	// Missing experiment_id means the Default experiment.
	v = e.ok("POST", "/runs/create", `{}`)
	if x := v["run"].(map[string]any)["info"].(map[string]any)["experiment_id"]; x != "0" {
		t.Fatalf("experiment %v", x)
	}
}

func TestRunLogging(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	rid := `"run_id":"` + id + `","run_uuid":"` + id + `"`
	wantJSON(t, e.api("POST", "/runs/log-parameter", `{`+rid+`,"key":"lr","value":"0.1"}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/log-parameter", `{`+rid+`,"key":"lr","value":"0.1"}`).body, `{}`)
	r := e.api("POST", "/runs/log-parameter", `{`+rid+`,"key":"lr","value":"0.2"}`)
	wantError(t, r, 400, "INVALID_PARAMETER_VALUE")
	if !strings.Contains(r.body, "changing param values is not allowed") {
		t.Fatalf("message %s", r.body)
	}
	wantJSON(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"loss","value":0.5,"timestamp":1767323046000,"step":1}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"loss","value":"NaN","timestamp":"1767323047000","step":"2"}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"inf","value":"-Infinity","timestamp":1767323047000}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"loss","value":true,"timestamp":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"loss","value":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"loss","timestamp":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/log-metric", `{`+rid+`,"key":"a/../b","value":1,"timestamp":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantJSON(t, e.api("POST", "/runs/set-tag", `{`+rid+`,"key":"team","value":"ml"}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/set-tag", `{`+rid+`,"key":"mlflow.runName","value":"renamed"}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/delete-tag", `{`+rid+`,"key":"team"}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/delete-tag", `{`+rid+`,"key":"team"}`), 404, "RESOURCE_DOES_NOT_EXIST")

	v := e.ok("GET", "/runs/get?run_id="+id, "")
	run := v["run"].(map[string]any)
	if run["info"].(map[string]any)["run_name"] != "renamed" {
		t.Fatalf("run name %v", run["info"])
	}
	data, _ := json.Marshal(run["data"].(map[string]any)["metrics"])
	wantJSON(t, string(data), `[{"key":"inf","value":"-Infinity","timestamp":1767323047000,"step":0},
		{"key":"loss","value":"NaN","timestamp":1767323047000,"step":2}]`)
	data, _ = json.Marshal(run["data"].(map[string]any)["params"])
	wantJSON(t, string(data), `[{"key":"lr","value":"0.1"}]`)

	// Whole history without max_results; pages with it.
	wantJSON(t, e.api("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss", "").body,
		`{"metrics":[{"key":"loss","value":0.5,"timestamp":1767323046000,"step":1},{"key":"loss","value":"NaN","timestamp":1767323047000,"step":2}]}`)
	h := e.ok("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss&max_results=1", "")
	if len(h["metrics"].([]any)) != 1 || h["next_page_token"] == nil {
		t.Fatalf("page: %v", h)
	}
	h = e.ok("GET", "/metrics/get-history?run_id="+id+"&metric_key=loss&max_results=1&page_token="+h["next_page_token"].(string), "")
	if len(h["metrics"].([]any)) != 1 || h["next_page_token"] != nil {
		t.Fatalf("page 2: %v", h)
	}
	wantJSON(t, e.api("GET", "/metrics/get-history?run_id="+id+"&metric_key=none", "").body, `{}`)
	wantError(t, e.api("GET", "/metrics/get-history?run_id="+id, ""), 400, "INVALID_PARAMETER_VALUE")
}

func TestLogBatchLimits(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	batch := func(nm, np, nt int) string {
		var m, p, tg []string
		for i := 0; i < nm; i++ {
			m = append(m, fmt.Sprintf(`{"key":"m%d","value":%d,"timestamp":1,"step":%d}`, i%5, i, i))
		}
		for i := 0; i < np; i++ {
			p = append(p, fmt.Sprintf(`{"key":"p%d","value":"v"}`, i))
		}
		for i := 0; i < nt; i++ {
			tg = append(tg, fmt.Sprintf(`{"key":"t%d","value":"v"}`, i))
		}
		return fmt.Sprintf(`{"run_id":"%s","metrics":[%s],"params":[%s],"tags":[%s]}`, id, strings.Join(m, ","), strings.Join(p, ","), strings.Join(tg, ","))
	}
	wantJSON(t, e.api("POST", "/runs/log-batch", batch(1000, 0, 0)).body, `{}`)
	r := e.api("POST", "/runs/log-batch", batch(1001, 0, 0))
	wantError(t, r, 400, "INVALID_PARAMETER_VALUE")
	if !strings.Contains(r.body, "at most 1000 metrics. Got 1001 metrics") {
		t.Fatal(r.body)
	}
	r = e.api("POST", "/runs/log-batch", batch(0, 101, 0))
	if !strings.Contains(r.body, "at most 100 params. Got 101 params") {
		t.Fatal(r.body)
	}
	wantError(t, e.api("POST", "/runs/log-batch", batch(0, 0, 101)), 400, "INVALID_PARAMETER_VALUE")
	r = e.api("POST", "/runs/log-batch", batch(901, 100, 0))
	if !strings.Contains(r.body, "in total. Got 1001") {
		t.Fatal(r.body)
	}
	wantJSON(t, e.api("POST", "/runs/log-batch", batch(10, 100, 100)).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-batch", `{"run_id":"`+id+`","metrics":[{"key":"a","value":1}]}`), 400, "INVALID_PARAMETER_VALUE")
	r = e.api("POST", "/runs/log-batch", `{"run_id":"`+id+`","metrics":[{"key":"a","value":1,"timestamp":1},{"key":"a","value":1}]}`)
	if !strings.Contains(r.body, "'metrics[1].timestamp'") {
		t.Fatal(r.body)
	}
	wantError(t, e.api("POST", "/runs/log-batch", `{"run_id":"`+id+`","params":[{"key":"x","value":"1"},{"key":"x","value":"2"}]}`), 400, "INVALID_PARAMETER_VALUE")
	// Over-long values are truncated, as MLflow does by default.
	wantJSON(t, e.api("POST", "/runs/log-batch", `{"run_id":"`+id+`","params":[{"key":"long","value":"`+strings.Repeat("x", 7000)+`"}]}`).body, `{}`)
	d, err := e.r.GetRun(id)
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Params["long"]) != 6000 || len(d.Params) != 101 || len(d.Tags) < 100 {
		t.Fatalf("params %d (long %d), tags %d", len(d.Params), len(d.Params["long"]), len(d.Tags))
	}
	h, err := e.r.MetricHistory(id, "m0")
	if err != nil || len(h) != 202 {
		t.Fatalf("history m0: %d %v", len(h), err)
	}
	wantJSON(t, e.api("POST", "/runs/log-batch", `{"run_id":"`+id+`"}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-batch", `{"run_id":"0123456789abcdef0123456789abcdef"}`), 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestRunUpdateDeleteRestore(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	v := e.ok("POST", "/runs/update", `{"run_id":"`+id+`","run_uuid":"`+id+`","status":"FINISHED","end_time":1767323099000,"run_name":"done"}`)
	wantJSON(t, mustJSON(v), `{"run_info":{"run_id":"`+id+`","run_uuid":"`+id+`","run_name":"done","experiment_id":"0",
		"user_id":"alice","status":"FINISHED","start_time":1767323045000,"end_time":1767323099000,
		"artifact_uri":"mlflow-artifacts:/0/`+id+`/artifacts","lifecycle_stage":"active"}}`)
	wantError(t, e.api("POST", "/runs/update", `{"run_id":"`+id+`","status":"DONE"}`), 400, "INVALID_PARAMETER_VALUE")
	wantJSON(t, e.api("POST", "/runs/delete", `{"run_id":"`+id+`"}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-metric", `{"run_id":"`+id+`","key":"a","value":1,"timestamp":1}`), 400, "INVALID_PARAMETER_VALUE")
	wantJSON(t, e.api("POST", "/runs/search", `{"experiment_ids":["0"]}`).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/restore", `{"run_id":"`+id+`"}`).body, `{}`)
	if n := len(e.ok("POST", "/runs/search", `{"experiment_ids":["0"]}`)["runs"].([]any)); n != 1 {
		t.Fatalf("runs after restore: %d", n)
	}
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

func TestSearchRuns(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 5; i++ {
		id := e.createRun("0")
		ids = append(ids, id)
		e.ok("POST", "/runs/log-batch", fmt.Sprintf(`{"run_id":"%s","metrics":[{"key":"acc","value":0.%d,"timestamp":1,"step":0}],
			"params":[{"key":"opt","value":"%s"}]}`, id, i+5, map[bool]string{true: "adam", false: "sgd"}[i%2 == 0]))
	}
	got := func(v map[string]any) []string {
		var out []string
		xs, _ := v["runs"].([]any)
		for _, x := range xs {
			out = append(out, x.(map[string]any)["info"].(map[string]any)["run_id"].(string))
		}
		return out
	}
	v := e.ok("POST", "/runs/search", `{"experiment_ids":["0"],"filter":"metrics.acc > 0.6 and params.opt = 'adam'","order_by":["metrics.acc DESC"]}`)
	if g := strings.Join(got(v), ","); g != ids[4]+","+ids[2] {
		t.Fatalf("filter: %v", g)
	}
	var all []string
	tok := ""
	for page := 0; page < 10; page++ {
		body := `{"experiment_ids":["0"],"order_by":["metrics.acc ASC"],"max_results":2,"page_token":"` + tok + `"}`
		v := e.ok("POST", "/runs/search", body)
		all = append(all, got(v)...)
		t, _ := v["next_page_token"].(string)
		if t == "" {
			break
		}
		tok = t
	}
	if strings.Join(all, ",") != strings.Join(ids, ",") {
		t.Fatalf("paged %v, want %v", all, ids)
	}
	wantError(t, e.api("POST", "/runs/search", `{"filter":"metrics.acc >"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/search", `{"page_token":"zzz"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/search", `{"max_results":50001}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/search", `{"order_by":["nope.x"]}`), 400, "INVALID_PARAMETER_VALUE")
	if n := len(got(e.ok("GET", "/runs/search?experiment_ids=0&filter=params.opt+%3D+%27sgd%27", ""))); n != 2 {
		t.Fatalf("GET search: %d", n)
	}
}

func TestBulkInterval(t *testing.T) {
	e := newEnv(t)
	a, b := e.createRun("0"), e.createRun("0")
	for _, id := range []string{a, b} {
		var m []string
		for s := 0; s < 10; s++ {
			m = append(m, fmt.Sprintf(`{"key":"loss","value":%d,"timestamp":%d,"step":%d}`, s, 100+s, s))
		}
		e.ok("POST", "/runs/log-batch", `{"run_id":"`+id+`","metrics":[`+strings.Join(m, ",")+`]}`)
	}
	v := e.ok("GET", "/metrics/get-history-bulk-interval?run_ids="+a+"&run_ids="+b+"&metric_key=loss&max_results=3", "")
	ms := v["metrics"].([]any)
	var steps []string
	for _, m := range ms {
		mm := m.(map[string]any)
		steps = append(steps, fmt.Sprintf("%s:%v", mm["run_id"].(string)[:4], mm["step"]))
	}
	want := []string{a[:4] + ":0", a[:4] + ":4", a[:4] + ":9", b[:4] + ":0", b[:4] + ":4", b[:4] + ":9"}
	if strings.Join(steps, ",") != strings.Join(want, ",") {
		t.Fatalf("steps %v, want %v", steps, want)
	}
	v = e.ok("GET", "/metrics/get-history-bulk?run_id="+a+"&run_id="+b+"&metric_key=loss&max_results=15", "")
	if ms := v["metrics"].([]any); len(ms) != 15 || ms[0].(map[string]any)["run_id"] != a || ms[14].(map[string]any)["run_id"] != b {
		t.Fatalf("bulk: %v", v)
	}
	wantError(t, e.api("GET", "/metrics/get-history-bulk?metric_key=loss", ""), 400, "INVALID_PARAMETER_VALUE")
	v = e.ok("GET", "/metrics/get-history-bulk-interval?run_ids="+a+"&metric_key=loss&start_step=2&end_step=3", "")
	if len(v["metrics"].([]any)) != 2 {
		t.Fatalf("range: %v", v)
	}
	wantError(t, e.api("GET", "/metrics/get-history-bulk-interval?run_ids="+a+"&metric_key=loss&start_step=2", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/metrics/get-history-bulk-interval?run_ids="+a+"&metric_key=loss&start_step=5&end_step=2", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/metrics/get-history-bulk-interval?metric_key=loss", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/metrics/get-history-bulk-interval?run_ids="+a+"&metric_key=loss&max_results=2501", ""), 400, "INVALID_PARAMETER_VALUE")
}

func TestLogInputsAndModel(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	wantJSON(t, e.api("POST", "/runs/log-inputs", `{"run_id":"`+id+`","datasets":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
		"dataset":{"name":"iris","digest":"abc123","source_type":"local","source":"{\"uri\":\"x\"}","schema":"{}"}}]}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-inputs", `{"run_id":"`+id+`","datasets":[{"dataset":{"name":"iris"}}]}`), 400, "INVALID_PARAMETER_VALUE")
	v := e.ok("GET", "/runs/get?run_id="+id, "")
	wantJSON(t, mustJSON(v["run"].(map[string]any)["inputs"]), `{"dataset_inputs":[{"tags":[{"key":"mlflow.data.context","value":"training"}],
		"dataset":{"name":"iris","digest":"abc123","source_type":"local","source":"{\"uri\":\"x\"}","schema":"{}"}}]}`)
	if n := len(e.ok("POST", "/runs/search", `{"filter":"dataset.name = 'iris'"}`)["runs"].([]any)); n != 1 {
		t.Fatalf("dataset search %d", n)
	}

	model := func(path string) string {
		m, _ := json.Marshal(map[string]any{"artifact_path": path, "flavors": map[string]any{"sklearn": map[string]any{}},
			"utc_time_created": "2026-01-02 03:04:05.000000", "run_id": id})
		b, _ := json.Marshal(map[string]string{"run_id": id, "model_json": string(m)})
		return string(b)
	}
	wantJSON(t, e.api("POST", "/runs/log-model", model("model")).body, `{}`)
	wantJSON(t, e.api("POST", "/runs/log-model", model("model2")).body, `{}`)
	wantError(t, e.api("POST", "/runs/log-model", `{"run_id":"`+id+`","model_json":"{\"flavors\":{}}"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/log-model", `{"run_id":"`+id+`","model_json":"nope"}`), 400, "INVALID_PARAMETER_VALUE")
	d, _ := e.r.GetRun(id)
	var hist []map[string]any
	if err := json.Unmarshal([]byte(d.Tags["mlflow.log-model.history"]), &hist); err != nil || len(hist) != 2 || hist[1]["artifact_path"] != "model2" {
		t.Fatalf("history %v %v", hist, err)
	}
}

func TestNaNInfinityRoundTrip(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	e.ok("POST", "/runs/log-batch", `{"run_id":"`+id+`","metrics":[{"key":"p","value":"Infinity","timestamp":1,"step":0}]}`)
	h, _ := e.r.MetricHistory(id, "p")
	if len(h) != 1 || !math.IsInf(h[0].Value, 1) {
		t.Fatalf("stored %v", h)
	}
}
