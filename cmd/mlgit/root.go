package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"runtime/debug"
	"strings"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/modelcmd"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/runcmd"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/servecmd"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/synccmd"
	"github.com/spf13/cobra"
)

// version is set at build time with -ldflags "-X main.version=..."
// (make build); a go install or go build without it reports the module
// version and the commit Go recorded. (-X sets only a variable whose
// initializer is a constant: hence the init below, not an initializer.)
var version string

func init() {
	if version == "" {
		version = buildVersion()
	}
}

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

func run(ctx context.Context, args []string, s cli.Streams) int {
	a := &cli.App{Streams: s, Now: time.Now, Getenv: os.Getenv, Version: version}
	root := newRootCmd(a)
	root.SetArgs(args)
	root.SetIn(s.In)
	root.SetOut(s.Out)
	root.SetErr(s.Err)
	err := root.ExecuteContext(ctx)
	a.Close()
	if err != nil {
		if isCobraUsage(err) {
			err = &cli.UsageError{Msg: err.Error()}
		}
		var ee *cli.ExitError
		if !errors.As(err, &ee) {
			fmt.Fprintf(s.Err, "mlgit: %s\n", cli.ErrorMessage(err))
		}
		return cli.ExitCode(err)
	}
	return cli.ExitOK
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

func newRootCmd(a *cli.App) *cobra.Command {
	root := &cobra.Command{
		Use:   "mlgit <command>",
		Short: "Git-native experiment tracking and model registry",
		Long: `mlgit keeps experiments, runs and model versions as YAML manifests on a Git
branch (mlgit), stages and aliases as Git tags, and large artifacts in a
content-addressed blob store. It never touches your working tree, index or HEAD.

` + cli.ExitCodesHelp,
		Example: `  mlgit init
  mlgit run exec --exp churn --params params.yaml --metrics metrics.json -- python train.py
  mlgit run list --filter "metrics.acc > 0.9" --order-by "metrics.acc DESC"`,
		Version:       version,
		SilenceErrors: true,
		SilenceUsage:  true,
	}
	a.AddGlobalFlags(root)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &cli.UsageError{Msg: err.Error() + "\nSee '" + c.CommandPath() + " --help'."}
	})
	root.AddCommand(
		synccmd.NewInitCmd(a, nil),
		runcmd.NewExpCmd(a),
		runcmd.NewRunCmd(a),
		runcmd.NewLogCmd(a, nil),
		modelcmd.NewModelCmd(a), modelcmd.NewLineageCmd(a, nil), modelcmd.NewFsckCmd(a, nil), synccmd.NewTagsCmd(a),
		synccmd.NewBlobCmd(a),
		servecmd.NewServerCmd(a, nil), servecmd.NewUICmd(a, nil),
		runcmd.NewDiffCmd(a, nil), synccmd.NewHooksCmd(a), synccmd.NewCheckCmd(a, nil),
		synccmd.NewPushCmd(a, nil), synccmd.NewPullCmd(a, nil), synccmd.NewFetchCmd(a, nil),
		synccmd.NewConfigCmd(a), synccmd.NewImportCmd(a),
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
		return &cli.UsageError{Msg: msg + "\nSee '" + cmd.CommandPath() + " --help'."}
	}
}
