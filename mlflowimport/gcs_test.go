package mlflowimport

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/gcstest"
)

// writeGCSFileStore writes a small MLflow file store with one experiment
// and one run whose artifact_uri is artifactURI, and returns its folder.
func writeGCSFileStore(t *testing.T, runID, artifactURI string) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "mlruns")
	files := map[string]string{
		"7/meta.yaml": "artifact_location: gs://mlgit-test/mlflow/7\ncreation_time: 1796546159552\n" +
			"experiment_id: '7'\nlast_update_time: 1796546159552\nlifecycle_stage: active\nname: gcs-exp\n",
		"7/" + runID + "/meta.yaml": "artifact_uri: " + artifactURI + "\nend_time: 1796546159559\n" +
			"entry_point_name: ''\nexperiment_id: '7'\nlifecycle_stage: active\nrun_id: " + runID + "\n" +
			"run_name: on-gcs\nrun_uuid: " + runID + "\nsource_name: ''\nsource_type: 4\nsource_version: ''\n" +
			"start_time: 1796546159554\nstatus: 3\ntags: []\nuser_id: root\n",
		"7/" + runID + "/params/lr":           "0.1",
		"7/" + runID + "/metrics/loss":        "1796546159557 0.25 0\n1796546159558 0.125 1\n",
		"7/" + runID + "/tags/mlflow.runName": "on-gcs",
		"7/" + runID + "/tags/mlflow.user":    "root",
	}
	for name, body := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(body), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// TestImportArtifactsFromGCS: a run whose artifact URI is gs:// has its
// files read from Google Cloud Storage (the fake-gcs-server emulator,
// through STORAGE_EMULATOR_HOST) with the blob store's client, each with
// its digest; a location in a bucket that does not exist is a clear error.
func TestImportArtifactsFromGCS(t *testing.T) {
	cloudtest.Use(t) // gs:// and az:// stores are served by mlgit-blob-cloud
	srv := gcstest.StartServer(t)
	srv.SetEnv(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "no-such-key.json"))
	ctx := context.Background()
	const runID = "0123456789abcdef0123456789abcdef"
	prefix := "mlflow/7/" + runID + "/artifacts"
	files := map[string]string{
		"model/MLmodel":      "flavors: {}\n",
		"model/weights.bin":  strings.Repeat("w", 3<<20),
		"notes/notes.txt":    "from gcs\n",
		"plots/a/b/loss.svg": "<svg/>",
	}
	for k, v := range files {
		if err := srv.PutObject(ctx, prefix+"/"+k, []byte(v)); err != nil {
			t.Fatal(err)
		}
	}
	// An object beside the run's folder is not one of its files.
	if err := srv.PutObject(ctx, "mlflow/7/"+runID+"/artifacts-other/x", []byte("no")); err != nil {
		t.Fatal(err)
	}
	src := writeGCSFileStore(t, runID, srv.BareURL(prefix))
	r, bs := newRepo(t)
	sum := importFixture(t, r, bs, src, Options{})
	if len(sum.Skipped) != 0 {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
	got, err := r.GetRun(runID)
	if err != nil || len(got.Artifacts) != len(files) {
		t.Fatalf("run: %+v %v; want %d artifacts", got, err, len(files))
	}
	for _, a := range got.Artifacts {
		want, ok := files[a.Path]
		if !ok || a.Digest != blob.Sum([]byte(want)).String() || a.Size != int64(len(want)) {
			t.Errorf("artifact %s: %s, %d bytes", a.Path, a.Digest, a.Size)
		}
		d, _ := blob.ParseDigest(a.Digest)
		if err := blob.Verify(ctx, bs, d); err != nil {
			t.Errorf("artifact %s not in the blob store: %v", a.Path, err)
		}
	}
	if got.Params["lr"] != "0.1" {
		t.Errorf("params: %v", got.Params)
	}
	src2, _ := ReadFileStore(src)
	if diffs, err := Verify(ctx, r, src2, Options{}); err != nil || len(diffs) != 0 {
		t.Fatalf("verify: %v %v", diffs, err)
	}

	// A bucket that does not exist: the run's files cannot be listed.
	bad, _ := ReadFileStore(writeGCSFileStore(t, runID, "gs://no-such-bucket/mlflow/artifacts"))
	_, err = bad.RunFiles(ctx, bad.Experiments[0].Runs[0])
	if !errors.Is(err, blob.ErrNotFound) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("RunFiles from a missing bucket = %v, want ErrNotFound naming it", err)
	}
}
