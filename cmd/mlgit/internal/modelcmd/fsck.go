package modelcmd

import (
	"context"
	"fmt"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

type fsckOptions struct {
	asJSON bool
}

// NewFsckCmd returns mlgit fsck; runF, when set, replaces its run function
// (tests).
func NewFsckCmd(a *cli.App, runF func(context.Context, *fsckOptions) error) *cobra.Command {
	var o fsckOptions
	cmd := &cobra.Command{
		Use:   "fsck [--json]",
		Short: "Check the registry: manifests valid, and manifests and tags in agreement",
		Long: `Check the model registry. Every model and version manifest must decode and sit
under its name's key; and the tags must say what the manifests say: every
version has its registration tag, deleted versions are deregistered, each
version's stage and each alias from the tags match the manifests, and no tag in
a model's namespace fails to parse. Manifests are the source of truth: mlgit
tags sync repairs missing tags.

Exit status 1 when there is any problem.`,
		Example: `  mlgit fsck
  mlgit fsck --json | jq '.problems[]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runFsck(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runFsck(_ context.Context, a *cli.App, o *fsckOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	rep, err := r.Fsck()
	if err != nil {
		return err
	}
	if o.asJSON {
		if err := cli.PrintJSON(a.Out, rep); err != nil {
			return err
		}
	} else {
		for _, p := range rep.Problems {
			fmt.Fprintf(a.Out, "%s: %s: %s\n", p.Model, p.Kind, p.Message)
		}
		fmt.Fprintf(a.Out, "%d %s, %d %s, %d registry %s: %d %s\n", rep.Models, cli.Plural(rep.Models, "model", "models"), rep.Versions, cli.Plural(rep.Versions, "version", "versions"), rep.Tags, cli.Plural(rep.Tags, "tag", "tags"), len(rep.Problems), cli.Plural(len(rep.Problems), "problem", "problems"))
	}
	if len(rep.Problems) > 0 {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}
