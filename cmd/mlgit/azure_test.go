package main

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/to"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/aztest"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestBlobAzureEndToEnd: a clone whose blob remote (mlgit.yaml) is an
// az:// container on a real Azure Storage emulator (Azurite) adds
// artifacts and pushes; a second clone pulls the branch and gets the files
// back from Azure, verified; a byte flipped in Azure behind mlgit's back is
// caught on the next get, and wrong credentials fail quickly and clearly.
func TestBlobAzureEndToEnd(t *testing.T) {
	cloudtest.Use(t) // gs:// and az:// stores are served by mlgit-blob-cloud
	srv := aztest.StartServer(t)
	dir1, id := newArtifactRepo(t)
	srv.SetEnv(t)
	url := srv.URL("team/churn")
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir1, "init", "-q", "--bare", bare)
	gittest.Git(t, dir1, "remote", "add", "origin", bare)
	mustCLI(t, dir1, "config", "set", "blobs.remote", url)
	if got := strings.TrimSpace(mustCLI(t, dir1, "config", "get", "blobs.remote")); got != url {
		t.Fatalf("config get blobs.remote = %q, want %q", got, url)
	}
	writeRandom(t, filepath.Join(dir1, "w.bin"), 5<<20)
	os.WriteFile(filepath.Join(dir1, "cfg.json"), []byte(`{"lr": 0.1}`), 0o644)
	mustCLI(t, dir1, "run", "artifact", "add", "--run", id, filepath.Join(dir1, "w.bin"), filepath.Join(dir1, "cfg.json"))
	mustCLI(t, dir1, "run", "end", "--run", id)
	mustCLI(t, dir1, "push")

	// The blobs are in the container, below the prefix.
	cc, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	files := 0
	pager := cc.NewListBlobsFlatPager(&container.ListBlobsFlatOptions{Prefix: to.Ptr("team/churn/files/")})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		files += len(page.Segment.BlobItems)
	}
	if files != 2 {
		t.Fatalf("%d file objects under team/churn/files/ in the container, want 2", files)
	}
	if out := mustCLI(t, dir1, "blob", "verify", "--remote", url); !strings.Contains(out, "All 2 blobs") {
		t.Fatalf("verify: %s", out)
	}

	// A second clone: pull the branch, get the files from Azure.
	dir2 := gittest.NewRepo(t)
	gittest.Git(t, dir2, "remote", "add", "origin", bare)
	mustCLI(t, dir2, "pull")
	got := filepath.Join(t.TempDir(), "got")
	mustCLI(t, dir2, "run", "artifact", "get", id, "-o", got)
	for _, name := range []string{"w.bin", "cfg.json"} {
		want, _ := os.ReadFile(filepath.Join(dir1, name))
		have, err := os.ReadFile(filepath.Join(got, name))
		if err != nil || !bytes.Equal(have, want) {
			t.Fatalf("%s in the second clone: %d bytes, %v; want the %d added", name, len(have), err, len(want))
		}
	}

	// Flip a byte of a chunk of w.bin in Azure: a get that has to fetch
	// it fails naming the chunk, and writes nothing.
	arts := mustCLI(t, dir1, "run", "artifact", "ls", id, "w.bin", "--json")
	i := strings.Index(arts, "sha256:")
	d, err := blob.ParseDigest(arts[i : i+71])
	if err != nil {
		t.Fatal(err)
	}
	local, _ := blob.NewLocal(filepath.Join(dir1, ".git", "mlgit", "blobs"))
	keys, err := blob.Keys(ctx, local, d)
	if err != nil {
		t.Fatal(err)
	}
	bc := cc.NewBlockBlobClient("team/churn/" + keys[1])
	resp, err := bc.DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	data, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	data[len(data)/3] ^= 0x40
	if _, err := bc.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), nil); err != nil {
		t.Fatal(err)
	}
	chunk := strings.TrimPrefix(keys[1], "chunks/")[3:]
	os.RemoveAll(filepath.Join(dir2, ".git", "mlgit", "blobs"))
	got2 := filepath.Join(t.TempDir(), "got2")
	_, errOut, code := runCLI(t, dir2, "run", "artifact", "get", id, "w.bin", "-o", got2)
	if code != cli.ExitFailure || !strings.Contains(errOut, chunk) || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("get of a damaged blob: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(got2, "w.bin")); err == nil {
		t.Fatal("a damaged file was written")
	}

	// Wrong credentials: a clear error, quickly.
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", strings.Replace(srv.ConnectionString(), srv.Key, strings.Repeat("A", 86)+"==", 1))
	start := time.Now()
	_, errOut, code = runCLI(t, dir1, "blob", "push", "--remote", url)
	if code != cli.ExitFailure || !strings.Contains(errOut, "access denied") || !strings.Contains(errOut, "AZURE_STORAGE_CONNECTION_STRING") || time.Since(start) > 10*time.Second {
		t.Fatalf("wrong credentials: exit %d after %v: %s", code, time.Since(start), errOut)
	}
}
