// Package live is the journal's live view: the acknowledged state of the
// store that a long-lived process (mlgit server, through repo.StartLive)
// keeps in memory instead of re-reading the journal for every request.
//
// It owns:
//   - View, the tip the view was read at and the records of every pending
//     journal file grouped by run; files this process writes are learnt
//     from the journal.Writer (View is its Observer), files of other
//     processes are read once;
//   - the sync that keeps it current: the queued events of the folder
//     watch (journal.Watcher), or a listing of the folder, applied under
//     the shared pending lock when the branch moved or files went;
//   - materialized runs (committed manifest plus pending records, kept
//     until the tip moves) and the pending runs the in-memory run index
//     reads (PendingRuns);
//   - the background checkpointer and the thresholds, raised by
//     FilesFactor, at which a write asks for a checkpoint.
//
// It is not part of package journal: journal is the file format, the
// meaning of records and the writer, and imports only manifest and the
// standard library; the view also needs commit ids, Git's lock protocol
// (repo/internal/gitobj) and the manifests of a commit, so it sits one
// layer above journal and gitobj. It is internal because only package repo
// starts and reads it.
//
// What it needs of the store (the branch tip, a commit's tree, committed
// runs and experiments, the paths of the journal and its locks, the
// checkpoint) is passed in as a Store that package repo builds; it may
// import manifest, repo/journal and repo/internal/gitobj, never package
// repo. The checkpoint itself (folding files into a commit) stays in repo,
// which moves the branch.
package live
