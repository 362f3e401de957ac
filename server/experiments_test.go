package server

import (
	"net/http"
	"strings"
	"testing"
)

func TestHealthAndVersion(t *testing.T) {
	e := newEnv(t)
	if r := e.do("GET", "/health", ""); r.status != 200 || r.body != "OK" {
		t.Fatalf("health: %d %q", r.status, r.body)
	}
	if r := e.do("GET", "/version", ""); r.status != 200 || r.body != "test" {
		t.Fatalf("version: %d %q", r.status, r.body)
	}
}

func TestUnknownEndpoint(t *testing.T) {
	e := newEnv(t)
	wantError(t, e.api("GET", "/nope", ""), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.do("GET", "/elsewhere", ""), 404, "ENDPOINT_NOT_FOUND")
	wantError(t, e.api("GET", "/experiments/create", ""), 404, "ENDPOINT_NOT_FOUND")
}

func TestExperimentCreateGet(t *testing.T) {
	e := newEnv(t)
	v := e.ok("POST", "/experiments/create", `{"name":"churn","tags":[{"key":"team","value":"ml"}],"unknown_field":1}`)
	id := v["experiment_id"].(string)
	if id == "" || id == "0" {
		t.Fatalf("experiment id %q", id)
	}
	want := `{"experiment":{"experiment_id":"` + id + `","name":"churn","artifact_location":"mlflow-artifacts:/` + id + `",
		"lifecycle_stage":"active","last_update_time":1767323045000,"creation_time":1767323045000,
		"tags":[{"key":"team","value":"ml"}]}}`
	wantJSON(t, e.api("GET", "/experiments/get?experiment_id="+id, "").body, want)
	wantJSON(t, e.api("GET", "/experiments/get-by-name?experiment_name=churn", "").body, want)
	// The ajax mirror serves the same.
	wantJSON(t, e.do("GET", "/ajax-api/2.0/mlflow/experiments/get?experiment_id="+id, "").body, want)

	wantJSON(t, e.api("GET", "/experiments/get?experiment_id=0", "").body,
		`{"experiment":{"experiment_id":"0","name":"Default","artifact_location":"mlflow-artifacts:/0",
		"lifecycle_stage":"active","last_update_time":1767323045000,"creation_time":1767323045000}}`)

	wantError(t, e.api("POST", "/experiments/create", `{"name":"churn"}`), 400, "RESOURCE_ALREADY_EXISTS")
	wantError(t, e.api("POST", "/experiments/create", `{}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/create", `{"name":5}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/create", `{"name":"x"`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/create", `{"name":"`+strings.Repeat("a", 501)+`"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/experiments/get?experiment_id=123", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/experiments/get", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("GET", "/experiments/get-by-name?experiment_name=nope", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	r := e.api("GET", "/experiments/get", "")
	if !strings.Contains(r.body, "Missing value for required parameter 'experiment_id'") {
		t.Fatalf("message: %s", r.body)
	}
}

func TestExperimentDoubleEncodedBody(t *testing.T) {
	e := newEnv(t)
	v := e.ok("POST", "/experiments/create", `"{\"name\":\"twice\"}"`)
	if v["experiment_id"] == "" {
		t.Fatal("no id")
	}
}

func TestExperimentUpdateDeleteRestoreTags(t *testing.T) {
	e := newEnv(t)
	id := e.ok("POST", "/experiments/create", `{"name":"a"}`)["experiment_id"].(string)
	e.ok("POST", "/experiments/create", `{"name":"b"}`)
	wantJSON(t, e.api("POST", "/experiments/update", `{"experiment_id":"`+id+`","new_name":"a2"}`).body, `{}`)
	wantError(t, e.api("POST", "/experiments/update", `{"experiment_id":"`+id+`","new_name":"b"}`), 400, "RESOURCE_ALREADY_EXISTS")
	wantError(t, e.api("POST", "/experiments/update", `{"experiment_id":"`+id+`"}`), 400, "INVALID_PARAMETER_VALUE")

	wantJSON(t, e.api("POST", "/experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"k","value":"v"}`).body, `{}`)
	got := e.ok("GET", "/experiments/get?experiment_id="+id, "")["experiment"].(map[string]any)
	if got["name"] != "a2" || len(got["tags"].([]any)) != 1 {
		t.Fatalf("after rename and tag: %v", got)
	}
	wantJSON(t, e.api("POST", "/experiments/delete-experiment-tag", `{"experiment_id":"`+id+`","key":"k"}`).body, `{}`)
	wantError(t, e.api("POST", "/experiments/delete-experiment-tag", `{"experiment_id":"`+id+`","key":"k"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("POST", "/experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"../x","value":"v"}`), 400, "INVALID_PARAMETER_VALUE")

	run := e.createRun(id)
	wantJSON(t, e.api("POST", "/experiments/delete", `{"experiment_id":"`+id+`"}`).body, `{}`)
	got = e.ok("GET", "/experiments/get?experiment_id="+id, "")["experiment"].(map[string]any)
	if got["lifecycle_stage"] != "deleted" {
		t.Fatalf("not deleted: %v", got)
	}
	runInfo := e.ok("GET", "/runs/get?run_id="+run, "")["run"].(map[string]any)["info"].(map[string]any)
	if runInfo["lifecycle_stage"] != "deleted" {
		t.Fatalf("run not cascaded: %v", runInfo)
	}
	wantError(t, e.api("POST", "/experiments/set-experiment-tag", `{"experiment_id":"`+id+`","key":"k","value":"v"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/runs/create", `{"experiment_id":"`+id+`"}`), 400, "INVALID_PARAMETER_VALUE")
	wantJSON(t, e.api("POST", "/experiments/restore", `{"experiment_id":"`+id+`"}`).body, `{}`)
	runInfo = e.ok("GET", "/runs/get?run_id="+run, "")["run"].(map[string]any)["info"].(map[string]any)
	if runInfo["lifecycle_stage"] != "active" {
		t.Fatalf("run not restored: %v", runInfo)
	}
	wantError(t, e.api("POST", "/experiments/delete", `{"experiment_id":"0"}`), 400, "INVALID_PARAMETER_VALUE")
}

func TestExperimentSearch(t *testing.T) {
	e := newEnv(t)
	for _, n := range []string{"alpha", "beta", "gamma"} {
		e.ok("POST", "/experiments/create", `{"name":"`+n+`","tags":[{"key":"t","value":"`+n+`"}]}`)
	}
	names := func(v map[string]any) []string {
		var out []string
		xs, _ := v["experiments"].([]any)
		for _, x := range xs {
			out = append(out, x.(map[string]any)["name"].(string))
		}
		return out
	}
	v := e.ok("POST", "/experiments/search", `{"order_by":["name DESC"],"max_results":2}`)
	if got := strings.Join(names(v), ","); got != "gamma,beta" {
		t.Fatalf("page 1: %s", got)
	}
	tok := v["next_page_token"].(string)
	v = e.ok("POST", "/experiments/search", `{"order_by":["name DESC"],"max_results":2,"page_token":"`+tok+`"}`)
	if got := strings.Join(names(v), ","); got != "alpha,Default" || v["next_page_token"] != nil {
		t.Fatalf("page 2: %s %v", got, v)
	}
	v = e.ok("GET", "/experiments/search?filter=name+LIKE+%27%25a%27&order_by=name", "")
	if got := strings.Join(names(v), ","); got != "alpha,beta,gamma" {
		t.Fatalf("filter: %s", got)
	}
	v = e.ok("POST", "/experiments/search", `{"filter":"tags.t = 'beta'"}`)
	if got := strings.Join(names(v), ","); got != "beta" {
		t.Fatalf("tag filter: %s", got)
	}
	wantJSON(t, e.api("POST", "/experiments/search", `{"view_type":"DELETED_ONLY"}`).body, `{}`)
	wantError(t, e.api("POST", "/experiments/search", `{"filter":"name =="}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/search", `{"max_results":0}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/search", `{"page_token":"!!"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/experiments/search", `{"view_type":"SOME"}`), 400, "INVALID_PARAMETER_VALUE")
	if r := e.api("POST", "/experiments/search", `{"max_results":"2"}`); r.status != http.StatusOK {
		t.Fatalf("int64 as string: %d %s", r.status, r.body)
	}
}
