// Package repo is mlgit's store: the front door that opens a Git
// repository's tracking branch (default "mlgit") and reads and changes
// experiments, runs, logged models, the model registry, artifacts and
// history on it, shares it with remotes and checks pull requests.
//
// # Layers
//
// The store is built in layers; each imports only the ones below it:
//
//	repo                     front door: Open/Init, experiments, runs, logged
//	                         models, revisions; the journal's locks and
//	                         checkpoints, StartLive; what a check
//	                         compares and which artifacts a command names
//	                         (Check, CheckRefs, ...ArtifactRefs); the
//	                         registry's methods (registry_api.go) and
//	                         Fetch, Pull, Push (sync_api.go), forwarded
//	repo/internal/gitsync    sharing: fetch, pull, push through the system
//	                         git, local commits re-applied on the remote
//	                         tip (renumbering, 3-way manifest merge), the
//	                         tag plan and its crash intent, on a
//	                         gitsync.Store
//	repo/internal/check      mlgit check: a pull request's changes validated
//	                         (manifests, segments, promotion policy, blobs)
//	                         through a narrow Objects interface
//	repo/internal/artifacts  which blobs manifests reference: manifest
//	                         kinds, references, walks of a commit, a range,
//	                         a whole history (blob gc)
//	repo/registry            the model registry: its rules (model keys, tag
//	                         grammar, stages, tag state, selectors, promotion
//	                         policy) and its operations (register, promote,
//	                         alias, delete, restore, rename, propose,
//	                         resolve, history, lineage, tags sync, fsck) on a
//	                         registry.Store
//	repo/internal/live       the journal's live view of a long-lived process:
//	                         pending files in memory, sync by folder watch,
//	                         materialized runs, background checkpointer
//	repo/runindex            the run index: cache file and its Cache, refresh,
//	                         in-memory rows, the live store's Live index
//	repo/journal             journal format, record semantics, files grouped
//	                         by run, group commit, folder watcher
//	repo/internal/layout     the on-branch paths (mlgit.yaml, experiments,
//	                         runs, segments, models, versions, logged models)
//	repo/internal/gitobj     objects, packs, refs and Git's lock protocol,
//	                         transactions, tree diff, merge base, commit
//	                         ranges, ls-refs, gc; knows nothing of mlgit
//
// Package repo and its subpackages are the only code that imports go-git;
// nothing outside repo/ may import repo/internal/..., and no subpackage
// imports repo. The on-branch paths are named in repo/internal/layout,
// which imports nothing of mlgit; repo/internal/check may import manifest,
// hooks, repo/registry, layout and gitobj, and repo re-exports the types of
// its report (CheckReport, CheckProblem, ...); repo/internal/artifacts may
// import manifest, repo/journal and layout (repo.ArtifactRef is its Ref);
// repo/internal/live may import manifest, repo/journal and gitobj. The
// store runs git itself only through internal/gitexec (repo, gitobj and
// gitsync's network operations).
// Both read objects through an interface of their own that gitobj.DB
// implements. repo/registry may import manifest, query, repo/runindex,
// layout and gitobj: its operations are methods of registry.Store, which
// Repo builds (reg, registry_api.go) from its tracking branch, identity,
// clock, state folder and run lookups; Repo's CreateModel, Promote,
// SyncTags, ... are one-line forwarders there, next to the re-exported
// registry types (PromoteSpec, SyncReport, ...). repo/internal/gitsync
// may import manifest, internal/gitexec, repo/registry, layout and
// gitobj: its Fetch, Pull and Push are methods of gitsync.Store, which
// Repo builds (syncStore, sync_api.go) from its tracking branch, the
// branch's state folder, the journal's checkpoint lock and checkpoint and
// the configured remotes; SyncOptions, SyncResult and Renumbered are its
// types, re-exported. What a subpackage needs from the store (the object
// database, who signs commits and when, the rows of pending runs, the runs
// a policy or a lineage reads, the journal's checkpoint, the branch tip and
// committed manifests for the live view) is passed in, never reached for.
//
// # Writes
//
// The store never touches the user's working tree, index or HEAD. A change
// of the tracking branch is a transaction (Tx, Update): it writes objects
// directly and moves the branch with Git's own <ref>.lock protocol,
// compare-and-swap, re-applying the change on a tip that moved, so
// concurrent mlgit processes and concurrent git commands (gc, pack-refs)
// on the same repository never lose a write.
//
// High-frequency logging (params, tags, metric points, status) does not
// commit: it appends to the write-ahead journal, acknowledged once the
// file is fsynced and renamed into place, and concurrent appends of one
// process share a file (group commit, package journal). Readers see committed
// data plus pending records; a checkpoint folds the journal into one
// commit, exactly once even across crashes (journal.go). A long-lived
// process (the server) keeps the pending state in memory and follows the
// folder with inotify instead of re-reading it (StartLive, package
// repo/internal/live).
//
// # Local state
//
// Local state that is not shared lives in <git-dir>/mlgit/: the journal,
// the checkpoint and pending locks, the run index cache, the pack reverse
// indexes and the blob cache. All of it but the journal can be deleted at
// any time, and the journal after a checkpoint; everything else is rebuilt
// from the branch.
//
// The on-branch format is specified in docs/spec/manifests.md; sharing in
// docs/sharing.md; the registry's tags and resolution in docs/registry.md.
package repo
