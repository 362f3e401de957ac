package synccmd

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gitexec"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type initOptions struct {
	bare string
	json bool
}

// NewInitCmd returns mlgit init; runF, when set, replaces its run function
// (tests).
func NewInitCmd(a *cli.App, runF func(context.Context, *initOptions) error) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--bare-repo PATH]",
		Short: "Create the tracking branch in this repository",
		Long: `Create the tracking branch (mlgit by default) with mlgit.yaml and the Default
experiment (id 0). Your working tree, index and HEAD are not touched.
Running it again is harmless.

In a clone whose remote already has the tracking branch (origin, or the only
remote), the local branch is set up from it, as mlgit pull does, rather than
started anew: the clone then shares the team's history.

With --bare-repo PATH, create (or reuse) a dedicated bare tracking repository.`,
		Example: `  mlgit init
  mlgit init --branch experiments
  mlgit init --bare-repo /srv/git/tracking.git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runInit(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.bare, "bare-repo", "", "create a dedicated bare tracking repository at `PATH`")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

// remoteTrackingBranch reports the remote to set the tracking branch up
// from: when this repository has no local tracking branch and its remote
// (origin, or the only one) has one, already fetched or found by a quick
// git ls-remote (a remote that does not answer in 15 s is not waited for).
func remoteTrackingBranch(a *cli.App, ctx context.Context) (string, bool) {
	branch := a.RepoOptions().Branch
	if branch == "" {
		branch = "mlgit"
	}
	g := gitexec.In(a.RepoPath).NoPrompt()
	git := func(timeout time.Duration, args ...string) (string, error) {
		ctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		out, err := g.Output(ctx, args...)
		if ge := (*gitexec.Error)(nil); errors.As(err, &ge) {
			err = ge.Err // the warning names how git failed, as before
		}
		return out, err
	}
	if _, err := git(5*time.Second, "rev-parse", "--verify", "-q", "refs/heads/"+branch); err == nil {
		return "", false // initialized already, or to be
	}
	remotes, err := git(5*time.Second, "remote")
	if err != nil || remotes == "" {
		return "", false
	}
	list := strings.Fields(remotes)
	remote := list[0]
	if len(list) > 1 {
		if !slices.Contains(list, "origin") {
			return "", false
		}
		remote = "origin"
	}
	if _, err := git(5*time.Second, "rev-parse", "--verify", "-q", "refs/remotes/"+remote+"/"+branch); err == nil {
		return remote, true
	}
	out, err := git(15*time.Second, "ls-remote", "--heads", remote, "refs/heads/"+branch)
	if err != nil {
		fmt.Fprintf(a.Err, "mlgit: warning: could not ask %s whether it has a %s branch (%v); creating a new one\n", remote, branch, err)
		return "", false
	}
	return remote, out != ""
}

// runInit sets the tracking branch up from the remote's when the remote
// has one (and no bare repository is asked for), else creates it.
func runInit(ctx context.Context, a *cli.App, o *initOptions) error {
	if o.bare == "" {
		if remote, ok := remoteTrackingBranch(a, ctx); ok {
			if err := runSync(ctx, a, "pull", remote, syncFlags{asJSON: o.json}); err != nil {
				return err
			}
			if !o.json {
				fmt.Fprintf(a.Out, "mlgit tracking branch set up from %s: this clone shares its runs, models and tags\n", remote)
			}
			return nil
		}
	}
	return initTrackingBranch(a, o)
}

func initTrackingBranch(a *cli.App, o *initOptions) error {
	path, bare := a.RepoPath, false
	if o.bare != "" {
		path, bare = o.bare, true
	}
	r, res, err := repo.Init(path, a.RepoOptions(), bare)
	if err != nil {
		return err
	}
	defer r.Close()
	if o.json {
		return cli.PrintJSON(a.Out, res)
	}
	if res.Created {
		fmt.Fprintf(a.Out, "Initialized mlgit tracking branch %q in %s\n", res.Branch, res.GitDir)
	} else {
		fmt.Fprintf(a.Out, "mlgit tracking branch %q already initialized in %s\n", res.Branch, res.GitDir)
	}
	return nil
}
