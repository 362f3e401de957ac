package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// A live Repo (StartLive; the server is one) keeps the acknowledged state
// in memory instead of re-reading the journal for every request: the tip
// it was read at, and the records of every pending journal file grouped by
// run. Files this process writes are known from memory when they are
// written (group.go); files of other processes are read once.
//
// Every request first syncs (concurrent requests share one sync). With
// inotify (group_watch_linux.go) a sync reads the queued events of the
// journal folder, the branch ref and packed-refs, usually none or only
// this process's own new files, which apply without any lock. A moved
// branch and removed files apply together under the shared pending lock,
// re-reading the tip; if a checkpoint holds that lock (it is between moving
// the branch and removing the files it folded), the view keeps its tip,
// takes the new files, and applies the rest at a later sync. A file in the
// folder is pending at the view's tip whatever checkpoint may since have
// folded it, so the view is always a state the store was in, plus files
// acknowledged since. Without inotify a sync lists the folder and reads the
// ref under the lock.
//
// Runs that a request needs are materialized (committed manifest plus the
// pending records, in journal order) and kept until the tip moves; later
// files are applied to them incrementally. The files themselves stay the
// truth: a process that dies loses nothing but this cache.

// LiveOptions configure StartLive.
type LiveOptions struct {
	// Index keeps an in-memory run index that SearchRuns then uses,
	// built at start from the index cache and updated incrementally.
	Index bool
}

type liveState struct {
	r *Repo

	// Syncs are coalesced: a caller needs one sync that started after it
	// arrived, and every caller waiting at that moment shares it.
	syncMu   sync.Mutex
	syncCond *sync.Cond
	started  uint64
	finished uint64
	syncing  bool
	syncErr  error

	mu       sync.Mutex
	synced   bool
	tip      plumbing.Hash
	baseTree plumbing.Hash
	order    []*liveFile // pending files at tip, by name (write order)
	byName   map[string]*liveFile
	bytes    int64
	own      map[string]*ownFile
	runs     map[string]*liveRun
	exps     map[string]*manifest.Experiment
	verSeq   uint64

	w     *journal.Watcher // nil: list and read on every sync
	evs   []journal.Event
	stash []journal.Event // events to apply at the next sync

	kick chan struct{}
	stop chan struct{}
	done chan struct{}

	index *memIndex
}

// liveFile is one pending journal file's records, grouped by run. It never
// changes once made.
type liveFile struct {
	name  string
	size  int64
	nanos int64 // from the name: when it was written
	runs  map[string]*fileRecs
	order []string // runs, by first record
	n     int      // records
	bad   string   // why the file could not be decoded (it has no records)
}

type fileRecs struct {
	ops    []journal.Op // every record but metric points, in order
	points []manifest.MetricPoint
	// seg is points encoded as segment lines, when this process wrote
	// them (noSeg: it did not).
	seg   []byte
	noSeg bool
}

type ownFile struct {
	f  *liveFile
	at time.Time
}

// liveRun is a materialized run: its committed manifest at the live tip
// plus every pending record up to file last. doc is nil when the run does
// not exist. ver changes whenever doc does.
type liveRun struct {
	doc  *manifest.Run
	last string
	ver  uint64
}

// maxLiveRuns bounds the materialized runs kept between tip moves.
const maxLiveRuns = 20000

// StartLive makes r keep its acknowledged state in memory for a
// long-lived process that serves many requests (mlgit server): journal
// appends of concurrent goroutines are group-committed as always, writes
// are validated and runs read without re-reading the journal, checkpoints
// triggered by writes run in a background goroutine, and with o.Index
// SearchRuns uses an in-memory index. Call it before r is used
// concurrently; StopLive ends it. Starting a live Repo again does nothing.
func (r *Repo) StartLive(o LiveOptions) error {
	if r.live != nil {
		return nil
	}
	ls := &liveState{r: r, own: map[string]*ownFile{}, byName: map[string]*liveFile{}, runs: map[string]*liveRun{},
		exps: map[string]*manifest.Experiment{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{})}
	ls.syncCond = sync.NewCond(&ls.syncMu)
	// The watch starts before the first listing, so that no change falls
	// in between.
	if err := os.MkdirAll(filepath.Join(r.journalDir(), "tmp"), 0o755); err != nil {
		return err
	}
	r.group.RemoveDeadSpares()
	ls.w = journal.NewWatcher(r.journalDir(), r.gitDir, filepath.Join(r.gitDir, filepath.FromSlash(r.BranchRef())))
	if err := ls.sync(); err != nil {
		ls.w.Close()
		return err
	}
	if o.Index {
		mi, err := newMemIndex(r, ls)
		if err != nil {
			return err
		}
		ls.index = mi
	}
	r.live = ls
	r.group.SetObserver(ls)
	go ls.checkpointer()
	return nil
}

