// Package gitobj is mlgit's Git layer: it reads and writes a Git
// repository's objects and refs directly, and knows nothing of runs,
// experiments or models.
//
// It owns:
//   - the object database (DB): loose objects written through a temporary
//     file and a rename, and a pack reader that maps .idx and .pack files
//     instead of decoding them, so a process answers its first read in
//     microseconds on a large repository;
//   - trees: path lookups with a per-operation tree cache, and BuildTree,
//     which rewrites only the trees on changed paths;
//   - refs (Refs): loose and packed refs, compare-and-swap through Git's
//     own <ref>.lock protocol with a reflog line, deletes that also edit
//     packed-refs, and prefix listings that binary-search packed-refs;
//   - transactions (Tx, Branch): one commit of a set of file changes on a
//     branch tip, re-applied when another writer moved the tip; the caller
//     passes in who signs and when (Branch.Sign);
//   - advisory file locks and atomic file writes for local state;
//   - history (history.go): the files that differ between two trees
//     (DiffTrees), the merge base of two commits (MergeBase) and the
//     commits of a range (RangeCommits), walked newest first by committer
//     time as git does;
//   - protocol v2 ls-refs against a local remote, and git gc --auto.
//
// It never touches a working tree, index or HEAD. It may import go-git,
// the standard library and internal/gitexec (how mlgit runs git), nothing
// else of mlgit: package repo and its subpackages build on it, never the
// other way round.
package gitobj
