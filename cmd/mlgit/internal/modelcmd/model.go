package modelcmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/shell"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// NewModelCmd returns mlgit model and its subcommands.
func NewModelCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "model <command>",
		Short: "Register, promote, alias and resolve model versions",
		Long: `The model registry. Models and versions are manifests on the tracking branch
(models/<key>/); every registration, stage change and alias move is also an
annotated Git tag, so CI can read the registry with plain git:

  <key>@v<n>                  version n was registered (<key>@v<n>! : deleted)
  <key>#<label>#<counter>     version entered stage <label>, or alias <label>
                              moved to it (#!<alias># : alias removed)

<key> is the model name with every byte outside [A-Za-z0-9._-] written %XX.
A reference is NAME@v3, NAME@latest, NAME@<stage> or NAME@<alias> (also
MLflow's models:/NAME/3, models:/NAME/Production, models:/NAME@alias).
See docs/registry.md.`,
		Example: `  mlgit model register churn --run 3f2a9c1e --path model
  mlgit model promote churn 4 production --archive-existing --reason "AUC +2%"
  mlgit model alias set churn champion 4
  mlgit model resolve churn@production --field digest`,
	}
	cmd.AddCommand(newModelCreateCmd(a, nil), newModelListCmd(a, nil), newModelShowCmd(a, nil), newModelRenameCmd(a, nil),
		newModelDeleteCmd(a, nil), newModelRestoreCmd(a, nil), newModelDescribeCmd(a, nil), newModelTagCmd(a, nil, nil),
		newModelRegisterCmd(a, nil), newModelVersionsCmd(a, nil), newModelPromoteCmd(a, nil), newModelAliasCmd(a, nil, nil),
		newModelResolveCmd(a, nil), newModelGetCmd(a, nil), newModelCheckRefCmd(a, nil), newModelHistoryCmd(a, nil))
	return cmd
}

// parseVersion parses a version argument ("3" or "v3").
func parseVersion(s string) (int64, error) {
	n, err := strconv.ParseInt(strings.TrimPrefix(strings.TrimPrefix(s, "v"), "V"), 10, 64)
	if err != nil || n < 1 {
		return 0, cli.Usagef("version %q is not a positive integer", s)
	}
	return n, nil
}

// blobOpener opens blobs from the local cache, falling back to the blob
// remote (MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml) for blobs
// the cache lacks. Reads are verified by the blob package.
func blobOpener(a *cli.App, ctx context.Context, r *repo.Repo) (repo.OpenFunc, error) {
	local, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		return nil, err
	}
	var remote blob.Store
	remoteURL := a.Getenv("MLGIT_BLOB_REMOTE")
	if remoteURL == "" {
		if cfg, err := r.Config(); err == nil {
			remoteURL = cfg.Blobs.Remote
		}
	}
	return func(digest string) (io.ReadCloser, int64, error) {
		d, err := blob.ParseDigest(digest)
		if err != nil {
			return nil, 0, err
		}
		rc, n, err := blob.Open(ctx, local, d)
		if !errors.Is(err, blob.ErrNotFound) || remoteURL == "" {
			if errors.Is(err, blob.ErrNotFound) {
				err = fmt.Errorf("%s is not in the local blob cache and no blob remote is configured (MLGIT_BLOB_REMOTE or blobs.remote in mlgit.yaml): %w", digest, err)
			}
			return rc, n, err
		}
		if remote == nil {
			if remote, err = blob.OpenStore(ctx, remoteURL); err != nil {
				return nil, 0, err
			}
		}
		return blob.Open(ctx, remote, d)
	}, nil
}

// readBlob reads a small blob whole (an MLmodel file).
func readBlob(open repo.OpenFunc) func(string) ([]byte, error) {
	return func(digest string) ([]byte, error) {
		rc, _, err := open(digest)
		if err != nil {
			return nil, err
		}
		defer rc.Close()
		return io.ReadAll(io.LimitReader(rc, 16<<20))
	}
}

