package gitobj

import (
	"container/heap"
	"sort"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// History: walks of the commit graph and comparisons of trees, as git
// rev-list, git merge-base and git diff-tree do them.

// TreeChange is a file that differs between two trees: Old is zero for an
// added file, New for a deleted one.
type TreeChange struct {
	Path     string
	Old, New plumbing.Hash
}

// DiffTrees calls fn for every file (blob or link) that differs between
// the trees oldT and newT (zero: empty), in path order, descending only
// into subtrees whose ids differ. In a partial clone the files' old and new
// contents that it lacks are fetched first, in one request: callers read
// them (mlgit check), and one fetch per file would cost a round trip each.
func (db *DB) DiffTrees(oldT, newT plumbing.Hash, dir string, fn func(TreeChange) error) error {
	if db.Promisor() == "" {
		return db.diffTrees(oldT, newT, dir, fn)
	}
	var changes []TreeChange
	if err := db.diffTrees(oldT, newT, dir, func(c TreeChange) error {
		changes = append(changes, c)
		return nil
	}); err != nil {
		return err
	}
	hs := make([]plumbing.Hash, 0, 2*len(changes))
	for _, c := range changes {
		hs = append(hs, c.Old, c.New)
	}
	if err := db.Prefetch(hs); err != nil {
		return err
	}
	for _, c := range changes {
		if err := fn(c); err != nil {
			return err
		}
	}
	return nil
}

func (db *DB) diffTrees(oldT, newT plumbing.Hash, dir string, fn func(TreeChange) error) error {
	if oldT == newT {
		return nil
	}
	oldEs, err := db.ReadTree(oldT)
	if err != nil {
		return err
	}
	newEs, err := db.ReadTree(newT)
	if err != nil {
		return err
	}
	byName := func(es []object.TreeEntry) map[string]object.TreeEntry {
		m := make(map[string]object.TreeEntry, len(es))
		for _, e := range es {
			m[e.Name] = e
		}
		return m
	}
	oldM, newM := byName(oldEs), byName(newEs)
	names := make([]string, 0, len(oldM)+len(newM))
	for n := range oldM {
		names = append(names, n)
	}
	for n := range newM {
		if _, ok := oldM[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := n
		if dir != "" {
			p = dir + "/" + n
		}
		o, hadOld := oldM[n]
		e, hasNew := newM[n]
		if hadOld && hasNew && o.Hash == e.Hash && o.Mode == e.Mode {
			continue
		}
		var oldSub, newSub, oldFile, newFile plumbing.Hash
		if hadOld {
			if o.Mode == filemode.Dir {
				oldSub = o.Hash
			} else if o.Mode != filemode.Submodule {
				oldFile = o.Hash
			}
		}
		if hasNew {
			if e.Mode == filemode.Dir {
				newSub = e.Hash
			} else if e.Mode != filemode.Submodule {
				newFile = e.Hash
			}
		}
		if !oldSub.IsZero() || !newSub.IsZero() {
			if err := db.diffTrees(oldSub, newSub, p, fn); err != nil {
				return err
			}
		}
		if !oldFile.IsZero() || !newFile.IsZero() {
			if oldFile == newFile {
				oldFile = plumbing.ZeroHash // a mode change: checked as added
			}
			if err := fn(TreeChange{Path: p, Old: oldFile, New: newFile}); err != nil {
				return err
			}
		}
	}
	return nil
}

// MergeBase returns the best common ancestor of a and b (zero when they
// share no history), as git merge-base does: it walks both histories
// newest first, marking what each side reaches, and stops when every
// commit still queued is below a common one. incomplete reports parents
// that are missing (a shallow clone), which may hide the true merge base.
func (db *DB) MergeBase(a, b plumbing.Hash) (base plumbing.Hash, incomplete bool, err error) {
	if a == b {
		return a, false, nil
	}
	const (
		fromA  = 1
		fromB  = 2
		stale  = 4
		result = 8
	)
	flags := map[plumbing.Hash]uint8{}
	commits := map[plumbing.Hash]*object.Commit{}
	q := &commitTimeQueue{}
	seq := 0
	push := func(h plumbing.Hash, f uint8) error {
		if flags[h]|f == flags[h] {
			return nil
		}
		flags[h] |= f
		c := commits[h]
		if c == nil {
			var err error
			if c, err = db.ReadCommit(h); err != nil {
				return err
			}
			commits[h] = c
		}
		seq++
		heap.Push(q, queuedCommit{h: h, when: c.Committer.When, seq: seq})
		return nil
	}
	if err := push(a, fromA); err != nil {
		return plumbing.ZeroHash, false, err
	}
	if err := push(b, fromB); err != nil {
		return plumbing.ZeroHash, false, err
	}
	var results []plumbing.Hash
	for {
		live := false
		for _, it := range *q {
			if flags[it.h]&stale == 0 {
				live = true
				break
			}
		}
		if !live {
			break
		}
		it := heap.Pop(q).(queuedCommit)
		f := flags[it.h] & (fromA | fromB | stale)
		if f == fromA|fromB {
			if flags[it.h]&result == 0 {
				flags[it.h] |= result
				results = append(results, it.h)
			}
			f |= stale
		}
		for _, p := range commits[it.h].ParentHashes {
			if err := push(p, f); err != nil {
				if _, ok := commits[p]; !ok {
					incomplete = true
					continue
				}
				return plumbing.ZeroHash, incomplete, err
			}
		}
	}
	for _, h := range results {
		if flags[h]&stale == 0 {
			return h, incomplete, nil
		}
	}
	// Every result became stale through another result (clock skew):
	// the first found is the newest.
	if len(results) > 0 {
		return results[0], incomplete, nil
	}
	return plumbing.ZeroHash, incomplete, nil
}

// RangeCommits returns the commits reachable from to and not from from (as
// git rev-list from..to), oldest first. It walks both histories newest
// first (by committer time; among equal times, children before parents) and
// stops a few commits after every commit still queued is reachable from
// from, so it reads about as many commits as the range holds, not the whole
// history. The extra commits absorb small clock skew between machines.
func (db *DB) RangeCommits(from, to plumbing.Hash) ([]plumbing.Hash, error) {
	const (
		fromFlag = 1
		toFlag   = 2
		slop     = 64
	)
	flags := map[plumbing.Hash]uint8{}
	times := map[plumbing.Hash]time.Time{}
	q := &commitTimeQueue{}
	seq := 0
	push := func(h plumbing.Hash, f uint8) error {
		if flags[h]|f == flags[h] {
			return nil
		}
		flags[h] |= f
		if _, ok := times[h]; !ok {
			c, err := db.ReadCommit(h)
			if err != nil {
				return err
			}
			times[h] = c.Committer.When
		}
		seq++
		heap.Push(q, queuedCommit{h: h, when: times[h], seq: seq})
		return nil
	}
	if err := push(to, toFlag); err != nil {
		return nil, err
	}
	if !from.IsZero() {
		if err := push(from, fromFlag); err != nil {
			return nil, err
		}
	}
	extra := slop
	for q.Len() > 0 {
		interesting := false
		for _, it := range *q {
			if flags[it.h]&fromFlag == 0 {
				interesting = true
				break
			}
		}
		if !interesting {
			if extra == 0 {
				break
			}
			extra--
		}
		it := heap.Pop(q).(queuedCommit)
		c, err := db.ReadCommit(it.h)
		if err != nil {
			return nil, err
		}
		for _, p := range c.ParentHashes {
			if err := push(p, flags[it.h]); err != nil {
				return nil, err
			}
		}
	}
	var out []plumbing.Hash
	for h, f := range flags {
		if f&toFlag != 0 && f&fromFlag == 0 {
			out = append(out, h)
		}
	}
	sort.Slice(out, func(i, j int) bool {
		if !times[out[i]].Equal(times[out[j]]) {
			return times[out[i]].Before(times[out[j]])
		}
		return out[i].String() < out[j].String()
	})
	return out, nil
}

type queuedCommit struct {
	h    plumbing.Hash
	when time.Time
	seq  int // order of discovery: a child is queued before its parents
}

// commitTimeQueue is a max-heap of commits by committer time, first
// discovered first among equal times.
type commitTimeQueue []queuedCommit

func (q commitTimeQueue) Len() int { return len(q) }
func (q commitTimeQueue) Less(i, j int) bool {
	if !q[i].when.Equal(q[j].when) {
		return q[i].when.After(q[j].when)
	}
	return q[i].seq < q[j].seq
}
func (q commitTimeQueue) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *commitTimeQueue) Push(x any)   { *q = append(*q, x.(queuedCommit)) }
func (q *commitTimeQueue) Pop() any {
	old := *q
	it := old[len(old)-1]
	*q = old[:len(old)-1]
	return it
}
