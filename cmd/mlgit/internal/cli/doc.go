// Package cli is what every mlgit command shares: the App (the standard
// streams, the store opened once, confirmation before deleting, warnings),
// the documented exit codes and the usage error that maps to exit 2, JSON
// output, progress bars, the resolution of run and experiment references,
// the blob remote and the local configuration, and the embedded server that
// mlgit server, mlgit ui and mlgit run exec start.
//
// The command packages (runcmd, modelcmd, synccmd, servecmd) import cli and
// never each other; cmd/mlgit assembles their commands under the root.
package cli
