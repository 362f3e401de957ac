package modelcmd

import (
	"context"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type modelResolveOptions struct {
	ref    string
	field  string
	remote string
	stages []string
	asJSON bool
}

var resolveFields = []string{"version", "run", "source", "digest", "uri", "stage", "tag", "commit"}

func newModelResolveCmd(a *cli.App, runF func(*modelResolveOptions) error) *cobra.Command {
	var o modelResolveOptions
	cmd := &cobra.Command{
		Use:   "resolve <ref> [--json | --field version|run|source|digest|uri|stage|tag|commit] [--remote NAME|URL]",
		Short: "Resolve name@stage, name@alias, name@v3 or name@latest to a version",
		Long: `Resolve a model reference to a version and print what CI needs: version, run,
source, the digest of its files and its models:/ URI.

The version is decided by the model's tags alone (deterministic: the highest
event counter wins; name@<stage> is the highest version whose current stage it
is), exactly as a CI job that only sees tags decides it. The branch's manifests
add run, source and files; a warning says when they disagree with the tags.

--remote NAME|URL resolves from that remote's tags with one git ls-remote call
for this model's tags, fetching nothing; it knows version, stage, aliases, tag
and registration commit (not run, source or digest). Custom stages come from
the local mlgit.yaml when there is one, else from --stages.

Exit status 3 when the model, version, stage or alias does not exist.`,
		Example: `  mlgit model resolve churn@production
  mlgit model resolve churn@champion --field digest
  mlgit model resolve 'models:/churn/Production' --json
  mlgit model resolve churn@production --remote origin --field version`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ref = args[0]
			if o.field != "" && !contains(resolveFields, o.field) {
				return cli.Usagef("--field %q: want one of %s", o.field, strings.Join(resolveFields, ", "))
			}
			if o.field != "" && o.asJSON {
				return cli.Usagef("--field and --json do not go together")
			}
			if o.remote != "" && (o.field == "run" || o.field == "source" || o.field == "digest") {
				return cli.Usagef("--field %s needs the branch's manifests; with --remote only version, stage, tag, commit and uri are known", o.field)
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelResolve(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.field, "field", "", "print only this `field`: "+strings.Join(resolveFields, ", "))
	cmd.Flags().StringVar(&o.remote, "remote", "", "resolve from the tags of remote `NAME|URL` (git ls-remote)")
	cmd.Flags().StringSliceVar(&o.stages, "stages", nil, "custom stage `names` for --remote without a local mlgit.yaml")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}

// stages returns the repository's stages when it has a tracking branch,
// plus extra ones.
func stages(a *cli.App, extra []string) repo.Stages {
	var custom []string
	if r, err := a.OpenRepo(); err == nil {
		if s, err := r.Stages(); err == nil {
			custom = s.Names()
		}
	}
	return repo.NewStages(append(custom, extra...)...)
}

func runModelResolve(ctx context.Context, a *cli.App, o *modelResolveOptions) error {
	var res *repo.Resolution
	var err error
	if o.remote != "" {
		st := stages(a, o.stages)
		dir := a.RepoPath
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			dir = ""
		}
		res, err = repo.ResolveRemote(ctx, o.remote, o.ref, repo.RemoteOptions{Dir: dir, Stages: &st})
	} else {
		var r *repo.Repo
		if r, err = a.OpenRepo(); err != nil {
			return err
		}
		res, err = r.Resolve(o.ref)
	}
	if err != nil {
		return err
	}
	a.Warn(res.Warnings...)
	if o.asJSON {
		return cli.PrintJSON(a.Out, res)
	}
	if o.field != "" {
		v := fieldOf(res, o.field)
		if v == "" {
			return fmt.Errorf("%w: %s v%d has no %s (source %s)", repo.ErrNotFound, res.Model, res.Version, o.field, orDash(res.Source))
		}
		fmt.Fprintln(a.Out, v)
		return nil
	}
	printResolution(a, res)
	return nil
}

func fieldOf(res *repo.Resolution, field string) string {
	switch field {
	case "version":
		return fmt.Sprint(res.Version)
	case "run":
		return res.RunID
	case "source":
		return res.Source
	case "digest":
		return res.Digest
	case "uri":
		return res.URI
	case "stage":
		return res.Stage
	case "tag":
		return res.Tag
	case "commit":
		return res.RegistrationCommit
	}
	return ""
}

func printResolution(a *cli.App, res *repo.Resolution) {
	w := a.Out
	fmt.Fprintf(w, "%s v%d", res.Model, res.Version)
	var notes []string
	if res.Stage != "" {
		notes = append(notes, res.Stage)
	}
	if len(res.Aliases) > 0 {
		notes = append(notes, "aliases: "+strings.Join(res.Aliases, ", "))
	}
	if len(notes) > 0 {
		fmt.Fprintf(w, " (%s)", strings.Join(notes, "; "))
	}
	fmt.Fprintln(w)
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	row := func(k, v string) {
		if v != "" {
			fmt.Fprintf(tw, "  %s:\t%s\n", k, v)
		}
	}
	row("run", res.RunID)
	row("source", res.Source)
	row("uri", res.URI)
	row("digest", res.Digest)
	if res.Tag != "" {
		row("tag", res.Tag+" -> "+res.RegistrationCommit)
	}
	if res.Remote != "" {
		row("remote", res.Remote)
	}
	tw.Flush()
}

type modelGetOptions struct {
	ref    string
	output string
	asJSON bool
}

func newModelGetCmd(a *cli.App, runF func(*modelGetOptions) error) *cobra.Command {
	var o modelGetOptions
	cmd := &cobra.Command{
		Use:   "get <ref> -o DIR",
		Short: "Download a version's files, verified",
		Long: `Write the files of the version a reference resolves to into DIR, with their
modes. Every file is read from the local blob cache (or the blob remote when
the cache lacks it), checked against its recorded SHA-256 and size, and renamed
into place only when it matches.`,
		Example: `  mlgit model get churn@production -o ./model
  mlgit model get churn@v3 -o /srv/models/churn`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ref = args[0]
			if o.output == "" {
				return cli.Usagef("-o DIR is required")
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelGet(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVarP(&o.output, "output", "o", "", "write the files into `DIR`")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the resolution as JSON")
	return cmd
}

func runModelGet(ctx context.Context, a *cli.App, o *modelGetOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.Resolve(o.ref)
	if err != nil {
		return err
	}
	a.Warn(res.Warnings...)
	if len(res.Artifacts) == 0 {
		return fmt.Errorf("%w: %s v%d has no files on branch %s", repo.ErrNotFound, res.Model, res.Version, r.Branch())
	}
	open, err := blobOpener(a, ctx, r)
	if err != nil {
		return err
	}
	if err := repo.WriteFiles(o.output, res.Artifacts, open); err != nil {
		return fmt.Errorf("get %s v%d: %w", res.Model, res.Version, err)
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, res)
	}
	var total int64
	for _, f := range res.Artifacts {
		total += f.Size
	}
	fmt.Fprintf(a.Out, "Wrote %d %s (%s) of %s v%d to %s\n", len(res.Artifacts), cli.Plural(len(res.Artifacts), "file", "files"), fmtSize(total), res.Model, res.Version, o.output)
	return nil
}

type modelCheckRefOptions struct {
	tag           string
	asJSON, asEnv bool
	stages        []string
}

func newModelCheckRefCmd(a *cli.App, runF func(*modelCheckRefOptions) error) *cobra.Command {
	var o modelCheckRefOptions
	cmd := &cobra.Command{
		Use:   "check-ref <tag> [--json | --env]",
		Short: "Parse a registry tag (e.g. $GITHUB_REF of a tag push) into event, model, version, stage",
		Long: `Parse a registry tag name, with or without refs/tags/, into the event it
records: registration, deregistration, stage, alias or alias-removed, and the
model, version, stage or alias and counter. The version of an event tag is
found from the local tags (the event points at the version's registration
commit); a CI checkout that fetched the pushed tag has it.

--env prints KEY=value lines for $GITHUB_OUTPUT or a GitLab dotenv report.
Exit status 3 when the name is not a registry tag.`,
		Example: `  mlgit model check-ref refs/tags/churn#production#7 --env >> "$GITHUB_OUTPUT"
  mlgit model check-ref "$CI_COMMIT_TAG" --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.tag = args[0]
			if o.asJSON && o.asEnv {
				return cli.Usagef("--json and --env do not go together")
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelCheckRef(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.Flags().BoolVar(&o.asEnv, "env", false, "print KEY=value lines")
	cmd.Flags().StringSliceVar(&o.stages, "stages", nil, "custom stage `names` when there is no local mlgit.yaml")
	return cmd
}

func runModelCheckRef(a *cli.App, o *modelCheckRefOptions) error {
	st := stages(a, o.stages)
	ev, err := repo.CheckRef(a.RepoPath, o.tag, st)
	if err != nil {
		return err
	}
	a.Warn(ev.Warnings...)
	switch {
	case o.asJSON:
		return cli.PrintJSON(a.Out, ev)
	case o.asEnv:
		for _, kv := range [][2]string{{"event", ev.Event}, {"model", ev.Model}, {"key", ev.Key}, {"version", numOrEmpty(ev.Version)},
			{"stage", ev.Stage}, {"alias", ev.Alias}, {"counter", numOrEmpty(ev.Counter)}, {"tag", ev.Tag}, {"commit", ev.Commit}} {
			fmt.Fprintf(a.Out, "%s=%s\n", kv[0], kv[1])
		}
		return nil
	}
	fmt.Fprintln(a.Out, describeEvent(ev))
	return nil
}

func numOrEmpty(n int64) string {
	if n == 0 {
		return ""
	}
	return fmt.Sprint(n)
}

func describeEvent(ev *repo.TagEventInfo) string {
	v := "an unknown version"
	if ev.Version != 0 {
		v = fmt.Sprintf("v%d", ev.Version)
	}
	switch ev.Event {
	case repo.TagRegistration:
		return fmt.Sprintf("%s %s registered", ev.Model, v)
	case repo.TagDeregistration:
		return fmt.Sprintf("%s %s deregistered", ev.Model, v)
	case repo.EventStage:
		return fmt.Sprintf("%s %s entered stage %s (event %d)", ev.Model, v, ev.Stage, ev.Counter)
	case repo.EventAlias:
		return fmt.Sprintf("%s alias %s moved to %s (event %d)", ev.Model, ev.Alias, v, ev.Counter)
	}
	return fmt.Sprintf("%s alias %s removed from %s (event %d)", ev.Model, ev.Alias, v, ev.Counter)
}

type modelHistoryOptions struct {
	name   string
	asJSON bool
}

func newModelHistoryCmd(a *cli.App, runF func(*modelHistoryOptions) error) *cobra.Command {
	var o modelHistoryOptions
	cmd := &cobra.Command{
		Use:   "history <name> [--json]",
		Short: "Every registration, stage change and alias move of a model, in order",
		Long: `Show every registration, stage change and alias move of a model in order
(the event counter), with who, when, from what to what, why, and the commit of
the manifest change. It reads the model's tags, so it also shows deleted models.`,
		Example: `  mlgit model history churn
  mlgit model history churn --json | jq '.[] | select(.kind == "stage")'`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.name = args[0]
			if runF != nil {
				return runF(&o)
			}
			return runModelHistory(a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runModelHistory(a *cli.App, o *modelHistoryOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	hist, warns, err := r.ModelHistory(o.name)
	if err != nil {
		return err
	}
	a.Warn(warns...)
	if o.asJSON {
		return cli.PrintJSON(a.Out, hist)
	}
	stages, _ := r.Stages()
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tEVENT\tVERSION\tCHANGE\tWHO\tWHEN\tCOMMIT\tREASON")
	for _, h := range hist {
		when := "-"
		if !h.Time.IsZero() {
			when = h.Time.UTC().Format("2006-01-02 15:04:05")
		}
		counter := "-"
		if h.Counter != 0 {
			counter = fmt.Sprint(h.Counter)
		}
		reason := h.Reason
		if h.Ignored != "" {
			reason = "(ignored: " + h.Ignored + ") " + reason
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", counter, h.Kind, versionOrDash(h.Version), change(h, stages), h.Actor, when, orDash(cli.ShortID(h.Commit)), reason)
	}
	return tw.Flush()
}

func versionOrDash(v int64) string {
	if v == 0 {
		return "-"
	}
	return fmt.Sprintf("v%d", v)
}

// change is a history entry's change as promote prints it: stages in
// their canonical spelling (None -> Staging, not none -> staging).
func change(h repo.HistoryEntry, stages repo.Stages) string {
	stage := func(s string) string {
		if c, ok := stages.Canonical(s); ok {
			return c
		}
		return s
	}
	switch h.Kind {
	case repo.TagRegistration:
		return "registered"
	case repo.TagDeregistration:
		return "deregistered"
	case repo.EventStage:
		return stage(h.From) + " -> " + stage(h.To)
	case repo.EventAlias:
		return h.Label + ": " + orDash(h.From) + " -> " + h.To
	}
	return h.Label + ": " + orDash(h.From) + " -> (removed)"
}
