package runcmd

import (
	"context"
	"fmt"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type logOptions struct {
	max    int // 0: all
	asJSON bool
}

// NewLogCmd returns mlgit log; runF, when set, replaces its run function
// (tests).
func NewLogCmd(a *cli.App, runF func(context.Context, *logOptions) error) *cobra.Command {
	var o logOptions
	cmd := &cobra.Command{
		Use:   "log [-n N] [--json]",
		Short: "Show the tracking branch's history in human terms",
		Long: `Show who did what to which run, experiment or model, and when: one line per
commit of the tracking branch, newest first. Acknowledged writes that are still
in the journal appear after the next checkpoint (mlgit run flush).`,
		Example: `  mlgit log -n 20
  mlgit log --json | jq '.[] | select(.op == "checkpoint")'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runBranchLog(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().IntVarP(&o.max, "max-count", "n", 0, "show at most `N` entries (0: all)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runBranchLog(_ context.Context, a *cli.App, o *logOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	evs, err := r.History(o.max)
	if err != nil {
		return err
	}
	if o.asJSON {
		if evs == nil {
			evs = []repo.Event{}
		}
		return cli.PrintJSON(a.Out, evs)
	}
	for _, e := range evs {
		fmt.Fprintf(a.Out, "%s  %s  %-16s %s\n", e.Commit[:10], e.Time.UTC().Format("2006-01-02 15:04:05"), e.Author, e.Subject)
	}
	return nil
}
