package cli

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// Exit codes. They are listed in `mlgit --help`; CI scripts rely on them.
const (
	ExitOK       = 0
	ExitFailure  = 1
	ExitUsage    = 2 // bad flags, arguments or input values; nothing was written
	ExitNotFound = 3 // the run, experiment, model, version, stage or alias does not exist
	ExitRemote   = 4 // the Git remote could not be reached or refused; nothing local was lost
)

// ExitCodesHelp lists the exit codes for mlgit --help.
const ExitCodesHelp = `Exit codes:
  0  success
  1  failure (I/O, Git, conflicts)
  2  usage error or invalid input; nothing was written
  3  not found: the run, experiment, model, version, stage or alias does not exist
  4  the Git remote could not be reached or refused (push, pull, fetch); run it again`

// Streams are the process's standard streams, injected for tests.
type Streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool
	ErrTTY bool
}

// DefaultStreams are the process's standard streams.
func DefaultStreams() Streams {
	return Streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutTTY: IsTerminal(os.Stdout), ErrTTY: IsTerminal(os.Stderr)}
}

// Confirm asks before a command that deletes: yes (--yes) goes ahead; on
// a terminal the question what + "? [y/N]" is asked; anything else is a
// usage error (exit 2, nothing changed) saying to pass --yes, so a script
// never deletes by accident.
func (a *App) Confirm(yes bool, what string) error {
	if yes {
		return nil
	}
	f, ok := a.In.(*os.File)
	if !ok || !IsTerminal(f) {
		return Usagef("%s: pass --yes to confirm (there is no terminal to ask)", what)
	}
	fmt.Fprintf(a.Err, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing changed")
}

// IsTerminal reports whether f is a terminal (not merely a character
// device such as /dev/null).
func IsTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// App carries what every command needs; dependencies are opened lazily so
// that --help and flag errors never touch Git.
type App struct {
	Streams
	RepoPath string
	Branch   string
	Now      func() time.Time
	Getenv   func(string) string
	Version  string // what mlgit --version prints; the server reports it
	opened   *repo.Repo
}

// OpenRepo opens the store (once).
func (a *App) OpenRepo() (*repo.Repo, error) {
	if a.opened != nil {
		return a.opened, nil
	}
	r, err := repo.Open(a.RepoPath, a.RepoOptions())
	if err != nil {
		return nil, err
	}
	a.setBlobRemote(r)
	a.opened = r
	return r, nil
}

// setBlobRemote lets the store fetch metric-history blobs the cache lacks
// from the blob remote configured for the clone ($MLGIT_BLOB_REMOTE,
// blobs.remote), opened on first need.
func (a *App) setBlobRemote(r *repo.Repo) {
	r.SetBlobRemote(func(ctx context.Context) (blob.Store, error) {
		url, _, err := a.BlobRemoteURL(r, "")
		if err != nil {
			return nil, err
		}
		return a.OpenBlobStore(ctx, url, nil)
	})
}

// OpenRepoForPull opens the store even when the tracking branch does not
// exist yet (pull and fetch create it from a remote's).
func (a *App) OpenRepoForPull() (*repo.Repo, error) {
	if a.opened != nil {
		return a.opened, nil
	}
	r, err := repo.OpenRepository(a.RepoPath, a.RepoOptions())
	if err != nil {
		return nil, err
	}
	a.setBlobRemote(r)
	a.opened = r
	return r, nil
}

// AddGlobalFlags adds the flags every command has, --repo (-C) and
// --branch, to root's persistent flags.
func (a *App) AddGlobalFlags(root *cobra.Command) {
	defRepo := a.Getenv("MLGIT_REPO")
	if defRepo == "" {
		defRepo = "."
	}
	root.PersistentFlags().StringVarP(&a.RepoPath, "repo", "C", defRepo, "path inside the Git repository to use (or $MLGIT_REPO)")
	root.PersistentFlags().StringVar(&a.Branch, "branch", "", "tracking branch (default \"mlgit\", or $MLGIT_BRANCH)")
}

// Close closes the store if a command opened it.
func (a *App) Close() {
	if a.opened != nil {
		a.opened.Close()
	}
}

// RepoOptions are the options the store is opened with (--branch or
// $MLGIT_BRANCH, the clock).
func (a *App) RepoOptions() repo.Options {
	branch := a.Branch
	if branch == "" {
		branch = a.Getenv("MLGIT_BRANCH")
	}
	return repo.Options{Branch: branch, Now: a.Now}
}

// UsageError marks bad command-line usage (exit 2).
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Usagef returns a usage error (exit 2) with a formatted message.
func Usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// ExitCode maps an error to the documented exit codes. It is the only
// place that does so.
func ExitCode(err error) int {
	var ue *UsageError
	var ee *ExitError
	switch {
	case err == nil:
		return ExitOK
	case errors.As(err, &ee):
		return ee.Code
	case errors.As(err, &ue), errors.Is(err, repo.ErrInvalid), errors.Is(err, manifest.ErrInvalid):
		return ExitUsage
	case errors.Is(err, repo.ErrNotFound):
		return ExitNotFound
	case errors.Is(err, repo.ErrRemote):
		return ExitRemote
	}
	return ExitFailure
}

// ErrorMessage is what the user sees for an error.
func ErrorMessage(err error) string { return err.Error() }

// PrintJSON writes v as indented JSON: the one helper every --json uses, so
// field names stay stable.
func PrintJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// ParseKV parses "k=v" flags.
func ParseKV(what string, items []string) ([]repo.KV, error) {
	out := make([]repo.KV, 0, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, Usagef("--%s %q: want key=value", what, it)
		}
		out = append(out, repo.KV{Key: k, Value: v})
	}
	return out, nil
}

// KVMap turns key=value pairs into a map (nil when there are none).
func KVMap(kvs []repo.KV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// JoinProblems lists up to ten problems, one per line.
func JoinProblems(ps []string) string {
	if len(ps) > 10 {
		ps = append(ps[:10:10], fmt.Sprintf("... and %d more", len(ps)-10))
	}
	return strings.Join(ps, "\n")
}

// Warn prints warnings on stderr.
func (a *App) Warn(msgs ...string) {
	for _, m := range msgs {
		fmt.Fprintf(a.Err, "mlgit: warning: %s\n", m)
	}
}

// ExitError carries a wrapped command's exit status out of mlgit.
type ExitError struct{ Code int }

func (e *ExitError) Error() string { return fmt.Sprintf("command exited with status %d", e.Code) }
