package server

import (
	"context"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// TestGetArtifactEndpoints: MLflow's downloads outside the API prefix,
// /get-artifact for a run's file and /model-versions/get-artifact for a
// version's (here one registered from a folder), with the proxy's path
// rules and headers.
func TestGetArtifactEndpoints(t *testing.T) {
	e := newEnv(t)
	id := e.createRun("0")
	if r := e.do("PUT", proxy+"/0/"+id+"/artifacts/model/model.pkl", "PICKLE"); r.status != 200 {
		t.Fatalf("PUT: %d %s", r.status, r.body)
	}
	r := e.do("GET", "/get-artifact?run_uuid="+id+"&path=model/model.pkl", "")
	if r.status != 200 || r.body != "PICKLE" || r.header.Get("Content-Disposition") != "attachment; filename=model.pkl" || r.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatalf("get-artifact: %d %q %v", r.status, r.body, r.header)
	}
	if r := e.do("GET", "/get-artifact?run_id="+id+"&path=model/model.pkl", ""); r.status != 200 || r.body != "PICKLE" {
		t.Fatalf("get-artifact with run_id: %d %q", r.status, r.body)
	}
	for _, bad := range []string{"../../etc/passwd", "/etc/passwd", "model/%00x", ""} {
		if r := e.do("GET", "/get-artifact?run_uuid="+id+"&path="+bad, ""); r.status != 400 {
			t.Errorf("path %q: %d %s", bad, r.status, r.body)
		}
	}
	if r := e.do("GET", "/get-artifact?run_uuid="+id+"&path=model/nope.pkl", ""); r.status != 404 || !strings.Contains(r.body, "RESOURCE_DOES_NOT_EXIST") {
		t.Fatalf("missing file: %d %s", r.status, r.body)
	}
	if r := e.do("POST", "/get-artifact?run_uuid="+id+"&path=model/model.pkl", ""); r.status != 404 {
		t.Fatalf("POST: %d %s", r.status, r.body)
	}

	// A version registered from a folder: its files are in its manifest.
	st, err := blob.NewLocal(e.r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	d, n, err := blob.Add(context.Background(), st, strings.NewReader("WEIGHTS"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.r.RegisterVersion(repo.VersionSpec{Name: "churn", Source: "file:///models/churn", CreateModel: true,
		Artifacts: []manifest.Artifact{{Path: "weights.bin", Digest: d.String(), Size: n, Mode: "0644"}}}); err != nil {
		t.Fatal(err)
	}
	r = e.do("GET", "/model-versions/get-artifact?name=churn&version=1&path=weights.bin", "")
	if r.status != 200 || r.body != "WEIGHTS" || r.header.Get("Content-Disposition") != "attachment; filename=weights.bin" {
		t.Fatalf("model-versions/get-artifact: %d %q %v", r.status, r.body, r.header)
	}
	if r := e.do("GET", "/model-versions/get-artifact?name=churn&version=9&path=weights.bin", ""); r.status != 404 {
		t.Fatalf("unknown version: %d %s", r.status, r.body)
	}
	if r := e.do("GET", "/model-versions/get-artifact?name=churn&version=1&path=../weights.bin", ""); r.status != 400 {
		t.Fatalf("traversal: %d %s", r.status, r.body)
	}
}
