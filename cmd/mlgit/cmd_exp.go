package main

import (
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

func newExpCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "exp <command>",
		Aliases: []string{"experiment"},
		Short:   "Create, list and manage experiments",
		Example: `  mlgit exp create churn --tag team=ml
  mlgit exp list
  mlgit exp rename churn churn-v2`,
	}
	cmd.AddCommand(newExpCreateCmd(a), newExpListCmd(a), newExpShowCmd(a), newExpRenameCmd(a),
		newExpLifecycleCmd(a, true), newExpLifecycleCmd(a, false), newExpTagCmd(a))
	return cmd
}

func newExpCreateCmd(a *app) *cobra.Command {
	var tags []string
	var location string
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "create <name> [--tag k=v]...",
		Short:   "Create an experiment",
		Example: `  mlgit exp create churn --tag team=ml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			kv, err := parseKV("tag", tags)
			if err != nil {
				return err
			}
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.CreateExperiment(args[0], location, kvMap(kv))
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, e)
			}
			fmt.Fprintln(a.Out, e.ID)
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&tags, "tag", nil, "experiment tag `key=value` (repeatable)")
	cmd.Flags().StringVar(&location, "artifact-location", "", "artifact location recorded on the experiment")
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the experiment as JSON")
	return cmd
}

func viewFlags(cmd *cobra.Command, all, deleted *bool) {
	cmd.Flags().BoolVar(all, "all", false, "include deleted entries")
	cmd.Flags().BoolVar(deleted, "deleted", false, "only deleted entries")
	cmd.MarkFlagsMutuallyExclusive("all", "deleted")
}

func viewType(all, deleted bool) repo.ViewType {
	switch {
	case all:
		return repo.ViewAll
	case deleted:
		return repo.ViewDeleted
	}
	return repo.ViewActive
}

func newExpListCmd(a *app) *cobra.Command {
	var all, deleted, asJSON bool
	cmd := &cobra.Command{
		Use:     "list [--all|--deleted] [--json]",
		Aliases: []string{"ls"},
		Short:   "List experiments",
		Example: `  mlgit exp list --all --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			exps, err := r.ListExperiments(viewType(all, deleted))
			if err != nil {
				return err
			}
			if asJSON {
				if exps == nil {
					exps = []*manifest.Experiment{}
				}
				return printJSON(a.Out, exps)
			}
			tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tNAME\tSTAGE\tCREATED\tTAGS")
			for _, e := range exps {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, e.LifecycleStage, fmtTime(e.CreationTime), fmtTags(e.Tags))
			}
			return tw.Flush()
		},
	}
	viewFlags(cmd, &all, &deleted)
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newExpShowCmd(a *app) *cobra.Command {
	var asJSON bool
	cmd := &cobra.Command{
		Use:     "show <name|id> [--json]",
		Short:   "Show an experiment",
		Example: `  mlgit exp show churn`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.ResolveExperiment(args[0])
			if err != nil {
				return err
			}
			if asJSON {
				return printJSON(a.Out, e)
			}
			fmt.Fprintf(a.Out, "Experiment %s\n  Name:     %s\n  Stage:    %s\n  Created:  %s\n  Updated:  %s\n", e.ID, e.Name, e.LifecycleStage, fmtTime(e.CreationTime), fmtTime(e.LastUpdateTime))
			if e.ArtifactLocation != "" {
				fmt.Fprintf(a.Out, "  Artifacts: %s\n", e.ArtifactLocation)
			}
			printMap(a, "Tags", e.Tags)
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print JSON")
	return cmd
}

func newExpRenameCmd(a *app) *cobra.Command {
	return &cobra.Command{
		Use:     "rename <name|id> <new-name>",
		Short:   "Rename an experiment",
		Example: `  mlgit exp rename churn churn-v2`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.ResolveExperiment(args[0])
			if err != nil {
				return err
			}
			_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{Name: &args[1]})
			if err == nil {
				fmt.Fprintf(a.Err, "Renamed experiment %s: %q -> %q\n", e.ID, e.Name, args[1])
			}
			return err
		},
	}
}

func newExpLifecycleCmd(a *app, del bool) *cobra.Command {
	use, short, stage := "delete", "Soft-delete an experiment (restore it with exp restore)", manifest.LifecycleDeleted
	if !del {
		use, short, stage = "restore", "Restore a deleted experiment", manifest.LifecycleActive
	}
	var yes bool
	cmd := &cobra.Command{
		Use:     use + " <name|id>",
		Short:   short,
		Example: "  mlgit exp " + use + " churn",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.ResolveExperiment(args[0])
			if err != nil {
				return err
			}
			if del {
				q := fmt.Sprintf("Delete experiment %s", e.Name)
				if page, err := r.SearchRuns(repo.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 1}); err == nil {
					q += fmt.Sprintf(" and hide its %d %s (exp restore brings them back)", page.Total, plural(page.Total, "run", "runs"))
				}
				if err := a.confirm(yes, q); err != nil {
					return err
				}
			}
			_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{Lifecycle: &stage})
			if err == nil {
				fmt.Fprintf(a.Err, "Experiment %s (%s) is now %s\n", e.ID, e.Name, stage)
			}
			return err
		},
	}
	if del {
		cmd.Long = short + ".\n\nIt asks first on a terminal; elsewhere (a script, CI) it needs --yes."
		cmd.Flags().BoolVarP(&yes, "yes", "y", false, "delete without asking")
	}
	return cmd
}

func newExpTagCmd(a *app) *cobra.Command {
	cmd := &cobra.Command{Use: "tag <command>", Short: "Set or remove experiment tags"}
	set := &cobra.Command{
		Use:     "set <name|id> <key=value>...",
		Short:   "Set experiment tags",
		Example: `  mlgit exp tag set churn team=ml owner=ana`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			kv, err := parseKV("tag", args[1:])
			if err != nil {
				return err
			}
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.ResolveExperiment(args[0])
			if err != nil {
				return err
			}
			_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{SetTags: kvMap(kv)})
			return err
		},
	}
	rm := &cobra.Command{
		Use:     "rm <name|id> <key>...",
		Short:   "Remove experiment tags",
		Example: `  mlgit exp tag rm churn owner`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			r, err := a.OpenRepo()
			if err != nil {
				return err
			}
			e, err := r.ResolveExperiment(args[0])
			if err != nil {
				return err
			}
			_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{DeleteTags: args[1:]})
			return err
		},
	}
	cmd.AddCommand(set, rm)
	return cmd
}

func fmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
}

func fmtTags(m map[string]string) string {
	keys := sortedKeys(m)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func printMap(a *app, title string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(a.Out, "%s:\n", title)
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	for _, k := range sortedKeys(m) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, m[k])
	}
	tw.Flush()
}