// StopLive stops the background checkpoints and saves the run index cache;
// r then reads the journal from disk again. Call it when r is no longer
// used concurrently (after the server stopped); it does not checkpoint.
func (r *Repo) StopLive() error {
	ls := r.live
	if ls == nil {
		return nil
	}
	close(ls.stop)
	<-ls.done
	r.live = nil
	r.group.SetObserver(nil)
	ls.w.Close()
	if ls.index != nil {
		return ls.index.saveCache()
	}
	return nil
}

// checkpointer runs the checkpoints that writes ask for.
func (ls *liveState) checkpointer() {
	defer close(ls.done)
	ls.r.group.MakeSpares(initialSpares, ls.stop)
	for {
		select {
		case <-ls.stop:
			return
		case <-ls.kick:
			l, err := gitobj.LockFile(ls.r.checkpointLockPath(), true, false, 0)
			if err != nil {
				continue // another process is checkpointing
			}
			ls.r.checkpointLocked()
			l.Unlock()
		}
	}
}

// liveFilesFactor raises the file threshold of a live Repo: it never
// re-reads the files, so their number costs it nothing, and fewer,
// larger checkpoints cost less. The byte and age thresholds stay.
const liveFilesFactor = 4

// afterWrite asks for a checkpoint when the journal is over a threshold.
// Far over it (the checkpoints do not keep up), the writer checkpoints
// itself before it returns, which bounds the journal and this memory.
func (ls *liveState) afterWrite() {
	ls.mu.Lock()
	n, size := len(ls.order), ls.bytes
	for _, o := range ls.own {
		n++
		size += o.f.size
	}
	var oldest int64
	if len(ls.order) > 0 {
		oldest = ls.order[0].nanos
	}
	ls.mu.Unlock()
	if n < liveFilesFactor*CheckpointMaxFiles && size < CheckpointMaxBytes && (oldest == 0 || time.Since(time.Unix(0, oldest)) < CheckpointMaxAge) {
		return
	}
	if n >= 4*liveFilesFactor*CheckpointMaxFiles || size >= 4*CheckpointMaxBytes {
		ls.r.Checkpoint()
		return
	}
	select {
	case ls.kick <- struct{}{}:
	default:
	}
}

// addOwn records the records of a journal file this process is about to
// rename into the folder.
func (ls *liveState) addOwn(f *liveFile) {
	ls.mu.Lock()
	ls.own[f.name] = &ownFile{f: f, at: time.Now()}
	ls.mu.Unlock()
}

func (ls *liveState) dropOwn(name string) {
	ls.mu.Lock()
	delete(ls.own, name)
	ls.mu.Unlock()
}

func newLiveFile(name string, size int64, ops []journal.Op) *liveFile {
	f := &liveFile{name: name, size: size, runs: map[string]*fileRecs{}}
	if i := strings.IndexByte(name, '-'); i > 0 {
		f.nanos, _ = strconv.ParseInt(name[:i], 10, 64)
	}
	f.add(ops)
	return f
}

// recs returns the records of run, added if new.
func (f *liveFile) recs(run string) *fileRecs {
	fr := f.runs[run]
	if fr == nil {
		fr = &fileRecs{}
		f.runs[run] = fr
		f.order = append(f.order, run)
	}
	return fr
}

// add adds records in order.
func (f *liveFile) add(ops []journal.Op) {
	var last *fileRecs
	lastRun := ""
	for _, o := range ops {
		fr := last
		if fr == nil || o.Run != lastRun {
			fr = f.recs(o.Run)
			last, lastRun = fr, o.Run
		}
		if o.Op == journal.OpMetric {
			fr.points = append(fr.points, o.Point)
			fr.noSeg = true
		} else {
			fr.ops = append(fr.ops, o)
		}
		f.n++
	}
}

