package live

import (
	"errors"
	"os"
	"path/filepath"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// Every request first syncs (concurrent requests share one sync). With
// inotify (journal.Watcher) a sync reads the queued events of the
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

// sync brings the live state up to date with the branch and the journal
// as they are now: it returns after a sync that started after the call.
func (v *View) sync() error {
	v.syncMu.Lock()
	defer v.syncMu.Unlock()
	want := v.started + 1
	for v.finished < want {
		if v.syncing {
			v.syncCond.Wait()
			continue
		}
		v.syncing = true
		v.started++
		n := v.started
		v.syncMu.Unlock()
		err := v.doSync()
		v.syncMu.Lock()
		v.syncing = false
		v.finished, v.syncErr = n, err
		v.syncCond.Broadcast()
	}
	return v.syncErr
}

func (v *View) doSync() error {
	if v.w == nil || !v.synced {
		return v.fullSync()
	}
	// Events a previous sync could not apply yet come first.
	evs := v.w.Poll(append(v.evs[:0], v.stash...))
	v.evs, v.stash = evs[:0], v.stash[:0]
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
		if complete, err := v.applyAdds(evs); err != nil || complete {
			return err
		}
		return v.lockedSync(evs) // a file went before we read it
	}
	l, err := gitobj.LockFile(v.s.PendingLock, false, false, 0)
	if err == nil {
		return v.lockedSyncHeld(l, evs)
	}
	if !errors.Is(err, gitobj.ErrLocked) {
		return err
	}
	// A checkpoint is between moving the branch and removing the files it
	// folded. Rather than wait for its ref update, keep the view at the
	// tip it has, add the new files, and apply the rest next time.
	for _, e := range evs {
		if e.Kind == journal.EvLost || e.Kind == journal.EvBroken {
			return v.lockedSync(evs)
		}
	}
	complete, err := v.applyAdds(evs)
	if err != nil {
		return err
	}
	if !complete {
		return v.lockedSync(evs)
	}
	v.stash = append(v.stash, evs...)
	return nil
}

// newFile returns the journal file n for the view to add: nil when the
// view has it already; this process's own copy when it wrote it; else the
// file read from disk (gone is set when it was already removed).
func (v *View) newFile(n string) (f *journal.File, gone bool, err error) {
	v.mu.Lock()
	known, own := v.byName[n], v.own[n]
	v.mu.Unlock()
	switch {
	case known != nil:
		return nil, false, nil
	case own != nil:
		return own.f, false, nil
	}
	f, err = v.readFile(n)
	return f, err == nil && f == nil, err
}

// applyAdds applies the new journal files among evs, without a lock. It
// returns complete false when a file was gone before it could be read
// (its records are in a commit the view does not have yet).
func (v *View) applyAdds(evs []journal.Event) (complete bool, err error) {
	var added []*journal.File
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
		f, gone, err := v.newFile(n)
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
	v.apply(false, v.tip, v.baseTree, nil, added)
	return complete, nil
}

// lockedSync applies evs and everything queued since under the pending
// lock, waiting for it.
func (v *View) lockedSync(evs []journal.Event) error {
	l, err := gitobj.LockFile(v.s.PendingLock, false, true, gitobj.LockTimeout)
	if err != nil {
		return err
	}
	return v.lockedSyncHeld(l, evs)
}

func (v *View) lockedSyncHeld(l *gitobj.FileLock, evs []journal.Event) error {
	// Under the lock no checkpoint is between moving the branch and
	// deleting its files: everything queued until now is a consistent
	// change.
	evs = v.w.Poll(evs)
	for _, e := range evs {
		switch e.Kind {
		case journal.EvBroken:
			v.w.Close()
			v.w = nil
			fallthrough
		case journal.EvLost:
			l.Unlock()
			return v.fullSync()
		}
	}
	retry, err := v.applyEvents(evs, true)
	l.Unlock()
	if err != nil || !retry {
		return err
	}
	v.recoverCheckpoint()
	return v.fullSync()
}

// applyEvents applies watched changes; locked says the caller holds the
// pending lock (needed for anything but this process's own new files). It
// returns retry when the branch moved and an interrupted checkpoint must
// be recovered first.
func (v *View) applyEvents(evs []journal.Event, locked bool) (retry bool, err error) {
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
	tip, tree, tipMoved := v.tip, v.baseTree, false
	if refMoved && locked {
		if tip, err = v.s.Tip(); err != nil {
			return false, err
		}
		if tipMoved = tip != v.tip; tipMoved {
			if _, err := os.Stat(v.s.Intent); err == nil {
				return true, nil
			}
			if tree, err = v.s.CommitTree(tip); err != nil {
				return false, err
			}
		}
	}
	var added []*journal.File
	sort.Strings(addOrder)
	for _, n := range addOrder {
		if !adds[n] {
			continue
		}
		f, _, err := v.newFile(n)
		if err != nil {
			return false, err
		}
		if f != nil {
			added = append(added, f)
		}
	}
	v.apply(tipMoved, tip, tree, gone, added)
	return false, nil
}

