package synccmd

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// syncFlags are the flags push, pull and fetch share.
// syncFlags are the options of push, pull and fetch.
type syncFlags struct {
	remote     string // REMOTE (default: origin)
	asJSON     bool
	noBlobs    bool
	blobRemote string // push: where blobs go (default: the configured blob remote)
}

// NewPushCmd returns mlgit push; runF, when set, replaces its run function
// (tests).
func NewPushCmd(a *cli.App, runF func(context.Context, *syncFlags) error) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "push [REMOTE] [--json]",
		Short: "Share runs, versions and tags: upload blobs, then push the branch and tags",
		Long: `Push the tracking branch and the registry tags the remote lacks.

First it fetches the remote's branch and tags; if another clone pushed in the
meantime, this clone's unpushed commits are re-applied on the remote's tip
(runs touch disjoint paths, so this never needs you). A model version that
another clone registered first under the same number is renumbered, with its
tags, and the command says so; nothing already pushed is ever renumbered.
Then the blobs the new commits reference are uploaded to the blob remote
(--blob-remote, $MLGIT_BLOB_REMOTE, or blobs.remote in mlgit.yaml), and finally the branch
and tags are pushed in one atomic push (in two steps, branch first, where the
server cannot do atomic pushes). If the remote moved again, it starts over.
It never force-pushes.

REMOTE is a configured remote (default origin) or a URL or path. The network
part runs the system git, so your credential helpers, SSH agent and
GIT_SSH_COMMAND apply. Exit code 4 when the remote cannot be reached or
refuses; nothing local is lost and the command can simply be run again.`,
		Example: `  mlgit push
  mlgit push origin --json
  mlgit push /srv/git/team.git
  mlgit push --blob-remote s3://ml-artifacts/team`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.remote = cli.FirstArg(args)
			if runF != nil {
				return runF(cmd.Context(), &f)
			}
			return runSync(cmd.Context(), a, "push", f.remote, f)
		},
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	cmd.Flags().BoolVar(&f.noBlobs, "no-blobs", false, "do not upload blobs (others will not be able to fetch those files)")
	cmd.Flags().StringVar(&f.blobRemote, "blob-remote", "", "upload blobs to `URL` (a folder, file:///path, s3://, gs:// or az:// URL) instead of the configured blob remote")
	return cmd
}

// NewPullCmd returns mlgit pull; runF, when set, replaces its run function
// (tests).
func NewPullCmd(a *cli.App, runF func(context.Context, *syncFlags) error) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "pull [REMOTE] [--json]",
		Short: "Bring the remote's runs, versions and tags into this clone",
		Long: `Fetch the remote's tracking branch and registry tags and bring the local
branch onto them: created from the remote's when this clone has none,
fast-forwarded when it is behind, and this clone's unpushed commits
re-applied on top when both moved (renumbering unpushed model versions whose
number the remote took, as mlgit push does). Blobs are not downloaded: use
mlgit blob pull, or mlgit run artifact get, for the files you need.`,
		Example: `  mlgit pull
  mlgit pull origin --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.remote = cli.FirstArg(args)
			if runF != nil {
				return runF(cmd.Context(), &f)
			}
			return runSync(cmd.Context(), a, "pull", f.remote, f)
		},
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	return cmd
}

// NewFetchCmd returns mlgit fetch; runF, when set, replaces its run
// function (tests).
func NewFetchCmd(a *cli.App, runF func(context.Context, *syncFlags) error) *cobra.Command {
	var f syncFlags
	cmd := &cobra.Command{
		Use:   "fetch [REMOTE] [--json]",
		Short: "Download the remote's tracking branch and registry tags; change nothing local",
		Long: `Fetch the remote's tracking branch into its remote-tracking ref
