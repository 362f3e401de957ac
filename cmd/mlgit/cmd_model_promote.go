package main

import (
	"fmt"

	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type modelPromoteOptions struct {
	name            string
	version         int64
	stage           string
	archiveExisting bool
	reason          string
	asJSON          bool
}

func newModelPromoteCmd(a *app, runF func(*modelPromoteOptions) error) *cobra.Command {
	var o modelPromoteOptions
	cmd := &cobra.Command{
		Use:     "promote <name> <version> <stage> [--archive-existing] [--reason TEXT]",
		Aliases: []string{"transition"},
		Short:   "Move a version to a stage",
		Long: `Move a version to a stage: None, Staging, Production, Archived, or a custom
stage declared under stages: in mlgit.yaml (any case). The manifest changes in
one commit; then an event tag <key>#<stage>#<counter> is created on the
version's registration commit, with who, why and the commit in its message.

--archive-existing moves every other version in the target stage to Archived,
each with its own event (MLflow's archive_existing_versions).`,
		Example: `  mlgit model promote churn 4 production --archive-existing --reason "AUC 0.91 > 0.89"
  mlgit model promote churn 3 archived`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			o.name, o.version, o.stage = args[0], n, args[2]
			if runF != nil {
				return runF(&o)
			}
			return runModelPromote(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.archiveExisting, "archive-existing", false, "archive the other versions in the target stage")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the tag message)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runModelPromote(a *app, o *modelPromoteOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.Promote(repo.PromoteSpec{Name: o.name, Version: o.version, Stage: o.stage, ArchiveExisting: o.archiveExisting, Reason: o.reason})
	if res == nil {
		return err
	}
	if o.asJSON {
		if res.Changes == nil {
			res.Changes = []repo.Transition{}
		}
		if jerr := printJSON(a.Out, res); jerr != nil {
			return jerr
		}
	} else if len(res.Changes) == 0 {
		fmt.Fprintf(a.Out, "%s v%d is already in %s\n", o.name, o.version, res.Version.Stage)
	}
	if !o.asJSON {
		for _, c := range res.Changes {
			fmt.Fprintf(a.Out, "%s v%d: %s -> %s  %s\n", o.name, c.Version, c.From, c.To, c.Tag)
		}
	}
	return err
}

func newModelAliasCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias <command>",
		Short: "Point an alias at a version, or remove it",
		Long: `Aliases name one version each (MLflow's registered model aliases): setting an
alias that exists moves it. An alias may not be a stage name, latest or v<n>.
Each move is an event tag <key>#<alias>#<counter>; a removal <key>#!<alias>#<counter>.`,
		Example: `  mlgit model alias set churn champion 4
  mlgit model alias rm churn challenger`,
	}
	var reason string
	set := &cobra.Command{
		Use:     "set <name> <alias> <version> [--reason TEXT]",
		Short:   "Point an alias at a version",
		Example: `  mlgit model alias set churn champion 4 --reason "won the A/B test"`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseVersion(args[2])
			if err != nil {
				return err
			}
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			res, err := r.SetAlias(repo.AliasSpec{Name: args[0], Alias: args[1], Version: n, Reason: reason})
			if res == nil {
				return err
			}
			switch {
			case res.Previous == n:
				fmt.Fprintf(a.Out, "%s alias %s is already v%d\n", args[0], args[1], n)
			case res.Previous != 0:
				fmt.Fprintf(a.Out, "%s alias %s: v%d -> v%d  %s\n", args[0], args[1], res.Previous, n, res.Tag)
			default:
				fmt.Fprintf(a.Out, "%s alias %s -> v%d  %s\n", args[0], args[1], n, res.Tag)
			}
			return err
		},
	}
	set.Flags().StringVar(&reason, "reason", "", "why (recorded in the tag message)")
	var rmReason string
	rm := &cobra.Command{
		Use:     "rm <name> <alias> [--reason TEXT]",
		Aliases: []string{"delete"},
		Short:   "Remove an alias",
		Example: `  mlgit model alias rm churn challenger`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			res, err := r.DeleteAlias(args[0], args[1], rmReason)
			if res == nil {
				return err
			}
			fmt.Fprintf(a.Out, "%s alias %s removed (was v%d)  %s\n", args[0], args[1], res.Previous, res.Tag)
			return err
		},
	}
	rm.Flags().StringVar(&rmReason, "reason", "", "why (recorded in the tag message)")
	cmd.AddCommand(set, rm)
	return cmd
}
