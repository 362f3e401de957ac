package runcmd

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// NewExpCmd returns mlgit exp and its subcommands.
func NewExpCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:     "exp <command>",
		Aliases: []string{"experiment"},
		Short:   "Create, list and manage experiments",
		Example: `  mlgit exp create churn --tag team=ml
  mlgit exp list
  mlgit exp rename churn churn-v2`,
	}
	cmd.AddCommand(newExpCreateCmd(a, nil), newExpListCmd(a, nil), newExpShowCmd(a, nil), newExpRenameCmd(a, nil),
		newExpLifecycleCmd(a, true, nil), newExpLifecycleCmd(a, false, nil), newExpTagCmd(a, nil, nil))
	return cmd
}

// openExperiment opens the store and resolves an experiment by name or id.
func openExperiment(a *cli.App, ref string) (*repo.Repo, *manifest.Experiment, error) {
	r, err := a.OpenRepo()
	if err != nil {
		return nil, nil, err
	}
	e, err := r.ResolveExperiment(ref)
	if err != nil {
		return nil, nil, err
	}
	return r, e, nil
}

type expCreateOptions struct {
	Name             string
	Tags             []string
	ArtifactLocation string
	AsJSON           bool
}

func newExpCreateCmd(a *cli.App, runF func(context.Context, *expCreateOptions) error) *cobra.Command {
	o := &expCreateOptions{}
	cmd := &cobra.Command{
		Use:     "create <name> [--tag k=v]...",
		Short:   "Create an experiment",
		Example: `  mlgit exp create churn --tag team=ml`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Name = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExpCreate(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringArrayVar(&o.Tags, "tag", nil, "experiment tag `key=value` (repeatable)")
	cmd.Flags().StringVar(&o.ArtifactLocation, "artifact-location", "", "artifact location recorded on the experiment")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the experiment as JSON")
	return cmd
}

func runExpCreate(_ context.Context, a *cli.App, o *expCreateOptions) error {
	kv, err := cli.ParseKV("tag", o.Tags)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	e, err := r.CreateExperiment(o.Name, o.ArtifactLocation, cli.KVMap(kv))
	if err != nil {
		return err
	}
	if o.AsJSON {
		return cli.PrintJSON(a.Out, e)
	}
	fmt.Fprintln(a.Out, e.ID)
	return nil
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

type expListOptions struct {
	All, Deleted, AsJSON bool
}

func newExpListCmd(a *cli.App, runF func(context.Context, *expListOptions) error) *cobra.Command {
	o := &expListOptions{}
	cmd := &cobra.Command{
		Use:     "list [--all|--deleted] [--json]",
		Aliases: []string{"ls"},
		Short:   "List experiments",
		Example: `  mlgit exp list --all --json`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExpList(cmd.Context(), a, o)
		},
	}
	viewFlags(cmd, &o.All, &o.Deleted)
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print JSON")
	return cmd
}

func runExpList(_ context.Context, a *cli.App, o *expListOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	exps, err := r.ListExperiments(viewType(o.All, o.Deleted))
	if err != nil {
		return err
	}
	if o.AsJSON {
		if exps == nil {
			exps = []*manifest.Experiment{}
		}
		return cli.PrintJSON(a.Out, exps)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tNAME\tSTAGE\tCREATED\tTAGS")
	for _, e := range exps {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", e.ID, e.Name, e.LifecycleStage, cli.FmtTime(e.CreationTime), fmtTags(e.Tags))
	}
	return tw.Flush()
}

type expShowOptions struct {
	Experiment string
	AsJSON     bool
}

func newExpShowCmd(a *cli.App, runF func(context.Context, *expShowOptions) error) *cobra.Command {
	o := &expShowOptions{}
	cmd := &cobra.Command{
		Use:     "show <name|id> [--json]",
		Short:   "Show an experiment",
		Example: `  mlgit exp show churn`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Experiment = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExpShow(cmd.Context(), a, o)
		},
	}
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print JSON")
	return cmd
}

func runExpShow(_ context.Context, a *cli.App, o *expShowOptions) error {
	_, e, err := openExperiment(a, o.Experiment)
	if err != nil {
		return err
	}
	if o.AsJSON {
		return cli.PrintJSON(a.Out, e)
	}
	fmt.Fprintf(a.Out, "Experiment %s\n  Name:     %s\n  Stage:    %s\n  Created:  %s\n  Updated:  %s\n", e.ID, e.Name, e.LifecycleStage, cli.FmtTime(e.CreationTime), cli.FmtTime(e.LastUpdateTime))
	if e.ArtifactLocation != "" {
		fmt.Fprintf(a.Out, "  Artifacts: %s\n", e.ArtifactLocation)
	}
	cli.PrintMap(a, "Tags", e.Tags)
	return nil
}

type expRenameOptions struct {
	Experiment, NewName string
}

func newExpRenameCmd(a *cli.App, runF func(context.Context, *expRenameOptions) error) *cobra.Command {
	o := &expRenameOptions{}
	return &cobra.Command{
		Use:     "rename <name|id> <new-name>",
		Short:   "Rename an experiment",
		Example: `  mlgit exp rename churn churn-v2`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Experiment, o.NewName = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExpRename(cmd.Context(), a, o)
		},
	}
}

func runExpRename(_ context.Context, a *cli.App, o *expRenameOptions) error {
	r, e, err := openExperiment(a, o.Experiment)
	if err != nil {
		return err
	}
	_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{Name: &o.NewName})
	if err == nil {
		fmt.Fprintf(a.Err, "Renamed experiment %s: %q -> %q\n", e.ID, e.Name, o.NewName)
	}
	return err
}

