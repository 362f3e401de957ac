package synccmd

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/hooks"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// NewHooksCmd returns mlgit hooks and its subcommands.
func NewHooksCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "hooks <command>",
		Short: "Install and run mlgit's Git hooks (pre-commit, pre-push)",
		Long: `mlgit's Git hooks guard what you commit and push:

  pre-commit  refuses staged files over a size limit (default 10 MiB;
              git config mlgit.maxFileSize or $MLGIT_MAX_FILE_SIZE; exempt a
              path with git config --add mlgit.allowLargeFile <path>), and
              validates mlgit manifests being committed (schema, rules and
              canonical encoding; the message names file and line).
  pre-push    when the push includes the tracking branch, validates the
              manifests of the pushed commits and uploads the blobs they
              reference (mlgit blob push) before the refs go out; refuses
              lightweight registry tags.

See docs/hooks.md, also for the pre-commit framework (.pre-commit-hooks.yaml).`,
	}
	cmd.AddCommand(newHooksInstallCmd(a, nil), newHooksUninstallCmd(a, nil), newHooksRunCmd(a, nil, nil))
	return cmd
}

type hooksInstallOptions struct {
	force, asJSON bool
}

func newHooksInstallCmd(a *cli.App, runF func(context.Context, *hooksInstallOptions) error) *cobra.Command {
	var o hooksInstallOptions
	cmd := &cobra.Command{
		Use:   "install [--force]",
		Short: "Install the pre-commit and pre-push hooks in this repository",
		Long: `Install the pre-commit and pre-push hooks in the folder Git runs hooks from
(core.hooksPath when set, else .git/hooks).

A hook you wrote is never overwritten: it is renamed to <hook>.mlgit-chained
and mlgit's hook runs it first (with the same arguments and input), stopping if
it fails. mlgit hooks uninstall puts it back. A hook written by an older mlgit
is upgraded in place. A hook written by the pre-commit framework is refused
(add mlgit to .pre-commit-config.yaml instead) unless --force, which chains to
it.`,
		Example: `  mlgit hooks install
  git config core.hooksPath .githooks && mlgit hooks install`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runHooksInstall(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.force, "force", false, "chain to a pre-commit-framework hook too; rewrite up-to-date hooks")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runHooksInstall(ctx context.Context, a *cli.App, o *hooksInstallOptions) error {
	acts, err := hooks.Install(ctx, a.RepoPath, hooks.InstallOptions{Force: o.force})
	if errors.Is(err, hooks.ErrUserHook) {
		return cli.Usagef("%v", err)
	}
	if err != nil {
		return err
	}
	return printHookActions(a, acts, o.asJSON)
}

type hooksUninstallOptions struct {
	asJSON bool
}

func newHooksUninstallCmd(a *cli.App, runF func(context.Context, *hooksUninstallOptions) error) *cobra.Command {
	var o hooksUninstallOptions
	cmd := &cobra.Command{
		Use:     "uninstall",
		Short:   "Remove mlgit's hooks and restore the hooks they chained to",
		Example: `  mlgit hooks uninstall`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runHooksUninstall(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runHooksUninstall(ctx context.Context, a *cli.App, o *hooksUninstallOptions) error {
	acts, err := hooks.Uninstall(ctx, a.RepoPath)
	if err != nil {
		return err
	}
	return printHookActions(a, acts, o.asJSON)
}

func printHookActions(a *cli.App, acts []hooks.Action, asJSON bool) error {
	if asJSON {
		return cli.PrintJSON(a.Out, acts)
	}
	for _, x := range acts {
		line := fmt.Sprintf("%-10s %s: %s", x.Hook, x.Did, x.Path)
		if x.Did == "upgraded" {
			line += fmt.Sprintf(" (v%d -> v%d)", x.From, hooks.Version)
		}
		if x.Note != "" {
			line += " (" + x.Note + ")"
		}
		fmt.Fprintln(a.Out, line)
	}
	return nil
}

// hooksPreCommitOptions are those of hooks run pre-commit.
type hooksPreCommitOptions struct {
	// args are ignored: the pre-commit framework passes the staged files,
	// and the checks read them from Git's index.
	args []string
}

// hooksPrePushOptions are those of hooks run pre-push: Git's arguments.
type hooksPrePushOptions struct {
	remote, url string
}

func newHooksRunCmd(a *cli.App, preCommitF func(context.Context, *hooksPreCommitOptions) error, prePushF func(context.Context, *hooksPrePushOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run {pre-commit | pre-push <remote> <url>}",
		Short: "Run a hook's checks (what the installed hooks call)",
		Long: `Run the checks of one hook in the current repository, as the installed hooks
do. pre-push reads Git's "<local ref> <local sha> <remote ref> <remote sha>"
lines on standard input (under the pre-commit framework, which consumes them,
its PRE_COMMIT_* variables instead). Exit status 1 when the checks refuse.`,
		Example: `  mlgit hooks run pre-commit
  echo "refs/heads/mlgit $(git rev-parse mlgit) refs/heads/mlgit 0000000000000000000000000000000000000000" | mlgit hooks run pre-push origin url`,
	}
	var co hooksPreCommitOptions
	preCommit := &cobra.Command{
		Use:   "pre-commit",
		Short: "Check staged files: size limit and manifests",
		Args:  cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			co.args = args
			if preCommitF != nil {
				return preCommitF(cmd.Context(), &co)
			}
			return runHooksPreCommit(cmd.Context(), a, &co)
		},
	}
	var po hooksPrePushOptions
	prePush := &cobra.Command{
		Use:   "pre-push <remote> <url>",
		Short: "Check a push: manifests of the tracking branch, blobs, registry tags",
		Args:  cobra.RangeArgs(0, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) > 0 {
				po.remote = args[0]
			}
			if len(args) > 1 {
				po.url = args[1]
			}
			if prePushF != nil {
				return prePushF(cmd.Context(), &po)
			}
			return runHooksPrePush(cmd.Context(), a, &po)
		},
	}
	cmd.AddCommand(preCommit, prePush)
	return cmd
}

func runHooksPreCommit(ctx context.Context, a *cli.App, _ *hooksPreCommitOptions) error {
	cfg, err := hooks.LoadConfig(ctx, a.RepoPath, func(k string) string { return hookGetenv(a, k) })
	if err != nil {
		return cli.Usagef("%v", err)
	}
	rep, err := hooks.PreCommit(ctx, a.RepoPath, cfg)
	return hookResult(a, "pre-commit", rep, err)
}

func runHooksPrePush(ctx context.Context, a *cli.App, o *hooksPrePushOptions) error {
	cfg, err := hooks.LoadConfig(ctx, a.RepoPath, func(k string) string { return hookGetenv(a, k) })
	if err != nil {
		return cli.Usagef("%v", err)
	}
	refs, err := hooks.ParsePushInput(a.In)
	if err != nil {
		return cli.Usagef("%v", err)
	}
	if len(refs) == 0 {
		// Under the pre-commit framework, which reads Git's input.
		refs = hooks.PushRefsFromEnv(a.Getenv)
	}
	opt := hooks.PrePushOptions{Config: cfg, Log: a.Err, BlobPush: func(ctx context.Context, revs []string) error { return hookBlobPush(a, ctx, revs) }, Remote: o.remote, URL: o.url}
	rep, err := hooks.PrePush(ctx, a.RepoPath, refs, opt)
	if err != nil {
		return hookResult(a, "pre-push", rep, err)
	}
	return hookPolicyCheck(a, ctx, cfg, refs)
}

// hookGetenv gives --branch precedence over $MLGIT_BRANCH for the hooks.
func hookGetenv(a *cli.App, k string) string {
	if k == "MLGIT_BRANCH" && a.Branch != "" {
		return a.Branch
	}
	return a.Getenv(k)
}

// hookPolicyCheck runs the rules of mlgit check that the manifest checks do
// not cover (the promotion policy, paths, segments) on an update of the
// tracking branch whose previous remote value is known here.
func hookPolicyCheck(a *cli.App, ctx context.Context, cfg hooks.Config, refs []hooks.PushedRef) error {
	for _, ref := range refs {
		if ref.RemoteRef != "refs/heads/"+cfg.Branch || strings.Trim(ref.LocalSHA, "0") == "" || strings.Trim(ref.RemoteSHA, "0") == "" {
			continue
		}
		r, err := repo.OpenRepository(a.RepoPath, a.RepoOptions())
		if err != nil {
			return err
		}
		defer r.Close()
		rep, err := r.Check(ctx, repo.CheckOptions{Base: ref.RemoteSHA, Head: ref.LocalSHA})
		if errors.Is(err, repo.ErrNotFound) {
			continue // the remote's commit is not here: the manifest checks ran on the whole tree
		}
		if err != nil {
			return err
		}
		if !rep.OK() {
			fmt.Fprintf(a.Err, "mlgit pre-push: refusing to push %s:\n", cfg.Branch)
			for _, p := range rep.Problems {
				fmt.Fprintf(a.Err, "  %s\n", p)
			}
			fmt.Fprintln(a.Err, "Fix these (mlgit check --base <remote>/"+cfg.Branch+" shows them), or push with --no-verify to skip the hook.")
			return &cli.ExitError{Code: cli.ExitFailure}
		}
	}
	return nil
}

func hookResult(a *cli.App, hook string, rep *hooks.Report, err error) error {
	if errors.Is(err, hooks.ErrRejected) {
		rep.Write(a.Err, hook)
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return err
}

// hookBlobPush uploads the blobs the pushed tracking-branch commits
// reference, as mlgit blob push <revs> does. With no blob remote
// configured it fails only if those commits reference blobs.
func hookBlobPush(a *cli.App, ctx context.Context, revs []string) error {
	if a.Getenv("MLGIT_SKIP_BLOB_PUSH") != "" {
		fmt.Fprintln(a.Err, "mlgit pre-push: MLGIT_SKIP_BLOB_PUSH is set; not uploading blobs")
		return nil
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	return uploadBlobsFor(a, ctx, r, revs, "", "", "the pushed commits reference", "push without uploading with MLGIT_SKIP_BLOB_PUSH=1 git push")
}
