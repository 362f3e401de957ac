// Package synccmd has the commands that set a repository up and share it:
// mlgit init, config, push, pull, fetch, blob, tags, hooks, check and import.
package synccmd
