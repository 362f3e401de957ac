// Package diff compares mlgit documents: two runs (params, metrics, tags,
// artifacts, status), two model versions (stage, aliases, source run,
// artifacts, tags, and the params and metrics of their runs), and two
// revisions of the tracking branch (a change-set summary of runs and
// versions added, changed and removed, and stage changes).
//
// The package is pure: it imports only manifest and the standard library,
// and does no I/O beyond the io.Writer it renders to. Callers read the
// documents from the store and pass them in: package diff/load does, for
// the CLI and the web UI.
//
// Every comparison is a value (RunDiff, VersionDiff, ChangeSet) that
// renders in three formats with Write: an aligned table for people (in the
// style of `dvc metrics diff`), JSON with stable field names for scripts,
// and GitHub-flavoured Markdown for a pull-request comment.
package diff