// fullSync lists the journal folder and reads the tip under the pending
// lock: at start, without a watcher, or when events were lost.
func (v *View) fullSync() error {
	for attempt := 0; ; attempt++ {
		l, err := gitobj.LockFile(v.s.PendingLock, false, true, gitobj.LockTimeout)
		if err != nil {
			return err
		}
		if v.w != nil {
			v.evs = v.w.Poll(v.evs[:0])[:0] // the listing below covers them
		}
		v.stash = v.stash[:0]
		retry, err := v.syncLocked(attempt == 0)
		l.Unlock()
		if err != nil || !retry {
			return err
		}
		v.recoverCheckpoint()
	}
}

// recoverCheckpoint finishes a checkpoint that died between moving the
// branch and deleting the files it folded (or waits briefly for the
// checkpoint that does).
func (v *View) recoverCheckpoint() {
	if cl, err := gitobj.LockFile(v.s.CheckpointLock, true, true, 200*time.Millisecond); err == nil {
		v.s.RecoverIntent()
		cl.Unlock()
	}
}

// readFile reads a journal file of another process; nil if it is gone.
func (v *View) readFile(name string) (*journal.File, error) {
	data, err := os.ReadFile(filepath.Join(v.s.JournalDir, name))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	return journal.ParseFile(name, data), nil
}

// syncLocked reads the tip and lists the journal under the shared pending
// lock. It returns retry when it found an interrupted checkpoint to
// recover.
func (v *View) syncLocked(checkIntent bool) (retry bool, err error) {
	tip, err := v.s.Tip()
	if err != nil {
		return false, err
	}
	names, err := journal.List(v.s.JournalDir)
	if err != nil {
		return false, err
	}
	listed := make(map[string]bool, len(names))
	for _, n := range names {
		listed[n] = true
	}
	v.mu.Lock()
	tipMoved := !v.synced || tip != v.tip
	gone := map[string]bool{}
	for _, f := range v.order {
		if !listed[f.Name] {
			gone[f.Name] = true
		}
	}
	var fresh []string
	known := map[string]*journal.File{}
	for _, n := range names {
		if v.byName[n] != nil {
			continue
		}
		fresh = append(fresh, n)
		if o := v.own[n]; o != nil {
			known[n] = o.f
		}
	}
	v.mu.Unlock()
	if !tipMoved && len(fresh) == 0 && len(gone) == 0 {
		return false, nil
	}
	if tipMoved && checkIntent {
		if _, err := os.Stat(v.s.Intent); err == nil {
			return true, nil
		}
	}
	tree := v.baseTree
	if tipMoved {
		if tree, err = v.s.CommitTree(tip); err != nil {
			return false, err
		}
	}
	// Files of other processes are read once, here.
	added := make([]*journal.File, 0, len(fresh))
	for _, n := range fresh {
		if f := known[n]; f != nil {
			added = append(added, f)
			continue
		}
		f, err := v.readFile(n)
		if err != nil {
			return false, err
		}
		if f != nil {
			added = append(added, f)
		}
	}
	v.apply(tipMoved, tip, tree, gone, added)
	return false, nil
}

// apply changes the state: the tip (if moved), files gone, files added
// (sorted by name).
func (v *View) apply(tipMoved bool, tip, tree plumbing.Hash, gone map[string]bool, added []*journal.File) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if tipMoved || !v.synced {
		v.synced, v.tip, v.baseTree = true, tip, tree
		v.runs = map[string]*Run{}
		v.exps = map[string]*manifest.Experiment{}
	}
	removed := false
	for n := range gone {
		f := v.byName[n]
		if f == nil {
			continue
		}
		removed = true
		delete(v.byName, n)
		v.bytes -= f.Size
		for id := range f.Runs {
			delete(v.runs, id)
		}
	}
	if removed {
		kept := make([]*journal.File, 0, len(v.order))
		for _, f := range v.order {
			if v.byName[f.Name] == f {
				kept = append(kept, f)
			}
		}
		v.order = kept
	}
	if len(added) > 0 {
		merged := make([]*journal.File, 0, len(v.order)+len(added))
		a, b := v.order, added
		for len(a) > 0 || len(b) > 0 {
			if len(b) == 0 || (len(a) > 0 && a[0].Name < b[0].Name) {
				merged = append(merged, a[0])
				a = a[1:]
			} else {
				merged = append(merged, b[0])
				b = b[1:]
			}
		}
		v.order = merged
		for _, f := range added {
			v.byName[f.Name] = f
			v.bytes += f.Size
			delete(v.own, f.Name)
			for id, fr := range f.Runs {
				lr := v.runs[id]
				if lr == nil {
					continue
				}
				if f.Name > lr.last {
					lr.Doc = fr.ApplyTo(lr.Doc)
					lr.last = f.Name
					v.verSeq++
					lr.Ver = v.verSeq
				} else {
					// Written earlier than records already applied (another
					// process): materialize again, in order.
					delete(v.runs, id)
				}
			}
		}
	}
	// Own files not listed a second after they were written were folded
	// before any sync saw them (were one still to come, it would be read
	// from disk).
	for n, o := range v.own {
		if time.Since(o.at) > time.Second {
			delete(v.own, n)
		}
	}
	if len(v.runs) > maxLiveRuns {
		v.runs = map[string]*Run{}
	}
}
