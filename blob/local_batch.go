package blob

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Batched durability for the chunks of an add to a Local store.
//
// Local.Put makes each object durable on its own: write a temporary file,
// fsync it, link it into place, fsync the folder. For the ~1,000 chunks of
// a 1 GiB file that is ~2,000 synchronous journal commits on the path of
// the add, and every chunk buffer is held until its fsync returns. A
// localBatch instead:
//
//  1. writes each chunk to a staging file in <root>/.staging/ (on Linux an
//     unnamed one, O_TMPFILE, where the file system allows: see
//     createStaged) and starts its writeback at once (sync_file_range(SYNC_FILE_RANGE_WRITE)
//     on Linux), so the caller's buffer is free as soon as the bytes are in
//     the page cache;
//  2. on a few background goroutines, fsyncs each staging file (by then its
//     data is usually written back, and one journal commit covers all the
//     files that became ready meanwhile) and only then links it to its
//     final name, never replacing an object that exists, and removes the
//     staging name if it has one;
//  3. in commit, waits for step 2 to finish and fsyncs every folder that
//     received a new name, in parallel.
//
// The add writes its file object (with Local.Put) only after commit, so the
// durability guarantees are those of per-object Puts: an object is visible
// under its final name only once its bytes are on disk (a crash never
// leaves a visible chunk with unwritten or partly written bytes, which a
// later add would trust and reuse), and the file object, the add's
// acknowledgement, becomes visible only once every chunk it lists is
// durable under its name. A crash leaves no unnamed staging file (the file
// system frees them); it can leave named ones behind; they are
// not objects (List skips the folder, no key can name it) and are removed
// by the next batch of any process on the store once older than
// staleTempAge, and by GC.

// stageDir is the folder of staging files below a Local store's root.
const stageDir = ".staging"

// staleTempAge is the age after which a staging or temporary file is
// certainly abandoned: a batch fsyncs and links each staging file seconds
// after writing it.
const staleTempAge = time.Hour

// Batch tuning: background fsync goroutines, staged files waiting for them
// (each holds an open descriptor, no memory), parallel folder fsyncs.
const (
	batchSyncers    = 4
	batchPending    = 64
	batchDirSyncers = 8
)

// localBatch is one add's set of deferred-durability Puts to a Local store.
// put may be called from several goroutines; commit or abort once, after
// the last put returned.
type localBatch struct {
	l       *Local
	stage   string
	pending chan stagedObj
	syncers sync.WaitGroup
	hook    func(event, key string) error // tests; see Local.batchHook

	mu      sync.Mutex
	dirs    map[string]bool // folders that received a new entry
	err     error           // first failure
	aborted bool
	closed  bool
}

// stagedObj is a staging file waiting to be fsynced and linked.
type stagedObj struct {
	f    *os.File
	tmp  string // staging path; "" for an unnamed file
	path string // final path
	key  string
}

// beginBatch starts a batch. The first batch of a Local also removes
// staging files older than staleTempAge that crashed adds left behind.
func (l *Local) beginBatch() *localBatch {
	stage := filepath.Join(l.root, stageDir)
	l.cleanStage.Do(func() {
		_, _, _ = removeStale(stage, time.Now().Add(-staleTempAge), func(string) bool { return true }, false)
	})
	b := &localBatch{
		l:       l,
		stage:   stage,
		pending: make(chan stagedObj, batchPending),
		dirs:    map[string]bool{},
		hook:    l.batchHook,
	}
	for range batchSyncers {
		b.syncers.Go(b.syncLoop)
	}
	return b
}

// event calls the test hook, if any.
func (b *localBatch) event(ev, key string) error {
	if b.hook == nil {
		return nil
	}
	return b.hook(ev, key)
}

func (b *localBatch) setErr(err error) {
	b.mu.Lock()
	if b.err == nil {
		b.err = err
	}
	b.mu.Unlock()
}

func (b *localBatch) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// has reports whether the object key exists, like Local.Stat with one
// system call; if it does, the batch relies on it (see found).
func (b *localBatch) has(key string) (bool, error) {
	path, err := b.l.Path(key)
	if err != nil {
		return false, err
	}
	fi, err := os.Lstat(path)
	switch {
	case err == nil && fi.Mode().IsRegular():
		b.found(key)
		return true, nil
	case err == nil:
		return false, fmt.Errorf("%s: %w: a local store cannot hold both a key and keys below it", key, ErrInvalidKey)
	case errors.Is(err, fs.ErrNotExist) || isNotDir(err):
		return false, nil
	}
	return false, err
}

