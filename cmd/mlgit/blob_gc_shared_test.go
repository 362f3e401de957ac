package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/internal/s3test"
)

// twoClones makes two clones of one tracking branch on a bare Git remote,
// each with a run, and returns their folders and run ids.
func twoClones(t *testing.T) (dir1, id1, dir2, id2 string) {
	t.Helper()
	dir1, id1 = newArtifactRepo(t)
	bare := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir1, "init", "-q", "--bare", bare)
	gittest.Git(t, dir1, "remote", "add", "origin", bare)
	mustCLI(t, dir1, "run", "end", "--run", id1)
	mustCLI(t, dir1, "push", "--no-blobs")
	dir2 = gittest.NewRepo(t)
	gittest.Git(t, dir2, "remote", "add", "origin", bare)
	mustCLI(t, dir2, "pull")
	id2 = strings.TrimSpace(mustCLI(t, dir2, "run", "start"))
	return dir1, id1, dir2, id2
}

// TestBlobGCSharedStoreLocks: on a shared S3 store (versitygw), gc waits
// for nobody: it refuses while a push holds its shared lock, and a push
// refuses while gc holds the exclusive one; a second clone pushing in a
// loop while the first collects garbage in a loop loses nothing.
func TestBlobGCSharedStoreLocks(t *testing.T) {
	srv := s3test.StartServer(t)
	dir1, id1, dir2, id2 := twoClones(t)
	s3Env(t, srv)
	url := srv.URL("team/locks")
	ctx := context.Background()
	st, err := blob.OpenStore(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	writeRandom(t, filepath.Join(dir1, "w1.bin"), 1<<20)
	mustCLI(t, dir1, "run", "artifact", "add", "--run", id1, filepath.Join(dir1, "w1.bin"))
	mustCLI(t, dir1, "blob", "push", "--remote", url)

	push, err := blob.Lock(ctx, st, false, "push")
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code := runCLI(t, dir1, "blob", "gc", "--remote", url, "--yes")
	if code != cli.ExitFailure || !strings.Contains(errOut, "locked by another client") || !strings.Contains(errOut, "shared lock (push)") {
		t.Fatalf("gc during a push: exit %d: %s", code, errOut)
	}
	push.Unlock()
	gc, err := blob.Lock(ctx, st, true, "gc")
	if err != nil {
		t.Fatal(err)
	}
	_, errOut, code = runCLI(t, dir1, "blob", "push", "--remote", url)
	if code != cli.ExitFailure || !strings.Contains(errOut, "exclusive lock (gc)") {
		t.Fatalf("push during a gc: exit %d: %s", code, errOut)
	}
	gc.Unlock()

	// The second clone adds and pushes while the first collects garbage.
	var wg sync.WaitGroup
	var pushErrs, gcErrs []string
	var mu sync.Mutex
	wg.Add(2)
	go func() {
		defer wg.Done()
		for i := 0; i < 4; i++ {
			f := filepath.Join(dir2, "w2-"+string(rune('a'+i))+".bin")
			writeRandom(t, f, 1<<20)
			if _, e, c := runCLI(t, dir2, "run", "artifact", "add", "--run", id2, f); c != 0 {
				mu.Lock()
				pushErrs = append(pushErrs, e)
				mu.Unlock()
				continue
			}
			for {
				_, e, c := runCLI(t, dir2, "push", "--blob-remote", url)
				if c == 0 {
					break
				}
				if !strings.Contains(e, "locked by another client") {
					mu.Lock()
					pushErrs = append(pushErrs, e)
					mu.Unlock()
					break
				}
				time.Sleep(50 * time.Millisecond)
			}
		}
	}()
	go func() {
		defer wg.Done()
		for i := 0; i < 6; i++ {
			if _, e, c := runCLI(t, dir1, "blob", "gc", "--remote", url, "--yes"); c != 0 && !strings.Contains(e, "locked by another client") {
				mu.Lock()
				gcErrs = append(gcErrs, e)
				mu.Unlock()
			}
		}
	}()
	wg.Wait()
	if len(pushErrs)+len(gcErrs) > 0 {
		t.Fatalf("push errors %q, gc errors %q", pushErrs, gcErrs)
	}
	mustCLI(t, dir1, "blob", "gc", "--remote", url, "--yes")
	for _, d := range []string{dir1, dir2} {
		mustCLI(t, d, "pull")
		if out := mustCLI(t, d, "blob", "verify", "--remote", url, "--all"); !strings.Contains(out, "are present and intact") {
			t.Fatalf("verify in %s: %s", d, out)
		}
	}
	var locks []string
	st.List(ctx, "locks/", func(k string, _ int64, _ time.Time) error { locks = append(locks, k); return nil })
	if len(locks) != 0 {
		t.Fatalf("locks left behind: %v", locks)
	}
}

// TestBlobGCRemoteFetchesFirst: blobs another clone pushed (with its
// branch) a while ago are referenced by commits this clone has not fetched;
// gc of the shared store fetches first and keeps them.
func TestBlobGCRemoteFetchesFirst(t *testing.T) {
	dir1, _, dir2, id2 := twoClones(t)
	remote := t.TempDir()
	writeRandom(t, filepath.Join(dir2, "w2.bin"), 256<<10)
	mustCLI(t, dir2, "run", "artifact", "add", "--run", id2, filepath.Join(dir2, "w2.bin"))
	mustCLI(t, dir2, "push", "--blob-remote", "file://"+remote)
	// Two hours later: nothing on the store is young any more.
	old := time.Now().Add(-2 * time.Hour)
	filepath.WalkDir(remote, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			os.Chtimes(p, old, old)
		}
		return nil
	})
	out := mustCLI(t, dir1, "blob", "gc", "--remote", "file://"+remote, "--yes")
	if !strings.Contains(out, "Removed 0 blobs") {
		t.Fatalf("gc: %s", out)
	}
	if out := mustCLI(t, dir2, "blob", "verify", "--remote", "file://"+remote); !strings.Contains(out, "All 1 blob") {
		t.Fatalf("verify: %s", out)
	}
}
