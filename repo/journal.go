package repo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlgit/mlgit/internal/durable"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

func (r *Repo) journalDir() string { return filepath.Join(r.branchState(), "journal") }

// Two locks (flock, so a killed process never leaves one held) order the
// journal's readers and checkpoints:
//
//   - checkpoint.lock, exclusive, is held by a checkpoint for its whole
//     fold (and by push/pull), so that two processes never fold the same
//     files;
//   - pending.lock is held shared by readers while they read the tip and
//     list and read the pending files, and exclusive by a checkpoint only
//     from just before it moves the branch until it has deleted the files
//     it folded (and by the recovery of an interrupted checkpoint).
//
// A reader therefore never sees a record twice (in the tip and in a file)
// or not at all, and it waits for a checkpoint's ref update and unlinks,
// never for its fold.
func (r *Repo) checkpointLockPath() string { return filepath.Join(r.branchState(), "checkpoint.lock") }

func (r *Repo) pendingLockPath() string { return filepath.Join(r.branchState(), "pending.lock") }

// journalFile is one pending journal file.
type journalFile struct {
	name string
	size int64
	mod  time.Time
}

// pendingFiles lists journal files in write order. run, when not "",
// restricts the list to files that may hold records of that run.
func (r *Repo) pendingFiles(run string) ([]journalFile, error) {
	ents, err := os.ReadDir(r.journalDir())
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []journalFile
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".jnl") || e.IsDir() {
			continue
		}
		if run != "" && !strings.HasSuffix(n, "-"+run+".jnl") && !strings.HasSuffix(n, "-multi.jnl") {
			continue
		}
		fi, err := e.Info()
		if err != nil {
			continue // deleted by a checkpoint meanwhile
		}
		out = append(out, journalFile{name: n, size: fi.Size(), mod: fi.ModTime()})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].name < out[j].name })
	return out, nil
}

// readPendingOpts reads the records of the given files in order (without
// metric points when skipMetrics). Corrupt files are moved to
// journal/corrupt and reported in warnings.
func (r *Repo) readPendingOpts(files []journalFile, skipMetrics bool) ([]journal.Op, []string, error) {
	var ops []journal.Op
	var warnings []string
	for _, f := range files {
		p := filepath.Join(r.journalDir(), f.name)
		data, err := os.ReadFile(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		fops, err := journal.DecodeOpts(data, skipMetrics)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("journal file %s: %v", f.name, err))
			continue
		}
		ops = append(ops, fops...)
	}
	return ops, warnings, nil
}

// snapshot returns the branch tip and the pending journal records (of one
// run, or all when run is ""), read together under a shared lock so a
// concurrent checkpoint can never make a record appear twice or not at all.
func (r *Repo) snapshot(run string) (plumbing.Hash, []journal.Op, error) {
	return r.snapshotOpts(run, false)
}

func (r *Repo) snapshotOpts(run string, skipMetrics bool) (plumbing.Hash, []journal.Op, error) {
	l, err := gitobj.LockFile(r.pendingLockPath(), false, true, gitobj.LockTimeout)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	defer l.Unlock()
	tip, err := r.tip()
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	files, err := r.pendingFiles(run)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if files, err = r.dropFolded(files); err != nil {
		return plumbing.ZeroHash, nil, err
	}
	ops, _, err := r.readPendingOpts(files, skipMetrics)
	if err != nil {
		return plumbing.ZeroHash, nil, err
	}
	if run != "" {
		kept := ops[:0]
		for _, o := range ops {
			if o.Run == run {
				kept = append(kept, o)
			}
		}
		ops = kept
	}
	return tip, ops, nil
}

// Checkpoint thresholds: a write that leaves more pending than this folds
// the journal into a commit (in the writing process, after acknowledging).
var (
	CheckpointMaxFiles       = 256
	CheckpointMaxBytes int64 = 4 << 20
	CheckpointMaxAge         = 30 * time.Second
)

// CheckpointResult says what a checkpoint committed.
type CheckpointResult struct {
	Commit   string   `json:"commit,omitempty"`
	Files    int      `json:"files"`
	Records  int      `json:"records"`
	Runs     int      `json:"runs"`
	Warnings []string `json:"warnings,omitempty"`
}

