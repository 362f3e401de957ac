// Package check is mlgit check: it validates everything a pull request to
// the tracking branch changes, as mlgit itself would have written it. The
// change is what head adds relative to the merge base of base and head (as
// a pull request shows it), so a proposal whose base moved on is checked
// for its own changes only. docs/registry.md, "Review of promotions",
// describes the rules.
//
// It owns the report (Report, Problem, StageChange and the Problem* kinds),
// the checks of changed manifests (hooks.CheckManifest, place, stage
// changes against the promotion policy of the base), metric segments and
// referenced blobs (BlobChecker). It reads the repository only through
// Objects (object and path reads, tree diff, merge base), which the
// object database implements; the caller resolves the revisions and says
// how a manifest's blob references are found (Input).
//
// Package repo resolves revisions and chooses the defaults (Repo.CheckRefs,
// Repo.Check) and re-exports the report's types (repo.CheckReport, ...).
// This package may import manifest, hooks, repo/registry,
// repo/internal/layout and repo/internal/gitobj; never package repo.
package check