(refs/remotes/<remote>/mlgit) and copy the remote's registry tags that this
clone lacks. The local branch does not move; mlgit pull does that.`,
		Example: `  mlgit fetch
  mlgit diff mlgit origin/mlgit`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			f.remote = cli.FirstArg(args)
			if runF != nil {
				return runF(cmd.Context(), &f)
			}
			return runSync(cmd.Context(), a, "fetch", f.remote, f)
		},
	}
	cmd.Flags().BoolVar(&f.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func syncOptions(a *cli.App, remote string) repo.SyncOptions {
	o := repo.SyncOptions{Remote: remote, Log: a.Err}
	if a.ErrTTY {
		o.Progress = a.Err
	}
	return o
}

func runSync(ctx context.Context, a *cli.App, op, remote string, f syncFlags) error {
	open := a.OpenRepo
	if op != "push" {
		open = a.OpenRepoForPull
	}
	r, err := open()
	if err != nil {
		return err
	}
	o := syncOptions(a, remote)
	var res *repo.SyncResult
	switch op {
	case "fetch":
		res, err = r.Fetch(ctx, o)
	case "pull":
		res, err = r.Pull(ctx, o)
	case "push":
		if !f.noBlobs {
			o.UploadBlobs = func(ctx context.Context, rev string) error { return pushBlobsFor(a, ctx, r, rev, f.blobRemote) }
		}
		res, err = r.Push(ctx, o)
	}
	if err != nil {
		if res != nil && len(res.Renumbered) > 0 {
			printSyncResult(a.Err, op, res)
		}
		return err
	}
	if f.asJSON {
		return cli.PrintJSON(a.Out, res)
	}
	printSyncResult(a.Out, op, res)
	return nil
}

// pushBlobsFor uploads the blobs that the commits in rev reference, to
// remote or the configured blob remote.
func pushBlobsFor(a *cli.App, ctx context.Context, r *repo.Repo, rev, remote string) error {
	return uploadBlobsFor(a, ctx, r, []string{rev}, remote, "--blob-remote", "the commits to push reference", "push without them with --no-blobs")
}

// uploadBlobsFor uploads the blobs that revs reference to the blob remote,
// as mlgit blob push does. With no blob remote configured it fails only if
// revs reference blobs, saying what to set or how to skip.
//
// remote overrides the configured blob remote; flag is the option that sets
// it, named in the message when there is none.
func uploadBlobsFor(a *cli.App, ctx context.Context, r *repo.Repo, revs []string, remote, flag, what, skip string) error {
	refs, err := r.ArtifactRefsFor(revs...)
	if err != nil {
		return err
	}
	if len(refs) == 0 {
		return nil
	}
	if _, _, err := a.BlobRemoteURL(r, remote); err != nil {
		var ue *cli.UsageError
		if errors.As(err, &ue) {
			msg := ue.Msg
			if flag != "" {
				msg = strings.Replace(msg, "pass --remote URL", "pass "+flag+" URL", 1)
			} else {
				msg = strings.Replace(msg, "pass --remote URL, set", "set", 1)
			}
			return fmt.Errorf("%s %d %s, but %s; or %s (others will not be able to fetch those files)", what, len(refs), cli.Plural(len(refs), "artifact", "artifacts"), msg, skip)
		}
		return err
	}
	return RunBlobTransfer(ctx, a, &BlobTransferOptions{Push: true, Remote: remote, Refs: revs, Jobs: 8})
}

func printSyncResult(w io.Writer, op string, res *repo.SyncResult) {
	for _, rn := range res.Renumbered {
		fmt.Fprintf(w, "renumbered %s v%d -> v%d: %s took v%d first\n", rn.Model, rn.From, rn.To, res.Remote, rn.From)
	}
	for _, m := range res.MergedExperiments {
		fmt.Fprintf(w, "merged experiment %q: this clone's id %s into %s, which %s has (its runs moved there)\n", m.Name, m.From, m.To, res.Remote)
	}
	for _, t := range res.Retagged {
		fmt.Fprintf(w, "retagged %s\n", t)
	}
	if res.Created {
		fmt.Fprintf(w, "created branch %s from %s/%s at %s\n", res.Branch, res.Remote, res.Branch, cli.ShortHash(res.Tip))
	}
	if res.FastForward {
		fmt.Fprintf(w, "fast-forwarded %s to %s\n", res.Branch, cli.ShortHash(res.Tip))
	}
	if res.Rebased > 0 {
		fmt.Fprintf(w, "re-applied %d local %s on %s/%s\n", res.Rebased, cli.Plural(res.Rebased, "commit", "commits"), res.Remote, res.Branch)
	}
	if res.TagsFetched > 0 {
		fmt.Fprintf(w, "fetched %d registry %s\n", res.TagsFetched, cli.Plural(res.TagsFetched, "tag", "tags"))
	}
	switch op {
	case "push":
		if res.UpToDate {
			fmt.Fprintf(w, "%s is up to date with %s\n", res.Branch, res.Remote)
			return
		}
		var parts []string
		if res.Pushed > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", res.Pushed, cli.Plural(res.Pushed, "commit", "commits")))
		}
		if n := len(res.TagsPushed); n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n, cli.Plural(n, "tag", "tags")))
		}
		size := ""
		if res.Bytes > 0 {
			size = ", " + units.Bytes(res.Bytes)
		}
		fmt.Fprintf(w, "pushed %s to %s (%s at %s%s)\n", strings.Join(parts, " and "), res.Remote, res.Branch, cli.ShortHash(res.Tip), size)
	case "pull":
		if !res.Created && !res.FastForward && res.Rebased == 0 && res.TagsFetched == 0 && len(res.Retagged) == 0 {
			fmt.Fprintf(w, "%s is up to date with %s\n", res.Branch, res.Remote)
		}
	case "fetch":
		fmt.Fprintf(w, "fetched %s/%s at %s\n", res.Remote, res.Branch, orNone(cli.ShortHash(res.RemoteTip)))
	}
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
