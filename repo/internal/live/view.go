package live

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// A live store (repo.StartLive; the server is one) keeps the acknowledged
// state in memory instead of re-reading the journal for every request: the
// tip it was read at, and the records of every pending journal file grouped
// by run. Files this process writes are known from memory when they are
// written (Written); files of other processes are read once.
//
// Runs that a request needs are materialized (committed manifest plus the
// pending records, in journal order) and kept until the tip moves; later
// files are applied to them incrementally. The files themselves stay the
// truth: a process that dies loses nothing but this cache.

// Store is what the view needs of the store; package repo builds it.
type Store struct {
	// JournalDir is the journal folder, GitDir the Git directory and
	// RefPath the file of the tracking branch's ref (watched).
	JournalDir, GitDir, RefPath string
	// PendingLock and CheckpointLock are the lock files that order
	// readers and checkpoints; Intent is a checkpoint's intent file,
	// there while a checkpoint is between moving the branch and removing
	// the files it folded.
	PendingLock, CheckpointLock, Intent string
	// Spares is how many spare journal files to keep at least (made at
	// start, then made again in the background as writes use them).
	Spares int
	// Writer appends the journal; the view observes it.
	Writer *journal.Writer

	// Tip returns the tracking branch's tip (zero before the first
	// commit); CommitTree the tree of a commit (zero for a zero commit).
	Tip        func() (plumbing.Hash, error)
	CommitTree func(commit plumbing.Hash) (plumbing.Hash, error)
	// ReadRun returns the run committed in tree (of commit tip), nil when
	// there is none; ReadExperiment an experiment of it. The view may keep
	// what they return: they must return copies of shared manifests.
	ReadRun        func(tip, tree plumbing.Hash, id string) (*manifest.Run, error)
	ReadExperiment func(tip, tree plumbing.Hash, id string) (*manifest.Experiment, error)

	// Thresholds returns the checkpoint thresholds of a store that is not
	// live: files, bytes and age of the pending journal.
	Thresholds func() (files int, bytes int64, age time.Duration)
	// Checkpoint runs a checkpoint, waiting for the checkpoint lock;
	// CheckpointLocked runs one under the lock held; RecoverIntent
	// finishes an interrupted checkpoint under the lock held.
	Checkpoint       func()
	CheckpointLocked func()
	RecoverIntent    func()
}

// ErrNoRun is what WithRun and GetRun return for a run that does not
// exist.
var ErrNoRun = errors.New("run does not exist")

// Start returns the view of the store s, synced: the watch starts before
// the first listing, so that no change falls in between. Begin then makes
// it observe the writer and start its checkpointer.
func Start(s Store) (*View, error) {
	v := &View{s: s, own: map[string]*ownFile{}, byName: map[string]*journal.File{}, runs: map[string]*Run{},
		exps: map[string]*manifest.Experiment{}, kick: make(chan struct{}, 1), stop: make(chan struct{}), done: make(chan struct{}), kept: make(chan struct{})}
	v.syncCond = sync.NewCond(&v.syncMu)
	if err := os.MkdirAll(filepath.Join(s.JournalDir, "tmp"), 0o755); err != nil {
		return nil, err
	}
	s.Writer.RemoveDeadSpares()
	v.w = journal.NewWatcher(s.JournalDir, s.GitDir, s.RefPath)
	if err := v.sync(); err != nil {
		v.w.Close()
		return nil, err
	}
	return v, nil
}

// Begin makes the view learn of the files the writer writes and starts
// the background checkpoints that writes ask for.
func (v *View) Begin() {
	v.s.Writer.SetObserver(v)
	go v.checkpointer()
	go func() {
		defer close(v.kept)
		v.s.Writer.KeepSpares(v.s.Spares, v.stop)
	}()
}

// Stop stops the background checkpoints and the watch; it does not
// checkpoint. The view must not be used after.
func (v *View) Stop() {
	close(v.stop)
	<-v.done
	<-v.kept
	v.s.Writer.SetObserver(nil)
	v.w.Close()
}

// Close ends a view that did not Begin.
func (v *View) Close() { v.w.Close() }

