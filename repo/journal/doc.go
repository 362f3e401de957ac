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
//   - what a record does to a run (Overlay, Apply, AddPoint, AddPoints),
//     which readers, the run index and the checkpoint all use, so they
//     never disagree about pending data;
//   - Watcher, the inotify watch of the journal folder and branch ref that
//     keeps a live store's view current without listing the folder.
//
// Writing files (group commit), the live view, locks and checkpoints are
// package repo's, which knows the store's layout and moves the branch. This
// package may import manifest and the standard library; never package repo
// or go-git.
package journal
