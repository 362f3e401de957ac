package runcmd

import (
	"context"
	"strings"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/diff"
	"github.com/mlgit/mlgit/diff/load"
	"github.com/mlgit/mlgit/manifest"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	a, b   string
	runs   []string // three runs or more: one table
	format diff.Format
	all    bool
	// revisions compares two revisions of the tracking branch; threeDot
	// compares b with the merge base of a and b.
	revisions, threeDot bool
}

// NewDiffCmd returns mlgit diff; runF, when set, replaces its run function
// (tests).
func NewDiffCmd(a *cli.App, runF func(*diffOptions) error) *cobra.Command {
	var o diffOptions
	var format string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff {<run> <run>... | <model-ref> <model-ref> | <rev> <rev> | <rev>..<rev> | <rev>...<rev>} [--format {table | json | markdown}] [--all]",
		Short: "Compare runs, two model versions, or two revisions of the tracking branch",
		Long: `Compare two runs, two model versions, or two revisions of the tracking
branch, old side first.

Runs are given by id, a unique prefix of at least 4 characters, or name (when
no other run has it). Three runs or more are compared in one table, a column
per run: status, commit, datasets, params, metrics (latest) and tags, only
the rows whose values differ unless --all. Model
versions are given as references: churn@v3, churn@production, churn@champion,
churn@latest or models:/churn/3. Two versions are compared on stage, aliases,
source run, files and tags, and on the params and metrics of their runs.

Shown: params and tags added, removed and changed; metrics old and new with
the change and the percentage (relative to |old|, left out when old is 0, NaN
or infinite); artifacts whose digest or size changed; status and stage.
Unchanged entries are left out unless --all.

--format markdown is what a CI job posts on a promotion pull request: the
current version on the left, the candidate on the right.

Two revisions of the tracking branch (mlgit~10 mlgit, or one range
origin/mlgit..mlgit; with three dots, from the merge base as a pull request
shows it) give a summary: runs added, changed and removed, model versions
added and changed, and stage changes. Revisions are read with the system git.
A hex argument is a run id when a run has it, else a revision.

Exit status 3 when a run, model, version, stage or alias does not exist.`,
		Example: `  mlgit diff 3f2a 9b1c
  mlgit diff lr-0.05 lr-0.3 lr-1.0
  mlgit diff 3f2a 9b1c --all --format json
  mlgit diff churn@production churn@v4 --format markdown > comment.md
  mlgit diff origin/mlgit...mlgit-propose/churn-v4-production --format markdown`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 2 {
				f, err := diff.ParseFormat(format)
				if err != nil {
					return cli.Usagef("--format: %v", err)
				}
				if asJSON {
					f = diff.FormatJSON
				}
				o.format, o.runs = f, args
				if runF != nil {
					return runF(&o)
				}
				return runDiff(cmd.Context(), a, &o)
			}
			// A bad range is reported before a bad --format, a model
			// reference next to a run after it.
			q, perr := load.Parse(args)
			if perr != nil && len(args) == 1 {
				return cli.Usagef("%s", perr.Error())
			}
			f, err := diff.ParseFormat(format)
			if err != nil {
				return cli.Usagef("--format: %v", err)
			}
			if asJSON {
				if cmd.Flags().Changed("format") && f != diff.FormatJSON {
					return cli.Usagef("--json and --format %s do not go together", f)
				}
				f = diff.FormatJSON
			}
			o.format = f
			if perr != nil {
				return cli.Usagef("%s", perr.Error())
			}
			o.a, o.b, o.revisions, o.threeDot = q.A, q.B, q.Revisions, q.ThreeDot
			if runF != nil {
				return runF(&o)
			}
			return runDiff(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `format`: table, json or markdown")
	cmd.Flags().BoolVar(&asJSON, "json", false, "same as --format json")
	cmd.Flags().BoolVar(&o.all, "all", false, "show unchanged params, metrics, tags and artifacts too")
	return cmd
}

func runDiff(ctx context.Context, a *cli.App, o *diffOptions) error {
	// Revisions (origin/mlgit~1) need no local tracking branch.
	r, err := a.OpenRepoForPull()
	if err != nil {
		return err
	}
	if len(o.runs) > 0 {
		var runs []*manifest.Run
		for _, arg := range o.runs {
			id, err := a.ResolveRun(r, arg)
			if err != nil {
				return err
			}
			run, err := r.GetRun(id)
			if err != nil {
				return err
			}
			runs = append(runs, run)
		}
		t := diff.RunsTable(runs, o.runs, diff.Options{All: o.all})
		if o.format == diff.FormatJSON {
			return cli.PrintJSON(a.Out, t)
		}
		return diff.Write(a.Out, t, o.format)
	}
	// Two run names stand for their runs (a model reference, a range or a
	// revision expression is never a name).
	if !o.threeDot && !strings.ContainsAny(o.a+o.b, "@:~^") && !strings.Contains(o.a+o.b, "..") {
		ida, errA := a.ResolveRun(r, o.a)
		idb, errB := a.ResolveRun(r, o.b)
		if errA == nil && errB == nil {
			o.a, o.b, o.revisions = ida, idb, false
		}
	}
	q := load.Request{A: o.a, B: o.b, Revisions: o.revisions, ThreeDot: o.threeDot, Options: diff.Options{All: o.all}}
	d, err := load.Diff(ctx, r, q, a.Warn)
	if err != nil {
		return err
	}
	if o.format == diff.FormatJSON {
		return cli.PrintJSON(a.Out, d)
	}
	return diff.Write(a.Out, d, o.format)
}
