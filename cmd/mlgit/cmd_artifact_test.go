package main

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/runcmd"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// runCLI runs mlgit in-process in dir and returns stdout, stderr and the exit
// code.
func runCLI(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"-C", dir}, args...), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// mustCLI is runCLI that fails the test on a non-zero exit.
func mustCLI(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, errOut, code := runCLI(t, dir, args...)
	if code != 0 {
		t.Fatalf("mlgit %s: exit %d\n%s%s", strings.Join(args, " "), code, out, errOut)
	}
	return out
}

// newArtifactRepo makes a hermetic repository with the tracking branch and
// one run, and returns its folder and the run id.
func newArtifactRepo(t *testing.T) (string, string) {
	t.Helper()
	gittest.Setenv(t)
	t.Setenv("MLGIT_BLOB_REMOTE", "")
	t.Setenv("MLGIT_RUN_ID", "")
	dir := gittest.NewRepo(t)
	mustCLI(t, dir, "init")
	id := strings.TrimSpace(mustCLI(t, dir, "run", "start"))
	return dir, id
}

func writeRandom(t *testing.T, path string, n int) {
	t.Helper()
	b := make([]byte, n)
	rand.Read(b)
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// runArtifacts returns the artifact paths the run records.
func runArtifacts(t *testing.T, dir, id string) []string {
	t.Helper()
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	doc, err := r.GetRun(id)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, a := range doc.Artifacts {
		out = append(out, a.Path)
	}
	return out
}

// fullStore fails every Put after budget bytes with ENOSPC, like a full
// disk (the error is what os.File.Write returns then).
type fullStore struct {
	blob.Store
	mu     sync.Mutex
	budget int64
}

func (s *fullStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	s.mu.Lock()
	s.budget -= size
	full := s.budget < 0
	s.mu.Unlock()
	if full {
		return &os.PathError{Op: "write", Path: "/cache/" + key, Err: syscall.ENOSPC}
	}
	return s.Store.Put(ctx, key, r, size)
}

// TestArtifactAddDiskFull simulates a full disk with a store that fails
// with ENOSPC part-way (see TestArtifactAddDiskFullTmpfs for a real one):
// the add fails with advice, and the run records nothing, not even the
// files that were stored before the disk filled up.
func TestArtifactAddDiskFull(t *testing.T) {
	dir, id := newArtifactRepo(t)
	writeRandom(t, filepath.Join(dir, "small.txt"), 1000)
	writeRandom(t, filepath.Join(dir, "big.bin"), 20<<20)
	a, _, _ := clitest.NewApp(t, dir)
	err := runcmd.RunArtifactAdd(context.Background(), a, &runcmd.ArtifactAddOptions{Run: id, Paths: []string{filepath.Join(dir, "small.txt"), filepath.Join(dir, "big.bin")},
		OpenCache: func(r *repo.Repo) (blob.Store, error) {
			l, err := blob.NewLocal(r.BlobCacheDir())
			return &fullStore{Store: l, budget: 8 << 20}, err
		}})
	if !errors.Is(err, syscall.ENOSPC) || !strings.Contains(err.Error(), "is full") || !strings.Contains(err.Error(), "records nothing") {
		t.Fatalf("error: %v", err)
	}
	if code := cli.ExitCode(err); code != cli.ExitFailure {
		t.Fatalf("exit code %d", code)
	}
	if got := runArtifacts(t, dir, id); len(got) != 0 {
		t.Fatalf("run records %v after a failed add", got)
	}
}

// TestArtifactAddDiskFullTmpfs fills a real 4 MiB tmpfs mounted over the
// blob cache. It needs root (mount); elsewhere it is skipped and
// TestArtifactAddDiskFull covers the behaviour.
func TestArtifactAddDiskFullTmpfs(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("mounting a tmpfs needs root")
	}
	dir, id := newArtifactRepo(t)
	cache := filepath.Join(dir, ".git", "mlgit", "blobs")
	if err := os.MkdirAll(cache, 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", cache).CombinedOutput(); err != nil {
		t.Skipf("cannot mount a tmpfs here: %v %s", err, out)
	}
	t.Cleanup(func() { exec.Command("umount", cache).Run() })
	writeRandom(t, filepath.Join(dir, "big.bin"), 12<<20)
	_, errOut, code := runCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "big.bin"))
	if code != cli.ExitFailure || !strings.Contains(errOut, "no space left on device") || !strings.Contains(errOut, "is full") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := runArtifacts(t, dir, id); len(got) != 0 {
		t.Fatalf("run records %v after a failed add", got)
	}
	// Once there is room, the same add works.
	exec.Command("umount", cache).Run()
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "big.bin"))
	if got := runArtifacts(t, dir, id); len(got) != 1 {
		t.Fatalf("run records %v", got)
	}
}

