// Package journal is the format of mlgit's write-ahead journal and the
// meaning of its records.
//
// The journal is a folder of immutable files, <git-dir>/mlgit/journal/*.jnl
// (see Magic for the layout), that high-frequency logging appends to
// instead of committing; a checkpoint folds them into one commit of the
// tracking branch. This package owns:
//   - the record format: Op, AppendRecord, EncodeRecords, AppendFooter,
//     Decode (checksummed), and the metric point lines it shares with the
//     on-branch metric segments (AppendSegmentLine, EncodeSegment);
//   - what a record does to a run (Overlay, Apply, AddPoint, AddPoints,
//     RunRecs.ApplyTo), which readers, the run index, the live view and
//     the checkpoint all use, so they never disagree about pending data;
//   - File, a file's records grouped by run (ParseFile, WrittenFile), as
//     a checkpoint folds them and the live view keeps them, and List, the
//     pending files of the folder in write order;
//   - Writer, which appends files with group commit: concurrent appends of
//     one process share one file and one fsync, and consumed files are
//     parked as spares for reuse; an Observer (the live view) learns each
//     file's records before any reader can list it;
//   - Watcher, the inotify watch of the journal folder and branch ref that
//     keeps a live store's view current without listing the folder.
//
// The live view is package repo/internal/live's; the locks that order
// readers and checkpoints, and the checkpoints themselves, are package
// repo's, which knows the store's layout and moves the branch. This
// package may import manifest, internal/durable and the standard library;
// never package repo or go-git.
package journal