// applyRecs applies one file's records of a run to doc (nil: the run does
// not exist yet) and returns the run: as foldJournal does, records in
// order, then the file's metric points.
func applyRecs(doc *manifest.Run, fr *fileRecs) *manifest.Run {
	for _, o := range fr.ops {
		if o.Op == journal.OpCreate {
			if doc == nil && o.Doc != nil {
				doc = cloneRun(o.Doc)
			}
			continue
		}
		if doc != nil {
			journal.Apply(doc, o)
		}
	}
	if doc != nil {
		doc.Metrics = journal.AddPoints(doc.Metrics, fr.points)
	}
	return doc
}

// sync brings the live state up to date with the branch and the journal
// as they are now: it returns after a sync that started after the call.
func (ls *liveState) sync() error {
	ls.syncMu.Lock()
	defer ls.syncMu.Unlock()
	want := ls.started + 1
	for ls.finished < want {
		if ls.syncing {
			ls.syncCond.Wait()
			continue
		}
		ls.syncing = true
		ls.started++
		n := ls.started
		ls.syncMu.Unlock()
		err := ls.doSync()
		ls.syncMu.Lock()
		ls.syncing = false
		ls.finished, ls.syncErr = n, err
		ls.syncCond.Broadcast()
	}
	return ls.syncErr
}

func (ls *liveState) doSync() error {
	if ls.w == nil || !ls.synced {
		return ls.fullSync()
	}
	// Events a previous sync could not apply yet come first.
	evs := ls.w.Poll(append(ls.evs[:0], ls.stash...))
	ls.evs, ls.stash = evs[:0], ls.stash[:0]
	if len(evs) == 0 {
		return nil // nothing changed
	}
	// New journal files can be applied alone and without a lock: a file
	// that is in the folder is pending at the tip of the view, whatever
	// checkpoint may since have folded it. A moved branch and removed
	// files must be applied together, under the pending lock.
	onlyAdds := true
	for _, e := range evs {
		if e.Kind != journal.EvOther && e.Kind != journal.EvJournalAdd {
			onlyAdds = false
		}
	}
	if onlyAdds {
		if complete, err := ls.applyAdds(evs); err != nil || complete {
			return err
		}
		return ls.lockedSync(evs) // a file went before we read it
	}
	l, err := gitobj.LockFile(ls.r.pendingLockPath(), false, false, 0)
	if err == nil {
		return ls.lockedSyncHeld(l, evs)
	}
	if !errors.Is(err, ErrLocked) {
		return err
	}
	// A checkpoint is between moving the branch and removing the files it
	// folded. Rather than wait for its ref update, keep the view at the
	// tip it has, add the new files, and apply the rest next time.
	for _, e := range evs {
		if e.Kind == journal.EvLost || e.Kind == journal.EvBroken {
			return ls.lockedSync(evs)
		}
	}
	complete, err := ls.applyAdds(evs)
	if err != nil {
		return err
	}
	if !complete {
		return ls.lockedSync(evs)
	}
	ls.stash = append(ls.stash, evs...)
	return nil
}

// newFile returns the journal file n for the view to add: nil when the
// view has it already; this process's own copy when it wrote it; else the
// file read from disk (gone is set when it was already removed).
func (ls *liveState) newFile(n string) (f *liveFile, gone bool, err error) {
	ls.mu.Lock()
	known, own := ls.byName[n], ls.own[n]
	ls.mu.Unlock()
	switch {
	case known != nil:
		return nil, false, nil
	case own != nil:
		return own.f, false, nil
	}
	f, err = ls.readFile(n)
	return f, err == nil && f == nil, err
}

// applyAdds applies the new journal files among evs, without a lock. It
// returns complete false when a file was gone before it could be read
// (its records are in a commit the view does not have yet).
func (ls *liveState) applyAdds(evs []journal.Event) (complete bool, err error) {
	var added []*liveFile
	var names []string
	for _, e := range evs {
		if e.Kind == journal.EvJournalAdd {
			names = append(names, e.Name)
		}
	}
	sort.Strings(names)
	complete = true
	for i, n := range names {
		if i > 0 && names[i-1] == n {
			continue
		}
		f, gone, err := ls.newFile(n)
		if err != nil {
			return false, err
		}
		if gone {
			complete = false
		}
		if f != nil {
			added = append(added, f)
		}
	}
	ls.apply(false, ls.tip, ls.baseTree, nil, added)
	return complete, nil
}

// lockedSync applies evs and everything queued since under the pending
// lock, waiting for it.
func (ls *liveState) lockedSync(evs []journal.Event) error {
	l, err := gitobj.LockFile(ls.r.pendingLockPath(), false, true, gitobj.LockTimeout)
	if err != nil {
		return err
	}
	return ls.lockedSyncHeld(l, evs)
}