// TestArtifactAddFileChanging appends to a file while it is added: the add
// fails with ErrFileChanged and nothing is recorded.
func TestArtifactAddFileChanging(t *testing.T) {
	dir, id := newArtifactRepo(t)
	p := filepath.Join(dir, "growing.log")
	writeRandom(t, p, 32<<20)
	writeRandom(t, filepath.Join(dir, "stable.bin"), 1000)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		f, err := os.OpenFile(p, os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			return
		}
		defer f.Close()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				f.Write([]byte("more\n"))
			}
		}
	})
	a, _, _ := clitest.NewApp(t, dir)
	err := runcmd.RunArtifactAdd(context.Background(), a, &runcmd.ArtifactAddOptions{Run: id, Paths: []string{filepath.Join(dir, "stable.bin"), p}})
	close(stop)
	wg.Wait()
	if !errors.Is(err, blob.ErrFileChanged) || !strings.Contains(err.Error(), "records nothing") {
		t.Fatalf("error: %v", err)
	}
	if got := runArtifacts(t, dir, id); len(got) != 0 {
		t.Fatalf("run records %v", got)
	}
}

// TestArtifactAddReadError adds a file whose reads fail (EIO from
// /proc/self/mem): a clear error and nothing recorded.
func TestArtifactAddReadError(t *testing.T) {
	if _, err := os.Stat("/proc/self/mem"); err != nil {
		t.Skip("no /proc/self/mem")
	}
	dir, id := newArtifactRepo(t)
	writeRandom(t, filepath.Join(dir, "ok.bin"), 100)
	_, errOut, code := runCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "ok.bin"), "/proc/self/mem")
	if code != cli.ExitFailure || !strings.Contains(errOut, "/proc/self/mem") || !strings.Contains(errOut, "input/output error") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if got := runArtifacts(t, dir, id); len(got) != 0 {
		t.Fatalf("run records %v", got)
	}
}

// TestArtifactAddUnreadable: a file without read permission is named
// before anything is stored (exit 2). Root reads everything, so it skips.
func TestArtifactAddUnreadable(t *testing.T) {
	if os.Geteuid() == 0 {
		t.Skip("root can read files without read permission")
	}
	dir, id := newArtifactRepo(t)
	p := filepath.Join(dir, "secret.bin")
	writeRandom(t, p, 100)
	os.Chmod(p, 0)
	_, errOut, code := runCLI(t, dir, "run", "artifact", "add", "--run", id, p)
	if code != cli.ExitUsage || !strings.Contains(errOut, "secret.bin: permission denied") {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "mlgit", "blobs", "files")); err == nil {
		t.Fatal("something was stored")
	}
}

func TestArtifactFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
		want string
	}{
		{[]string{"run", "artifact", "add"}, cli.ExitUsage, "requires at least 1 arg"},
		{[]string{"run", "artifact", "get", "abcd"}, cli.ExitUsage, "-o DIR"},
		{[]string{"run", "artifact", "ls"}, cli.ExitUsage, "accepts between 1 and 2"},
		{[]string{"blob", "push", "--jobs", "0"}, cli.ExitUsage, "--jobs 0"},
		{[]string{"blob", "pull", "--all", "abcd"}, cli.ExitUsage, "not both"},
		{[]string{"blob", "verify", "--local", "--remote", "x"}, cli.ExitUsage, "not both"},
		{[]string{"blob", "gc", "extra"}, cli.ExitUsage, "unknown command"},
		// A mistyped subcommand of a group: exit 2 with suggestions.
		{[]string{"run", "lst"}, cli.ExitUsage, "Did you mean this?\n\tlist"},
		{[]string{"model", "promte"}, cli.ExitUsage, "Did you mean this?\n\tpromote"},
		{[]string{"model", "alias", "st"}, cli.ExitUsage, "unknown command \"st\" for \"mlgit model alias\""},
	} {
		var out, errb bytes.Buffer
		code := run(context.Background(), tc.args, cli.Streams{Out: &out, Err: &errb})
		if code != tc.code || !strings.Contains(errb.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q", tc.args, code, errb.String(), tc.code, tc.want)
		}
	}
	// Flags reach the options.
	var got *runcmd.ArtifactAddOptions
	cmd := runcmd.NewRunArtifactAddCmd(&cli.App{}, func(_ context.Context, o *runcmd.ArtifactAddOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--run", "3f2a", "--as", "ckpt/e1", "a.bin", "dir/.", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Run != "3f2a" || got.As != "ckpt/e1" || strings.Join(got.Paths, ",") != "a.bin,dir/." || !got.AsJSON {
		t.Fatalf("options: %+v", got)
	}
	var gopts *runcmd.ArtifactGetOptions
	gcmd := runcmd.NewRunArtifactGetCmd(&cli.App{}, func(_ context.Context, o *runcmd.ArtifactGetOptions) error { gopts = o; return nil })
	gcmd.SetArgs([]string{"3f2a", "model", "-o", "out", "--remote", "s3://b/p"})
	if err := gcmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if gopts.Run != "3f2a" || gopts.Path != "model" || gopts.Out != "out" || gopts.Remote != "s3://b/p" {
		t.Fatalf("get options: %+v", gopts)
	}
}

// TestArtifactGetFromCacheIsAtomic: a get that fails part-way (damaged
// chunk) leaves no file and no temporary file behind.
func TestArtifactGetDamagedLeavesNothing(t *testing.T) {
	dir, id := newArtifactRepo(t)
	writeRandom(t, filepath.Join(dir, "w.bin"), 6<<20)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "w.bin"))
	// Damage the last chunk, so the first ones were already written out.
	st, _ := blob.NewLocal(filepath.Join(dir, ".git", "mlgit", "blobs"))
	out := mustCLI(t, dir, "run", "artifact", "ls", id, "--json")
	d, err := blob.ParseDigest(out[strings.Index(out, "sha256:") : strings.Index(out, "sha256:")+71])
	if err != nil {
		t.Fatal(err)
	}
	keys, err := blob.Keys(context.Background(), st, d)
	if err != nil {
		t.Fatal(err)
	}
	p, _ := st.Path(keys[len(keys)-1])
	os.Chmod(p, 0o644)
	data, _ := os.ReadFile(p)
	data[len(data)/2] ^= 1
	os.WriteFile(p, data, 0o644)
	outDir := filepath.Join(t.TempDir(), "out")
	_, errOut, code := runCLI(t, dir, "run", "artifact", "get", id, "-o", outDir)
	if code != cli.ExitFailure || !strings.Contains(errOut, d.String()) || !strings.Contains(errOut, strings.TrimPrefix(keys[len(keys)-1], "chunks/")[3:]) {
		t.Fatalf("exit %d: %s", code, errOut)
	}
	ents, _ := os.ReadDir(outDir)
	if len(ents) != 0 {
		t.Fatalf("left behind: %v", ents)
	}
}