type modelCreateOptions struct {
	name, description string
	tags              []string
	asJSON            bool
}

func newModelCreateCmd(a *cli.App, runF func(*modelCreateOptions) error) *cobra.Command {
	var o modelCreateOptions
	cmd := &cobra.Command{
		Use:     "create <name> [--description TEXT] [--tag k=v]...",
		Short:   "Create a registered model",
		Long:    "Create a registered model (MLflow's create_registered_model). model register creates it too.",
		Example: `  mlgit model create churn --description "Churn classifier" --tag team=growth`,
		Args:    cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if runF != nil {
				return runF(&o)
			}
			return runModelCreate(a, &o)
		},
	}
	cmd.Flags().StringVar(&o.description, "description", "", "description `text`")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "model tag `key=value` (repeatable)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the model as JSON")
	return cmd
}

func runModelCreate(a *cli.App, o *modelCreateOptions) error {
	kv, err := cli.ParseKV("tag", o.tags)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	m, err := r.CreateModel(repo.ModelSpec{Name: o.name, Description: o.description, Tags: cli.KVMap(kv)})
	if err != nil {
		return err
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, m)
	}
	fmt.Fprintf(a.Out, "Created model %q\n", m.Name)
	return nil
}

// modelRow is a model as model list prints it.
type modelRow struct {
	*manifest.RegisteredModel
	LatestVersions []*manifest.ModelVersion `json:"latest_versions"`
}

type modelListOptions struct {
	asJSON bool
}