// put writes hdr then body as the object key to a staging file, starts its
// writeback and queues it to be fsynced and linked into place. The caller
// asked has first: an object that appears meanwhile (another add of the
// same content) is kept, not rewritten, when the staged one is linked. The
// bytes are copied to the page cache before put returns, so the caller may
// reuse hdr and body.
func (b *localBatch) put(ctx context.Context, key string, hdr, body []byte) error {
	if err := b.failed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	path, err := b.l.Path(key)
	if err != nil {
		return err
	}
	// The final folder exists before the object is staged, so the link
	// step has nothing left to fail on but the link itself.
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, tmp, err := b.createStaged(filepath.Base(path))
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	queued := false
	defer func() {
		if !queued {
			_ = f.Close()
			if tmp != "" {
				_ = os.Remove(tmp)
			}
		}
	}()
	if len(hdr) > 0 {
		if _, err := f.Write(hdr); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	if _, err := f.Write(body); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	startWriteback(f)
	if err := b.event("staged", key); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	select {
	case b.pending <- stagedObj{f: f, tmp: tmp, path: path, key: key}:
		queued = true
	case <-ctx.Done():
		return ctx.Err()
	}
	return nil
}

// createStaged creates a new staging file for an object named base,
// read-only from the start (the descriptor returned can still write), and
// returns it with its staging path. Where the file system allows, the file
// has no name at all (O_TMPFILE, tmp ""): nothing to remove afterwards,
// nothing left behind by a crash, and no create and unlink in the one
// staging folder, which every worker and syncer of an add would otherwise
// contend for. The staging folder is made when a create finds it missing.
func (b *localBatch) createStaged(base string) (*os.File, string, error) {
	if b.l.anonStaging(b.stage) {
		f, err := openAnon(b.stage)
		if err == nil {
			return f, "", nil
		}
		if !errors.Is(err, errNoAnon) {
			return nil, "", err
		}
	}
	f, err := b.createNamed(base)
	if err != nil {
		return nil, "", err
	}
	return f, f.Name(), nil
}

// errNoAnon says that the file system cannot create unnamed files.
var errNoAnon = errors.New("unnamed files are not supported here")

// anonStaging reports whether batches on l stage unnamed files: the first
// call checks, in the staging folder, that one can be created and then
// linked to a name.
func (l *Local) anonStaging(stage string) bool {
	l.anonOnce.Do(func() { l.anonOK = !l.noAnon && probeAnon(stage) })
	return l.anonOK
}

// probeAnon creates an unnamed file in stage, links it to a name and
// removes that name again, and reports whether all of it worked.
func probeAnon(stage string) bool {
	if err := os.MkdirAll(stage, 0o755); err != nil {
		return false
	}
	f, err := openAnon(stage)
	if err != nil {
		return false
	}
	defer f.Close()
	name := filepath.Join(stage, fmt.Sprintf("probe-%016x", rand.Uint64()))
	if err := linkAnon(f, name); err != nil {
		return false
	}
	_ = os.Remove(name)
	return true
}

// createNamed creates a new staging file for an object named base under a
// unique name in the staging folder.
func (b *localBatch) createNamed(base string) (*os.File, error) {
	for made := false; ; {
		name := filepath.Join(b.stage, fmt.Sprintf("%s-%016x", base, rand.Uint64()))
		f, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o444)
		switch {
		case errors.Is(err, fs.ErrExist):
			continue
		case errors.Is(err, fs.ErrNotExist) && !made:
			if err := os.MkdirAll(b.stage, 0o755); err != nil {
				return nil, err
			}
			made = true
			continue
		}
		return f, err
	}
}

// syncLoop fsyncs staged files and links them into place, until pending is
// closed. After a failure or an abort it only removes them.
func (b *localBatch) syncLoop() {
	for o := range b.pending {
		b.mu.Lock()
		skip := b.err != nil || b.aborted
		b.mu.Unlock()
		if skip {
			_ = o.f.Close()
			if o.tmp != "" {
				_ = os.Remove(o.tmp)
			}
			continue
		}
		if err := b.settle(o); err != nil {
			b.setErr(err)
		}
	}
}

// settle makes one staged object durable and visible: fsync, then link to
// its final name (never replacing an existing object), then drop the
// staging name.
func (b *localBatch) settle(o stagedObj) error {
	if o.tmp == "" {
		// Unnamed: linked through its descriptor, which stays open until
		// then; if it is never linked, closing it frees it.
		defer o.f.Close()
	} else {
		// The staging name goes in every case: after a link the object
		// keeps its final name (after a rename there is nothing left to
		// remove).
		defer func() { _ = os.Remove(o.tmp) }()
	}
	err := o.f.Sync()
	if o.tmp != "" {
		if cerr := o.f.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		return fmt.Errorf("put %s: sync: %w", o.key, err)
	}
	if err := b.event("synced", o.key); err != nil {
		return fmt.Errorf("put %s: %w", o.key, err)
	}
	var err2 error
	if o.tmp == "" {
		err2 = linkAnon(o.f, o.path)
	} else {
		err2 = os.Link(o.tmp, o.path)
	}
	if err := err2; err != nil {
		switch {
		case errors.Is(err, fs.ErrExist):
			// Another add stored the same content first; its object is as
			// good as ours, once its folder is synced.
			if fi, serr := os.Lstat(o.path); serr == nil && !fi.Mode().IsRegular() {
				return fmt.Errorf("put %s: %w: a local store cannot hold both a key and keys below it", o.key, ErrInvalidKey)
			}
			b.found(o.key)
			return nil
		case o.tmp == "":
			return fmt.Errorf("put %s: %w", o.key, err)
		default:
			// File systems without hard links: rename, having checked
			// again that the object is not there yet.
			if _, serr := os.Lstat(o.path); serr == nil {
				b.found(o.key)
				return nil
			}
			if rerr := os.Rename(o.tmp, o.path); rerr != nil {
				return fmt.Errorf("put %s: %w", o.key, rerr)
			}
		}
	}
	dir := filepath.Dir(o.path)
	b.mu.Lock()
	b.dirs[dir] = true
	b.mu.Unlock()
	if err := b.event("linked", o.key); err != nil {
		return fmt.Errorf("put %s: %w", o.key, err)
	}
	return nil
}

