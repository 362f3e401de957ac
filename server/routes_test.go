package server

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
)

// mlflowEndpoints is every MLflow JSON endpoint the server answers, by
// method, relative to /api/2.0/mlflow (and /ajax-api/2.0/mlflow).
var mlflowEndpoints = []struct{ method, path string }{
	{"POST", "/experiments/create"},
	{"GET", "/experiments/get"},
	{"GET", "/experiments/get-by-name"},
	{"POST", "/experiments/search"},
	{"GET", "/experiments/search"},
	{"POST", "/experiments/update"},
	{"POST", "/experiments/delete"},
	{"POST", "/experiments/restore"},
	{"POST", "/experiments/set-experiment-tag"},
	{"POST", "/experiments/delete-experiment-tag"},
	{"POST", "/runs/create"},
	{"GET", "/runs/get"},
	{"POST", "/runs/update"},
	{"POST", "/runs/delete"},
	{"POST", "/runs/restore"},
	{"POST", "/runs/log-metric"},
	{"POST", "/runs/log-parameter"},
	{"POST", "/runs/log-batch"},
	{"POST", "/runs/set-tag"},
	{"POST", "/runs/delete-tag"},
	{"POST", "/runs/log-inputs"},
	{"POST", "/runs/log-model"},
	{"POST", "/runs/search"},
	{"GET", "/runs/search"},
	{"GET", "/metrics/get-history"},
	{"GET", "/metrics/get-history-bulk"},
	{"GET", "/metrics/get-history-bulk-interval"},
	{"GET", "/artifacts/list"},
	{"POST", "/registered-models/create"},
	{"GET", "/registered-models/get"},
	{"POST", "/registered-models/rename"},
	{"PATCH", "/registered-models/update"},
	{"DELETE", "/registered-models/delete"},
	{"GET", "/registered-models/search"},
	{"POST", "/registered-models/get-latest-versions"},
	{"GET", "/registered-models/get-latest-versions"},
	{"POST", "/registered-models/set-tag"},
	{"DELETE", "/registered-models/delete-tag"},
	{"POST", "/registered-models/alias"},
	{"DELETE", "/registered-models/alias"},
	{"GET", "/registered-models/alias"},
	{"POST", "/model-versions/create"},
	{"GET", "/model-versions/get"},
	{"PATCH", "/model-versions/update"},
	{"DELETE", "/model-versions/delete"},
	{"POST", "/model-versions/transition-stage"},
	{"GET", "/model-versions/search"},
	{"GET", "/model-versions/get-download-uri"},
	{"POST", "/model-versions/set-tag"},
	{"DELETE", "/model-versions/delete-tag"},
	{"POST", "/logged-models"},
	{"POST", "/logged-models/search"},
	{"GET", "/logged-models/{model_id}"},
	{"PATCH", "/logged-models/{model_id}"},
	{"DELETE", "/logged-models/{model_id}"},
	{"PATCH", "/logged-models/{model_id}/tags"},
	{"DELETE", "/logged-models/{model_id}/tags/{tag_key...}"},
	{"POST", "/logged-models/{model_id}/params"},
	{"GET", "/logged-models/{model_id}/artifacts/directories"},
	{"POST", "/runs/outputs"},
}

// errorCode returns the MLflow error code of a response ("" for none).
func errorCode(r resp) string {
	var v struct {
		ErrorCode string `json:"error_code"`
	}
	json.Unmarshal([]byte(r.body), &v)
	return v.ErrorCode
}

