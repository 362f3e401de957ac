package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
	"golang.org/x/term"
)

// version is set at build time with -ldflags "-X main.version=..."
// (make build); a go install or go build without it reports the module
// version and the commit Go recorded.
var version = buildVersion()

func buildVersion() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "dev"
	}
	v := bi.Main.Version
	if v == "" || v == "(devel)" {
		v = "dev"
	}
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "-dirty"
			}
		}
	}
	if rev != "" && v == "dev" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		v = "dev-" + rev + modified
	}
	return v
}

// Exit codes. They are listed in `mlgit --help`; CI scripts rely on them.
const (
	exitOK       = 0
	exitFailure  = 1
	exitUsage    = 2 // bad flags, arguments or input values; nothing was written
	exitNotFound = 3 // the run, experiment, model, version, stage or alias does not exist
	exitRemote   = 4 // the Git remote could not be reached or refused; nothing local was lost
)

const exitCodesHelp = `Exit codes:
  0  success
  1  failure (I/O, Git, conflicts)
  2  usage error or invalid input; nothing was written
  3  not found: the run, experiment, model, version, stage or alias does not exist
  4  the Git remote could not be reached or refused (push, pull, fetch); run it again`

// streams are the process's standard streams, injected for tests.
type streams struct {
	In     io.Reader
	Out    io.Writer
	Err    io.Writer
	OutTTY bool
	ErrTTY bool
}

func defaultStreams() streams {
	return streams{In: os.Stdin, Out: os.Stdout, Err: os.Stderr, OutTTY: isTerminal(os.Stdout), ErrTTY: isTerminal(os.Stderr)}
}

// confirm asks before a command that deletes: yes (--yes) goes ahead; on
// a terminal the question what + "? [y/N]" is asked; anything else is a
// usage error (exit 2, nothing changed) saying to pass --yes, so a script
// never deletes by accident.
func (a *app) confirm(yes bool, what string) error {
	if yes {
		return nil
	}
	f, ok := a.In.(*os.File)
	if !ok || !isTerminal(f) {
		return usagef("%s: pass --yes to confirm (there is no terminal to ask)", what)
	}
	fmt.Fprintf(a.Err, "%s? [y/N] ", what)
	line, _ := bufio.NewReader(f).ReadString('\n')
	switch strings.ToLower(strings.TrimSpace(line)) {
	case "y", "yes":
		return nil
	}
	return errors.New("not confirmed: nothing changed")
}

// isTerminal reports whether f is a terminal (not merely a character
// device such as /dev/null).
func isTerminal(f *os.File) bool { return term.IsTerminal(int(f.Fd())) }

// app carries what every command needs; dependencies are opened lazily so
// that --help and flag errors never touch Git.
type app struct {
	streams
	repoPath string
	branch   string
	Now      func() time.Time
	Getenv   func(string) string
	Version  string // what mlgit --version prints; the server reports it
	opened   *repo.Repo
}

// OpenRepo opens the store (once).
func (a *app) OpenRepo() (*repo.Repo, error) {
	if a.opened != nil {
		return a.opened, nil
	}
	r, err := repo.Open(a.repoPath, a.repoOptions())
	if err != nil {
		return nil, err
	}
	a.opened = r
	return r, nil
}

// OpenRepoForPull opens the store even when the tracking branch does not
// exist yet (pull and fetch create it from a remote's).
func (a *app) OpenRepoForPull() (*repo.Repo, error) {
	if a.opened != nil {
		return a.opened, nil
	}
	r, err := repo.OpenRepository(a.repoPath, a.repoOptions())
	if err != nil {
		return nil, err
	}
	a.opened = r
	return r, nil
}

// AddGlobalFlags adds the flags every command has, --repo (-C) and
// --branch, to root's persistent flags.
func (a *app) AddGlobalFlags(root *cobra.Command) {
	defRepo := a.Getenv("MLGIT_REPO")
	if defRepo == "" {
		defRepo = "."
	}
	root.PersistentFlags().StringVarP(&a.repoPath, "repo", "C", defRepo, "path inside the Git repository to use (or $MLGIT_REPO)")
	root.PersistentFlags().StringVar(&a.branch, "branch", "", "tracking branch (default \"mlgit\", or $MLGIT_BRANCH)")
}

// Close closes the store if a command opened it.
func (a *app) Close() {
	if a.opened != nil {
		a.opened.Close()
	}
}

func (a *app) repoOptions() repo.Options {
	branch := a.branch
	if branch == "" {
		branch = a.Getenv("MLGIT_BRANCH")
	}
	return repo.Options{Branch: branch, Now: a.Now}
}

// usageError marks bad command-line usage (exit 2).
type usageError struct{ msg string }

func (e *usageError) Error() string { return e.msg }

func usagef(format string, args ...any) error {
	return &usageError{msg: fmt.Sprintf(format, args...)}
}

