package mlflowimport

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/aztest"
)

// TestImportArtifactsFromAzure imports runs whose artifact_uri is in Azure
// Blob Storage, in the two forms MLflow writes (wasbs:// for a blob
// account, abfss:// for a Data Lake one), from a real emulator (Azurite):
// the account in the URI is mapped to the emulator by the connection
// string, as it is to a real account.
func TestImportArtifactsFromAzure(t *testing.T) {
	cloudtest.Use(t) // gs:// and az:// stores are served by mlgit-blob-cloud
	srv := aztest.StartServer(t)
	srv.SetEnv(t)
	src := copyFixture(t, fixtures[0].dir)
	s, _ := ReadFileStore(src)
	ctx := context.Background()
	runs := map[string]string{ // run name -> artifact_uri form
		"resnet-baseline": "wasbs://%s@%s.blob.core.windows.net/mlflow/%s/artifacts",
	}
	// A second run of the fixture, if there is one, gets the abfss form.
	for _, e := range s.Experiments {
		for _, r := range e.Runs {
			if r.Name != "resnet-baseline" && len(runs) < 2 {
				runs[r.Name] = "abfss://%s@%s.dfs.core.windows.net/lake/%s/artifacts"
			}
		}
	}
	want := map[string]map[string]string{} // run id -> path -> content
	for name, form := range runs {
		var run *Run
		for _, e := range s.Experiments {
			if r := runNamed(e, name); r != nil {
				run = r
			}
		}
		if run == nil {
			t.Fatalf("no run %s in the fixture", name)
		}
		uri := fmt.Sprintf(form, srv.Container, srv.Account, run.ID)
		st, err := blob.OpenStore(ctx, uri)
		if err != nil {
			t.Fatalf("OpenStore(%s): %v", uri, err)
		}
		files := map[string]string{"notes/notes.txt": "from azure " + name + "\n", "model/MLmodel": "flavors: {}\n"}
		for k, v := range files {
			if err := st.Put(ctx, k, strings.NewReader(v), int64(len(v))); err != nil {
				t.Fatal(err)
			}
		}
		want[run.ID] = files
		meta := filepath.Join(src, run.ExperimentID, run.ID, "meta.yaml")
		data, err := os.ReadFile(meta)
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, l := range strings.Split(string(data), "\n") {
			if strings.HasPrefix(l, "artifact_uri:") {
				l = "artifact_uri: " + uri
			}
			out = append(out, l)
		}
		os.WriteFile(meta, []byte(strings.Join(out, "\n")), 0o644)
		os.RemoveAll(filepath.Join(src, run.ExperimentID, run.ID, "artifacts"))
	}
	r, bs := newRepo(t)
	srv.SetEnv(t) // newRepo makes the environment hermetic
	sum := importFixture(t, r, bs, src, Options{})
	if len(sum.Skipped) != 0 {
		t.Fatalf("skipped: %+v", sum.Skipped)
	}
	for id, files := range want {
		got, err := r.GetRun(id)
		if err != nil || len(got.Artifacts) != len(files) {
			t.Fatalf("run %s: %+v %v", id, got, err)
		}
		for _, a := range got.Artifacts {
			if a.Digest != blob.Sum([]byte(files[a.Path])).String() {
				t.Errorf("run %s: %s has digest %s, want that of %q", id, a.Path, a.Digest, files[a.Path])
			}
			if err := blob.Verify(ctx, bs, mustDigest(t, a.Digest)); err != nil {
				t.Errorf("run %s: %s: %v", id, a.Path, err)
			}
		}
	}
	src2, _ := ReadFileStore(src)
	if diffs, err := Verify(ctx, r, src2, Options{}); err != nil || len(diffs) != 0 {
		t.Fatalf("verify: %v %v", diffs, err)
	}
}

func mustDigest(t *testing.T, s string) blob.Digest {
	t.Helper()
	d, err := blob.ParseDigest(s)
	if err != nil {
		t.Fatal(err)
	}
	return d
}
