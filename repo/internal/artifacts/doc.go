// Package artifacts answers which blobs manifests on the tracking branch
// reference: which paths hold manifests with artifacts (runs, model
// versions, logged models; Kind), their references (Ref, FromManifest,
// FromJournal for pending journal records, FromArtifacts), and the tree
// walks that find them in one commit (Tree), in the commits of a range
// (Range, reading only changed manifests) and in a whole history for blob
// gc (History, each distinct tree and manifest version read once).
//
// It reads the repository only through Objects, which the object database
// implements. Resolving what a command names (revisions, runs, model
// versions) and the pending journal records are package repo's, which
// re-exports Ref as repo.ArtifactRef.
//
// It may import manifest, repo/journal, repo/internal/layout and go-git's
// plumbing types; never package repo.
package artifacts
