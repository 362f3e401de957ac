package main

import (
	"context"
	"errors"
	"os"
	"os/exec"
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

// TestCloudProgramBesideBinary: the built mlgit finds mlgit-blob-cloud in
// its own folder (as make build and make install place it), with nothing
// in PATH or MLGIT_BLOB_CLOUD, and pushes to a gs:// remote through it;
// without the program it fails with exit 1 and says how to install it.
func TestCloudProgramBesideBinary(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binaries")
	}
	// Built first: the repository's hermetic HOME would hide Go's cache.
	bindir := t.TempDir()
	mlgit := filepath.Join(bindir, "mlgit")
	if out, err := exec.Command("go", "build", "-tags", "disable_grpc_modules", "-o", mlgit, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	prog := filepath.Join(bindir, blob.CloudProgram)
	if err := os.Rename(cloudtest.Build(t), prog); err != nil {
		t.Fatal(err)
	}
	srv := gcstest.StartServer(t)
	dir, id := newArtifactRepo(t)
	writeRandom(t, filepath.Join(dir, "w.bin"), 1<<20)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "w.bin"))
	mustCLI(t, dir, "run", "end", "--run", id)

	git, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	env := []string{"PATH=" + filepath.Dir(git), blob.CloudProgramEnv + "="}
	env = append(append(env, srv.Env()...), "GOOGLE_APPLICATION_CREDENTIALS="+filepath.Join(t.TempDir(), "none.json"))
	url := srv.BareURL("beside")
	run := func(args ...string) (string, string, int) {
		cmd := exec.Command(mlgit, args...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		var stdout, stderr strings.Builder
		cmd.Stdout, cmd.Stderr = &stdout, &stderr
		err := cmd.Run()
		code := 0
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			code = ee.ExitCode()
		} else if err != nil {
			t.Fatal(err)
		}
		return stdout.String(), stderr.String(), code
	}
	if out, errOut, code := run("blob", "push", "--remote", url); code != 0 {
		t.Fatalf("blob push through the program beside mlgit: exit %d\n%s%s", code, out, errOut)
	}
	files, err := srv.ObjectNames(context.Background(), "beside/files/")
	if err != nil || len(files) != 1 {
		t.Fatalf("file objects in the bucket = %v, %v; want 1", files, err)
	}

	if err := os.Remove(prog); err != nil {
		t.Fatal(err)
	}
	_, errOut, code := run("blob", "verify", "--remote", url)
	want := `install it with "go install github.com/mlgit/mlgit/cmd/mlgit-blob-cloud@latest" (or "make install" in a checkout of mlgit)`
	if code != 1 || !strings.Contains(errOut, want) || !strings.Contains(errOut, "next to "+mlgit) {
		t.Fatalf("blob verify without the program: exit %d, stderr %q; want exit 1 and %q", code, errOut, want)
	}
}