// exitCode maps an error to the documented exit codes. It is the only
// place that does so.
func exitCode(err error) int {
	var ue *usageError
	var ee *exitError
	switch {
	case err == nil:
		return exitOK
	case errors.As(err, &ee):
		return ee.code
	case errors.As(err, &ue), errors.Is(err, repo.ErrInvalid), errors.Is(err, manifest.ErrInvalid):
		return exitUsage
	case errors.Is(err, repo.ErrNotFound):
		return exitNotFound
	case errors.Is(err, repo.ErrRemote):
		return exitRemote
	}
	return exitFailure
}

// errorMessage is what the user sees for an error.
func errorMessage(err error) string { return err.Error() }

func run(ctx context.Context, args []string, s streams) int {
	a := &app{streams: s, Now: time.Now, Getenv: os.Getenv, Version: version}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	a.Close()
	if err != nil {
		if isCobraUsage(err) {
			err = &usageError{msg: err.Error()}
		}
		var ee *exitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(s.Err, "mlgit: %s\n", errorMessage(err))
		}
		return exitCode(err)
	}
	return exitOK
}

func isCobraUsage(err error) bool {
	m := err.Error()
	for _, p := range []string{"unknown command", "unknown flag", "unknown shorthand", "flag needs an argument", "invalid argument", "accepts ", "requires at least", "requires at most", "if any flags in the group", "required flag"} {
		if strings.Contains(m, p) {
			return true
		}
	}
	return false
}

func newRootCmd(a *app) *cobra.Command {
	root := &cobra.Command{
		Use:   "mlgit <command>",
		Short: "Git-native experiment tracking and model registry",
		Long: `mlgit keeps experiments, runs and model versions as YAML manifests on a Git
branch (mlgit), stages and aliases as Git tags, and large artifacts in a
content-addressed blob store. It never touches your working tree, index or HEAD.

` + exitCodesHelp,
		Example: `  mlgit init
  mlgit run exec --exp churn --params params.yaml --metrics metrics.json -- python train.py
  mlgit run list --filter "metrics.acc > 0.9" --order-by "metrics.acc DESC"`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	a.AddGlobalFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{msg: err.Error() + "\nSee '" + c.CommandPath() + " --help'."}
	})
	root.AddCommand(
		newInitCmd(a, nil),
		newExpCmd(a),
		newRunCmd(a),
		newLogCmd(a, nil),
		newModelCmd(a), newLineageCmd(a, nil), newFsckCmd(a, nil), newTagsCmd(a),
		newBlobCmd(a),
		newServerCmd(a, nil), newUICmd(a, nil),
		newDiffCmd(a, nil), newHooksCmd(a), newCheckCmd(a, nil),
		newPushCmd(a, nil), newPullCmd(a, nil), newFetchCmd(a, nil),
		newConfigCmd(a), newImportCmd(a),
	)
	refuseUnknownSubcommands(root)
	addCompletion(a, root)
	return root
}

// refuseUnknownSubcommands makes every group command (mlgit run, mlgit
// model, ...) answer a mistyped subcommand as the top level does: "unknown
// command" with suggestions, exit status 2. Alone, a group prints its help.
func refuseUnknownSubcommands(c *cobra.Command) {
	for _, sub := range c.Commands() {
		refuseUnknownSubcommands(sub)
	}
	if c.Parent() == nil || !c.HasSubCommands() || c.Runnable() {
		return
	}
	c.Args = cobra.ArbitraryArgs
	c.RunE = func(cmd *cobra.Command, args []string) error {
		if len(args) == 0 {
			return cmd.Help()
		}
		msg := fmt.Sprintf("unknown command %q for %q", args[0], cmd.CommandPath())
		if cmd.SuggestionsMinimumDistance <= 0 {
			cmd.SuggestionsMinimumDistance = 2 // cobra's default for the top level
		}
		if s := cmd.SuggestionsFor(args[0]); len(s) > 0 {
			msg += "\n\nDid you mean this?\n\t" + strings.Join(s, "\n\t")
		}
		return &usageError{msg: msg + "\nSee '" + cmd.CommandPath() + " --help'."}
	}
}

// printJSON writes v as indented JSON: the one helper every --json uses, so
// field names stay stable.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// parseKV parses "k=v" flags.
func parseKV(what string, items []string) ([]repo.KV, error) {
	out := make([]repo.KV, 0, len(items))
	for _, it := range items {
		k, v, ok := strings.Cut(it, "=")
		if !ok || k == "" {
			return nil, usagef("--%s %q: want key=value", what, it)
		}
		out = append(out, repo.KV{Key: k, Value: v})
	}
	return out, nil
}

func kvMap(kvs []repo.KV) map[string]string {
	if len(kvs) == 0 {
		return nil
	}
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// joinProblems lists up to ten problems, one per line.
func joinProblems(ps []string) string {
	if len(ps) > 10 {
		ps = append(ps[:10:10], fmt.Sprintf("... and %d more", len(ps)-10))
	}
	return strings.Join(ps, "\n")
}
