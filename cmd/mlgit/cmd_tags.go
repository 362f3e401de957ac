package main

import (
	"fmt"

	"github.com/spf13/cobra"
)

func newTagsCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tags <command>",
		Short: "Keep the registry's Git tags in line with the manifests",
		Example: `  mlgit tags sync
  mlgit tags sync churn --dry-run`,
	}
	cmd.AddCommand(newTagsSyncCmd(a))
	return cmd
}

func newTagsSyncCmd(a *app) *cobra.Command {
	var dryRun, asJSON, push bool
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

With names, only those models. Pushing the tags is separate (git push --tags).`,
		Example: `  mlgit tags sync
  mlgit tags sync churn --dry-run --json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if push {
				return usagef("tags sync --push is not available yet; run git push <remote> --tags after tags sync")
			}
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			rep, err := r.SyncTags(args, dryRun)
			if rep != nil {
				a.warn(rep.Warnings...)
			}
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, rep)
			}
			verb, summary := "created", "%d tags created\n"
			if dryRun {
				verb, summary = "would create", "%d tags to create (dry run)\n"
			}
			for _, c := range rep.Created {
				fmt.Fprintf(a.Out, "%s %s (%s v%d)\n", verb, c.Tag, c.Kind, c.Version)
			}
			fmt.Fprintf(a.Out, summary, len(rep.Created))
			return nil
		},
	}
	cmd.Flags().BoolVar(&dryRun, "dry-run", false, "say what would be created, create nothing")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&push, "push", false, "push the tags too (not available yet)")
	cmd.Flags().MarkHidden("push")
	return cmd
}
