package synccmd

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/mlflowimport"
	"github.com/spf13/cobra"
)

// NewImportCmd returns mlgit import and its subcommands.
func NewImportCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "import",
		Short: "Bring another tracker's history into the repository",
		Long:  "Bring another tracker's history into the repository, with its ids kept.",
	}
	cmd.AddCommand(newImportMLflowCmd(a, nil))
	return cmd
}

type importMLflowOptions struct {
	from        string
	experiments []string
	dryRun      bool
	verify      bool
	asJSON      bool
}

func newImportMLflowCmd(a *cli.App, runF func(context.Context, *importMLflowOptions) error) *cobra.Command {
	var o importMLflowOptions
	cmd := &cobra.Command{
		Use:   "mlflow --from ./mlruns|URL [--experiment NAME_OR_ID ...] [--dry-run] [--verify] [--json]",
		Short: "Import an MLflow store or tracking server: experiments, runs, metrics, artifacts, models, the registry",
		Long: `Import an MLflow file store (an mlruns folder, or file:///...) written by
MLflow 2.x or 3.x, or what a tracking server holds (--from http://host:5000,
any backend behind it; artifacts are read through the server, authenticated
as MLflow's client is: MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD; MLFLOW_TRACKING_INSECURE_TLS=true skips the TLS
check): experiments (deleted ones too), runs with their params, tags,
every metric point, datasets and artifacts, MLflow 3 logged models, and the
model registry. Run, experiment and logged-model ids and version numbers are
MLflow's, so runs:/<id>/... and models:/<name>/<n> references keep resolving
against mlgit server. Each version is registered in its own commit with its
registration tag; its current stage and the aliases become stage and alias
tags as a promotion would make them, dated when MLflow made the change (MLflow
keeps no stage history). The registry comes along when no --experiment is
given. Artifacts are streamed into the blob cache (mlgit push uploads them).

A store copied from another machine records absolute paths that no longer
exist: artifacts are found relative to the folder given.

The import commits in batches. Stopped at any point (Ctrl-C, kill -9), it
completes when run again, every item once; run again after new runs or points
were logged in MLflow, it adds only those, and says "nothing to do" when there
is nothing new. Items it cannot bring (a corrupt meta.yaml, a run whose
experiment could not be read, a name mlgit cannot store) are skipped and
listed at the end; the rest comes across.

--dry-run counts what would come across and writes nothing. --verify compares
the repository with the source afterwards (every param, tag, metric point and
artifact digest) and exits 1 with the differences if there are any.`,
		Example: `  mlgit import mlflow --from ./mlruns
  mlgit import mlflow --from http://mlflow.internal:5000 --verify
  mlgit import mlflow --from /backup/mlruns --experiment churn --dry-run
  mlgit import mlflow --from file:///srv/mlflow/mlruns --verify --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.from == "" {
				return cli.Usagef("--from is required: the MLflow store's folder (mlruns)")
			}
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runImportMLflow(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.from, "from", "", "the MLflow store: an mlruns folder, a file:// URL, or a tracking server's http(s):// URL")
	cmd.Flags().StringArrayVar(&o.experiments, "experiment", nil, "import only this experiment (name or id; repeatable)")
	cmd.Flags().BoolVar(&o.dryRun, "dry-run", false, "count what would come across; write nothing")
	cmd.Flags().BoolVar(&o.verify, "verify", false, "compare the repository with the source afterwards; exit 1 on any difference")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the summary as JSON")
	return cmd
}

// importReport is the --json output.
type importReport struct {
	*mlflowimport.Summary
	NothingToDo bool                      `json:"nothing_to_do"`
	Verified    *bool                     `json:"verified,omitempty"`
	Differences []mlflowimport.Difference `json:"differences,omitempty"`
}

func runImportMLflow(ctx context.Context, a *cli.App, o *importMLflowOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	var src *mlflowimport.Store
	if strings.HasPrefix(o.from, "http://") || strings.HasPrefix(o.from, "https://") {
		src, err = mlflowimport.ReadServer(ctx, o.from, mlflowimport.ServerOptions{Getenv: a.Getenv})
		if err != nil {
			return err
		}
	} else if src, err = mlflowimport.ReadFileStore(o.from); err != nil {
		return cli.Usagef("%v", err)
	}
	st, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		return err
	}
	bar := a.StartCountProgress("import", 0, "runs")
	sum, err := mlflowimport.Import(ctx, r, st, src, mlflowimport.Options{
		Experiments: o.experiments, DryRun: o.dryRun,
		Progress: func(p mlflowimport.Progress) {
			bar.SetTotal(int64(p.RunsTotal))
			bar.Set(int64(p.Runs))
			bar.SetNote(fmt.Sprintf("%d points, %s", p.Points, units.Bytes(p.ArtifactBytes)))
		},
	})
	bar.Finish()
	if err != nil {
		return err
	}
	rep := importReport{Summary: sum, NothingToDo: sum.NothingToDo()}
	if o.verify && !o.dryRun {
		diffs, err := mlflowimport.Verify(ctx, r, src, mlflowimport.Options{Experiments: o.experiments})
		if err != nil {
			return err
		}
		ok := len(diffs) == 0
		rep.Verified, rep.Differences = &ok, diffs
	}
	if o.asJSON {
		if err := cli.PrintJSON(a.Out, rep); err != nil {
			return err
		}
	} else {
		printImportSummary(a, o, &rep)
	}
	if rep.Verified != nil && !*rep.Verified {
		return fmt.Errorf("verify: %d differences between %s and the repository", len(rep.Differences), o.from)
	}
	return nil
}

func printImportSummary(a *cli.App, o *importMLflowOptions, rep *importReport) {
	s := rep.Summary
	w := a.Out
	what := func() string {
		return fmt.Sprintf("%s, %s (%s, %s in %s), %s, %s (%s, %s)",
			nplural(s.Experiments, "experiment", "experiments"), nplural(s.Runs, "run", "runs"),
			nplural(int(s.Points), "metric point", "metric points"), units.Bytes(s.ArtifactBytes),
			nplural(s.Artifacts, "artifact file", "artifact files"), nplural(s.LoggedModels, "logged model", "logged models"),
			nplural(s.Models, "registered model", "registered models"), nplural(s.Versions, "version", "versions"),
			nplural(s.RegistryEvents, "stage or alias tag", "stage and alias tags"))
	}
	switch {
	case rep.NothingToDo:
		fmt.Fprintf(w, "Nothing to do: the repository holds everything %s has (%s and the registry checked).\n", o.from, nplural(s.RunsUnchanged, "run", "runs"))
	case s.DryRun:
		fmt.Fprintf(w, "Would import from %s: %s; %s already here. Nothing was written.\n", o.from, what(), nplural(s.RunsUnchanged, "run is", "runs are"))
	default:
		fmt.Fprintf(w, "Imported from %s in %.1fs: %s; %s already here; %s.\n",
			o.from, s.Seconds, what(), nplural(s.RunsUnchanged, "run was", "runs were"), nplural(s.Commits, "commit", "commits"))
		if s.Artifacts > 0 {
			fmt.Fprintln(w, "Artifacts are in the local blob cache; mlgit push uploads them (and the registry's tags) to the remotes.")
		}
	}
	if len(s.Skipped) > 0 {
		fmt.Fprintf(a.Err, "Skipped %d items:\n", len(s.Skipped))
		for _, sk := range s.Skipped {
			fmt.Fprintf(a.Err, "  %s: %s\n", sk.Item, sk.Reason)
		}
	}
	if rep.Verified != nil {
		if *rep.Verified {
			fmt.Fprintln(w, "Verified: every experiment, run, param, tag, metric point, artifact, model version, stage and alias matches the source.")
		} else {
			fmt.Fprintf(a.Err, "%d differences:\n", len(rep.Differences))
			for _, d := range rep.Differences {
				fmt.Fprintf(a.Err, "  %s\n", d)
			}
		}
	}
}

// nplural is n and the noun that agrees with it: "1 run", "2 runs".
func nplural(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, cli.Plural(n, one, many))
}
