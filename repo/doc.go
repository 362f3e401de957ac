// Package repo is mlgit's store: the tracking branch of a Git repository,
// the transactions that change it, the write-ahead journal that makes
// high-frequency logging cheap, experiments, runs, and the run index.
//
// It is the only package that imports go-git. It never touches the user's
// working tree, index or HEAD: it writes objects with go-git and moves the
// tracking branch with Git's own <ref>.lock protocol, compare-and-swap, so
// concurrent mlgit processes and concurrent git commands (gc, pack-refs) on
// the same repository never lose a write.
//
// Local state that is not shared lives in <git-dir>/mlgit/: the journal,
// the checkpoint lock, the run index cache. All of it can be deleted (after
// a checkpoint) and rebuilt from the branch.
package repo