func (ls *liveState) lockedSyncHeld(l *gitobj.FileLock, evs []journal.Event) error {
	// Under the lock no checkpoint is between moving the branch and
	// deleting its files: everything queued until now is a consistent
	// change.
	evs = ls.w.Poll(evs)
	for _, e := range evs {
		switch e.Kind {
		case journal.EvBroken:
			ls.w.Close()
			ls.w = nil
			fallthrough
		case journal.EvLost:
			l.Unlock()
			return ls.fullSync()
		}
	}
	retry, err := ls.applyEvents(evs, true)
	l.Unlock()
	if err != nil || !retry {
		return err
	}
	ls.recoverCheckpoint()
	return ls.fullSync()
}

// applyEvents applies watched changes; locked says the caller holds the
// pending lock (needed for anything but this process's own new files). It
// returns retry when the branch moved and an interrupted checkpoint must
// be recovered first.
func (ls *liveState) applyEvents(evs []journal.Event, locked bool) (retry bool, err error) {
	r := ls.r
	refMoved := false
	adds := map[string]bool{}
	var addOrder []string
	gone := map[string]bool{}
	for _, e := range evs {
		switch e.Kind {
		case journal.EvRef:
			refMoved = true
		case journal.EvJournalAdd:
			if !adds[e.Name] {
				adds[e.Name] = true
				addOrder = append(addOrder, e.Name)
			}
		case journal.EvJournalGone:
			gone[e.Name] = true
		}
	}
	// A file added and gone is not added; gone, it is removed if the view
	// has it (an earlier sync may have added it). Names are never reused.
	for n := range gone {
		delete(adds, n)
	}
	tip, tree, tipMoved := ls.tip, ls.baseTree, false
	if refMoved && locked {
		if tip, err = r.tip(); err != nil {
			return false, err
		}
		if tipMoved = tip != ls.tip; tipMoved {
			if _, err := os.Stat(r.intentPath()); err == nil {
				return true, nil
			}
			if tree, err = r.commitTree(tip); err != nil {
				return false, err
			}
		}
	}
	var added []*liveFile
	sort.Strings(addOrder)
	for _, n := range addOrder {
		if !adds[n] {
			continue
		}
		f, _, err := ls.newFile(n)
		if err != nil {
			return false, err
		}
		if f != nil {
			added = append(added, f)
		}
	}
	ls.apply(tipMoved, tip, tree, gone, added)
	return false, nil
}

// fullSync lists the journal folder and reads the tip under the pending
// lock: at start, without a watcher, or when events were lost.
func (ls *liveState) fullSync() error {
	for attempt := 0; ; attempt++ {
		l, err := gitobj.LockFile(ls.r.pendingLockPath(), false, true, gitobj.LockTimeout)
		if err != nil {
			return err
		}
		if ls.w != nil {
			ls.evs = ls.w.Poll(ls.evs[:0])[:0] // the listing below covers them
		}
		ls.stash = ls.stash[:0]
		retry, err := ls.syncLocked(attempt == 0)
		l.Unlock()
		if err != nil || !retry {
			return err
		}
		ls.recoverCheckpoint()
	}
}

// recoverCheckpoint finishes a checkpoint that died between moving the
// branch and deleting the files it folded (or waits briefly for the
// checkpoint that does).
func (ls *liveState) recoverCheckpoint() {
	if cl, err := gitobj.LockFile(ls.r.checkpointLockPath(), true, true, 200*time.Millisecond); err == nil {
		ls.r.recoverIntent()
		cl.Unlock()
	}
}

func (r *Repo) commitTree(commit plumbing.Hash) (plumbing.Hash, error) {
	if commit.IsZero() {
		return plumbing.ZeroHash, nil
	}
	c, err := r.objects.ReadCommit(commit)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return c.TreeHash, nil
}

