// Package registry is the model registry: its rules and its operations.
//
// The rules, with no storage: the model-key escaping of model names, the
// grammar of registry tags (<key>@v<n>, <key>@v<n>!,
// <key>#<label>#<counter>), stages, the state a model's tags describe
// (StateFromTags) and how a selector resolves against it, parsing git
// ls-remote output, and the promotion policy of mlgit.yaml
// (CheckPromotion), so that a direct promotion, a proposal and a
// pull-request check apply exactly the same rules (tags.go, policy.go).
//
// The operations, on a Store: creating, changing and deleting models and
// versions and registering a version (models.go), promoting and aliasing
// (models.go), proposing a promotion on a branch of its own and pushing it
// (propose.go), resolving a model reference against the tracking branch,
// a remote or a tag name (resolve.go), a model's history from its tags
// (history.go), lineage (lineage.go), the files of a version (files.go),
// making and reading the tags themselves (tags_write.go, tags_refs.go),
// and mlgit tags sync and mlgit fsck (tagsync.go). This is where a tag is
// made, a version registered and a stage promoted.
//
// A Store is what the operations need from the store (package repo, which
// builds one per call and forwards its Repo's registry methods to it): the
// tracking branch as gitobj moves it, who signs and the clock, the state
// folder for per-model locks, and run lookups for the promotion policy and
// lineage. Package repo re-exports this package's names (repo.ModelKey,
// repo.PromoteSpec, ...) for its callers, and sharing (repo/internal/gitsync:
// re-applying commits, re-numbering tags) uses the exported tag-message helpers
// (TagMessage, DecodeTagMessage, TagSubject). docs/registry.md describes
// the rules for users.
//
// It may import manifest, query, repo/runindex (for the run row a policy
// filter matches against), repo/internal/gitobj (objects, refs,
// transactions), repo/internal/layout (on-branch paths) and go-git's
// plumbing (hashes, commit and tag objects); never package repo.
package registry
