package server

import (
	"net/http"
	"strings"
	"testing"
)

const proxy = "/api/2.0/mlflow-artifacts/artifacts"

func TestArtifactProxy(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	base := proxy + "/0/" + id + "/artifacts"
	put := func(p, body string) resp {
		return e.do("PUT", base+"/"+p, body, "Content-Type", "image/png")
	}
	for p, body := range map[string]string{"figs/plot.png": "PNGDATA", "model/MLmodel": "flavors: {}\n", "model/model.pkl": strings.Repeat("x", 1<<20), "index.html": "<script>alert(1)</script>", "model/empty.txt": ""} {
		if r := put(p, body); r.status != 200 || r.body != "{}" {
			t.Fatalf("PUT %s: %d %s", p, r.status, r.body)
		}
	}
	r := e.do("GET", base+"/figs/plot.png", "")
	if r.status != 200 || r.body != "PNGDATA" {
		t.Fatalf("GET: %d %q", r.status, r.body)
	}
	if cd := r.header.Get("Content-Disposition"); cd != "attachment; filename=plot.png" {
		t.Fatalf("Content-Disposition %q", cd)
	}
	if r.header.Get("X-Content-Type-Options") != "nosniff" || r.header.Get("Content-Type") != "image/png" {
		t.Fatalf("headers %v", r.header)
	}
	if r := e.do("GET", base+"/index.html", ""); r.header.Get("Content-Type") != "application/octet-stream" {
		t.Fatalf("html served as %q", r.header.Get("Content-Type"))
	}
	if r := e.do("GET", base+"/model/model.pkl", ""); len(r.body) != 1<<20 {
		t.Fatalf("large: %d bytes", len(r.body))
	}
	wantJSON(t, e.do("GET", proxy+"?path=0/"+id+"/artifacts", "").body,
		`{"files":[{"path":"figs","is_dir":true},{"path":"index.html","is_dir":false,"file_size":25},{"path":"model","is_dir":true}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=0/"+id+"/artifacts/model", "").body,
		`{"files":[{"path":"MLmodel","is_dir":false,"file_size":12},{"path":"empty.txt","is_dir":false,"file_size":0},{"path":"model.pkl","is_dir":false,"file_size":1048576}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=0/"+id, "").body, `{"files":[{"path":"artifacts","is_dir":true}]}`)
	wantJSON(t, e.do("GET", proxy+"?path=0/"+id+"/artifacts/nothing", "").body, `{}`)
	wantJSON(t, e.do("GET", proxy, "").body, `{}`)
	wantJSON(t, e.api("GET", "/artifacts/list?run_id="+id+"&path=model", "").body,
		`{"root_uri":"mlflow-artifacts:/0/`+id+`/artifacts","files":[{"path":"model/MLmodel","is_dir":false,"file_size":12},{"path":"model/empty.txt","is_dir":false,"file_size":0},{"path":"model/model.pkl","is_dir":false,"file_size":1048576}]}`)
	wantJSON(t, e.api("GET", "/artifacts/list?run_id="+id, "").body,
		`{"root_uri":"mlflow-artifacts:/0/`+id+`/artifacts","files":[{"path":"figs","is_dir":true},{"path":"index.html","is_dir":false,"file_size":25},{"path":"model","is_dir":true}]}`)

	// Replace, then delete a file and a folder.
	put("figs/plot.png", "NEW")
	if r := e.do("GET", base+"/figs/plot.png", ""); r.body != "NEW" {
		t.Fatalf("replaced: %q", r.body)
	}
	if r := e.do("DELETE", base+"/model", ""); r.status != 200 {
		t.Fatalf("DELETE: %d %s", r.status, r.body)
	}
	wantError(t, e.do("GET", base+"/model/MLmodel", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("DELETE", base+"/model", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("GET", base+"/missing", ""), 404, "RESOURCE_DOES_NOT_EXIST")
	d, err := e.r.GetRun(id)
	if err != nil || len(d.Artifacts) != 2 {
		t.Fatalf("index after delete: %v %v", d.Artifacts, err)
	}
	// Wrong experiment, unknown run, logged-model paths.
	wantError(t, e.do("PUT", proxy+"/7/"+id+"/artifacts/x", "x"), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("PUT", proxy+"/0/0123456789abcdef0123456789abcdef/artifacts/x", "x"), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("PUT", proxy+"/0/models/m-0123456789abcdef0123456789abcdef/artifacts/x", "x"), 404, "RESOURCE_DOES_NOT_EXIST")
	wantError(t, e.do("PUT", proxy+"/0/models/m-bad/artifacts/x", "x"), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("PUT", proxy+"/0/"+id+"/other/x", "x"), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("PUT", base, "x"), 400, "INVALID_PARAMETER_VALUE")
	wantError(t, e.do("POST", proxy, "{}"), 404, "ENDPOINT_NOT_FOUND")
}

func TestArtifactUploadLimit(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.MaxArtifactSize = 10 })
	id := e.createRun("0")
	wantError(t, e.do("PUT", proxy+"/0/"+id+"/artifacts/big", strings.Repeat("x", 11)), 400, "INVALID_PARAMETER_VALUE")
	d, _ := e.r.GetRun(id)
	if len(d.Artifacts) != 0 {
		t.Fatalf("recorded %v", d.Artifacts)
	}
	if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/small", "0123456789"); r.status != http.StatusOK {
		t.Fatalf("%d %s", r.status, r.body)
	}
}
