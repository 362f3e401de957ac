package runcmd

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/mlgit/mlgit/artifacts"
	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

func newRunArtifactCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "artifact <command>",
		Short: "Add, list and get a run's artifacts (files in the blob store)",
		Long: `Artifacts are files of a run: model weights, plots, datasets. Their bytes go to
the content-addressed blob store (the local cache under .git/mlgit/blobs, shared
by all runs; share it with mlgit blob push); the run's manifest records each
file's path, sha256 digest, size and mode.`,
		Example: `  mlgit run artifact add model/ plots/loss.png
  mlgit run artifact ls 3f2a9c1e
  mlgit run artifact get 3f2a9c1e model -o ./restored`,
	}
	cmd.AddCommand(NewRunArtifactAddCmd(a, nil), newRunArtifactLsCmd(a, nil), NewRunArtifactGetCmd(a, nil))
	return cmd
}

// ---- add

// ArtifactAddOptions are the options of mlgit run artifact add.
type ArtifactAddOptions struct {
	Run    string
	As     string
	Paths  []string
	AsJSON bool
	// OpenCache opens the store artifacts are added to (default: the
	// local blob cache). Tests inject failing stores here.
	OpenCache func(*repo.Repo) (blob.Store, error)
}

// NewRunArtifactAddCmd returns mlgit run artifact add; runF, when set,
// replaces its run function (tests).
func NewRunArtifactAddCmd(a *cli.App, runF func(context.Context, *ArtifactAddOptions) error) *cobra.Command {
	o := &ArtifactAddOptions{}
	cmd := &cobra.Command{
		Use:   "add <path>... [--run ID] [--as DIR] [--json]",
		Short: "Store files and folders as artifacts of a run",
		Long: `Store files and folders in the blob cache and record them as artifacts of the
run (--run ID, else $MLGIT_RUN_ID).

A file becomes the artifact DIR/<name>; a folder becomes DIR/<name>/... with all
the files below it (paths relative, with forward slashes); "folder/." adds the
folder's contents without its name. DIR (--as) defaults to the top level. Adding
a path the run already has replaces that artifact.

Symbolic links inside a folder are followed when they point to a file inside
that folder; a link that points outside it, to a folder, or nowhere is an
error. Links named on the command line are followed. Folders named .git are
skipped. Files are stored with their mode (0755 when executable, else 0644).

Every file is stored first and the run records them all in one write at the
end: if any file is missing or unreadable, changes while it is read, or the
disk fills up, the command fails and the run records nothing.`,
		Example: `  mlgit run artifact add model/ metrics/confusion.png
  mlgit run artifact add --run 3f2a9c1e weights.safetensors --as checkpoints/epoch-10
  mlgit run artifact add outputs/. --json`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Paths = args
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return RunArtifactAdd(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVar(&o.Run, "run", "", "run `ID` or unique prefix (default $MLGIT_RUN_ID)")
	cmd.Flags().StringVar(&o.As, "as", "", "artifact folder `DIR` to put the files under (default: top level)")
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print the recorded artifacts as JSON")
	return cmd
}

// RunArtifactAdd runs mlgit run artifact add.
func RunArtifactAdd(ctx context.Context, a *cli.App, o *ArtifactAddOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, err := a.RunID(r, o.Run)
	if err != nil {
		return err
	}
	arts, st, err := addArtifacts(a, ctx, r, id, o.Paths, o.As, o.OpenCache)
	if err != nil {
		return err
	}
	if o.AsJSON {
		return cli.PrintJSON(a.Out, arts)
	}
	var total int64
	for _, x := range arts {
		total += x.Size
	}
	fmt.Fprintf(a.Err, "Added %d %s (%s; %s new in the blob cache) to run %s\n",
		len(arts), cli.Plural(len(arts), "file", "files"), units.Bytes(total), units.Bytes(st.stored), id)
	return nil
}

// artifactAddStats tell what an add stored.
type artifactAddStats struct {
	stored int64 // bytes new in the store
}

// addArtifacts stores the files that paths name (see artifacts.Collect)
// in the local cache (or the store openCache opens) and then records them
// all on run id with one LogBatch. Nothing is recorded unless every file
// was stored.
func addArtifacts(a *cli.App, ctx context.Context, r *repo.Repo, id string, paths []string, as string,
	openCache func(*repo.Repo) (blob.Store, error)) ([]manifest.Artifact, artifactAddStats, error) {
	var st artifactAddStats
	run, err := r.GetRun(id)
	if err != nil {
		return nil, st, err
	}
	if run.LifecycleStage != manifest.LifecycleActive {
		return nil, st, cli.Usagef("run %s is deleted; restore it with mlgit run restore %s before adding artifacts", id, id)
	}
	if as, err := artifacts.CleanDir(as); err != nil {
		return nil, st, cli.Usagef("--as %q: %v", as, err)
	}
	files, err := artifacts.Collect(paths, as)
	if err != nil {
		return nil, st, err
	}
	if err := artifacts.CheckConflicts(run.Artifacts, files); err != nil {
		return nil, st, err
	}
	cache, err := cli.OpenCacheOr(openCache, r)
	if err != nil {
		return nil, st, err
	}
	// Adds hold the cache lock shared; blob gc of the cache takes it exclusive.
	lock, err := r.LockBlobCache(false, time.Minute)
	if err != nil {
		return nil, st, err
	}
	defer lock.Unlock()
	var total int64
	for _, f := range files {
		total += f.Size
	}
	bar := a.StartProgress("add", total)
	arts, stored, err := artifacts.Store(ctx, cache, files, bar)
	bar.Finish()
	if err != nil {
		return nil, st, explainAddError(err, cache)
	}
	st.stored = stored
	if _, err := r.LogBatch(id, repo.Batch{Artifacts: arts}); err != nil {
		return nil, st, fmt.Errorf("record artifacts of run %s: %w (the files are in the blob cache, but the run records none of them)", id, err)
	}
	return manifest.SortArtifacts(arts), st, nil
}

// explainAddError turns store failures into advice. Every case leaves the
// run unchanged, and the message says so.
func explainAddError(err error, cache blob.Store) error {
	switch {
	case errors.Is(err, syscall.ENOSPC):
		return fmt.Errorf("%w\nThe disk holding the blob cache (%s) is full. Free some space (mlgit blob gc removes blobs nothing references) and run the command again; the run records nothing of this add", err, cache.Location())
	case errors.Is(err, syscall.EDQUOT):
		return fmt.Errorf("%w\nThe disk quota for the blob cache (%s) is exhausted; the run records nothing of this add", err, cache.Location())
	case errors.Is(err, blob.ErrFileChanged):
		return fmt.Errorf("%w\nA file changed while it was being stored, so its digest would not match what is on disk. Add it again once it is complete; the run records nothing of this add", err)
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("interrupted; the run records nothing of this add: %w", err)
	}
	return fmt.Errorf("%w (the run records nothing of this add)", err)
}

// ---- ls

type artifactLsOptions struct {
	Run    string
	Path   string
	AsJSON bool
}

func newRunArtifactLsCmd(a *cli.App, runF func(context.Context, *artifactLsOptions) error) *cobra.Command {
	o := &artifactLsOptions{}
	cmd := &cobra.Command{
		Use:   "ls <run> [path] [--json]",
		Short: "List a run's artifacts",
		Long: `List the artifacts of a run (id or unique prefix), or those at or below path:
mode, size, digest and path, sorted by path. Exit status 3 when path matches
nothing.`,
		Example: `  mlgit run artifact ls 3f2a9c1e
  mlgit run artifact ls 3f2a9c1e model --json`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if len(args) > 1 {
				o.Path = args[1]
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runArtifactLs(a, o)
		},
	}
	cmd.Flags().BoolVar(&o.AsJSON, "json", false, "print JSON")
	return cmd
}

func runArtifactLs(a *cli.App, o *artifactLsOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	_, arts, err := selectRunArtifacts(a, r, o.Run, o.Path)
	if err != nil {
		return err
	}
	if o.AsJSON {
		if arts == nil {
			arts = []manifest.Artifact{}
		}
		return cli.PrintJSON(a.Out, arts)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "MODE\tSIZE\tDIGEST\tPATH")
	for _, x := range arts {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", x.Mode, units.Bytes(x.Size), strings.TrimPrefix(x.Digest, "sha256:")[:12], x.Path)
	}
	return tw.Flush()
}

// selectRunArtifacts returns the run's artifacts at or below p ("" for
// all). A p that matches nothing is ErrNotFound (exit 3), naming what the
// run has.
func selectRunArtifacts(a *cli.App, r *repo.Repo, run, p string) (string, []manifest.Artifact, error) {
	id, err := a.ResolveRun(r, run)
	if err != nil {
		return "", nil, err
	}
	doc, err := r.GetRun(id)
	if err != nil {
		return "", nil, err
	}
	sel, p, err := artifacts.Under(doc.Artifacts, p)
	if err != nil {
		return "", nil, err
	}
	if p != "" && len(sel) == 0 {
		return "", nil, fmt.Errorf("%w: run %s has no artifact at %q (%s)", repo.ErrNotFound, id, p, artifacts.Describe(doc.Artifacts))
	}
	return id, sel, nil
}

// ---- get

// ArtifactGetOptions are the options of mlgit run artifact get.
type ArtifactGetOptions struct {
	Run    string
	Path   string
	Out    string
	Remote string
	// OpenCache and OpenRemote open the local cache and the blob remote
	// (defaults: the repository's cache, blob.OpenStore).
	OpenCache  func(*repo.Repo) (blob.Store, error)
	OpenRemote func(context.Context, string) (blob.Store, error)
}

// NewRunArtifactGetCmd returns mlgit run artifact get; runF, when set,
// replaces its run function (tests).
func NewRunArtifactGetCmd(a *cli.App, runF func(context.Context, *ArtifactGetOptions) error) *cobra.Command {
	o := &ArtifactGetOptions{}
	cmd := &cobra.Command{
		Use:   "get <run> [path] -o <dir> [--remote URL]",
		Short: "Write a run's artifacts to a folder, verified",
		Long: `Write the artifacts of a run (id or unique prefix), or those at or below path,
into dir, keeping their artifact paths (get RUN model -o out writes out/model/...)
and restoring their modes (0644 or 0755).

Every byte is checked against its sha256 digest while it is read; damaged data
fails the command with an error naming the digest, and is never written. Each
file is written to a temporary name in its folder and renamed into place, so a
file either has its complete, verified content or is not changed; an existing
file is replaced. Nothing is written outside dir, and never through a symbolic
link inside it.

Blobs missing from the local cache are fetched from the blob remote (--remote,
else $MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml) into the cache first.`,
		Example: `  mlgit run artifact get 3f2a9c1e -o ./restored
  mlgit run artifact get 3f2a9c1e model/weights.bin -o /tmp/w`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.Run = args[0]
			if len(args) > 1 {
				o.Path = args[1]
			}
			if o.Out == "" {
				return cli.Usagef("give the folder to write to with -o DIR")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runArtifactGet(cmd.Context(), a, o)
		},
	}
	cmd.Flags().StringVarP(&o.Out, "output", "o", "", "folder `DIR` to write the files into (created if needed)")
	cmd.Flags().StringVar(&o.Remote, "remote", "", "blob remote `URL` to fetch blobs the local cache lacks")
	return cmd
}

func runArtifactGet(ctx context.Context, a *cli.App, o *ArtifactGetOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, arts, err := selectRunArtifacts(a, r, o.Run, o.Path)
	if err != nil {
		return err
	}
	cache, err := cli.OpenCacheOr(o.OpenCache, r)
	if err != nil {
		return err
	}
	digests := make([]blob.Digest, len(arts))
	for i, x := range arts {
		if digests[i], err = blob.ParseDigest(x.Digest); err != nil {
			return fmt.Errorf("artifact %s of run %s: %w", x.Path, id, err)
		}
	}
	if err := fetchMissingBlobs(a, ctx, r, cache, digests, arts, o.Remote, o.OpenRemote); err != nil {
		return err
	}
	var total int64
	for _, x := range arts {
		total += x.Size
	}
	bar := a.StartProgress("get", total)
	err = artifacts.Write(ctx, cache, o.Out, arts, digests, bar)
	bar.Finish()
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Err, "Wrote %d %s (%s) of run %s to %s\n", len(arts), cli.Plural(len(arts), "file", "files"), units.Bytes(total), id, o.Out)
	return nil
}

// fetchMissingBlobs copies the digests the cache lacks from the blob
// remote into the cache. Without a remote, it names what is missing.
func fetchMissingBlobs(a *cli.App, ctx context.Context, r *repo.Repo, cache blob.Store, digests []blob.Digest,
	arts []manifest.Artifact, remoteFlag string, openRemote func(context.Context, string) (blob.Store, error)) error {
	have, err := blob.Has(ctx, cache, digests)
	if err != nil {
		return fmt.Errorf("blob cache %s: %w", cache.Location(), err)
	}
	var missing []blob.Digest
	var names []string
	for i, d := range digests {
		if !have[d] {
			missing = append(missing, d)
			names = append(names, fmt.Sprintf("%s (%s)", arts[i].Path, d))
		}
	}
	if len(missing) == 0 {
		return nil
	}
	lock, err := r.LockBlobCache(false, time.Minute)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	url, _, err := a.BlobRemoteURL(r, remoteFlag)
	if err != nil {
		return fmt.Errorf("%d %s not in the local blob cache:\n%s\nand no blob remote to fetch from: pass --remote URL, set MLGIT_BLOB_REMOTE, or set blobs.remote in mlgit.yaml",
			len(missing), cli.Plural(len(missing), "artifact is", "artifacts are"), cli.JoinProblems(names))
	}
	remote, err := a.OpenBlobStore(ctx, url, openRemote)
	if err != nil {
		return err
	}
	bar := a.StartProgress("fetch", 0)
	_, err = blob.Copy(ctx, remote, cache, missing, blob.CopyOptions{Progress: func(done, total int64) {
		bar.SetTotal(total)
		bar.Set(done)
	}})
	bar.Finish()
	if err != nil {
		return fmt.Errorf("fetch %d %s from %s: %w", len(missing), cli.Plural(len(missing), "blob", "blobs"), remote.Location(), err)
	}
	return nil
}
