package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// stagedFiles lists the names in a Local store's staging folder.
func stagedFiles(t *testing.T, l *Local) []string {
	t.Helper()
	entries, err := os.ReadDir(filepath.Join(l.Root(), stageDir))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	var names []string
	for _, e := range entries {
		names = append(names, e.Name())
	}
	return names
}

// hiddenFiles lists the temporary files in the shard folders of a Local
// store (Put's .tmp- files).
func hiddenFiles(t *testing.T, l *Local) []string {
	t.Helper()
	var names []string
	for _, top := range []string{fileDir, chunkDir} {
		filepath.WalkDir(filepath.Join(l.Root(), filepath.FromSlash(top)), func(p string, d os.DirEntry, err error) error {
			if err == nil && !d.IsDir() && strings.HasPrefix(d.Name(), ".") {
				names = append(names, p)
			}
			return nil
		})
	}
	return names
}

func newLocal(t *testing.T, dir string) *Local {
	t.Helper()
	l, err := NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// verifyVisibleChunks checks that every chunk object in st decodes to bytes
// that hash to its name, and returns how many there are.
func verifyVisibleChunks(t *testing.T, st Store) int {
	t.Helper()
	n := 0
	err := st.List(context.Background(), chunkDir, func(key string, _ int64, _ time.Time) error {
		id, ok := parseShardedKey(chunkDir, key)
		if !ok {
			return fmt.Errorf("unexpected key %s", key)
		}
		obj := readObject(t, st, key)
		var raw []byte
		switch {
		case len(obj) > 0 && obj[0] == chunkRaw:
			raw = obj[1:]
		case len(obj) > 0 && obj[0] == chunkZstd:
			_, dec := codecs()
			var err error
			if raw, err = dec.DecodeAll(obj[1:], nil); err != nil {
				return fmt.Errorf("chunk %s: %v", key, err)
			}
		default:
			return fmt.Errorf("chunk %s: bad header (%d bytes)", key, len(obj))
		}
		if chunkSum(raw) != ChunkID(id) {
			return fmt.Errorf("chunk %s holds bytes hashing to %s", key, chunkSum(raw))
		}
		n++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return n
}

// TestBatchDurableBeforeVisible records the steps of a batched add and
// checks the order that makes it crash-safe: no chunk is visible under its
// name before its staging file was fsynced, the file object is written only
// after every chunk is linked and the folders are synced, and nothing is
// left in the staging folder.
func TestBatchDurableBeforeVisible(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t, t.TempDir())
	data := append(randBytes(90, 9<<20), textLike(91, 3<<20)...) // raw and compressed chunks
	fileKey := FileKey(Sum(data))
	var (
		mu        sync.Mutex
		staged    = map[string]bool{}
		synced    = map[string]bool{}
		linked    = map[string]bool{}
		committed bool
		problems  []string
	)
	visible := func(key string) bool { _, err := l.Stat(ctx, key); return err == nil }
	l.batchHook = func(ev, key string) error {
		if ev == "synced" {
			// Slow syncs: the workers finish long before the syncers, so
			// a commit that did not wait for them would show.
			time.Sleep(20 * time.Millisecond)
		}
		mu.Lock()
		defer mu.Unlock()
		bad := func(f string, a ...any) { problems = append(problems, fmt.Sprintf(f, a...)) }
		switch ev {
		case "staged":
			if visible(key) {
				bad("%s visible when only staged", key)
			}
			staged[key] = true
		case "synced":
			if !staged[key] {
				bad("%s synced before staged", key)
			}
			if visible(key) {
				bad("%s visible before its link", key)
			}
			synced[key] = true
		case "linked":
			if !synced[key] {
				bad("%s linked before it was synced", key)
			}
			if !visible(key) {
				bad("%s not visible after its link", key)
			}
			if visible(fileKey) {
				bad("file object visible while chunk %s was being linked", key)
			}
			linked[key] = true
		case "committed":
			if committed {
				bad("committed twice")
			}
			committed = true
			if len(linked) != len(staged) {
				bad("committed with %d of %d staged chunks linked", len(linked), len(staged))
			}
			if visible(fileKey) {
				bad("file object visible before the commit finished")
			}
		default:
			bad("unknown event %q", ev)
		}
		return nil
	}
	res, err := AddReader(ctx, l, bytes.NewReader(data), AddOptions{Parallel: 4})
	if err != nil {
		t.Fatal(err)
	}
	if len(problems) > 0 {
		t.Fatalf("batch order violated:\n%s", strings.Join(problems, "\n"))
	}
	if !committed || len(staged) != res.NewChunks || res.NewChunks == 0 {
		t.Fatalf("committed=%v, %d staged, result %+v", committed, len(staged), res)
	}
	if !visible(fileKey) {
		t.Fatal("no file object after the add")
	}
	if got, err := readAllBlob(t, l, res.Digest); err != nil || !bytes.Equal(got, data) {
		t.Fatalf("read back: %v", err)
	}
	if n := stagedFiles(t, l); len(n) != 0 {
		t.Fatalf("staging folder not empty after the add: %v", n)
	}
	if n := hiddenFiles(t, l); len(n) != 0 {
		t.Fatalf("temporary files left: %v", n)
	}
}

// The crash test runs an add in a child process that kills itself with
// SIGKILL right after the third staging file was fsynced, before its link:
// a crash between staging and the final name.
const (
	crashEnv      = "MLGIT_BLOB_TEST_CRASH_STORE"
	crashNamedEnv = "MLGIT_BLOB_TEST_CRASH_NAMED" // "1": stage named files
)

func crashData() []byte { return randBytes(95, 12<<20) }

func TestBatchCrashHelper(t *testing.T) {
	dir := os.Getenv(crashEnv)
	if dir == "" {
		t.Skip("helper process of TestBatchCrashLeavesNoVisiblePartialObject")
	}
	l := newLocal(t, dir)
	l.noAnon = os.Getenv(crashNamedEnv) == "1"
	var mu sync.Mutex
	n := 0
	l.batchHook = func(ev, key string) error {
		if ev == "synced" {
			mu.Lock()
			n++
			if n == 3 {
				syscall.Kill(os.Getpid(), syscall.SIGKILL)
				select {} // never returns
			}
			mu.Unlock()
		}
		return nil
	}
	_, err := AddReader(context.Background(), l, bytes.NewReader(crashData()), AddOptions{Parallel: 4})
	t.Fatalf("add finished (%v); it should have been killed", err)
}

// TestBatchCrashLeavesNoVisiblePartialObject kills an add between a
// chunk's fsync and its link, staging unnamed files (where the file system
// can) and named ones.
func TestBatchCrashLeavesNoVisiblePartialObject(t *testing.T) {
	if testing.Short() {
		t.Skip("runs a child process")
	}
	t.Run("unnamed", func(t *testing.T) {
		if !probeAnon(filepath.Join(t.TempDir(), stageDir)) {
			t.Skip("the file system cannot create unnamed files")
		}
		testBatchCrash(t, false)
	})
	t.Run("named", func(t *testing.T) { testBatchCrash(t, true) })
}

func testBatchCrash(t *testing.T, named bool) {
	ctx := context.Background()
	dir := t.TempDir()
	cmd := exec.Command(os.Args[0], "-test.run=^TestBatchCrashHelper$", "-test.count=1")
	cmd.Env = append(os.Environ(), crashEnv+"="+dir, crashNamedEnv+"="+map[bool]string{true: "1"}[named])
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper did not die of SIGKILL: %v\n%s", err, out)
	}
	l := newLocal(t, dir)
	data := crashData()
	d := Sum(data)
	if has, err := Has(ctx, l, []Digest{d}); err != nil || has[d] {
		t.Fatalf("file object visible after the crash: %v, %v", has, err)
	}
	// Chunks linked before the crash are whole; the one killed between
	// fsync and link, and those queued behind it, are not visible.
	linked := verifyVisibleChunks(t, l)
	if linked >= len(crashData())/MaxChunkSize {
		t.Fatalf("%d chunks visible after a crash at the third link", linked)
	}
	left := stagedFiles(t, l)
	if !named {
		// Unnamed staging files vanish with the process.
		if len(left) != 0 {
			t.Fatalf("staging files left by the crash: %v", left)
		}
		res, err := AddReader(ctx, l, bytes.NewReader(data), AddOptions{Parallel: 4})
		if err != nil || res.Digest != d {
			t.Fatalf("add after the crash = %+v, %v", res, err)
		}
		if err := Verify(ctx, l, d); err != nil {
			t.Fatal(err)
		}
		return
	}
	if len(left) == 0 {
		t.Fatal("no staging file left by the crash; the test does not test the crash window")
	}
	t.Logf("after the crash: %d chunks visible, %d staging files left", linked, len(left))

	// gc spares young staging files (an add may be running) ...
	st, err := GC(ctx, l, nil, time.Now().Add(-time.Hour), false)
	if err != nil || st.TempDeleted != 0 || len(stagedFiles(t, l)) != len(left) {
		t.Fatalf("gc with a cutoff an hour ago = %+v, %v; staged %v", st, err, stagedFiles(t, l))
	}
	// ... and removes old ones; a dry run only counts them.
	st, err = GC(ctx, l, nil, time.Now().Add(time.Minute), true)
	if err != nil || st.TempDeleted != len(left) || len(stagedFiles(t, l)) != len(left) {
		t.Fatalf("dry-run gc = %+v, %v; staged %v", st, err, stagedFiles(t, l))
	}
	st, err = GC(ctx, l, map[Digest]bool{}, time.Now().Add(time.Minute), false)
	if err != nil || st.TempDeleted != len(left) || st.TempBytesDeleted == 0 {
		t.Fatalf("gc = %+v, %v, want %d temporary files removed", st, err, len(left))
	}
	if n := stagedFiles(t, l); len(n) != 0 {
		t.Fatalf("staging files left after gc: %v", n)
	}
	// The add, run again, completes (GC removed the unreferenced chunks too).
	res, err := AddReader(ctx, l, bytes.NewReader(data), AddOptions{Parallel: 4})
	if err != nil || res.Digest != d {
		t.Fatalf("add after the crash = %+v, %v", res, err)
	}
	if err := Verify(ctx, l, d); err != nil {
		t.Fatal(err)
	}
}

// TestBatchNextAddRemovesOldStagingFiles: the first batch of a process
// removes staging files older than an hour and keeps younger ones (which
// may belong to an add running in another process).
func TestBatchNextAddRemovesOldStagingFiles(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	stage := filepath.Join(dir, stageDir)
	if err := os.MkdirAll(stage, 0o755); err != nil {
		t.Fatal(err)
	}
	old, young := filepath.Join(stage, "abc-1"), filepath.Join(stage, "abc-2")
	for _, p := range []string{old, young} {
		if err := os.WriteFile(p, []byte("partial"), 0o444); err != nil {
			t.Fatal(err)
		}
	}
	long := time.Now().Add(-2 * time.Hour)
	if err := os.Chtimes(old, long, long); err != nil {
		t.Fatal(err)
	}
	l := newLocal(t, dir)
	if _, err := AddReader(ctx, l, bytes.NewReader(randBytes(96, 1<<20)), AddOptions{}); err != nil {
		t.Fatal(err)
	}
	got := stagedFiles(t, l)
	if len(got) != 1 || got[0] != "abc-2" {
		t.Fatalf("staging folder after an add = %v, want only the young abc-2", got)
	}
}

// TestGCRemovesOldPutTempFiles: Put's temporary files in shard folders,
// left by a killed writer, are removed by gc once old.
func TestGCRemovesOldPutTempFiles(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t, t.TempDir())
	d := mustAdd(t, l, randBytes(97, 2<<20))
	key, _ := l.Path(FileKey(d))
	shard := filepath.Dir(key)
	oldTmp, youngTmp := filepath.Join(shard, tempPrefix+"x-1"), filepath.Join(shard, tempPrefix+"x-2")
	os.WriteFile(oldTmp, []byte("junk"), 0o644)
	os.WriteFile(youngTmp, []byte("junk"), 0o644)
	long := time.Now().Add(-2 * time.Hour)
	os.Chtimes(oldTmp, long, long)
	st, err := GC(ctx, l, map[Digest]bool{d: true}, time.Now().Add(-time.Hour), false)
	if err != nil || st.TempDeleted != 1 || st.FilesDeleted != 0 {
		t.Fatalf("gc = %+v, %v", st, err)
	}
	if _, err := os.Stat(oldTmp); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("old temporary file still there: %v", err)
	}
	if _, err := os.Stat(youngTmp); err != nil {
		t.Fatalf("young temporary file removed: %v", err)
	}
	if err := Verify(ctx, l, d); err != nil {
		t.Fatal(err)
	}
}

