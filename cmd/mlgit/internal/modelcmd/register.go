package modelcmd

import (
	"context"
	"fmt"
	"net/url"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type modelRegisterOptions struct {
	name        string
	run         string
	path        string
	from        string
	description string
	tags        []string
	asJSON      bool
}

func newModelRegisterCmd(a *cli.App, runF func(*modelRegisterOptions) error) *cobra.Command {
	o := modelRegisterOptions{}
	cmd := &cobra.Command{
		Use:   "register <name> {--run ID [--path model] | --from DIR} [--description TEXT] [--tag k=v]...",
		Short: "Register a run's model files, or a local folder, as the next version",
		Long: `Register the next version of a model (1, 2, 3...; numbers are never reused,
even after deletion). The model is created if it does not exist yet.

--run takes the run's artifacts under --path (default "model"); their paths
in the version are relative to --path, and the source is runs:/<run>/<path>.
--from DIR stores DIR's files in the local blob cache and records them; the
source is file://DIR.

If the files contain an MLflow MLmodel file, its flavors, signature and model
size are recorded. The version is committed, then tagged <key>@v<n> on that
commit.`,
		Example: `  mlgit model register churn --run 3f2a9c1e --path model
  mlgit model register churn --from ./export/churn-model --description "hand-tuned"`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if (o.run == "") == (o.from == "") {
				return cli.Usagef("give exactly one of --run ID or --from DIR")
			}
			if o.from != "" && cmd.Flags().Changed("path") {
				return cli.Usagef("--path goes with --run, not --from")
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelRegister(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.run, "run", "", "register the artifacts of run `ID` (or a unique prefix)")
	cmd.Flags().StringVar(&o.path, "path", "model", "artifact `path` within the run")
	cmd.Flags().StringVar(&o.from, "from", "", "register the files of local folder `DIR`")
	cmd.Flags().StringVar(&o.description, "description", "", "version description `text`")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "version tag `key=value` (repeatable)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runModelRegister(ctx context.Context, a *cli.App, o *modelRegisterOptions) error {
	kv, err := cli.ParseKV("tag", o.tags)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	spec := repo.VersionSpec{Name: o.name, Description: o.description, Tags: cli.KVMap(kv), CreateModel: true}
	open, err := blobOpener(a, ctx, r)
	if err != nil {
		return err
	}
	if o.run != "" {
		id, err := a.ResolveRun(r, o.run)
		if err != nil {
			return err
		}
		_, arts, err := r.RunModelFiles(id, o.path)
		if err != nil {
			return err
		}
		spec.RunID, spec.Artifacts = id, arts
		spec.Source = "runs:/" + id + "/" + strings.Trim(o.path, "/")
	} else {
		abs, err := filepath.Abs(o.from)
		if err != nil {
			return err
		}
		local, err := blob.NewLocal(r.BlobCacheDir())
		if err != nil {
			return err
		}
		// As artifact add: the cache lock, shared, until the version is
		// committed, so that a blob gc (exclusive) cannot remove a chunk
		// this add found present and did not rewrite.
		lock, err := r.LockBlobCache(false, time.Minute)
		if err != nil {
			return err
		}
		defer lock.Unlock()
		arts, err := repo.ScanModelDir(abs, func(p string) (string, int64, error) {
			d, n, err := blob.AddFile(ctx, local, p)
			return d.String(), n, err
		})
		if err != nil {
			return err
		}
		spec.Artifacts = arts
		spec.Source = (&url.URL{Scheme: "file", Path: abs}).String()
	}
	if w := spec.ApplyMLmodel(readBlob(open)); w != "" {
		a.Warn(w)
	}
	res, err := r.RegisterVersion(spec)
	if res == nil {
		return err
	}
	if res.CreatedModel {
		fmt.Fprintf(a.Err, "Created model %q (it did not exist)\n", o.name)
	}
	if err != nil {
		a.Warn(err.Error())
	}
	if o.asJSON {
		if jerr := cli.PrintJSON(a.Out, res); jerr != nil {
			return jerr
		}
	} else {
		v := res.Version
		fmt.Fprintf(a.Out, "Registered %s v%d (%d %s", v.Name, v.Version, len(v.Artifacts), cli.Plural(len(v.Artifacts), "file", "files"))
		if len(v.Flavors) > 0 {
			fmt.Fprintf(a.Out, ", flavors %v", v.Flavors)
		}
		fmt.Fprintf(a.Out, ") tag %s\n", orDash(res.Tag))
	}
	if err != nil {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

type modelVersionsOptions struct {
	name   string
	stage  string
	asJSON bool
}

func newModelVersionsCmd(a *cli.App, runF func(*modelVersionsOptions) error) *cobra.Command {
	var o modelVersionsOptions
	cmd := &cobra.Command{
		Use:   "versions <name> [--stage S] [--json]",
		Short: "List the versions of a model",
		Example: `  mlgit model versions churn
  mlgit model versions churn --stage production --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if runF != nil {
				return runF(&o)
			}
			return runModelVersions(a, &o)
		},
	}
	cmd.Flags().StringVar(&o.stage, "stage", "", "only versions in stage `S` (any case)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runModelVersions(a *cli.App, o *modelVersionsOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	vs, err := r.ListVersions(o.name, o.stage)
	if err != nil {
		return err
	}
	if o.asJSON {
		if vs == nil {
			vs = []*manifest.ModelVersion{}
		}
		return cli.PrintJSON(a.Out, vs)
	}
	m, err := r.GetModel(o.name)
	if err != nil {
		return err
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "VERSION\tSTAGE\tALIASES\tRUN\tSOURCE\tREGISTERED")
	for _, v := range vs {
		fmt.Fprintf(tw, "v%d\t%s\t%s\t%s\t%s\t%s\n", v.Version, v.Stage, aliasesOf(m.Aliases, v.Version), orDash(cli.ShortID(v.RunID)), orDash(v.Source), cli.FmtTime(v.CreationTimestamp))
	}
	return tw.Flush()
}
