package synccmd

import (
	"context"
	"fmt"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// NewTagsCmd returns mlgit tags and its subcommands.
func NewTagsCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tags <command>",
		Short: "Keep the registry's Git tags in line with the manifests",
		Example: `  mlgit tags sync
  mlgit tags sync churn --dry-run`,
	}
	cmd.AddCommand(newTagsSyncCmd(a, nil))
	return cmd
}

type tagsSyncOptions struct {
	names                []string // models (default: all)
	dryRun, asJSON, push bool
	remote               string
}

func newTagsSyncCmd(a *cli.App, runF func(context.Context, *tagsSyncOptions) error) *cobra.Command {
	var o tagsSyncOptions
	cmd := &cobra.Command{
		Use:   "sync [name...] [--dry-run] [--json]",
		Short: "Create the registry tags the manifests imply and that are missing",
		Long: `Create every registry tag that the manifests imply and that is missing, so the
tags say what the manifests say; idempotent, safe to run in CI after every
merge:

  - <key>@v<n> for every version, on the commit that added it;
  - <key>@v<n>! for every version (or model) deleted on this branch whose
    registration tag is still live;
  - a new stage event for every version whose stage by the tags differs from
    its manifest, and a new alias event (or removal) for every alias that
    differs from model.yaml.

With names, only those models.

--push first pulls from the remote (--remote, default origin), so tags that
exist there are not created twice (a CI checkout often has no tags at all),
then creates the missing tags and pushes them, as mlgit push does: counters
that another job took meanwhile are renumbered and the push retried. This is
the command to run in CI after a promotion pull request is merged.`,
		Example: `  mlgit tags sync
  mlgit tags sync churn --dry-run --json
  mlgit tags sync --push            # CI, after a merge to the tracking branch`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.push && o.dryRun {
				return cli.Usagef("give --push or --dry-run, not both")
			}
			o.names = args
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runTagsSync(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "say what would be created, create nothing")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.push, "push", false, "pull first, then push the created tags (CI after a merge)")
	cmd.Flags().StringVar(&o.remote, "remote", "", "remote for --push (default origin)")
	return cmd
}

func runTagsSync(ctx context.Context, a *cli.App, o *tagsSyncOptions) error {
	open := a.OpenRepo
	if o.push {
		open = a.OpenRepoForPull
	}
	r, err := open()
	if err != nil {
		return err
	}
	if o.push {
		if _, err := r.Pull(ctx, syncOptions(a, o.remote)); err != nil {
			return err
		}
	}
	rep, err := r.SyncTags(o.names, o.dryRun)
	if rep != nil {
		a.Warn(rep.Warnings...)
	}
	if err != nil {
		return err
	}
	var pushed *repo.SyncResult
	if o.push {
		if pushed, err = r.Push(ctx, syncOptions(a, o.remote)); err != nil {
			return err
		}
	}
	if o.asJSON {
		if o.push {
			return cli.PrintJSON(a.Out, struct {
				*repo.SyncReport
				Push *repo.SyncResult `json:"push"`
			}{rep, pushed})
		}
		return cli.PrintJSON(a.Out, rep)
	}
	verb, summary := "created", "%d tags created\n"
	if o.dryRun {
		verb, summary = "would create", "%d tags to create (dry run)\n"
	}
	for _, c := range rep.Created {
		fmt.Fprintf(a.Out, "%s %s (%s v%d)\n", verb, c.Tag, c.Kind, c.Version)
	}
	fmt.Fprintf(a.Out, summary, len(rep.Created))
	if pushed != nil {
		printSyncResult(a.Out, "push", pushed)
	}
	return nil
}