// expLifecycleOptions are those of exp delete (Delete) and exp restore.
type expLifecycleOptions struct {
	Experiment string
	Delete     bool
	Yes        bool
}

func newExpLifecycleCmd(a *cli.App, del bool, runF func(context.Context, *expLifecycleOptions) error) *cobra.Command {
	use, short := "delete", "Soft-delete an experiment (restore it with exp restore)"
	if !del {
		use, short = "restore", "Restore a deleted experiment"
	}
	o := &expLifecycleOptions{Delete: del}
	cmd := &cobra.Command{
		Use:     use + " <name|id>",
		Short:   short,
		Example: "  mlgit exp " + use + " churn",
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Experiment = args[0]
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runExpLifecycle(cmd.Context(), a, o)
		},
	}
	if del {
		cmd.Long = short + ".\n\nIt asks first on a terminal; elsewhere (a script, CI) it needs --yes."
		cmd.Flags().BoolVarP(&o.Yes, "yes", "y", false, "delete without asking")
	}
	return cmd
}

func runExpLifecycle(_ context.Context, a *cli.App, o *expLifecycleOptions) error {
	stage := manifest.LifecycleActive
	if o.Delete {
		stage = manifest.LifecycleDeleted
	}
	r, e, err := openExperiment(a, o.Experiment)
	if err != nil {
		return err
	}
	if o.Delete {
		q := fmt.Sprintf("Delete experiment %s", e.Name)
		if page, err := r.SearchRuns(repo.RunSearch{ExperimentIDs: []string{e.ID}, MaxResults: 1}); err == nil {
			q += fmt.Sprintf(" and hide its %d %s (exp restore brings them back)", page.Total, cli.Plural(page.Total, "run", "runs"))
		}
		if err := a.Confirm(o.Yes, q); err != nil {
			return err
		}
	}
	_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{Lifecycle: &stage})
	if err == nil {
		fmt.Fprintf(a.Err, "Experiment %s (%s) is now %s\n", e.ID, e.Name, stage)
	}
	return err
}

type expTagSetOptions struct {
	Experiment string
	Tags       []string // key=value
}

type expTagRmOptions struct {
	Experiment string
	Keys       []string
}

func newExpTagCmd(a *cli.App, setF func(context.Context, *expTagSetOptions) error, rmF func(context.Context, *expTagRmOptions) error) *cobra.Command {
	cmd := &cobra.Command{Use: "tag <command>", Short: "Set or remove experiment tags"}
	so := &expTagSetOptions{}
	set := &cobra.Command{
		Use:     "set <name|id> <key=value>...",
		Short:   "Set experiment tags",
		Example: `  mlgit exp tag set churn team=ml owner=ana`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			so.Experiment, so.Tags = args[0], args[1:]
			if setF != nil {
				return setF(cmd.Context(), so)
			}
			return runExpTagSet(cmd.Context(), a, so)
		},
	}
	ro := &expTagRmOptions{}
	rm := &cobra.Command{
		Use:     "rm <name|id> <key>...",
		Short:   "Remove experiment tags",
		Example: `  mlgit exp tag rm churn owner`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro.Experiment, ro.Keys = args[0], args[1:]
			if rmF != nil {
				return rmF(cmd.Context(), ro)
			}
			return runExpTagRm(cmd.Context(), a, ro)
		},
	}
	cmd.AddCommand(set, rm)
	return cmd
}

func runExpTagSet(_ context.Context, a *cli.App, o *expTagSetOptions) error {
	kv, err := cli.ParseKV("tag", o.Tags)
	if err != nil {
		return err
	}
	r, e, err := openExperiment(a, o.Experiment)
	if err != nil {
		return err
	}
	_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{SetTags: cli.KVMap(kv)})
	return err
}

func runExpTagRm(_ context.Context, a *cli.App, o *expTagRmOptions) error {
	r, e, err := openExperiment(a, o.Experiment)
	if err != nil {
		return err
	}
	_, err = r.UpdateExperiment(e.ID, repo.ExperimentChange{DeleteTags: o.Keys})
	return err
}

func fmtTags(m map[string]string) string {
	keys := cli.SortedKeys(m)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, k+"="+m[k])
	}
	return strings.Join(parts, ",")
}
