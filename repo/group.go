package repo

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
