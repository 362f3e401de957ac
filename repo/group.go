package repo

import (
	"github.com/mlgit/mlgit/repo/journal"
)

// maxSpares bounds the parked journal files of a process: enough for what
// a checkpoint consumes at its file threshold.
func maxSpares() int { return 2 * liveFilesFactor * CheckpointMaxFiles }

// initialSpares is how many spares a live Repo makes when it starts (in the
// background), so that writes have some before the first checkpoint and
// slack while checkpoints run.
const initialSpares = 256

// JournalStats counts this process's journal appends and the files (each
// one fsync) they went to; with concurrent writers files < appends.
type JournalStats struct {
	Appends int64
	Files   int64
}

// JournalStats returns the group commit counters of this Repo.
func (r *Repo) JournalStats() JournalStats {
	appends, files := r.group.Counts()
	return JournalStats{Appends: appends, Files: files}
}

// groupFile makes the live records of a file written from batch.
func groupFile(name string, size int64, batch []*journal.Request) *liveFile {
	f := newLiveFile(name, size, nil)
	for _, q := range batch {
		f.add(q.Ops)
		if len(q.Points) > 0 {
			fr := f.recs(q.Run)
			fr.points = append(fr.points, q.Points...)
			fr.seg = append(fr.seg, q.Seg...)
			f.n += len(q.Points)
		}
	}
	return f
}

// Written implements journal.Observer: the live view learns a file's
// records from memory before any reader can list the file.
func (ls *liveState) Written(name string, size int64, reqs []*journal.Request) {
	ls.addOwn(groupFile(name, size, reqs))
}

// Unwritten implements journal.Observer.
func (ls *liveState) Unwritten(name string) { ls.dropOwn(name) }