// TestRouteTable walks the route table: every endpoint answers on both
// prefixes with its method(s), every other method answers MLflow's
// ENDPOINT_NOT_FOUND (404), and so do unknown paths.
func TestRouteTable(t *testing.T) {
	e := newEnv(t)
	want := map[string]bool{}
	accepts := map[string]map[string]bool{}
	for _, ep := range mlflowEndpoints {
		want[ep.method+" "+ep.path] = true
		if accepts[ep.path] == nil {
			accepts[ep.path] = map[string]bool{}
		}
		accepts[ep.path][ep.method] = true
	}
	got := map[string]bool{}
	for _, ep := range e.s.endpoints {
		got[ep.method+" "+ep.path] = true
		if !want[ep.method+" "+ep.path] {
			t.Errorf("unexpected endpoint %s %s", ep.method, ep.path)
		}
	}
	for k := range want {
		if !got[k] {
			t.Errorf("endpoint %s is not registered", k)
		}
	}
	concrete := func(p string) string {
		p = strings.ReplaceAll(p, "{model_id}", "m-0123456789abcdef0123456789abcdef")
		return strings.ReplaceAll(p, "{tag_key...}", "some/key")
	}
	for _, prefix := range []string{"/api/2.0/mlflow", "/ajax-api/2.0/mlflow"} {
		for _, ep := range mlflowEndpoints {
			target := prefix + concrete(ep.path)
			body := "{}"
			if ep.method == http.MethodGet {
				body = ""
			}
			r := e.do(ep.method, target, body)
			if r.status == http.StatusNotFound && errorCode(r) == codeEndpointNotFound || r.status == http.StatusMethodNotAllowed {
				t.Errorf("%s %s: %d %s", ep.method, target, r.status, r.body)
			}
		}
		for p, ms := range accepts {
			for _, m := range []string{"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "PROPFIND"} {
				if ms[m] {
					continue
				}
				target := prefix + concrete(p)
				r := e.do(m, target, "{}")
				if m == "HEAD" {
					if r.status != http.StatusNotFound {
						t.Errorf("%s %s: %d, want 404", m, target, r.status)
					}
					continue
				}
				wantError(t, r, http.StatusNotFound, codeEndpointNotFound)
				if !strings.Contains(r.body, "does not accept "+m) {
					t.Errorf("%s %s: %s", m, target, r.body)
				}
			}
		}
		for _, p := range []string{"/nope", "/runs", "/runs/get/", "//runs/get", "/runs/../runs/get", "/./runs/get",
			"/logged-models/m-1/nope", "/logged-models/m-1/artifacts/directories/", "/experiments/get/x"} {
			for _, m := range []string{"GET", "POST"} {
				r := e.do(m, prefix+p, "{}")
				wantError(t, r, http.StatusNotFound, codeEndpointNotFound)
				if !strings.Contains(r.body, "no endpoint") {
					t.Errorf("%s %s: %s", m, prefix+p, r.body)
				}
			}
		}
	}
	for _, p := range []string{"/api/2.0/mlflow", "/api/2.0/mlflowx/runs/get", "/api/2.1/mlflow/runs/get", "/elsewhere"} {
		wantError(t, e.do("GET", p, ""), http.StatusNotFound, codeEndpointNotFound)
	}
}

// TestRouteTableReadOnly: in read-only mode a write endpoint answers
// PERMISSION_DENIED, after the method check (a wrong method is still
// ENDPOINT_NOT_FOUND), and reads still work.
func TestRouteTableReadOnly(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ReadOnly = true })
	wantError(t, e.api("POST", "/runs/create", `{"experiment_id":"0"}`), http.StatusForbidden, codePermissionDenied)
	wantError(t, e.do("DELETE", "/ajax-api/2.0/mlflow/logged-models/m-1/tags/k", ""), http.StatusForbidden, codePermissionDenied)
	wantError(t, e.api("GET", "/runs/create", ""), http.StatusNotFound, codeEndpointNotFound)
	wantError(t, e.api("PATCH", "/logged-models/search", "{}"), http.StatusNotFound, codeEndpointNotFound)
	if r := e.api("GET", "/experiments/get?experiment_id=0", ""); r.status != http.StatusOK {
		t.Fatalf("read in read-only mode: %d %s", r.status, r.body)
	}
}
