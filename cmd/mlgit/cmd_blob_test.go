package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/runcmd"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/synccmd"
	"github.com/mlgit/mlgit/internal/s3test"
	"github.com/mlgit/mlgit/repo"
)

// countingStore counts the requests made to a store for blobs (those for
// the store's locks, under locks/, are not counted: a push takes one).
type countingStore struct {
	blob.Store
	puts, gets, stats, exists, lists atomic.Int64
	existsKeys                       atomic.Int64
}

func (c *countingStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if !strings.HasPrefix(key, "locks/") {
		c.puts.Add(1)
	}
	return c.Store.Put(ctx, key, r, size)
}

func (c *countingStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	c.gets.Add(1)
	return c.Store.Get(ctx, key)
}

func (c *countingStore) Stat(ctx context.Context, key string) (int64, error) {
	c.stats.Add(1)
	return c.Store.Stat(ctx, key)
}

func (c *countingStore) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	c.exists.Add(1)
	c.existsKeys.Add(int64(len(keys)))
	return c.Store.Exists(ctx, keys)
}

func (c *countingStore) List(ctx context.Context, prefix string, fn func(string, int64, time.Time) error) error {
	c.lists.Add(1)
	return c.Store.List(ctx, prefix, fn)
}

// TestBlobPushSkipsPresentInOneBatch: pushing a run whose 2,000 artifacts
// the remote already has asks the remote one batched question and sends
// nothing.
func TestBlobPushSkipsPresentInOneBatch(t *testing.T) {
	dir, id := newArtifactRepo(t)
	files := filepath.Join(dir, "many")
	os.MkdirAll(files, 0o755)
	for i := range 2000 {
		os.WriteFile(filepath.Join(files, fmt.Sprintf("f%04d.txt", i)), []byte(fmt.Sprintf("file %d\n", i)), 0o644)
	}
	cache := blob.NewMem("cache-" + t.Name())
	remote := &countingStore{Store: blob.NewMem("remote-" + t.Name())}
	openCache := func(*repo.Repo) (blob.Store, error) { return cache, nil }
	openRemote := func(context.Context, string) (blob.Store, error) { return remote, nil }
	a, _, _ := clitest.NewApp(t, dir)
	t0 := time.Now()
	if err := runcmd.RunArtifactAdd(context.Background(), a, &runcmd.ArtifactAddOptions{Run: id, Paths: []string{files}, OpenCache: openCache}); err != nil {
		t.Fatal(err)
	}
	t.Logf("add of 2000 files: %v", time.Since(t0))
	t0 = time.Now()
	a, _, errb := clitest.NewApp(t, dir)
	push := &synccmd.BlobTransferOptions{Push: true, Remote: "mem://x", Refs: []string{id}, Jobs: 8, OpenCache: openCache, OpenRemote: openRemote}
	if err := synccmd.RunBlobTransfer(context.Background(), a, push); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(errb.String(), "Pushed 2000 blobs") {
		t.Fatalf("first push: %s", errb)
	}
	t.Logf("first push: %v", time.Since(t0))
	*remote = countingStore{Store: remote.Store}
	a, _, errb = clitest.NewApp(t, dir)
	start := time.Now()
	if err := synccmd.RunBlobTransfer(context.Background(), a, push); err != nil {
		t.Fatal(err)
	}
	took := time.Since(start)
	if !strings.Contains(errb.String(), "All 2000 blobs are already in") {
		t.Fatalf("second push: %s", errb)
	}
	if remote.exists.Load() > 2 || remote.existsKeys.Load() != 2000 || remote.puts.Load()+remote.gets.Load()+remote.stats.Load() != 0 {
		t.Fatalf("second push sent %d Exists (%d keys), %d Put, %d Get, %d Stat; want one batch and nothing else",
			remote.exists.Load(), remote.existsKeys.Load(), remote.puts.Load(), remote.gets.Load(), remote.stats.Load())
	}
	t.Logf("second push of 2000 present blobs: %v", took)
}

// failAfterStore fails Puts of chunks after n of them succeeded, like an
// upload killed part-way.
type failAfterStore struct {
	blob.Store
	n atomic.Int64
}

var errKilled = errors.New("connection lost")

func (s *failAfterStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if strings.HasPrefix(key, "chunks/") && s.n.Add(-1) < 0 {
		return errKilled
	}
	return s.Store.Put(ctx, key, r, size)
}