// Tip returns the tip the view is at.
func (v *View) Tip() plumbing.Hash {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.tip
}

// Written implements journal.Observer: the view learns a file's records
// from memory before any reader can list the file.
func (v *View) Written(name string, size int64, reqs []*journal.Request) {
	v.addOwn(journal.WrittenFile(name, size, reqs))
}

// Unwritten implements journal.Observer.
func (v *View) Unwritten(name string) { v.dropOwn(name) }

// View is the live view of one store's tracking branch and journal. Its
// methods may be called concurrently; each read first syncs.
type View struct {
	s Store

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
	order    []*journal.File // pending files at tip, by name (write order)
	byName   map[string]*journal.File
	bytes    int64
	own      map[string]*ownFile
	runs     map[string]*Run
	exps     map[string]*manifest.Experiment
	verSeq   uint64

	w     *journal.Watcher // nil: list and read on every sync
	evs   []journal.Event
	stash []journal.Event // events to apply at the next sync

	kick chan struct{}
	// soon is set while a CheckpointWithin timer is pending.
	soon atomic.Bool
	stop chan struct{}
	done chan struct{}
	kept chan struct{} // closed when KeepSpares has returned
}

type ownFile struct {
	f  *journal.File
	at time.Time
}

// Run is a materialized run: its committed manifest at the view's tip
// plus every pending record up to file last. Doc is nil when the run does
// not exist. Ver changes whenever Doc does.
type Run struct {
	Doc  *manifest.Run
	Ver  uint64
	last string
}

// maxLiveRuns bounds the materialized runs kept between tip moves.
const maxLiveRuns = 20000

// checkpointer runs the checkpoints that writes ask for.
func (v *View) checkpointer() {
	defer close(v.done)
	for {
		select {
		case <-v.stop:
			return
		case <-v.kick:
			l, err := gitobj.LockFile(v.s.CheckpointLock, true, false, 0)
			if err != nil {
				// Another process is checkpointing: it may have listed
				// the journal before the records that asked for this one.
				v.CheckpointWithin(100 * time.Millisecond)
				continue
			}
			v.s.CheckpointLocked()
			l.Unlock()
		}
	}
}

// FilesFactor raises the file threshold of a live store: it never
// re-reads the files, so their number costs it nothing, and fewer,
// larger checkpoints cost less. The byte and age thresholds stay.
const FilesFactor = 4

// AfterWrite asks for a checkpoint when the journal is over a threshold.
// Far over it (the checkpoints do not keep up), the writer checkpoints
// itself before it returns, which bounds the journal and this memory.
func (v *View) AfterWrite() {
	maxFiles, maxBytes, maxAge := v.s.Thresholds()
	v.mu.Lock()
	n, size := len(v.order), v.bytes
	for _, o := range v.own {
		n++
		size += o.f.Size
	}
	var oldest int64
	if len(v.order) > 0 {
		oldest = v.order[0].Nanos
	}
	v.mu.Unlock()
	if n < FilesFactor*maxFiles && size < maxBytes && (oldest == 0 || time.Since(time.Unix(0, oldest)) < maxAge) {
		return
	}
	if n >= 4*FilesFactor*maxFiles || size >= 4*maxBytes {
		v.s.Checkpoint()
		return
	}
	select {
	case v.kick <- struct{}{}:
	default:
	}
}

// CheckpointWithin has the checkpointer run a checkpoint at most d from
// now; the requests made meanwhile share it (group commit of ended runs).
func (v *View) CheckpointWithin(d time.Duration) {
	if !v.soon.CompareAndSwap(false, true) {
		return
	}
	time.AfterFunc(d, func() {
		v.soon.Store(false)
		select {
		case v.kick <- struct{}{}:
		default:
		}
	})
}

// addOwn records the records of a journal file this process is about to
// rename into the folder.
func (v *View) addOwn(f *journal.File) {
	v.mu.Lock()
	v.own[f.Name] = &ownFile{f: f, at: time.Now()}
	v.mu.Unlock()
}

