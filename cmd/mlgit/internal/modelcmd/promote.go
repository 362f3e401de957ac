package modelcmd

import (
	"context"
	"errors"
	"fmt"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type modelPromoteOptions struct {
	name            string
	version         int64
	stage           string
	archiveExisting bool
	reason          string
	propose         bool
	remote          string
	asJSON          bool
}

func newModelPromoteCmd(a *cli.App, runF func(*modelPromoteOptions) error) *cobra.Command {
	var o modelPromoteOptions
	cmd := &cobra.Command{
		Use:     "promote <name> <version> <stage> [--archive-existing] [--reason TEXT] [--propose [--remote NAME]]",
		Aliases: []string{"transition"},
		Short:   "Move a version to a stage, or propose it for review",
		Long: `Move a version to a stage: None, Staging, Production, Archived, or a custom
stage declared under stages: in mlgit.yaml (any case). The manifest changes in
one commit; then an event tag <key>#<stage>#<counter> is created on the
version's registration commit, with who, why and the commit in its message.

--archive-existing moves every other version in the target stage to Archived,
each with its own event (MLflow's archive_existing_versions).

The promotion policy in mlgit.yaml (promotion: <stage>: from, require, review)
applies: a version may have to come from given stages, and its source run may
have to match a filter such as "metrics.accuracy >= 0.9".

--propose commits the same change on a new branch
mlgit-propose/<model>-v<n>-<stage> off the tip of the tracking branch, without
moving the tracking branch or creating tags, pushes it to --remote (default
origin; with no such remote the branch stays local) and prints the page that
opens a pull request on GitHub or GitLab. After the merge, mlgit tags sync
creates the tags. A stage whose policy says review: true is always proposed.
See docs/registry.md, "Review of promotions".`,
		Example: `  mlgit model promote churn 4 production --archive-existing --reason "AUC 0.91 > 0.89"
  mlgit model promote churn 3 archived
  mlgit model promote churn 4 production --propose --reason "AUC 0.91 > 0.89"`,
		Args: cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseVersion(args[1])
			if err != nil {
				return err
			}
			o.name, o.version, o.stage = args[0], n, args[2]
			if o.remote != "" && !o.propose {
				return cli.Usagef("--remote goes with --propose")
			}
			if runF != nil {
				return runF(&o)
			}
			return runModelPromote(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.archiveExisting, "archive-existing", false, "archive the other versions in the target stage")
	cmd.Flags().StringVar(&o.reason, "reason", "", "why (recorded in the tag message, or the proposal's commit)")
	cmd.Flags().BoolVar(&o.propose, "propose", false, "commit the change on a proposal branch and push it for review")
	cmd.Flags().StringVar(&o.remote, "remote", "", "Git remote `NAME` (or URL) to push the proposal to (default origin)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the result as JSON")
	return cmd
}

func runModelPromote(ctx context.Context, a *cli.App, o *modelPromoteOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	spec := repo.PromoteSpec{Name: o.name, Version: o.version, Stage: o.stage, ArchiveExisting: o.archiveExisting, Reason: o.reason}
	if o.propose {
		return runModelPropose(ctx, a, r, o, spec)
	}
	res, err := r.Promote(spec)
	if errors.Is(err, repo.ErrReviewRequired) {
		fmt.Fprintf(a.Err, "mlgit: the promotion policy in mlgit.yaml requires review for %s: proposing the change instead\n", o.stage)
		return runModelPropose(ctx, a, r, o, spec)
	}
	if res == nil {
		return err
	}
	if o.asJSON {
		if res.Changes == nil {
			res.Changes = []repo.Transition{}
		}
		if jerr := cli.PrintJSON(a.Out, res); jerr != nil {
			return jerr
		}
	} else if len(res.Changes) == 0 {
		fmt.Fprintf(a.Out, "%s v%d is already in %s\n", o.name, o.version, res.Version.Stage)
	}
	if !o.asJSON {
		for _, c := range res.Changes {
			fmt.Fprintf(a.Out, "%s v%d: %s -> %s  %s\n", o.name, c.Version, c.From, c.To, c.Tag)
		}
	}
	return err
}

// proposeResult is what promote --propose prints with --json.
type proposeResult struct {
	*repo.Proposal
	Remote      string `json:"remote,omitempty"`
	RemoteURL   string `json:"remote_url,omitempty"`
	Pushed      bool   `json:"pushed"`
	PushCommand string `json:"push_command,omitempty"`
	URL         string `json:"url,omitempty"`
}

func runModelPropose(ctx context.Context, a *cli.App, r *repo.Repo, o *modelPromoteOptions, spec repo.PromoteSpec) error {
	p, err := r.Propose(spec)
	if err != nil {
		return err
	}
	out := proposeResult{Proposal: p}
	if p.Changes == nil {
		p.Changes = []repo.Transition{}
	}
	if p.Branch == "" {
		if o.asJSON {
			return cli.PrintJSON(a.Out, out)
		}
		fmt.Fprintf(a.Out, "%s v%d is already in %s on %s: nothing to propose\n", o.name, o.version, p.Version.Stage, p.Target)
		return nil
	}
	pushed, perr := r.PushProposal(ctx, o.remote, p)
	if pushed != nil {
		out.Remote, out.RemoteURL, out.Pushed, out.PushCommand, out.URL = pushed.Remote, pushed.RemoteURL, pushed.Pushed, pushed.PushCommand, pushed.URL
	}
	if o.asJSON {
		if err := cli.PrintJSON(a.Out, out); err != nil {
			return err
		}
	} else {
		verb := "Proposed"
		if p.Existing {
			verb = "Already proposed"
		}
		fmt.Fprintf(a.Out, "%s on branch %s (commit %s, off %s at %s):\n", verb, p.Branch, cli.ShortID(p.Commit), p.Target, cli.ShortID(p.Base))
		for _, c := range p.Changes {
			fmt.Fprintf(a.Out, "  %s v%d: %s -> %s\n", o.name, c.Version, c.From, c.To)
		}
		switch {
		case perr != nil:
		case pushed == nil || !pushed.Pushed:
			fmt.Fprintf(a.Out, "No remote %q: the branch stays local. Push it with:\n  %s\n", out.Remote, out.PushCommand)
		default:
			fmt.Fprintf(a.Out, "Pushed to %s.\n", out.Remote)
		}
		if out.URL != "" {
			fmt.Fprintf(a.Out, "Open a pull request: %s\n", out.URL)
		} else {
			fmt.Fprintf(a.Out, "Open a pull request from %s into %s.\n", p.Branch, p.Target)
		}
		fmt.Fprintf(a.Out, "After the merge, run mlgit tags sync (and push the tags) to record the stage change.\n")
	}
	if perr != nil {
		return fmt.Errorf("%w; the branch %s is kept; push it with: %s", perr, p.Branch, out.PushCommand)
	}
	return nil
}

type modelAliasSetOptions struct {
	name, alias string
	version     int64
	reason      string
}

type modelAliasRmOptions struct {
	name, alias string
	reason      string
}

func newModelAliasCmd(a *cli.App, setF func(*modelAliasSetOptions) error, rmF func(*modelAliasRmOptions) error) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "alias <command>",
		Short: "Point an alias at a version, or remove it",
		Long: `Aliases name one version each (MLflow's registered model aliases): setting an
alias that exists moves it. An alias may not be a stage name, latest or v<n>.
Each move is an event tag <key>#<alias>#<counter>; a removal <key>#!<alias>#<counter>.`,
		Example: `  mlgit model alias set churn champion 4
  mlgit model alias rm churn challenger`,
	}
	var so modelAliasSetOptions
	set := &cobra.Command{
		Use:     "set <name> <alias> <version> [--reason TEXT]",
		Short:   "Point an alias at a version",
		Example: `  mlgit model alias set churn champion 4 --reason "won the A/B test"`,
		Args:    cobra.ExactArgs(3),
		RunE: func(cmd *cobra.Command, args []string) error {
			n, err := parseVersion(args[2])
			if err != nil {
				return err
			}
			so.name, so.alias, so.version = args[0], args[1], n
			if setF != nil {
				return setF(&so)
			}
			return runModelAliasSet(a, &so)
		},
	}
	set.Flags().StringVar(&so.reason, "reason", "", "why (recorded in the tag message)")
	var ro modelAliasRmOptions
	rm := &cobra.Command{
		Use:     "rm <name> <alias> [--reason TEXT]",
		Aliases: []string{"delete"},
		Short:   "Remove an alias",
		Example: `  mlgit model alias rm churn challenger`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			ro.name, ro.alias = args[0], args[1]
			if rmF != nil {
				return rmF(&ro)
			}
			return runModelAliasRm(a, &ro)
		},
	}
	rm.Flags().StringVar(&ro.reason, "reason", "", "why (recorded in the tag message)")
	cmd.AddCommand(set, rm)
	return cmd
}

func runModelAliasSet(a *cli.App, o *modelAliasSetOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.SetAlias(repo.AliasSpec{Name: o.name, Alias: o.alias, Version: o.version, Reason: o.reason})
	if res == nil {
		return err
	}
	switch {
	case res.Previous == o.version:
		fmt.Fprintf(a.Out, "%s alias %s is already v%d\n", o.name, o.alias, o.version)
	case res.Previous != 0:
		fmt.Fprintf(a.Out, "%s alias %s: v%d -> v%d  %s\n", o.name, o.alias, res.Previous, o.version, res.Tag)
	default:
		fmt.Fprintf(a.Out, "%s alias %s -> v%d  %s\n", o.name, o.alias, o.version, res.Tag)
	}
	return err
}

func runModelAliasRm(a *cli.App, o *modelAliasRmOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.DeleteAlias(o.name, o.alias, o.reason)
	if res == nil {
		return err
	}
	fmt.Fprintf(a.Out, "%s alias %s removed (was v%d)  %s\n", o.name, o.alias, res.Previous, res.Tag)
	return err
}