// maybeCheckpoint runs a checkpoint when the journal is over a threshold
// and no other process is checkpointing.
func (r *Repo) maybeCheckpoint() {
	if v := r.live; v != nil {
		v.AfterWrite()
		return
	}
	files, err := r.pendingFiles("")
	if err != nil || len(files) == 0 {
		return
	}
	var size int64
	for _, f := range files {
		size += f.size
	}
	if len(files) < CheckpointMaxFiles && size < CheckpointMaxBytes && time.Since(files[0].mod) < CheckpointMaxAge {
		return
	}
	l, err := gitobj.LockFile(r.checkpointLockPath(), true, false, 0)
	if err != nil {
		return // someone else is checkpointing
	}
	defer l.Unlock()
	r.checkpointLocked()
}

// Checkpoint folds every pending journal record into one commit on the
// tracking branch. It is safe to run at any time from any process.
func (r *Repo) Checkpoint() (CheckpointResult, error) {
	l, err := gitobj.LockFile(r.checkpointLockPath(), true, true, 2*gitobj.LockTimeout)
	if err != nil {
		return CheckpointResult{}, err
	}
	defer l.Unlock()
	return r.checkpointLocked()
}

func (r *Repo) intentPath() string { return filepath.Join(r.branchState(), "checkpoint.intent") }

// appliedIntent reads the intent of an interrupted checkpoint: whether
// there is one, and the files it folded if its commit reached the branch
// (nil if it did not).
func (r *Repo) appliedIntent() (exists bool, folded map[string]bool, err error) {
	data, err := os.ReadFile(r.intentPath())
	if errors.Is(err, os.ErrNotExist) {
		return false, nil, nil
	}
	if err != nil {
		return false, nil, err
	}
	lines := strings.Split(strings.TrimSpace(string(data)), "\n")
	if len(lines) < 2 || !plumbing.IsHash(lines[0]) {
		return true, nil, nil
	}
	applied, err := r.reachedBranch(plumbing.NewHash(lines[0]), plumbing.NewHash(lines[1]))
	if err != nil || !applied {
		return true, nil, err
	}
	folded = make(map[string]bool, len(lines)-2)
	for _, n := range lines[2:] {
		folded[n] = true
	}
	return true, folded, nil
}