// readFile reads a journal file of another process; nil if it is gone.
func (ls *liveState) readFile(name string) (*liveFile, error) {
	data, err := os.ReadFile(filepath.Join(ls.r.journalDir(), name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return parseLiveFile(name, data), nil
}

// parseLiveFile decodes a journal file; a corrupt one has no records and
// says why (a checkpoint skips it).
func parseLiveFile(name string, data []byte) *liveFile {
	ops, err := journal.Decode(data)
	f := newLiveFile(name, int64(len(data)), ops)
	if err != nil {
		f.bad = err.Error()
	}
	return f
}

// known returns the records of a journal file if this process has them.
func (ls *liveState) known(name string) *liveFile {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if f := ls.byName[name]; f != nil {
		return f
	}
	if o := ls.own[name]; o != nil {
		return o.f
	}
	return nil
}

// syncLocked reads the tip and lists the journal under the shared pending
// lock. It returns retry when it found an interrupted checkpoint to
// recover.
func (ls *liveState) syncLocked(checkIntent bool) (retry bool, err error) {
	r := ls.r
	tip, err := r.tip()
	if err != nil {
		return false, err
	}
	names, err := listJournal(r.journalDir())
	if err != nil {
		return false, err
	}
	listed := make(map[string]bool, len(names))
	for _, n := range names {
		listed[n] = true
	}
	ls.mu.Lock()
	tipMoved := !ls.synced || tip != ls.tip
	gone := map[string]bool{}
	for _, f := range ls.order {
		if !listed[f.name] {
			gone[f.name] = true
		}
	}
	var fresh []string
	known := map[string]*liveFile{}
	for _, n := range names {
		if ls.byName[n] != nil {
			continue
		}
		fresh = append(fresh, n)
		if o := ls.own[n]; o != nil {
			known[n] = o.f
		}
	}
	ls.mu.Unlock()
	if !tipMoved && len(fresh) == 0 && len(gone) == 0 {
		return false, nil
	}
	if tipMoved && checkIntent {
		if _, err := os.Stat(r.intentPath()); err == nil {
			return true, nil
		}
	}
	tree := ls.baseTree
	if tipMoved {
		if tree, err = r.commitTree(tip); err != nil {
			return false, err
		}
	}
	// Files of other processes are read once, here.
	added := make([]*liveFile, 0, len(fresh))
	for _, n := range fresh {
		if f := known[n]; f != nil {
			added = append(added, f)
			continue
		}
		f, err := ls.readFile(n)
		if err != nil {
			return false, err
		}
		if f != nil {
			added = append(added, f)
		}
	}
	ls.apply(tipMoved, tip, tree, gone, added)
	return false, nil
}

// apply changes the state: the tip (if moved), files gone, files added
// (sorted by name).
func (ls *liveState) apply(tipMoved bool, tip, tree plumbing.Hash, gone map[string]bool, added []*liveFile) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	if tipMoved || !ls.synced {
		ls.synced, ls.tip, ls.baseTree = true, tip, tree
		ls.runs = map[string]*liveRun{}
		ls.exps = map[string]*manifest.Experiment{}
	}
	removed := false
	for n := range gone {
		f := ls.byName[n]
		if f == nil {
			continue
		}
		removed = true
		delete(ls.byName, n)
		ls.bytes -= f.size
		for id := range f.runs {
			delete(ls.runs, id)
		}
	}
	if removed {
		kept := make([]*liveFile, 0, len(ls.order))
		for _, f := range ls.order {
			if ls.byName[f.name] == f {
				kept = append(kept, f)
			}
		}
		ls.order = kept
	}
	if len(added) > 0 {
		merged := make([]*liveFile, 0, len(ls.order)+len(added))
		a, b := ls.order, added
		for len(a) > 0 || len(b) > 0 {
			if len(b) == 0 || (len(a) > 0 && a[0].name < b[0].name) {
				merged = append(merged, a[0])
				a = a[1:]
			} else {
				merged = append(merged, b[0])
				b = b[1:]
			}
		}
		ls.order = merged
		for _, f := range added {
			ls.byName[f.name] = f
			ls.bytes += f.size
			delete(ls.own, f.name)
			for id, fr := range f.runs {
				lr := ls.runs[id]
				if lr == nil {
					continue
				}
				if f.name > lr.last {
					lr.doc = applyRecs(lr.doc, fr)
					lr.last = f.name
					ls.verSeq++
					lr.ver = ls.verSeq
				} else {
					// Written earlier than records already applied (another
					// process): materialize again, in order.
					delete(ls.runs, id)
				}
			}
		}
	}
	// Own files not listed a second after they were written were folded
	// before any sync saw them (were one still to come, it would be read
	// from disk).
	for n, o := range ls.own {
		if time.Since(o.at) > time.Second {
			delete(ls.own, n)
		}
	}
	if len(ls.runs) > maxLiveRuns {
		ls.runs = map[string]*liveRun{}
	}
}

// listJournal returns the names of the pending journal files, sorted.
func listJournal(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	all, err := d.Readdirnames(-1)
	d.Close()
	if err != nil {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if strings.HasSuffix(n, ".jnl") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// runLocked returns the materialized run id. ls.mu must be held; it is
// released while the committed manifest is read.
func (ls *liveState) runLocked(id string) (*liveRun, error) {
	for {
		if lr := ls.runs[id]; lr != nil {
			return lr, nil
		}
		tip, tree := ls.tip, ls.baseTree
		ls.mu.Unlock()
		var base *manifest.Run
		var err error
		if !tree.IsZero() {
			tx := ls.r.txOnTree(tip, tree)
			base, err = readRunTx(tx, id)
			if errors.Is(err, ErrNotFound) {
				base, err = nil, nil
			}
		}
		ls.mu.Lock()
		if err != nil {
			return nil, err
		}
		if ls.tip != tip || ls.runs[id] != nil {
			continue
		}
		lr := &liveRun{doc: base}
		for _, f := range ls.order {
			if fr := f.runs[id]; fr != nil {
				lr.doc = applyRecs(lr.doc, fr)
				lr.last = f.name
			}
		}
		ls.verSeq++
		lr.ver = ls.verSeq
		ls.runs[id] = lr
		return lr, nil
	}
}

// withRun syncs and calls fn with the run as acknowledged, under the live
// lock: fn must be quick and must not change doc.
func (ls *liveState) withRun(id string, fn func(doc *manifest.Run) error) error {
	if err := ls.sync(); err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	lr, err := ls.runLocked(id)
	if err != nil {
		return err
	}
	if lr.doc == nil {
		return fmt.Errorf("%w: run %s does not exist (list runs with mlgit run list)", ErrNotFound, id)
	}
	return fn(lr.doc)
}

// getRun returns a copy of the run as acknowledged.
func (ls *liveState) getRun(id string) (*manifest.Run, error) {
	var out *manifest.Run
	err := ls.withRun(id, func(doc *manifest.Run) error {
		out = cloneRun(doc)
		return nil
	})
	return out, err
}

// pendingPoints returns the tree of the live tip and the run's pending
// metric points (of the keys want accepts), in journal order, and whether
// a pending record creates the run.
func (ls *liveState) pendingPoints(id string, want func(string) bool) (plumbing.Hash, []manifest.MetricPoint, bool, error) {
	if err := ls.sync(); err != nil {
		return plumbing.ZeroHash, nil, false, err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	var pts []manifest.MetricPoint
	created := false
	for _, f := range ls.order {
		fr := f.runs[id]
		if fr == nil {
			continue
		}
		for _, o := range fr.ops {
			created = created || o.Op == journal.OpCreate
		}
		for _, p := range fr.points {
			if want(p.Key) {
				pts = append(pts, p)
			}
		}
	}
	return ls.baseTree, pts, created, nil
}

// experiment returns an experiment of the live tip (shared: read only).
func (ls *liveState) experiment(id string) (*manifest.Experiment, error) {
	if err := ls.sync(); err != nil {
		return nil, err
	}
	ls.mu.Lock()
	e, tip, tree := ls.exps[id], ls.tip, ls.baseTree
	ls.mu.Unlock()
	if e != nil {
		return e, nil
	}
	tx := ls.r.txOnTree(tip, tree)
	e, err := readExperimentTx(tx, id)
	if err != nil {
		return nil, err
	}
	ls.mu.Lock()
	if ls.tip == tip {
		ls.exps[id] = e
	}
	ls.mu.Unlock()
	return e, nil
}

// pendingRuns returns, under the live lock, every run with pending
// records, materialized, and the tip they apply to. fn must not keep or
// change the docs.
func (ls *liveState) pendingRuns(fn func(tip plumbing.Hash, runs map[string]*liveRun)) error {
	if err := ls.sync(); err != nil {
		return err
	}
	ls.mu.Lock()
	defer ls.mu.Unlock()
	for {
		tip := ls.tip
		out := map[string]*liveRun{}
		ok := true
		for _, f := range ls.order {
			for id := range f.runs {
				if _, done := out[id]; done {
					continue
				}
				lr, err := ls.runLocked(id)
				if err != nil {
					return err
				}
				if ls.tip != tip {
					ok = false
					break
				}
				out[id] = lr
			}
			if !ok {
				break
			}
		}
		if ok {
			fn(tip, out)
			return nil
		}
	}
}