// found records that the object key exists and that this add relies on it
// without writing it: its folder is fsynced in commit like those of new
// objects, since another add may have linked it and not yet synced the
// folder.
func (b *localBatch) found(key string) {
	path, err := b.l.Path(key)
	if err != nil {
		return
	}
	b.mu.Lock()
	b.dirs[filepath.Dir(path)] = true
	b.mu.Unlock()
}

// drain closes the queue and waits for the syncers.
func (b *localBatch) drain() {
	b.mu.Lock()
	closed := b.closed
	b.closed = true
	b.mu.Unlock()
	if !closed {
		close(b.pending)
	}
	b.syncers.Wait()
}

// commit waits until every staged object is durable under its final name
// and fsyncs the folders that received names, so they survive a crash. An
// error means some objects may be missing; none is ever visible with
// bytes that were not synced first.
func (b *localBatch) commit(ctx context.Context) error {
	b.drain()
	if err := b.failed(); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	dirs := make([]string, 0, len(b.dirs))
	for d := range b.dirs {
		dirs = append(dirs, d)
	}
	err := forEach(ctx, len(dirs), batchDirSyncers, func(ctx context.Context, i int) error {
		if err := syncDir(dirs[i]); err != nil {
			return fmt.Errorf("sync folder %s: %w", dirs[i], err)
		}
		return nil
	})
	if err != nil {
		return err
	}
	return b.event("committed", "")
}

// abort stops the batch: staged objects not yet linked are removed, not
// linked. Objects already linked stay; they are complete and synced, and
// unreferenced until an add lists them (GC removes them, a retry reuses
// them).
func (b *localBatch) abort() {
	b.mu.Lock()
	b.aborted = true
	b.mu.Unlock()
	b.drain()
}

// removeStale removes (or, with dryRun, counts) the files directly in dir
// that match and were last modified before cutoff. A missing dir is
// empty.
func removeStale(dir string, cutoff time.Time, match func(name string) bool, dryRun bool) (n int, size int64, err error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return 0, 0, nil
		}
		return 0, 0, err
	}
	for _, e := range entries {
		if e.IsDir() || !match(e.Name()) {
			continue
		}
		fi, err := e.Info()
		if err != nil || !fi.ModTime().Before(cutoff) {
			continue // gone meanwhile, or young
		}
		if !dryRun {
			if err := os.Remove(filepath.Join(dir, e.Name())); err != nil {
				if errors.Is(err, fs.ErrNotExist) {
					continue
				}
				return n, size, err
			}
		}
		n++
		size += fi.Size()
	}
	return n, size, nil
}

// removeStaleTemps removes (or counts) what crashed writers left in the
// store: staging files of batches and Put's temporary files in the shard
// folders of files/ and chunks/, last modified before cutoff. GC calls it.
func (l *Local) removeStaleTemps(ctx context.Context, cutoff time.Time, dryRun bool) (n int, size int64, err error) {
	add := func(k int, s int64, err error) error {
		n += k
		size += s
		return err
	}
	if err := add(removeStale(filepath.Join(l.root, stageDir), cutoff, func(string) bool { return true }, dryRun)); err != nil {
		return n, size, fmt.Errorf("remove stale temporary files in %s: %w", l.root, err)
	}
	isTemp := func(name string) bool { return strings.HasPrefix(name, tempPrefix) }
	for _, top := range []string{fileDir, chunkDir} {
		shards, err := os.ReadDir(filepath.Join(l.root, filepath.FromSlash(top)))
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return n, size, fmt.Errorf("remove stale temporary files in %s: %w", l.root, err)
		}
		for _, s := range shards {
			if err := ctx.Err(); err != nil {
				return n, size, err
			}
			if !s.IsDir() || strings.HasPrefix(s.Name(), ".") {
				continue
			}
			dir := filepath.Join(l.root, filepath.FromSlash(top), s.Name())
			if err := add(removeStale(dir, cutoff, isTemp, dryRun)); err != nil {
				return n, size, fmt.Errorf("remove stale temporary files in %s: %w", l.root, err)
			}
		}
	}
	return n, size, nil
}