// TestBatchConcurrentAddersSameContent: two adds of the same bytes into
// one folder, as two processes would (each its own Local), both succeed
// and leave one consistent copy and no temporary files.
func TestBatchConcurrentAddersSameContent(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := append(randBytes(98, 10<<20), textLike(99, 2<<20)...)
	for round := range 3 {
		var wg sync.WaitGroup
		res := make([]AddResult, 2)
		errs := make([]error, 2)
		for i := range 2 {
			wg.Go(func() {
				l, err := NewLocal(dir)
				if err != nil {
					errs[i] = err
					return
				}
				res[i], errs[i] = AddReader(ctx, l, bytes.NewReader(data), AddOptions{Parallel: 3})
			})
		}
		wg.Wait()
		for i := range 2 {
			if errs[i] != nil || res[i].Digest != Sum(data) || res[i].Size != int64(len(data)) {
				t.Fatalf("round %d adder %d = %+v, %v", round, i, res[i], errs[i])
			}
		}
		l := newLocal(t, dir)
		if err := Verify(ctx, l, Sum(data)); err != nil {
			t.Fatal(err)
		}
		if n := verifyVisibleChunks(t, l); n != res[0].Chunks {
			t.Fatalf("%d chunk objects for a file of %d distinct chunks", n, res[0].Chunks)
		}
		if s, h := stagedFiles(t, l), hiddenFiles(t, l); len(s)+len(h) != 0 {
			t.Fatalf("temporary files left: %v %v", s, h)
		}
		if round == 0 {
			// Start over, so the next rounds race on new chunks too.
			if _, err := GC(ctx, l, nil, time.Now().Add(time.Minute), false); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// TestBatchLosesLinkRace: an add whose chunks another add stores between
// its staging and its link (the link finds the name taken) succeeds, keeps
// the other's objects and removes its own staging files.
func TestBatchLosesLinkRace(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	data := randBytes(100, 8<<20)
	late := newLocal(t, dir)
	var once sync.Once
	var otherErr error
	late.batchHook = func(ev, key string) error {
		if ev == "synced" {
			// Before the first link of the late add, another process adds
			// the same file completely.
			once.Do(func() {
				_, _, otherErr = Add(ctx, newLocal(t, dir), bytes.NewReader(data))
			})
		}
		return nil
	}
	res, err := AddReader(ctx, late, bytes.NewReader(data), AddOptions{Parallel: 2})
	if err != nil || otherErr != nil || res.Digest != Sum(data) {
		t.Fatalf("late add = %+v, %v; other add: %v", res, err, otherErr)
	}
	if err := Verify(ctx, late, res.Digest); err != nil {
		t.Fatal(err)
	}
	if s, h := stagedFiles(t, late), hiddenFiles(t, late); len(s)+len(h) != 0 {
		t.Fatalf("temporary files left: %v %v", s, h)
	}
}

// TestBatchFailureLeavesNoFileAndNoStagingFiles: a failing fsync (here a
// hook error at that step) fails the add; nothing is left staged, no file
// object is written, and the add works when run again. Cancellation too.
func TestBatchFailureLeavesNoFileAndNoStagingFiles(t *testing.T) {
	ctx := context.Background()
	l := newLocal(t, t.TempDir())
	data := randBytes(101, 12<<20)
	boom := errors.New("I/O error")
	var mu sync.Mutex
	n := 0
	l.batchHook = func(ev, key string) error {
		mu.Lock()
		defer mu.Unlock()
		if ev == "synced" {
			n++
			if n == 2 {
				return boom
			}
		}
		return nil
	}
	_, err := AddReader(ctx, l, bytes.NewReader(data), AddOptions{Parallel: 4})
	if !errors.Is(err, boom) {
		t.Fatalf("add with a failing sync = %v, want %v", err, boom)
	}
	if has, _ := Has(ctx, l, []Digest{Sum(data)}); has[Sum(data)] {
		t.Fatal("file object written although a chunk failed")
	}
	if s := stagedFiles(t, l); len(s) != 0 {
		t.Fatalf("staging files left after a failed add: %v", s)
	}
	verifyVisibleChunks(t, l)

	// Canceled part-way.
	l.batchHook = nil
	cctx, cancel := context.WithCancel(ctx)
	data2 := randBytes(102, 12<<20)
	_, err = AddReader(cctx, l, bytes.NewReader(data2), AddOptions{Progress: func(done int64) {
		if done > 5<<20 {
			cancel()
		}
	}})
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled add = %v", err)
	}
	if s := stagedFiles(t, l); len(s) != 0 {
		t.Fatalf("staging files left after a canceled add: %v", s)
	}
	for _, b := range [][]byte{data, data2} {
		if _, _, err := Add(ctx, l, bytes.NewReader(b)); err != nil {
			t.Fatal(err)
		}
		if err := Verify(ctx, l, Sum(b)); err != nil {
			t.Fatal(err)
		}
	}
}

// TestChunksStayValidAcrossSegments holds chunks while the chunker moves
// on through many segments (small parameters) and releases them out of
// order, checking each against a copy taken when it was handed out: a
// segment must not be reused while a chunk in it is referenced.
func TestChunksStayValidAcrossSegments(t *testing.T) {
	p := newChunkParams(4<<10, 16<<10, 64<<10)
	data := randBytes(103, 3<<20+77)
	pool := newSegPool(p, 3)
	r := io.MultiReader(bytes.NewReader(data[:1<<20]), bytes.NewReader(data[1<<20:]))
	c := newChunker(context.Background(), r, p, pool)
	type held struct {
		b, copy []byte
		seg     *segment
	}
	check := func(h held) {
		if !bytes.Equal(h.b, h.copy) {
			t.Fatal("a held chunk changed before it was released")
		}
	}
	var window []held
	var got []byte
	for {
		b, seg, err := c.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, b...)
		window = append(window, held{b, bytes.Clone(b), seg})
		// Keep up to 7 chunks (more than a segment holds); release the
		// second-oldest, so the oldest outlives several segments.
		if len(window) > 7 {
			h := window[1]
			window = append(window[:1], window[2:]...)
			check(h)
			h.seg.release()
		}
	}
	c.release()
	for _, h := range window {
		check(h)
		h.seg.release()
	}
	if !bytes.Equal(got, data) {
		t.Fatal("chunks do not add up to the input")
	}
	pool.mu.Lock()
	live := pool.live
	pool.mu.Unlock()
	if live != 0 {
		t.Fatalf("%d segments not returned after every chunk was released", live)
	}
}

// TestSegPoolBoundsAndCancels: get waits when the limit is reached and
// fails when the context ends.
func TestSegPoolBoundsAndCancels(t *testing.T) {
	p := newChunkParams(4<<10, 16<<10, 64<<10)
	pool := newSegPool(p, 2)
	ctx := context.Background()
	a, _ := pool.get(ctx)
	b, _ := pool.get(ctx)
	got := make(chan *segment)
	go func() {
		s, err := pool.get(ctx)
		if err != nil {
			t.Error(err)
		}
		got <- s
	}()
	select {
	case <-got:
		t.Fatal("third segment handed out over the limit of 2")
	case <-time.After(50 * time.Millisecond):
	}
	a.release()
	c := <-got
	cctx, cancel := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel()
	if _, err := pool.get(cctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("get at the limit with an ending context = %v", err)
	}
	b.release()
	c.release()
}
