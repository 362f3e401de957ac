package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gcstest"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestBlobGCS shares artifacts through a Google Cloud Storage blob remote
// (the fake-gcs-server emulator, reached through STORAGE_EMULATOR_HOST
// without credentials): one clone sets blobs.remote to gs://, adds
// artifacts and pushes; a second clone pulls the branch and gets the files
// back from the bucket, verified; a byte damaged in the bucket is caught.
func TestBlobGCS(t *testing.T) {
	cloudtest.Use(t) // gs:// and az:// stores are served by mlgit-blob-cloud
	srv := gcstest.StartServer(t)
	dir1, id := newArtifactRepo(t)
	srv.SetEnv(t)
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", filepath.Join(t.TempDir(), "no-such-key.json"))
	url := srv.BareURL("team/churn")
	ctx := context.Background()

	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir1, "init", "-q", "--bare", bare)
	gittest.Git(t, dir1, "remote", "add", "origin", bare)
	mustCLI(t, dir1, "config", "set", "blobs.remote", url)
	writeRandom(t, filepath.Join(dir1, "w.bin"), 5<<20)
	if err := os.WriteFile(filepath.Join(dir1, "cfg.json"), []byte(`{"lr": 0.1}`), 0o644); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, dir1, "run", "artifact", "add", "--run", id, filepath.Join(dir1, "w.bin"), filepath.Join(dir1, "cfg.json"))
	mustCLI(t, dir1, "run", "end", "--run", id)
	mustCLI(t, dir1, "push")

	// The bucket holds the two files' objects below the prefix.
	files, err := srv.ObjectNames(ctx, "team/churn/files/")
	if err != nil || len(files) != 2 {
		t.Fatalf("file objects in the bucket = %v, %v; want 2", files, err)
	}
	chunks, err := srv.ObjectNames(ctx, "team/churn/chunks/")
	if err != nil || len(chunks) < 3 {
		t.Fatalf("chunk objects in the bucket = %v, %v; want the chunks of 5 MiB", chunks, err)
	}

	// A second clone: pull the branch, get the artifacts from the bucket.
	dir2 := gittest.NewRepo(t)
	gittest.Git(t, dir2, "remote", "add", "origin", bare)
	mustCLI(t, dir2, "pull")
	if out := mustCLI(t, dir2, "blob", "verify"); !strings.Contains(out, "All 2 blobs") {
		t.Fatalf("verify in the second clone: %s", out)
	}
	got := filepath.Join(t.TempDir(), "got")
	mustCLI(t, dir2, "run", "artifact", "get", id, "-o", got)
	for _, name := range []string{"w.bin", "cfg.json"} {
		want, _ := os.ReadFile(filepath.Join(dir1, name))
		have, err := os.ReadFile(filepath.Join(got, name))
		if err != nil || string(have) != string(want) {
			t.Fatalf("%s differs after get in the second clone (%v)", name, err)
		}
	}

	// Flip one byte of a chunk of w.bin in the bucket.
	arts := mustCLI(t, dir2, "run", "artifact", "ls", id, "w.bin", "--json")
	i := strings.Index(arts, "sha256:")
	d, err := blob.ParseDigest(arts[i : i+71])
	if err != nil {
		t.Fatal(err)
	}
	st, err := blob.OpenStore(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	keys, err := blob.Keys(ctx, st, d)
	if err != nil {
		t.Fatal(err)
	}
	name := "team/churn/" + keys[1]
	data, err := srv.GetObject(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x40
	if err := srv.PutObject(ctx, name, data); err != nil {
		t.Fatal(err)
	}
	chunk := strings.TrimPrefix(keys[1], "chunks/")[3:]
	out, errOut, code := runCLI(t, dir2, "blob", "verify")
	if code != cli.ExitFailure || !strings.Contains(out, "CORRUPT       "+d.String()) || !strings.Contains(out, chunk) {
		t.Fatalf("verify of damaged bucket: exit %d\n%s%s", code, out, errOut)
	}
	// A get that has to fetch the damaged blob fails naming it, writes nothing.
	os.RemoveAll(filepath.Join(dir2, ".git", "mlgit", "blobs"))
	got2 := filepath.Join(t.TempDir(), "got2")
	_, errOut, code = runCLI(t, dir2, "run", "artifact", "get", id, "w.bin", "-o", got2)
	if code != cli.ExitFailure || !strings.Contains(errOut, chunk) || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("get of damaged blob: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(got2, "w.bin")); err == nil {
		t.Fatal("a damaged file was written")
	}

	// Without the emulator variable the real service needs credentials:
	// a clear error that says how to provide them.
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	t.Setenv("HOME", t.TempDir())
	t.Setenv("CLOUDSDK_CONFIG", t.TempDir())
	_, errOut, code = runCLI(t, dir2, "blob", "verify")
	if code != cli.ExitFailure || !strings.Contains(errOut, "access denied") || !strings.Contains(errOut, "GOOGLE_APPLICATION_CREDENTIALS") {
		t.Fatalf("no credentials: exit %d: %s", code, errOut)
	}
}
