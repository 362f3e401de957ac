package server

import (
	"net/url"
	"strings"
	"testing"
)

// modelRun makes a run with a model folder uploaded through the proxy.
func modelRun(t *testing.T, e *testEnv) string {
	t.Helper()
	id := e.createRun("0")
	for p, b := range map[string]string{"model/MLmodel": "flavors:\n  sklearn: {}\n  python_function: {}\n", "model/model.pkl": "PKL"} {
		if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/"+p, b); r.status != 200 {
			t.Fatal(r.body)
		}
	}
	return id
}

func TestRegistryFlow(t *testing.T) {
	e := newEnv(t)
	id := modelRun(t, e)
	v := e.ok("POST", "/registered-models/create", `{"name":"churn","description":"d","tags":[{"key":"team","value":"ml"}]}`)
	wantJSON(t, mustJSON(v), `{"registered_model":{"name":"churn","creation_timestamp":1767323045000,"last_updated_timestamp":1767323045000,
		"description":"d","tags":[{"key":"team","value":"ml"}]}}`)
	wantError(t, e.api("POST", "/registered-models/create", `{"name":"churn"}`), 400, "RESOURCE_ALREADY_EXISTS")

	for i := 1; i <= 3; i++ {
		v = e.ok("POST", "/model-versions/create", `{"name":"churn","source":"runs:/`+id+`/model","run_id":"`+id+`"}`)
	}
	wantJSON(t, mustJSON(v), `{"model_version":{"name":"churn","version":"3","creation_timestamp":1767323045000,"last_updated_timestamp":1767323045000,
		"current_stage":"None","source":"runs:/`+id+`/model","run_id":"`+id+`","status":"READY","user_id":`+mustJSON(e.r.User())+`}}`)
	wantJSON(t, e.api("GET", "/model-versions/get-download-uri?name=churn&version=1", "").body,
		`{"artifact_uri":"mlflow-artifacts:/0/`+id+`/artifacts/model"}`)

	// Stage transitions with archiving, as the CLI would (tags included).
	e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"1","stage":"Production","archive_existing_versions":false}`)
	v = e.ok("POST", "/model-versions/transition-stage", `{"name":"churn","version":"2","stage":"production","archive_existing_versions":true}`)
	if v["model_version"].(map[string]any)["current_stage"] != "Production" {
		t.Fatalf("transition: %v", v)
	}
	if st := e.ok("GET", "/model-versions/get?name=churn&version=1", "")["model_version"].(map[string]any)["current_stage"]; st != "Archived" {
		t.Fatalf("v1 stage %v, want Archived", st)
	}
	wantError(t, e.api("POST", "/model-versions/transition-stage", `{"name":"churn","version":"3","stage":"Nope"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/model-versions/transition-stage", `{"name":"churn","version":"3","stage":"Archived","archive_existing_versions":true}`), 400, "INVALID_PARAMETER_VALUE")
	lv := e.ok("POST", "/registered-models/get-latest-versions", `{"name":"churn","stages":["Production"]}`)["model_versions"].([]any)
	if len(lv) != 1 || lv[0].(map[string]any)["version"] != "2" {
		t.Fatalf("latest production %v", lv)
	}

	// Aliases.
	wantJSON(t, e.api("POST", "/registered-models/alias", `{"name":"churn","alias":"champion","version":"3"}`).body, `{}`)
	v = e.ok("GET", "/registered-models/alias?name=churn&alias=champion", "")
	if mv := v["model_version"].(map[string]any); mv["version"] != "3" || mustJSON(mv["aliases"]) != `["champion"]` {
		t.Fatalf("by alias %v", v)
	}
	m := e.ok("GET", "/registered-models/get?name=churn", "")["registered_model"].(map[string]any)
	if mustJSON(m["aliases"]) != `[{"alias":"champion","version":"3"}]` || len(m["latest_versions"].([]any)) != 3 {
		t.Fatalf("model %v", m)
	}
	wantJSON(t, e.api("DELETE", "/registered-models/alias", `{"name":"churn","alias":"champion"}`).body, `{}`)
	wantError(t, e.api("GET", "/registered-models/alias?name=churn&alias=champion", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("POST", "/registered-models/alias", `{"name":"churn","alias":"latest","version":"3"}`), 400, "INVALID_PARAMETER_VALUE")

	tags := gitOut(t, e.dir, "tag", "-l", "churn*")
	for _, want := range []string{"churn@v1", "churn@v3", "churn#production#", "churn#archived#", "churn#champion#"} {
		if !strings.Contains(tags, want) {
			t.Errorf("git tags lack %s:\n%s", want, tags)
		}
	}

	// Tags, update, search, rename, delete.
	e.ok("POST", "/model-versions/set-tag", `{"name":"churn","version":"3","key":"ok","value":"yes"}`)
	wantJSON(t, e.api("DELETE", "/model-versions/delete-tag", `{"name":"churn","version":"3","key":"ok"}`).body, `{}`)
	e.ok("POST", "/registered-models/set-tag", `{"name":"churn","key":"k","value":"v"}`)
	wantJSON(t, e.api("DELETE", "/registered-models/delete-tag", `{"name":"churn","key":"k"}`).body, `{}`)
	if d := e.ok("PATCH", "/model-versions/update", `{"name":"churn","version":"3","description":"best"}`)["model_version"].(map[string]any)["description"]; d != "best" {
		t.Fatalf("description %v", d)
	}
	e.ok("PATCH", "/registered-models/update", `{"name":"churn","description":"new"}`)
	sv := e.ok("GET", "/model-versions/search?filter=name%3D%27churn%27&order_by=version_number+ASC&max_results=2", "")
	if vs := sv["model_versions"].([]any); len(vs) != 2 || vs[0].(map[string]any)["version"] != "1" || sv["next_page_token"] == nil {
		t.Fatalf("version search %v", sv)
	}
	sm := e.ok("GET", "/registered-models/search?filter=name+LIKE+%27ch%25%27", "")
	if ms := sm["registered_models"].([]any); len(ms) != 1 {
		t.Fatalf("model search %v", sm)
	}
	// What MLflow 3's client adds to every registry search: "not a prompt".
	notPrompt := url.QueryEscape("name = 'churn' AND tags.`mlflow.prompt.is_prompt` != 'true'")
	if ms := e.ok("GET", "/registered-models/search?filter="+notPrompt, "")["registered_models"].([]any); len(ms) != 1 {
		t.Fatalf("model search, not a prompt: %v", ms)
	}
	if vs := e.ok("GET", "/model-versions/search?filter="+notPrompt, "")["model_versions"].([]any); len(vs) != 3 {
		t.Fatalf("version search, not a prompt: %v", vs)
	}
	isPrompt := url.QueryEscape("tags.`mlflow.prompt.is_prompt` = 'true'")
	if ms, _ := e.ok("GET", "/registered-models/search?filter="+isPrompt, "")["registered_models"].([]any); len(ms) != 0 {
		t.Fatalf("model search, prompts: %v", ms)
	}
	e.ok("POST", "/registered-models/rename", `{"name":"churn","new_name":"churn2"}`)
	wantError(t, e.api("GET", "/registered-models/get?name=churn", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantJSON(t, e.api("DELETE", "/model-versions/delete", `{"name":"churn2","version":"1"}`).body, `{}`)
	wantError(t, e.api("GET", "/model-versions/get?name=churn2&version=1", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/model-versions/get?name=churn2&version=x", ""), 400, "INVALID_PARAMETER_VALUE")
	wantJSON(t, e.api("DELETE", "/registered-models/delete", `{"name":"churn2"}`).body, `{}`)
	wantError(t, e.api("GET", "/registered-models/get?name=churn2", ""), 404, "RESOURCE_DOES_NOT_EXIST")
}

func TestModelVersionSourceRefused(t *testing.T) {
	e := newEnv(t)
	id := modelRun(t, e)
	e.ok("POST", "/registered-models/create", `{"name":"m"}`)
	for _, src := range []string{
		"/etc", "file:///etc/", "file:///etc/passwd", "//proc/self/root/etc", "dbfs:/x", "http://169.254.169.254/latest/meta-data/",
		"s3://bucket/models/../../x", "runs:/" + id + "/../../x", "runs:/" + id + "/model/%2e%2e/x", "runs:/" + id + "/model#frag",
		"runs:/" + id + "/model;p", "runs:/" + id + `/..\..\x`, "runs:/" + id + "/model?q=../..", "runs:/not-a-run/model",
		"mlflow-artifacts://host:5000/../../../../", "mlflow-artifacts://host:5000/..%2f..%2f..%2f..%2f",
		"mlflow-artifacts:/0/" + id + "/artifacts/../../x", "http://host:5000/api/2.0/mlflow-artifacts/artifacts/../../../../",
		"C:\\Windows", "models/artifacts/../../../", "runs:/" + id + "/model\x00",
	} {
		wantError(t, e.api("POST", "/model-versions/create", `{"name":"m","source":`+mustJSON(src)+`}`), 400, "INVALID_PARAMETER_VALUE")
	}
	wantError(t, e.api("POST", "/model-versions/create", `{"name":"m","source":"models:/m-0123456789abcdef0123456789abcdef"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("POST", "/model-versions/create", `{"name":"m","source":"models:/m/1"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/model-versions/create", `{"name":"m","source":"runs:/`+id+`/nothing"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("POST", "/model-versions/create", `{"name":"m","source":"runs:/`+id+`/model","run_id":"0123456789abcdef0123456789abcdef"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/model-versions/create", `{"name":"nope","source":"runs:/`+id+`/model"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	// mlflow-artifacts sources inside the store are accepted.
	v := e.ok("POST", "/model-versions/create", `{"name":"m","source":"mlflow-artifacts:/0/`+id+`/artifacts/model"}`)
	if v["model_version"].(map[string]any)["run_id"] != id {
		t.Fatalf("%v", v)
	}
	vs, err := e.r.ListVersions("m", "")
	if err != nil || len(vs) != 1 || len(vs[0].Artifacts) != 2 || strings.Join(vs[0].Flavors, ",") != "python_function,sklearn" {
		t.Fatalf("versions %+v %v", vs, err)
	}
}