// interruptedPush pushes through a store that breaks after three chunks:
// no file object may become visible, and pushing again completes the job
// re-sending only what was missing.
func interruptedPush(t *testing.T, dir string, remote blob.Store) {
	t.Helper()
	broken := &failAfterStore{Store: remote}
	broken.n.Store(3)
	a, _, _ := clitest.NewApp(t, dir)
	opts := &synccmd.BlobTransferOptions{Push: true, Remote: "x://", Jobs: 1, OpenRemote: func(context.Context, string) (blob.Store, error) { return broken, nil }}
	if err := synccmd.RunBlobTransfer(context.Background(), a, opts); !errors.Is(err, errKilled) {
		t.Fatalf("interrupted push: %v", err)
	}
	var files, chunks int
	remote.List(context.Background(), "", func(key string, _ int64, _ time.Time) error {
		if strings.HasPrefix(key, "files/") {
			files++
		} else {
			chunks++
		}
		return nil
	})
	if files != 0 || chunks != 3 {
		t.Fatalf("after the interruption the remote shows %d file objects and %d chunks; want 0 and 3", files, chunks)
	}
	a, out, _ := clitest.NewApp(t, dir)
	opts = &synccmd.BlobTransferOptions{Push: true, Remote: "x://", Jobs: 4, AsJSON: true, OpenRemote: func(context.Context, string) (blob.Store, error) { return remote, nil }}
	if err := synccmd.RunBlobTransfer(context.Background(), a, opts); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), `"chunks_skipped": 3`) {
		t.Fatalf("resumed push: %s", out)
	}
	a, out, _ = clitest.NewApp(t, dir)
	if err := synccmd.RunBlobVerify(context.Background(), a, &synccmd.BlobVerifyOptions{Remote: "x://", Jobs: 2,
		OpenRemote: func(context.Context, string) (blob.Store, error) { return remote, nil }}); err != nil {
		t.Fatalf("verify after resume: %v\n%s", err, out)
	}
}

func TestBlobPushInterruptedResumes(t *testing.T) {
	dir, id := newArtifactRepo(t)
	writeRandom(t, filepath.Join(dir, "w.bin"), 12<<20)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "w.bin"))
	remote, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	interruptedPush(t, dir, remote)
}

func TestBlobRemoteFromConfig(t *testing.T) {
	dir, id := newArtifactRepo(t)
	shared := t.TempDir()
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := r.Update(func(tx *repo.Tx) error {
		tx.Write("mlgit.yaml", []byte("apiVersion: mlgit/v1\nkind: Config\nblobs:\n  remote: ../shared-rel\n"))
		tx.SetMessage("blob remote")
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	r.Close()
	os.WriteFile(filepath.Join(dir, "x.txt"), []byte("x"), 0o644)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "x.txt"))
	// A relative folder in mlgit.yaml is relative to the repository's top.
	mustCLI(t, dir, "blob", "push")
	if _, err := os.Stat(filepath.Join(filepath.Dir(dir), "shared-rel", "files")); err != nil {
		t.Fatalf("config remote not used: %v", err)
	}
	// The environment beats the file, the flag beats both.
	t.Setenv("MLGIT_BLOB_REMOTE", shared)
	mustCLI(t, dir, "blob", "push")
	if _, err := os.Stat(filepath.Join(shared, "files")); err != nil {
		t.Fatalf("env remote not used: %v", err)
	}
	flag := t.TempDir()
	mustCLI(t, dir, "blob", "push", "--remote", "file://"+flag)
	if _, err := os.Stat(filepath.Join(flag, "files")); err != nil {
		t.Fatalf("flag remote not used: %v", err)
	}
}

// s3Env points the AWS variables at a versitygw server.
func s3Env(t *testing.T, srv *s3test.Server) {
	t.Setenv("AWS_ACCESS_KEY_ID", srv.AccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)
	t.Setenv("AWS_SESSION_TOKEN", "")
	t.Setenv("AWS_REGION", "us-east-1")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
}

