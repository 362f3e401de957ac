package server

import (
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
)

// TestLoggedModelFlow replays mlflow.sklearn.log_model of MLflow 3.x
// (section 3.6 of the protocol notes) and the registration from it.
func TestLoggedModelFlow(t *testing.T) {
	e := newEnv(t)
	run := e.createRun("0")
	e.ok("POST", "/runs/log-parameter", `{"run_id":"`+run+`","key":"lr","value":"0.1"}`)
	v := e.ok("POST", "/logged-models", `{"experiment_id":"0","name":"model","source_run_id":"`+run+`",
		"params":[{"key":"lr","value":"0.1"}],"tags":[{"key":"mlflow.user","value":"alice"}]}`)
	info := v["model"].(map[string]any)["info"].(map[string]any)
	id := info["model_id"].(string)
	wantJSON(t, mustJSON(v), `{"model":{"info":{"model_id":"`+id+`","experiment_id":"0","name":"model",
		"creation_timestamp_ms":1767323045000,"last_updated_timestamp_ms":1767323045000,
		"artifact_uri":"mlflow-artifacts:/0/models/`+id+`/artifacts","status":"LOGGED_MODEL_PENDING",
		"source_run_id":"`+run+`","tags":[{"key":"mlflow.user","value":"alice"}]},
		"data":{"params":[{"key":"lr","value":"0.1"}]}}}`)
	wantJSON(t, e.api("POST", "/runs/outputs", `{"run_id":"`+run+`","models":[{"model_id":"`+id+`","step":0}]}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/outputs", `{"run_id":"`+run+`","models":[{"model_id":"m-0123456789abcdef0123456789abcdef","step":0}]}`), 404, "RESOURCE_DOES_NOT_EXIST")
	// The link is recorded: runs/get shows it (once, however often it is
	// sent), and it reaches the run's manifest on the branch.
	wantJSON(t, e.api("POST", "/runs/outputs", `{"run_id":"`+run+`","models":[{"model_id":"`+id+`","step":0},{"model_id":"`+id+`","step":"3"}]}`).body, `{}`)
	wantError(t, e.api("POST", "/runs/outputs", `{"run_id":"`+run+`","models":[{"model_id":"`+id+`","step":-1}]}`), 400, "INVALID_PARAMETER_VALUE")
	outs := e.ok("GET", "/runs/get?run_id="+run, "")["run"].(map[string]any)["outputs"]
	wantJSON(t, mustJSON(outs), `{"model_outputs":[{"model_id":"`+id+`","step":0},{"model_id":"`+id+`","step":3}]}`)
	if _, err := e.r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	got := gittest.Git(t, e.dir, "show", "mlgit:runs/"+run[:2]+"/"+run+"/run.yaml")
	if !strings.Contains(got, "outputs:\n  - modelId: "+id+"\n    step: 0\n  - modelId: "+id+"\n    step: 3") {
		t.Fatalf("run.yaml:\n%s", got)
	}

	base := proxy + "/0/models/" + id + "/artifacts"
	for p, b := range map[string]string{"MLmodel": "flavors:\n  sklearn: {}\n", "model.pkl": "PKL", "requirements.txt": "scikit-learn\n"} {
		if r := e.do("PUT", base+"/"+p, b); r.status != 200 {
			t.Fatalf("PUT %s: %d %s", p, r.status, r.body)
		}
	}
	wantJSON(t, e.api("PATCH", "/logged-models/"+id, `{"model_id":"`+id+`","status":"LOGGED_MODEL_READY"}`).body, mustJSON(e.ok("GET", "/logged-models/"+id, "")))
	if st := e.ok("GET", "/logged-models/"+id, "")["model"].(map[string]any)["info"].(map[string]any)["status"]; st != "LOGGED_MODEL_READY" {
		t.Fatalf("status %v", st)
	}
	wantError(t, e.api("PATCH", "/logged-models/"+id, `{"status":"LOGGED_MODEL_PENDING"}`), 400, "INVALID_PARAMETER_VALUE")

	// load_model("runs:/<run>/model") in 3.x: search by name, match the run.
	s := e.ok("POST", "/logged-models/search", `{"experiment_ids":["0"],"filter":"name = 'model'","max_results":50}`)
	if ms := s["models"].([]any); len(ms) != 1 || ms[0].(map[string]any)["info"].(map[string]any)["source_run_id"] != run {
		t.Fatalf("search %v", s)
	}
	wantJSON(t, e.api("POST", "/logged-models/search", `{"experiment_ids":["0"],"filter":"name = 'other'"}`).body, `{}`)
	wantJSON(t, e.do("GET", proxy+"?path=0/models/"+id+"/artifacts", "").body,
		`{"files":[{"path":"MLmodel","is_dir":false,"file_size":23},{"path":"model.pkl","is_dir":false,"file_size":3},{"path":"requirements.txt","is_dir":false,"file_size":13}]}`)
	wantJSON(t, e.api("GET", "/logged-models/"+id+"/artifacts/directories", "").body,
		`{"root_uri":"mlflow-artifacts:/0/models/`+id+`/artifacts","files":[{"path":"MLmodel","is_dir":false,"file_size":23},{"path":"model.pkl","is_dir":false,"file_size":3},{"path":"requirements.txt","is_dir":false,"file_size":13}]}`)
	if r := e.do("GET", base+"/model.pkl", ""); r.status != 200 || r.body != "PKL" {
		t.Fatalf("download %d %q", r.status, r.body)
	}

	// register_model("runs:/<run>/model") in 3.x ends with source models:/m-<id>.
	e.ok("POST", "/registered-models/create", `{"name":"churn"}`)
	mv := e.ok("POST", "/model-versions/create", `{"name":"churn","source":"models:/`+id+`","run_id":"`+run+`","model_id":"`+id+`"}`)["model_version"].(map[string]any)
	if mv["model_id"] != id || mv["run_id"] != run {
		t.Fatalf("version %v", mv)
	}
	wantJSON(t, e.api("GET", "/model-versions/get-download-uri?name=churn&version=1", "").body, `{"artifact_uri":"mlflow-artifacts:/0/models/`+id+`/artifacts"}`)
	vs, _ := e.r.ListVersions("churn", "")
	if len(vs) != 1 || len(vs[0].Artifacts) != 3 || strings.Join(vs[0].Flavors, ",") != "sklearn" {
		t.Fatalf("version files %+v", vs)
	}
	v = e.ok("PATCH", "/logged-models/"+id+"/tags", `{"tags":[{"key":"mlflow.modelVersions","value":"[{\"name\":\"churn\",\"version\":1}]"}]}`)
	if len(v["model"].(map[string]any)["info"].(map[string]any)["tags"].([]any)) != 2 {
		t.Fatalf("tags %v", v)
	}
	wantJSON(t, e.api("DELETE", "/logged-models/"+id+"/tags/mlflow.modelVersions", "").body, `{}`)
	wantError(t, e.api("DELETE", "/logged-models/"+id+"/tags/mlflow.modelVersions", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantJSON(t, e.api("POST", "/logged-models/"+id+"/params", `{"params":[{"key":"depth","value":"3"}]}`).body, `{}`)
	wantError(t, e.api("POST", "/logged-models/"+id+"/params", `{"params":[{"key":"depth","value":"4"}]}`), 400, "INVALID_PARAMETER_VALUE")
	if r := e.do("DELETE", base+"/requirements.txt", ""); r.status != 200 {
		t.Fatalf("delete artifact %d %s", r.status, r.body)
	}

	// Plain Git sees it after a checkpoint.
	e.s.Close()
	if show := gitOut(t, e.dir, "show", "mlgit:logged-models/"+id[2:4]+"/"+id+"/model.yaml"); !strings.Contains(show, "path: model.pkl") || !strings.Contains(show, "LOGGED_MODEL_READY") {
		t.Fatalf("model.yaml:\n%s", show)
	}

	wantJSON(t, e.api("DELETE", "/logged-models/"+id, "").body, `{}`)
	wantError(t, e.api("GET", "/logged-models/"+id, ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/logged-models/m-nothex", ""), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/logged-models", `{"name":"x"}`), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.api("POST", "/logged-models", `{"experiment_id":"99"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("POST", "/logged-models", `{"experiment_id":"0","source_run_id":"0123456789abcdef0123456789abcdef"}`), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.api("GET", "/logged-models/"+id+"/nope", ""), 404, "ENDPOINT_NOT_FOUND")
}

func TestLoggedModelTraversal(t *testing.T) {
	e := newEnv(t)
	id := e.ok("POST", "/logged-models", `{"experiment_id":"0","name":"m"}`)["model"].(map[string]any)["info"].(map[string]any)["model_id"].(string)
	for _, v := range traversal("/0/models/" + id + "/artifacts") {
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			r := e.raw(m, proxy+v, map[string]string{"PUT": "pwned"}[m])
			if r.status != 400 && r.status != 404 {
				t.Errorf("%s %s: %d %s", m, v, r.status, r.body)
			}
		}
	}
	for _, p := range []string{"..", "../..", "%2e%2e", "/etc", "a/../../b"} {
		r := e.api("GET", "/logged-models/"+id+"/artifacts/directories?artifact_directory_path="+p, "")
		wantError(t, r, 400, "INVALID_PARAMETER_VALUE")
	}
	m, _ := e.r.GetLoggedModel(id)
	if len(m.Artifacts) != 0 {
		t.Fatalf("artifacts written: %v", m.Artifacts)
	}
}