// recoverIntent finishes or discards a checkpoint that a crash interrupted,
// and restores the journal files of dead processes' logs (recoverWALs).
// The caller holds the checkpoint lock.
func (r *Repo) recoverIntent() error {
	exists, folded, err := r.appliedIntent()
	if err != nil {
		return err
	}
	if err := r.recoverWALs(folded); err != nil {
		return err
	}
	if !exists {
		return nil
	}
	if folded != nil {
		// Readers must not see the files next to the commit that
		// holds their records.
		pl, err := gitobj.LockFile(r.pendingLockPath(), true, true, gitobj.LockTimeout)
		if err != nil {
			return err
		}
		defer pl.Unlock()
		for f := range folded {
			if err := os.Remove(filepath.Join(r.journalDir(), f)); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
		if err := durable.SyncDir(r.journalDir()); err != nil {
			return err
		}
	}
	return os.Remove(r.intentPath())
}

// recoverWALs restores what the logs of processes that are gone
// acknowledged (journal.Writer.StartWAL): each journal file a log holds
// that is missing or damaged in the folder (after a power loss) is
// written again from the log, unless a mark of the log or the interrupted
// checkpoint's intent says it was folded; a file of the log it holds no
// frame for is removed; then everything is made durable and the logs are
// deleted.
func (r *Repo) recoverWALs(folded map[string]bool) error {
	dead, err := r.group.DeadWALs()
	if err != nil || len(dead) == 0 {
		return err
	}
	pl, err := gitobj.LockFile(r.pendingLockPath(), true, true, gitobj.LockTimeout)
	if err != nil {
		return err
	}
	defer pl.Unlock()
	present, err := journal.List(r.journalDir())
	if err != nil {
		return err
	}
	for _, d := range dead {
		frames, err := d.Frames()
		if err != nil {
			return fmt.Errorf("read journal log %s: %w", d.ID, err)
		}
		// A file of the log without a frame was never acknowledged (its
		// frame is torn), and after a power loss it may be a recycled
		// file showing its old content: it goes.
		framed := make(map[string]bool, len(frames))
		for _, fr := range frames {
			framed[fr.Name] = true
		}
		for _, n := range present {
			if d.Owns(n) && !framed[n] {
				if err := os.Remove(filepath.Join(r.journalDir(), n)); err != nil && !errors.Is(err, os.ErrNotExist) {
					return err
				}
			}
		}
		marked, err := d.Folded()
		if err != nil {
			return fmt.Errorf("read journal log %s: %w", d.ID, err)
		}
		for _, fr := range frames {
			if folded[fr.Name] || marked[fr.Name] {
				continue
			}
			p := filepath.Join(r.journalDir(), fr.Name)
			if have, err := os.ReadFile(p); err == nil && bytes.Equal(have, fr.Data) {
				continue
			}
			if err := gitobj.WriteFileAtomic(p, fr.Data); err != nil {
				return fmt.Errorf("restore journal file %s: %w", fr.Name, err)
			}
		}
	}
	// The files the logs vouched for may be in the page cache only.
	if err := durable.SyncFS(r.gitDir); err != nil {
		return err
	}
	for _, d := range dead {
		for _, p := range d.Paths {
			if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
		}
	}
	return durable.SyncDir(filepath.Join(r.journalDir(), "wal"))
}

// recoverAfterCrash restores, when a process that logged through a
// write-ahead log is gone, the journal files a power loss may have cost
// (best effort: the next checkpoint retries).
func (r *Repo) recoverAfterCrash() {
	dead, err := r.group.DeadWALs()
	if err != nil || len(dead) == 0 {
		return
	}
	l, err := gitobj.LockFile(r.checkpointLockPath(), true, true, 2*gitobj.LockTimeout)
	if err != nil {
		return
	}
	defer l.Unlock()
	_ = r.recoverIntent()
}

// dropFolded leaves out of files those that an interrupted checkpoint
// (its intent still there, the next checkpoint recovers it) already put on
// the branch: after a crash between the ref move and their removal, the
// branch holds their records and a reader must not count them twice.
func (r *Repo) dropFolded(files []journalFile) ([]journalFile, error) {
	if len(files) == 0 {
		return files, nil
	}
	_, folded, err := r.appliedIntent()
	if err != nil || folded == nil {
		return files, err
	}
	kept := files[:0:0]
	for _, f := range files {
		if !folded[f.name] {
			kept = append(kept, f)
		}
	}
	return kept, nil
}

// reachedBranch reports whether commit is on the tracking branch, walking
// first parents from the tip until it finds commit or its parent.
func (r *Repo) reachedBranch(commit, parent plumbing.Hash) (bool, error) {
	h, err := r.tip()
	if err != nil {
		return false, err
	}
	for i := 0; !h.IsZero() && i < 100000; i++ {
		if h == commit {
			return true, nil
		}
		if h == parent {
			return false, nil
		}
		c, err := r.objects.ReadCommit(h)
		if err != nil {
			return false, err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return false, nil
}

func (r *Repo) checkpointLocked() (CheckpointResult, error) {
	var res CheckpointResult
	if err := r.recoverIntent(); err != nil {
		return res, fmt.Errorf("recover interrupted checkpoint: %w", err)
	}
	// A log's new generation holds what is acknowledged from now on; the
	// earlier ones are dropped once this checkpoint is durable.
	gen, err := r.group.RotateWAL()
	if err != nil {
		return res, err
	}
	names, err := journal.List(r.journalDir())
	if err != nil {
		return res, err
	}
	if len(names) == 0 {
		return res, r.group.DropOldWALs(gen)
	}
	files := make([]journalFile, len(names))
	for i, n := range names {
		files[i].name = n
	}
	recs, warnings, err := r.loadPending(files)
	if err != nil {
		return res, err
	}
	res.Files = len(files)
	for _, f := range recs {
		res.Records += f.N
	}
	res.Warnings = append(res.Warnings, warnings...)
	var stats foldStats
	// pl is the pending lock, taken exclusive just before the branch moves
	// and released once the folded files are gone.
	var pl *gitobj.FileLock
	defer func() { pl.Unlock() }()
	commit, err := r.update(func(tx *Tx) error {
		var err error
		stats, err = foldJournal(tx, recs)
		return err
	}, func(commit, parent plumbing.Hash) error {
		// Exactly once across a power loss: the intent and the commit's
		// objects are durable before the ref moves, the ref move is
		// durable (CAS syncs its folder) before the folded files are
		// removed, and their removal is durable before the intent goes.
		// Whatever survives a loss, recoverIntent then knows whether the
		// files' records are on the branch. Only what the commit needs is
		// synced, not the file system: the files of a write-ahead log
		// need not be durable (their frames are, and the intent names
		// them until they are gone), and an unrelated writer's gigabytes
		// on the same disk do not hold the pending lock.
		if pl == nil {
			var err error
			if pl, err = gitobj.LockFile(r.pendingLockPath(), true, true, gitobj.LockTimeout); err != nil {
				return err
			}
		}
		intent := commit.String() + "\n" + parent.String() + "\n" + strings.Join(names, "\n") + "\n"
		// The ref move (Refs.CAS) makes the commit's objects durable.
		return gitobj.WriteFileAtomic(r.intentPath(), []byte(intent))
	})
	if err != nil {
		return res, err
	}
	res.Runs = stats.runs
	res.Warnings = append(res.Warnings, stats.warnings...)
	if !commit.IsZero() {
		res.Commit = commit.String()
		// The commit holds the files' records: once the intent is gone,
		// this mark tells a recovery not to restore the log's files from
		// their frames.
		if err := journal.MarkFolded(r.journalDir(), names); err != nil {
			return res, err
		}
	}
	if pl == nil { // nothing committed: the records changed nothing
		if pl, err = gitobj.LockFile(r.pendingLockPath(), true, true, gitobj.LockTimeout); err != nil {
			return res, err
		}
		// No intent covers the files: the mark alone says they were
		// folded, so they must be durable as marked (a recycled file
		// must not show another file's records after a loss).
		if err := durable.SyncFS(r.gitDir); err != nil {
			return res, err
		}
		if err := journal.MarkFolded(r.journalDir(), names); err != nil {
			return res, err
		}
	}
	for _, n := range names {
		if err := r.group.Retire(n); err != nil {
			return res, err
		}
	}
	if err := durable.SyncDir(r.journalDir()); err != nil {
		return res, err
	}
	// The files of the old generations are folded (durable in the commit)
	// or were nothing to fold: their logs go before the intent does.
	if err := r.group.DropOldWALs(gen); err != nil {
		return res, err
	}
	if err := os.Remove(r.intentPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return res, err
	}
	if !commit.IsZero() {
		gitobj.MaybeGC(r.gitDir)
	}
	return res, nil
}

// foldStats summarizes a fold for the commit message and the result.
type foldStats struct {
	runs     int
	points   int
	warnings []string
}

// loadPending returns the records of the given files, in order: from the
// live state when it knows a file (it was written or read by this
// process, and files never change), else read from disk. Corrupt files are
// skipped and reported in warnings.
func (r *Repo) loadPending(files []journalFile) ([]*journal.File, []string, error) {
	out := make([]*journal.File, 0, len(files))
	var warnings []string
	for _, jf := range files {
		var f *journal.File
		if v := r.live; v != nil {
			f = v.Known(jf.name)
		}
		if f == nil {
			data, err := os.ReadFile(filepath.Join(r.journalDir(), jf.name))
			if errors.Is(err, os.ErrNotExist) {
				continue
			}
			if err != nil {
				return nil, nil, err
			}
			f = journal.ParseFile(jf.name, data)
		}
		if f.Bad != "" {
			warnings = append(warnings, fmt.Sprintf("journal file %s: %s", f.Name, f.Bad))
			continue
		}
		out = append(out, f)
	}
	return out, warnings, nil
}

// foldJournal applies journal records to the runs in tx: each touched run's
// run.yaml is rewritten once and its new metric points become one new
// segment file. Records apply in journal order: file by file, and in a
// file run by run, each run's records in order and then its points.
func foldJournal(tx *Tx, files []*journal.File) (foldStats, error) {
	var st foldStats
	type runState struct {
		doc     *manifest.Run
		created bool
		ended   string
		points  [][]manifest.MetricPoint // new points, file by file
		segs    [][]byte                 // the same encoded, while every file had them so
		noSeg   bool
		npoints int
		n       int
	}
	states := map[string]*runState{}
	var order []string
	get := func(id string) (*runState, error) {
		if s, ok := states[id]; ok {
			return s, nil
		}
		doc, err := readRunTx(tx, id)
		if err != nil && !errors.Is(err, ErrNotFound) {
			return nil, err
		}
		s := &runState{doc: doc}
		states[id] = s
		order = append(order, id)
		return s, nil
	}
	for _, f := range files {
		for _, id := range f.Order {
			fr := f.Runs[id]
			s, err := get(id)
			if err != nil {
				return st, err
			}
			for _, o := range fr.Ops {
				if o.Op == journal.OpCreate {
					if s.doc == nil && o.Doc != nil {
						s.doc = journal.CloneRun(o.Doc) // the record may be shared
						s.created = true
					}
					s.n++
					continue
				}
				if s.doc == nil {
					st.warnings = append(st.warnings, fmt.Sprintf("run %s: %s record for a run that does not exist; skipped", id, o.Op))
					continue
				}
				if w := journal.Apply(s.doc, o); w != "" {
					st.warnings = append(st.warnings, w)
				}
				if o.Op == journal.OpUpdate && o.Status != "" && o.Status != manifest.StatusRunning {
					s.ended = o.Status
				}
				s.n++
			}
			if len(fr.Points) > 0 {
				if s.doc == nil {
					st.warnings = append(st.warnings, fmt.Sprintf("run %s: %d metric records for a run that does not exist; skipped", id, len(fr.Points)))
					continue
				}
				// Summaries take points in order; ops never touch them.
				s.doc.Metrics = journal.AddPoints(s.doc.Metrics, fr.Points)
				s.points = append(s.points, fr.Points)
				s.segs = append(s.segs, fr.Seg)
				s.noSeg = s.noSeg || fr.NoSeg
				s.npoints += len(fr.Points)
				s.n += len(fr.Points)
			}
		}
	}
	var subjects []string
	spill, spillRead := int64(0), false
	for _, id := range order {
		s := states[id]
		if s.doc == nil || s.n == 0 {
			continue
		}
		if s.npoints > 0 && !spillRead && historyPoints(s.doc) > manifest.MinSpillAbove {
			var err error
			if spill, err = spillThreshold(tx); err != nil {
				return st, err
			}
			spillRead = true
		}
		if s.npoints > 0 && spill > 0 && historyPoints(s.doc) > spill {
			// A long history: the segment goes to the blob store.
			all := make([]manifest.MetricPoint, 0, s.npoints)
			for _, p := range s.points {
				all = append(all, p...)
			}
			s.doc.MetricSegments++
			if err := tx.r.writeSegmentBlob(tx, id, s.doc.MetricSegments, all); err != nil {
				return st, err
			}
			st.points += s.npoints
		} else if s.npoints > 0 {
			var seg []byte
			if s.noSeg {
				all := make([]manifest.MetricPoint, 0, s.npoints)
				for _, p := range s.points {
					all = append(all, p...)
				}
				seg = journal.EncodeSegment(all)
			} else {
				size := 0
				for _, b := range s.segs {
					size += len(b)
				}
				seg = make([]byte, 0, size)
				for _, b := range s.segs {
					seg = append(seg, b...)
				}
			}
			s.doc.MetricSegments++
			tx.Write(layout.Segment(id, s.doc.MetricSegments), seg)
			st.points += s.npoints
		}
		if err := s.doc.Validate(); err != nil {
			st.warnings = append(st.warnings, fmt.Sprintf("run %s: %v; its pending changes were skipped", id, err))
			continue
		}
		tx.Write(layout.Run(id), s.doc.Encode())
		tx.AddTrailer("Mlgit-Run: " + id)
		st.runs++
		switch {
		case s.ended != "":
			subjects = append(subjects, fmt.Sprintf("run %s finished (%s)", short(id), s.ended))
		case s.created:
			subjects = append(subjects, fmt.Sprintf("run %s started in experiment %s", short(id), s.doc.ExperimentID))
		default:
			subjects = append(subjects, fmt.Sprintf("run %s updated", short(id)))
		}
	}
	// The subject names what happened to up to three runs, so that
	// git log --oneline and --grep stay useful.
	subject := strings.Join(subjects, "; ")
	if len(subjects) > 3 {
		subject = strings.Join(subjects[:3], "; ") + fmt.Sprintf("; %d more runs", len(subjects)-3)
	}
	if st.points > 0 {
		subject += fmt.Sprintf(" (%d metric points)", st.points)
	}
	if len(subjects) == 0 {
		subject = "checkpoint"
	}
	tx.SetMessage(subject, append([]string{"Mlgit-Op: checkpoint"}, tx.Trailers()...)...)
	return st, nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}

// journalHasPending reports whether any journal file is pending.
func (r *Repo) journalHasPending() bool {
	files, _ := r.pendingFiles("")
	return len(files) > 0
}
