// Package gitsync shares the tracking branch with remotes: mlgit fetch,
// pull and push, and the re-applying of local commits on a remote tip that
// pull and push do (docs/sharing.md).
//
// It owns:
//   - remotes: a configured remote or a URL or path, and where its branch
//     and its tags' mirror live here (refs/remotes/<remote>/<branch>,
//     refs/mlgit/remotes/<id>/...);
//   - the network part, which goes through the system git (internal/gitexec)
//     so that every transport and credential the user's git knows works
//     unchanged: fetch, and the atomic push of branch and tags (in two steps
//     when the remote cannot push atomically), retried with back-off when
//     another clone pushed first; Net runs git for the registry's proposal
//     push too;
//   - integration (sync.go): creating, fast-forwarding or rebasing the
//     local branch onto the remote's tip, compare-and-swap, under the
//     journal's checkpoint lock;
//   - the replay (rebase.go): local commits re-applied file by file, model
//     versions renumbered when another clone took their number, a file both
//     sides changed merged field by field (mergeManifest), colliding metric
//     segments given the next sequence number;
//   - the tag plan (tagplan.go): unpushed registry tags re-pointed,
//     renamed and re-counted after a rebase, written to sync.intent before
//     the branch moves so that a sync killed in between is finished by the
//     next one.
//
// Its name says what it is: Git's sharing of mlgit's branch, not the
// standard library's sync. Package repo builds a Store for each call (the
// tracking branch as gitobj moves it, the branch's state folder, the
// journal's checkpoint lock and checkpoint, the configured remotes, where
// git runs) and forwards Repo.Fetch, Pull and Push to it, re-exporting
// Options, Result and Renumbered as repo.SyncOptions, SyncResult and
// Renumbered.
//
// It may import manifest, internal/gitexec, repo/registry (the tag
// grammar, tag messages, model keys), repo/internal/gitobj (objects, refs,
// transactions, locks), repo/internal/layout (on-branch paths), go-git's
// plumbing and yaml.v3 (the field-by-field merge); never package repo.
package gitsync