func newModelListCmd(a *cli.App, runF func(*modelListOptions) error) *cobra.Command {
	var o modelListOptions
	cmd := &cobra.Command{
		Use:     "list [--json]",
		Aliases: []string{"ls"},
		Short:   "List registered models with their latest version per stage",
		Example: `  mlgit model list --json | jq '.[].name'`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(&o)
			}
			return runModelList(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runModelList(a *cli.App, o *modelListOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	models, err := r.ListModels()
	if err != nil {
		return err
	}
	rows := make([]modelRow, 0, len(models))
	for _, m := range models {
		lv, err := r.LatestVersions(m.Name)
		if err != nil {
			return err
		}
		if lv == nil {
			lv = []*manifest.ModelVersion{}
		}
		rows = append(rows, modelRow{m, lv})
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, rows)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "NAME\tVERSIONS\tSTAGES\tALIASES\tUPDATED")
	for _, m := range rows {
		fmt.Fprintf(tw, "%s\t%d\t%s\t%s\t%s\n", m.Name, m.LatestVersion, fmtLatest(m.LatestVersions), fmtAliases(m.Aliases), cli.FmtTime(m.LastUpdatedTimestamp))
	}
	return tw.Flush()
}

func fmtLatest(vs []*manifest.ModelVersion) string {
	var parts []string
	for _, v := range vs {
		if v.Stage != repo.StageNone {
			parts = append(parts, fmt.Sprintf("%s=v%d", v.Stage, v.Version))
		}
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ",")
}

func fmtAliases(m map[string]int64) string {
	if len(m) == 0 {
		return "-"
	}
	var parts []string
	for _, k := range cli.SortedKeys(m) {
		parts = append(parts, fmt.Sprintf("%s=v%d", k, m[k]))
	}
	return strings.Join(parts, ",")
}

// modelDetail is what model show prints.
type modelDetail struct {
	*manifest.RegisteredModel
	LatestVersions []*manifest.ModelVersion `json:"latest_versions"`
	Versions       []*manifest.ModelVersion `json:"versions"`
}

type modelShowOptions struct {
	name    string
	version string // empty: the model
	asJSON  bool
}

func newModelShowCmd(a *cli.App, runF func(*modelShowOptions) error) *cobra.Command {
	var o modelShowOptions
	cmd := &cobra.Command{
		Use:   "show <name> [version] [--json]",
		Short: "Show a model (description, tags, aliases, versions) or one version",
		Long: `Show a model: description, tags, aliases, the latest version in each stage and
every version with its flavors and size. With a version, show that version in
full: source, run, signature, files.`,
		Example: `  mlgit model show churn
  mlgit model show churn 4 --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if len(args) == 2 {
				o.version = args[1]
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelShow(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runModelShow(a *cli.App, o *modelShowOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if o.version != "" {
		n, err := parseVersion(o.version)
		if err != nil {
			return err
		}
		v, err := r.GetVersion(o.name, n)
		if err != nil {
			return err
		}
		m, err := r.GetModel(o.name)
		if err != nil {
			return err
		}
		if o.asJSON {
			return cli.PrintJSON(a.Out, v)
		}
		printVersion(a, v, m)
		return nil
	}
	m, err := r.GetModel(o.name)
	if err != nil {
		return err
	}
	vs, err := r.ListVersions(o.name, "")
	if err != nil {
		return err
	}
	if vs == nil {
		vs = []*manifest.ModelVersion{}
	}
	d := modelDetail{m, repoLatest(vs), vs}
	if o.asJSON {
		return cli.PrintJSON(a.Out, d)
	}
	printModel(a, d)
	return nil
}

// repoLatest is the highest version per stage, as MLflow's latest_versions.
func repoLatest(vs []*manifest.ModelVersion) []*manifest.ModelVersion {
	best := map[string]*manifest.ModelVersion{}
	var order []string
	for _, v := range vs {
		k := strings.ToLower(v.Stage)
		if best[k] == nil {
			order = append(order, k)
		}
		if best[k] == nil || v.Version > best[k].Version {
			best[k] = v
		}
	}
	out := []*manifest.ModelVersion{}
	for _, k := range order {
		out = append(out, best[k])
	}
	return out
}

func printModel(a *cli.App, d modelDetail) {
	w := a.Out
	fmt.Fprintf(w, "Model %s\n", d.Name)
	if d.Description != "" {
		fmt.Fprintf(w, "  Description: %s\n", d.Description)
	}
	fmt.Fprintf(w, "  Created:     %s\n", cli.FmtTime(d.CreationTimestamp))
	fmt.Fprintf(w, "  Updated:     %s\n", cli.FmtTime(d.LastUpdatedTimestamp))
	fmt.Fprintf(w, "  Versions:    %d issued, %d live\n", d.LatestVersion, len(d.Versions))
	fmt.Fprintf(w, "  Latest:      %s\n", fmtLatestAll(d.LatestVersions))
	fmt.Fprintf(w, "  Aliases:     %s\n", fmtAliases(d.Aliases))
	cli.PrintMap(a, "Tags", d.Tags)
	if len(d.Versions) == 0 {
		return
	}
	fmt.Fprintln(w, "Versions:")
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "  VERSION\tSTAGE\tALIASES\tRUN\tFLAVORS\tSIZE\tFILES\tREGISTERED")
	for _, v := range d.Versions {
		fmt.Fprintf(tw, "  v%d\t%s\t%s\t%s\t%s\t%s\t%d\t%s\n", v.Version, v.Stage, aliasesOf(d.Aliases, v.Version), orDash(cli.ShortID(v.RunID)),
			orDash(strings.Join(v.Flavors, ",")), fmtSize(v.ModelSize), len(v.Artifacts), cli.FmtTime(v.CreationTimestamp))
	}
	tw.Flush()
}

func fmtLatestAll(vs []*manifest.ModelVersion) string {
	var parts []string
	for _, v := range vs {
		parts = append(parts, fmt.Sprintf("%s=v%d", v.Stage, v.Version))
	}
	if len(parts) == 0 {
		return "-"
	}
	return strings.Join(parts, ", ")
}

func aliasesOf(m map[string]int64, v int64) string {
	var out []string
	for _, k := range cli.SortedKeys(m) {
		if m[k] == v {
			out = append(out, k)
		}
	}
	return orDash(strings.Join(out, ","))
}

func printVersion(a *cli.App, v *manifest.ModelVersion, m *manifest.RegisteredModel) {
	w := a.Out
	fmt.Fprintf(w, "Model %s version %d\n", v.Name, v.Version)
	fmt.Fprintf(w, "  Stage:       %s\n", v.Stage)
	fmt.Fprintf(w, "  Aliases:     %s\n", aliasesOf(m.Aliases, v.Version))
	fmt.Fprintf(w, "  Status:      %s\n", v.Status)
	if v.Description != "" {
		fmt.Fprintf(w, "  Description: %s\n", v.Description)
	}
	fmt.Fprintf(w, "  Source:      %s\n", orDash(v.Source))
	fmt.Fprintf(w, "  Run:         %s\n", orDash(v.RunID))
	fmt.Fprintf(w, "  User:        %s\n", orDash(v.UserID))
	fmt.Fprintf(w, "  Registered:  %s\n", cli.FmtTime(v.CreationTimestamp))
	fmt.Fprintf(w, "  Updated:     %s\n", cli.FmtTime(v.LastUpdatedTimestamp))
	if len(v.Flavors) > 0 {
		fmt.Fprintf(w, "  Flavors:     %s\n", strings.Join(v.Flavors, ", "))
	}
	if v.Signature != "" {
		fmt.Fprintf(w, "  Signature:   %s\n", v.Signature)
	}
	if v.ModelSize > 0 {
		fmt.Fprintf(w, "  Size:        %s (%d bytes)\n", fmtSize(v.ModelSize), v.ModelSize)
	}
	if len(v.Artifacts) > 0 {
		fmt.Fprintf(w, "  Digest:      %s\n", repo.VersionDigest(v.Artifacts))
	}
	cli.PrintMap(a, "Tags", v.Tags)
	if len(v.Artifacts) > 0 {
		fmt.Fprintln(w, "Files:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		for _, f := range v.Artifacts {
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\n", f.Path, f.Mode, f.Size, f.Digest)
		}
		tw.Flush()
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func fmtSize(n int64) string {
	switch {
	case n <= 0:
		return "-"
	case n < 1<<10:
		return fmt.Sprintf("%d B", n)
	case n < 1<<20:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	case n < 1<<30:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	}
	return fmt.Sprintf("%.2f GiB", float64(n)/(1<<30))
}

type modelRenameOptions struct {
	name, newName string
}

func newModelRenameCmd(a *cli.App, runF func(*modelRenameOptions) error) *cobra.Command {
	var o modelRenameOptions
	return &cobra.Command{
		Use:   "rename <name> <new-name>",
		Short: "Rename a model",
		Long: `Rename a model (MLflow's rename_registered_model). Its folder moves in one
commit. The new name gets registration tags on the same commits as the old
name's, and events for the current stages and aliases; the old name's tags stay,
deregistered, so the old name resolves to nothing.`,
		Example: `  mlgit model rename churn churn-classifier`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name, o.newName = args[0], args[1]
			if runF != nil {
				return runF(&o)
			}
			return runModelRename(a, &o)
		},
	}
}

func runModelRename(a *cli.App, o *modelRenameOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if _, err := r.RenameModel(o.name, o.newName); err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "Renamed model %q to %q\n", o.name, o.newName)
	return nil
}

type modelDeleteOptions struct {
	name    string
	version string // empty: the model
	yes     bool
}

func newModelDeleteCmd(a *cli.App, runF func(*modelDeleteOptions) error) *cobra.Command {
	var o modelDeleteOptions
	cmd := &cobra.Command{
		Use:   "delete <name> [version]",
		Short: "Delete a model, or one version of it",
		Long: `Delete a model and all its versions (MLflow's delete_registered_model), or
one version (delete_model_version; its aliases go with it). The manifests are
removed in one commit and stay in Git history. Version numbers are never
reused. Tags stay: a deregistration tag <key>@v<n>! marks each deleted version,
so the deleted versions no longer resolve.

It asks first on a terminal, saying which versions are in a stage or have an
alias; elsewhere (a script, CI) it needs --yes.`,
		Example: `  mlgit model delete churn 3
  mlgit model delete churn --yes`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if len(args) == 2 {
				o.version = args[1]
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelDelete(a, &o)
		},
	}
	cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "delete without asking")
	return cmd
}

func runModelDelete(a *cli.App, o *modelDeleteOptions) error {
	var n int64
	if o.version != "" {
		var err error
		if n, err = parseVersion(o.version); err != nil {
			return err
		}
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	what, err := deleteModelQuestion(r, o.name, n)
	if err != nil {
		return err
	}
	if err := a.Confirm(o.yes, what); err != nil {
		return err
	}
	if n > 0 {
		if err := r.DeleteVersion(o.name, n); err != nil {
			return err
		}
		fmt.Fprintf(a.Out, "Deleted %s v%d\n", o.name, n)
		return nil
	}
	if err := r.DeleteModel(o.name); err != nil {
		return err
	}
	fmt.Fprintf(a.Out, "Deleted model %q (mlgit model restore %s brings it back)\n", o.name, shell.Quote(o.name))
	return nil
}

type modelRestoreOptions struct {
	name   string
	asJSON bool
}

func newModelRestoreCmd(a *cli.App, runF func(*modelRestoreOptions) error) *cobra.Command {
	var o modelRestoreOptions
	cmd := &cobra.Command{
		Use:   "restore <name> [--json]",
		Short: "Bring back a deleted model with its versions, stages and aliases",
		Long: `Bring back a model that mlgit model delete deleted: its model.yaml and every
version manifest as they were just before the deletion, in one commit, and a
registration tag of the next generation for each version (<key>@v<n>#2, the
counter form GTO uses; a later deletion writes <key>@v<n>!#2). The stages and
aliases the tags recorded apply again, so name@production resolves as before.
Versions deleted one by one before the model was are not brought back. A model
that was renamed, not deleted, is refused with the mlgit model rename command
that brings the name back.`,
		Example: `  mlgit model restore churn
  mlgit model restore churn --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if runF != nil {
				return runF(&o)
			}
			return runModelRestore(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runModelRestore(a *cli.App, o *modelRestoreOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.RestoreModel(o.name)
	if res == nil {
		return err
	}
	if err != nil {
		a.Warn(err.Error())
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, res)
	}
	vs := make([]string, len(res.Versions))
	for i, v := range res.Versions {
		vs[i] = "v" + strconv.FormatInt(v, 10)
	}
	fmt.Fprintf(a.Out, "Restored model %q with %d %s (%s), deleted in %s; commit %s\n", o.name, len(vs), cli.Plural(len(vs), "version", "versions"),
		strings.Join(vs, ", "), cli.ShortHash(res.DeletedIn), cli.ShortHash(res.Commit))
	return nil
}

// deleteModelQuestion says what model delete would remove: the versions,
// and those in a stage or with an alias (a deployment may read them).
func deleteModelQuestion(r *repo.Repo, name string, n int64) (string, error) {
	m, err := r.GetModel(name)
	if err != nil {
		return "", err
	}
	aliases := map[int64][]string{}
	for al, v := range m.Aliases {
		aliases[v] = append(aliases[v], al)
	}
	note := func(v *manifest.ModelVersion) string {
		var parts []string
		if v.Stage != "" && v.Stage != "None" {
			parts = append(parts, "in "+v.Stage)
		}
		if al := aliases[v.Version]; len(al) > 0 {
			sort.Strings(al)
			parts = append(parts, "alias "+strings.Join(al, ", "))
		}
		return strings.Join(parts, ", ")
	}
	if n > 0 {
		v, err := r.GetVersion(name, n)
		if err != nil {
			return "", err
		}
		if s := note(v); s != "" {
			return fmt.Sprintf("Delete %s v%d (%s)", name, n, s), nil
		}
		return fmt.Sprintf("Delete %s v%d", name, n), nil
	}
	vs, err := r.ListVersions(name, "")
	if err != nil {
		return "", err
	}
	var live []string
	for _, v := range vs {
		if s := note(v); s != "" {
			live = append(live, fmt.Sprintf("v%d %s", v.Version, s))
		}
	}
	q := fmt.Sprintf("Delete model %s and its %d %s", name, len(vs), cli.Plural(len(vs), "version", "versions"))
	if len(live) > 0 {
		q += " (" + strings.Join(live, "; ") + ")"
	}
	return q, nil
}

type modelDescribeOptions struct {
	name, text string
	version    string // empty: the model
}

func newModelDescribeCmd(a *cli.App, runF func(*modelDescribeOptions) error) *cobra.Command {
	var o modelDescribeOptions
	cmd := &cobra.Command{
		Use:   "describe <name> <text> [--version N]",
		Short: "Set the description of a model or of one version",
		Example: `  mlgit model describe churn "Predicts churn within 30 days"
  mlgit model describe churn "Trained on the June snapshot" --version 4`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name, o.text = args[0], args[1]
			if runF != nil {
				return runF(&o)
			}
			return updateModelOrVersion(a, o.name, o.version, repo.ModelChange{Description: &o.text})
		},
	}
	cmd.Flags().StringVar(&o.version, "version", "", "describe version `N` instead of the model")
	return cmd
}

func updateModelOrVersion(a *cli.App, name, version string, ch repo.ModelChange) error {
	var n int64
	if version != "" {
		var err error
		if n, err = parseVersion(version); err != nil {
			return err
		}
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if n > 0 {
		_, err = r.UpdateVersion(name, n, ch)
	} else {
		_, err = r.UpdateModel(name, ch)
	}
	return err
}

// modelTagOptions are those of model tag set (tags are key=value) and
// model tag rm (tags are keys).
type modelTagOptions struct {
	name    string
	tags    []string
	version string // empty: the model
}

func newModelTagCmd(a *cli.App, setF, rmF func(*modelTagOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "tag <command>",
		Short: "Set or remove tags of a model or version (key=value metadata, not Git tags)",
		Example: `  mlgit model tag set churn team=growth
  mlgit model tag set churn validated=true --version 4
  mlgit model tag rm churn team`,
	}
	var so, ro modelTagOptions
	set := &cobra.Command{
		Use:     "set <name> <key=value>... [--version N]",
		Short:   "Set model (or version) tags",
		Example: `  mlgit model tag set churn validated=true --version 4`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			so.name, so.tags = args[0], args[1:]
			if setF != nil {
				return setF(&so)
			}
			kv, err := cli.ParseKV("tag", so.tags)
			if err != nil {
				return err
			}
			return updateModelOrVersion(a, so.name, so.version, repo.ModelChange{SetTags: cli.KVMap(kv)})
		},
	}
	set.Flags().StringVar(&so.version, "version", "", "tag version `N` instead of the model")
	rm := &cobra.Command{
		Use:     "rm <name> <key>... [--version N]",
		Short:   "Remove model (or version) tags",
		Example: `  mlgit model tag rm churn team`,
		Args:    cobra.MinimumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro.name, ro.tags = args[0], args[1:]
			if rmF != nil {
				return rmF(&ro)
			}
			return updateModelOrVersion(a, ro.name, ro.version, repo.ModelChange{DeleteTags: ro.tags})
		},
	}
	rm.Flags().StringVar(&ro.version, "version", "", "untag version `N` instead of the model")
	cmd.AddCommand(set, rm)
	return cmd
}