// TestBlobS3 runs push, pull, get and verify against a real S3 server
// (versitygw), damages a stored chunk behind the server's back, and checks
// wrong credentials and an unreachable endpoint fail quickly and clearly.
func TestBlobS3(t *testing.T) {
	srv := s3test.StartServer(t)
	dir, id := newArtifactRepo(t)
	s3Env(t, srv)
	url := srv.URL("team/churn")
	writeRandom(t, filepath.Join(dir, "w.bin"), 5<<20)
	os.WriteFile(filepath.Join(dir, "cfg.json"), []byte(`{"lr": 0.1}`), 0o644)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "w.bin"), filepath.Join(dir, "cfg.json"))
	mustCLI(t, dir, "blob", "push", "--remote", url)
	out := mustCLI(t, dir, "blob", "verify", "--remote", url)
	if !strings.Contains(out, "All 2 blobs") {
		t.Fatalf("verify: %s", out)
	}

	// Pull into an empty cache and get from there.
	cache := filepath.Join(dir, ".git", "mlgit", "blobs")
	os.RemoveAll(cache)
	mustCLI(t, dir, "blob", "pull", "--remote", url)
	got := filepath.Join(t.TempDir(), "got")
	mustCLI(t, dir, "run", "artifact", "get", id, "-o", got)
	want, _ := os.ReadFile(filepath.Join(dir, "w.bin"))
	if have, _ := os.ReadFile(filepath.Join(got, "w.bin")); string(have) != string(want) {
		t.Fatal("w.bin differs after pull and get")
	}

	// Flip one byte of a chunk of w.bin on the server.
	arts := mustCLI(t, dir, "run", "artifact", "ls", id, "w.bin", "--json")
	d, err := blob.ParseDigest(arts[strings.Index(arts, "sha256:") : strings.Index(arts, "sha256:")+71])
	if err != nil {
		t.Fatal(err)
	}
	local, _ := blob.NewLocal(cache)
	keys, err := blob.Keys(context.Background(), local, d)
	if err != nil {
		t.Fatal(err)
	}
	onDisk := filepath.Join(srv.Dir, srv.Bucket, "team", "churn", filepath.FromSlash(keys[1]))
	data, err := os.ReadFile(onDisk)
	if err != nil {
		t.Fatal(err)
	}
	data[len(data)/3] ^= 0x40
	if err := os.WriteFile(onDisk, data, 0o644); err != nil {
		t.Fatal(err)
	}
	chunk := strings.TrimPrefix(keys[1], "chunks/")[3:]

	out, errOut, code := runCLI(t, dir, "blob", "verify", "--remote", url)
	if code != cli.ExitFailure || !strings.Contains(out, "CORRUPT       "+d.String()) || !strings.Contains(out, chunk) || !strings.Contains(out, "1 ok, 1 corrupt") {
		t.Fatalf("verify of damaged remote: exit %d\n%s%s", code, out, errOut)
	}
	// A get that has to fetch the blob fails naming it, and writes nothing.
	os.RemoveAll(cache)
	got2 := filepath.Join(t.TempDir(), "got2")
	_, errOut, code = runCLI(t, dir, "run", "artifact", "get", id, "w.bin", "-o", got2, "--remote", url)
	if code != cli.ExitFailure || !strings.Contains(errOut, chunk) || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("get of damaged blob: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(got2, "w.bin")); err == nil {
		t.Fatal("a damaged file was written")
	}

	// Wrong credentials: a clear error, quickly.
	t.Setenv("AWS_SECRET_ACCESS_KEY", "wrong-secret")
	start := time.Now()
	_, errOut, code = runCLI(t, dir, "blob", "push", "--remote", url)
	if code != cli.ExitFailure || !strings.Contains(errOut, "access denied") || !strings.Contains(errOut, "AWS_ACCESS_KEY_ID") || time.Since(start) > 10*time.Second {
		t.Fatalf("wrong credentials: exit %d after %v: %s", code, time.Since(start), errOut)
	}
	t.Setenv("AWS_SECRET_ACCESS_KEY", srv.SecretKey)

	// Nothing listens on this port: a clear error, quickly.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	start = time.Now()
	_, errOut, code = runCLI(t, dir, "blob", "verify", "--remote", "s3://"+srv.Bucket+"/x?endpoint=http://"+closed+"&path-style=true")
	if code != cli.ExitFailure || !strings.Contains(errOut, "cannot reach") || time.Since(start) > 10*time.Second {
		t.Fatalf("unreachable endpoint: exit %d after %v: %s", code, time.Since(start), errOut)
	}
	t.Logf("unreachable endpoint reported after %v", time.Since(start))
}

// TestBlobS3InterruptedPush: an upload to S3 that breaks part-way shows no
// blob on the server, and the next push completes it.
func TestBlobS3InterruptedPush(t *testing.T) {
	srv := s3test.StartServer(t)
	dir, id := newArtifactRepo(t)
	s3Env(t, srv)
	writeRandom(t, filepath.Join(dir, "w.bin"), 12<<20)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "w.bin"))
	remote, err := blob.OpenStore(context.Background(), srv.URL("interrupted"))
	if err != nil {
		t.Fatal(err)
	}
	interruptedPush(t, dir, remote)
}
