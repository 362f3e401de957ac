package repo

import "github.com/mlgit/mlgit/repo/internal/live"

// maxSpares bounds the parked journal files of a process: enough for what
// a checkpoint consumes at its file threshold.
func maxSpares() int { return 2 * live.FilesFactor * CheckpointMaxFiles }

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
