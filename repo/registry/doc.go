// Package registry holds the model registry's rules, with no storage: the
// model-key escaping of model names, the grammar of registry tags
// (<key>@v<n>, <key>@v<n>!, <key>#<label>#<counter>), stages, the state a
// model's tags describe (StateFromTags) and how a selector resolves against
// it, parsing git ls-remote output, and the promotion policy of mlgit.yaml
// (CheckPromotion), so that a direct promotion, a proposal and a
// pull-request check apply exactly the same rules.
//
// Registering, promoting, aliasing, proposing, syncing tags and resolving
// against the tracking branch or a remote are package repo's, which reads
// and writes the branch and the tags and re-exports this package's names
// (repo.ModelKey, repo.TagName, ...) for its callers. docs/registry.md
// describes the rules for users.
//
// It may import manifest, query and repo/runindex (for the run row a
// policy filter matches against); never package repo or go-git.
package registry
