package synccmd

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type checkOptions struct {
	Base   string
	Head   string
	Remote string
	AsJSON bool
	// OpenRepo opens the repository without requiring the tracking branch
	// (a CI checkout may have only origin/mlgit); OpenStore opens a blob
	// store URL (default blob.OpenStore).
	OpenRepo  func() (*repo.Repo, error)
	OpenStore func(context.Context, string) (blob.Store, error)
}

// NewCheckCmd returns mlgit check; runF, when set, replaces its run
// function (tests).
func NewCheckCmd(a *cli.App, runF func(context.Context, *checkOptions) error) *cobra.Command {
	o := &checkOptions{}
	cmd := &cobra.Command{
		Use:   "check [--base REF] [--head REF] [--remote URL] [--json]",
		Short: "Validate what a pull request to the tracking branch changes",
		Long: `Validate everything head changes relative to the merge base of base and head,
as a pull request to the tracking branch shows it (so a proposal whose base
moved on is checked for its own changes only):

  - every added or changed manifest decodes strictly, follows the rules, is in
    mlgit's canonical encoding and sits where its content says; metric
    segments parse and are never rewritten;
  - a changed mlgit.yaml has a promotion policy that applies;
  - every version whose stage changed satisfies the promotion policy of the
    base's mlgit.yaml (allowed source stages, required run metrics);
  - every blob the changed runs, versions and logged models reference is on
    the blob remote (--remote, else $MLGIT_BLOB_REMOTE, else blobs.remote in
    head's mlgit.yaml; with none, the local blob cache is checked instead).

Defaults: head is HEAD when its tree has mlgit.yaml at the root (a checkout of
the tracking branch or of a pull request), else the tracking branch; base is
origin/<tracking branch> when it exists, else the tracking branch.

Each problem is printed as path:line: problem, then a summary line. Exit
status 1 when there is any problem.`,
		Example: `  mlgit check
  mlgit check --base origin/mlgit --head mlgit-propose/churn-v4-production
  mlgit check --base origin/mlgit --json | jq '.problems[]'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.OpenRepo == nil {
				o.OpenRepo = a.OpenRepoForPull
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runCheck(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVar(&o.Base, "base", "", "`REF` the change goes into (default origin/<tracking branch>, else the tracking branch)")
	cmd.Flags().StringVar(&o.Head, "head", "", "`REF` of the change (default HEAD when its tree has mlgit.yaml, else the tracking branch)")
	cmd.Flags().StringVar(&o.Remote, "remote", "", "blob remote `URL` (default $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml)")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the report as JSON")
	return cmd
}

func runCheck(ctx context.Context, a *cli.App, o *checkOptions) error {
	r, err := o.OpenRepo()
	if err != nil {
		return err
	}
	var note string
	rep, err := r.Check(ctx, repo.CheckOptions{Base: o.Base, Head: o.Head,
		Blobs: func(ctx context.Context, cfg *manifest.Config) (repo.BlobChecker, error) {
			c, n, err := checkBlobStore(a, ctx, r, o, cfg)
			note = n
			return c, err
		}})
	if err != nil {
		return err
	}
	if note != "" {
		rep.Warnings = append(rep.Warnings, note)
	}
	if o.AsJSON {
		if err := cli.PrintJSON(a.Out, rep); err != nil {
			return err
		}
	} else {
		a.Warn(rep.Warnings...)
		printCheckReport(a, rep)
	}
	if !rep.OK() {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

func printCheckReport(a *cli.App, rep *repo.CheckReport) {
	for _, p := range rep.Problems {
		fmt.Fprintln(a.Out, p.String())
	}
	for _, sc := range rep.StageChanges {
		verdict := "allowed by the policy"
		if !sc.Allowed {
			verdict = "refused by the policy"
		}
		fmt.Fprintf(a.Out, "stage change: %s v%d %s -> %s (%s)\n", sc.Model, sc.Version, sc.From, sc.To, verdict)
	}
	mb := "no common history"
	if rep.MergeBase != "" {
		mb = "merge base " + cli.ShortID(rep.MergeBase)
	}
	var parts []string
	parts = append(parts, countOf(rep.Files, "file", "files")+" added or changed")
	if rep.Deleted > 0 {
		parts = append(parts, countOf(rep.Deleted, "file", "files")+" deleted")
	}
	parts = append(parts, countOf(rep.Manifests, "manifest", "manifests"), countOf(len(rep.StageChanges), "stage change", "stage changes"))
	blobs := countOf(rep.Blobs, "blob", "blobs")
	if rep.BlobStore != "" {
		blobs += " checked in " + rep.BlobStore
	}
	parts = append(parts, blobs)
	problems := "no problems"
	if n := len(rep.Problems); n > 0 {
		problems = countOf(n, "problem", "problems")
	}
	fmt.Fprintf(a.Out, "mlgit check %s...%s (%s): %s: %s\n", rep.BaseRef, rep.HeadRef, mb, strings.Join(parts, ", "), problems)
}

// countOf writes n and the noun in the right number: "1 file", "2 files".
func countOf(n int, one, many string) string {
	return fmt.Sprintf("%d %s", n, cli.Plural(n, one, many))
}

// checkBlobStore opens where mlgit check looks for blobs: --remote, else
// $MLGIT_BLOB_REMOTE, else blobs.remote in head's mlgit.yaml (a relative
// folder is relative to the repository's top folder), else the local blob
// cache, with a note saying so.
func checkBlobStore(a *cli.App, ctx context.Context, r *repo.Repo, o *checkOptions, cfg *manifest.Config) (repo.BlobChecker, string, error) {
	u := o.Remote
	if u == "" {
		u = a.Getenv("MLGIT_BLOB_REMOTE")
	}
	if u == "" && cfg != nil && cfg.Blobs.Remote != "" {
		u = cfg.Blobs.Remote
		if !strings.Contains(u, "://") && !filepath.IsAbs(u) {
			base := r.WorkTree()
			if base == "" {
				base = r.GitDir()
			}
			u = filepath.Join(base, u)
		}
	}
	if u == "" {
		st, err := blob.NewLocal(r.BlobCacheDir())
		if err != nil {
			return nil, "", err
		}
		where := "the local blob cache " + r.BlobCacheDir()
		return blobChecker{st: st, where: where},
			"no blob remote configured (--remote, $MLGIT_BLOB_REMOTE, blobs.remote in mlgit.yaml): blobs were checked in the local blob cache only", nil
	}
	st, err := a.OpenBlobStore(ctx, u, o.OpenStore)
	if err != nil {
		return nil, "", err
	}
	return blobChecker{st: st, where: st.Location()}, "", nil
}

// blobChecker adapts a blob store to repo.BlobChecker.
type blobChecker struct {
	st    blob.Store
	where string
}

var _ repo.BlobChecker = blobChecker{}

func (c blobChecker) Location() string { return c.where }

func (c blobChecker) Has(ctx context.Context, digests []string) (map[string]bool, error) {
	ds := make([]blob.Digest, 0, len(digests))
	for _, s := range digests {
		d, err := blob.ParseDigest(s)
		if err != nil {
			continue // not a digest: reported missing
		}
		ds = append(ds, d)
	}
	has, err := blob.Has(ctx, c.st, ds)
	if err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(has))
	for d, ok := range has {
		out[d.String()] = ok
	}
	return out, nil
}