func (v *View) dropOwn(name string) {
	v.mu.Lock()
	delete(v.own, name)
	v.mu.Unlock()
}

// Known returns the records of a journal file if this process has them.
func (v *View) Known(name string) *journal.File {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f := v.byName[name]; f != nil {
		return f
	}
	if o := v.own[name]; o != nil {
		return o.f
	}
	return nil
}

// runLocked returns the materialized run id. v.mu must be held; it is
// released while the committed manifest is read.
func (v *View) runLocked(id string) (*Run, error) {
	for {
		if lr := v.runs[id]; lr != nil {
			return lr, nil
		}
		tip, tree := v.tip, v.baseTree
		v.mu.Unlock()
		var base *manifest.Run
		var err error
		if !tree.IsZero() {
			base, err = v.s.ReadRun(tip, tree, id)
		}
		v.mu.Lock()
		if err != nil {
			return nil, err
		}
		if v.tip != tip || v.runs[id] != nil {
			continue
		}
		lr := &Run{Doc: base}
		for _, f := range v.order {
			if fr := f.Runs[id]; fr != nil {
				lr.Doc = fr.ApplyTo(lr.Doc)
				lr.last = f.Name
			}
		}
		v.verSeq++
		lr.Ver = v.verSeq
		v.runs[id] = lr
		return lr, nil
	}
}

// WithRun syncs and calls fn with the run as acknowledged, under the view's
// lock: fn must be quick and must not change doc.
func (v *View) WithRun(id string, fn func(doc *manifest.Run) error) error {
	if err := v.sync(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	lr, err := v.runLocked(id)
	if err != nil {
		return err
	}
	if lr.Doc == nil {
		return ErrNoRun
	}
	return fn(lr.Doc)
}

// GetRun returns a copy of the run as acknowledged.
func (v *View) GetRun(id string) (*manifest.Run, error) {
	var out *manifest.Run
	err := v.WithRun(id, func(doc *manifest.Run) error {
		out = journal.CloneRun(doc)
		return nil
	})
	return out, err
}

// PendingPoints returns the tree of the live tip and the run's pending
// metric points (of the keys want accepts), in journal order, and whether
// a pending record creates the run.
func (v *View) PendingPoints(id string, want func(string) bool) (plumbing.Hash, []manifest.MetricPoint, bool, error) {
	if err := v.sync(); err != nil {
		return plumbing.ZeroHash, nil, false, err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	var pts []manifest.MetricPoint
	created := false
	for _, f := range v.order {
		fr := f.Runs[id]
		if fr == nil {
			continue
		}
		for _, o := range fr.Ops {
			created = created || o.Op == journal.OpCreate
		}
		for _, p := range fr.Points {
			if want(p.Key) {
				pts = append(pts, p)
			}
		}
	}
	return v.baseTree, pts, created, nil
}

// Experiment returns an experiment of the live tip (shared: read only).
func (v *View) Experiment(id string) (*manifest.Experiment, error) {
	if err := v.sync(); err != nil {
		return nil, err
	}
	v.mu.Lock()
	e, tip, tree := v.exps[id], v.tip, v.baseTree
	v.mu.Unlock()
	if e != nil {
		return e, nil
	}
	e, err := v.s.ReadExperiment(tip, tree, id)
	if err != nil {
		return nil, err
	}
	v.mu.Lock()
	if v.tip == tip {
		v.exps[id] = e
	}
	v.mu.Unlock()
	return e, nil
}

// PendingRuns returns, under the view's lock, every run with pending
// records, materialized, and the tip they apply to. fn must not keep or
// change the docs.
func (v *View) PendingRuns(fn func(tip plumbing.Hash, runs map[string]*Run)) error {
	if err := v.sync(); err != nil {
		return err
	}
	v.mu.Lock()
	defer v.mu.Unlock()
	for {
		tip := v.tip
		out := map[string]*Run{}
		ok := true
		for _, f := range v.order {
			for id := range f.Runs {
				if _, done := out[id]; done {
					continue
				}
				lr, err := v.runLocked(id)
				if err != nil {
					return err
				}
				if v.tip != tip {
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
