// Package hooks installs mlgit's Git hooks (pre-commit and pre-push) in a
// user's repository and implements what they run.
//
// Installation honours core.hooksPath, never overwrites a hook the user
// wrote (it is renamed to <hook>.mlgit-chained and called first, and put
// back by Uninstall), and recognises every hook body mlgit installed by its
// marker line ("# mlgit-hook: v<n> <hook>"), upgrading it in place.
//
// The pre-commit check refuses staged files over a size limit and
// validates mlgit manifests being committed; the pre-push check validates
// the manifests of pushed tracking-branch commits, refuses lightweight
// registry tags, and hands the pushed range to a caller-supplied blob
// upload.
//
// The package talks to Git only through the git command (os/exec), never
// through go-git, so hooks behave exactly as the user's git does.
package hooks
