package repo

import "github.com/mlgit/mlgit/repo/internal/live"

// maxSpares bounds the parked journal files of a process: enough for what
// a checkpoint consumes at its file threshold.
func maxSpares() int { return 2 * live.FilesFactor * CheckpointMaxFiles }

// initialSpares is how many spares a live Repo makes when it starts, and
// keeps at least while it runs (journal.Writer.KeepSpares: made again in
// the background when writes take them below a quarter), so that no write
// waits for a new inode before the first checkpoint or while checkpoints
// run.
const initialSpares = 256

// JournalStats counts this process's journal appends and the files (each
// one fsync) they went to; with concurrent writers files < appends.
type JournalStats struct {
	Appends int64
	Files   int64
	// Created counts the files writes had to create for want of a spare
	// (each an inode allocation on the write path).
	Created int64
	// Solo counts the groups of a single request (no other writer
	// queued while the one before was written).
	Solo int64
}

// JournalStats returns the group commit counters of this Repo.
func (r *Repo) JournalStats() JournalStats {
	appends, files := r.group.Counts()
	return JournalStats{Appends: appends, Files: files, Created: r.group.Created(), Solo: r.group.Solo()}
}
