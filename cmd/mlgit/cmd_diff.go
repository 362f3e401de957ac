package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/diff"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type diffOptions struct {
	a, b   string
	format diff.Format
	all    bool
	// revisions compares two revisions of the tracking branch; threeDot
	// compares b with the merge base of a and b.
	revisions, threeDot bool
}

func newDiffCmd(a *app, runF func(*diffOptions) error) *cobra.Command {
	var o diffOptions
	var format string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "diff {<run> <run> | <model-ref> <model-ref> | <rev> <rev> | <rev>..<rev> | <rev>...<rev>} [--format {table | json | markdown}] [--all]",
		Short: "Compare two runs, two model versions, or two revisions of the tracking branch",
		Long: `Compare two runs, two model versions, or two revisions of the tracking
branch, old side first.

Runs are given by id or a unique prefix of at least 4 characters. Model
versions are given as references: churn@v3, churn@production, churn@champion,
churn@latest or models:/churn/3. Two versions are compared on stage, aliases,
source run, files and tags, and on the params and metrics of their runs.

Shown: params and tags added, removed and changed; metrics old and new with
the change and the percentage (relative to |old|, left out when old is 0, NaN
or infinite); artifacts whose digest or size changed; status and stage.
Unchanged entries are left out unless --all.

--format markdown is what a CI job posts on a promotion pull request: the
current version on the left, the candidate on the right.

Two revisions of the tracking branch (mlgit~10 mlgit, or one range
origin/mlgit..mlgit; with three dots, from the merge base as a pull request
shows it) give a summary: runs added, changed and removed, model versions
added and changed, and stage changes. Revisions are read with the system git.
A hex argument is a run id when a run has it, else a revision.

Exit status 3 when a run, model, version, stage or alias does not exist.`,
		Example: `  mlgit diff 3f2a 9b1c
  mlgit diff 3f2a 9b1c --all --format json
  mlgit diff churn@production churn@v4 --format markdown > comment.md
  mlgit diff origin/mlgit...mlgit-propose/churn-v4-production --format markdown`,
		Args: cobra.RangeArgs(1, 2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 1 {
				from, to, ok := strings.Cut(args[0], "..")
				if !ok {
					return usagef("give two runs, two model references, or a revision range A..B (got %q)", args[0])
				}
				o.threeDot = strings.HasPrefix(to, ".")
				o.a, o.b, o.revisions = from, strings.TrimPrefix(to, "."), true
				if o.a == "" || o.b == "" {
					return usagef("revision range %q: want A..B or A...B", args[0])
				}
			} else {
				o.a, o.b = args[0], args[1]
			}
			f, err := diff.ParseFormat(format)
			if err != nil {
				return usagef("--format: %v", err)
			}
			if asJSON {
				if cmd.Flags().Changed("format") && f != diff.FormatJSON {
					return usagef("--json and --format %s do not go together", f)
				}
				f = diff.FormatJSON
			}
			o.format = f
			ka, kb := diffArgKind(o.a), diffArgKind(o.b)
			switch {
			case o.revisions:
			case ka == argRevision && kb == argRevision:
				o.revisions = true
			case ka == argModel && kb == argModel, ka == argRun && kb == argRun:
			case ka == argModel || kb == argModel:
				return usagef("cannot compare a model version with a run or revision (%q, %q): give two model references such as churn@production churn@v4", o.a, o.b)
			default:
				// A hex argument next to a revision is a commit.
				o.revisions = true
			}
			if runF != nil {
				return runF(&o)
			}
			return runDiff(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&format, "format", "table", "output `format`: table, json or markdown")
	cmd.Flags().BoolVar(&asJSON, "json", false, "same as --format json")
	cmd.Flags().BoolVar(&o.all, "all", false, "show unchanged params, metrics, tags and artifacts too")
	return cmd
}

type argKind int

const (
	argRun argKind = iota
	argModel
	argRevision
)

// diffArgKind tells a model reference (name@selector, models:/...) from a
// run id or prefix (hex) and from a revision (anything else: mlgit~3,
// origin/mlgit, A..B).
func diffArgKind(s string) argKind {
	switch {
	case strings.HasPrefix(s, "models:/"), strings.Contains(s, "@") && !strings.HasSuffix(s, "@") && !strings.HasPrefix(s, "@"):
		return argModel
	case isHex(s):
		return argRun
	}
	return argRevision
}

func isHex(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func runDiff(ctx context.Context, a *app, o *diffOptions) error {
	// Revisions (origin/mlgit~1) need no local tracking branch.
	r, err := a.OpenRepoForPull()
	if err != nil {
		return err
	}
	opt := diff.Options{All: o.all}
	var d diff.Diff
	switch {
	case o.revisions:
		cs, err := diffRevisions(ctx, r, o.a, o.b, o.threeDot)
		if err != nil {
			return err
		}
		d = cs
	case diffArgKind(o.a) == argModel:
		va, err := diffVersionInput(a, r, o.a)
		if err != nil {
			return err
		}
		vb, err := diffVersionInput(a, r, o.b)
		if err != nil {
			return err
		}
		d = diff.Versions(va, vb, opt)
	default:
		ra, errA := diffRun(r, o.a)
		rb, errB := diffRun(r, o.b)
		// Two hex arguments that are no runs may be commits.
		if errA != nil && errB != nil && isCommitish(ctx, r, o.a) && isCommitish(ctx, r, o.b) {
			cs, err := diffRevisions(ctx, r, o.a, o.b, false)
			if err != nil {
				return err
			}
			d = cs
			break
		}
		if errA != nil {
			return errA
		}
		if errB != nil {
			return errB
		}
		d = diff.Runs(ra, rb, "", "", opt)
	}
	if o.format == diff.FormatJSON {
		return printJSON(a.Out, d)
	}
	return diff.Write(a.Out, d, o.format)
}

func diffRun(r *repo.Repo, arg string) (*manifest.Run, error) {
	id, err := r.ResolveRunID(arg)
	if err != nil {
		return nil, err
	}
	return r.GetRun(id)
}

// diffVersionInput resolves a model reference (from the tags, as CI does)
// and reads the version and its run.
func diffVersionInput(a *app, r *repo.Repo, ref string) (diff.VersionInput, error) {
	res, err := r.Resolve(ref)
	if err != nil {
		return diff.VersionInput{}, err
	}
	a.warn(res.Warnings...)
	v, err := r.GetVersion(res.Model, res.Version)
	if err != nil {
		return diff.VersionInput{}, err
	}
	in := diff.VersionInput{Version: v, Aliases: res.Aliases, Label: ref}
	if in.Aliases == nil {
		in.Aliases = []string{}
	}
	if v.RunID != "" {
		run, err := r.GetRun(v.RunID)
		switch {
		case errors.Is(err, repo.ErrNotFound):
			a.warn(fmt.Sprintf("%s: run %s not found; params and metrics are not compared", ref, v.RunID))
		case err != nil:
			return diff.VersionInput{}, err
		default:
			in.Run = run
		}
	}
	return in, nil
}

// gitIn runs the system git on the store's Git directory.
func gitIn(ctx context.Context, r *repo.Repo, stdin []byte, args ...string) ([]byte, error) {
	cmd := exec.CommandContext(ctx, "git", append([]string{"--git-dir=" + r.GitDir()}, args...)...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("git %s: %s", strings.Join(args, " "), strings.TrimSpace(errb.String()+" "+err.Error()))
	}
	return out.Bytes(), nil
}

func isCommitish(ctx context.Context, r *repo.Repo, rev string) bool {
	_, err := gitIn(ctx, r, nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	return err == nil
}

func resolveCommit(ctx context.Context, r *repo.Repo, rev string) (string, error) {
	out, err := gitIn(ctx, r, nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w: revision %q is not a commit of this repository (a run id, a model reference such as churn@v3, or a revision of the tracking branch such as mlgit~1)", repo.ErrNotFound, rev)
	}
	return strings.TrimSpace(string(out)), nil
}

var (
	diffRunPathRe     = regexp.MustCompile(`^runs/[^/]+/[^/]+/run\.yaml$`)
	diffVersionPathRe = regexp.MustCompile(`^models/[^/]+/versions/[^/]+\.yaml$`)
)

// diffRevisions reads the run and version manifests that differ between
// two revisions (from the merge base with threeDot) and summarizes them.
func diffRevisions(ctx context.Context, r *repo.Repo, from, to string, threeDot bool) (*diff.ChangeSet, error) {
	fromC, err := resolveCommit(ctx, r, from)
	if err != nil {
		return nil, err
	}
	toC, err := resolveCommit(ctx, r, to)
	if err != nil {
		return nil, err
	}
	base := fromC
	if threeDot {
		out, err := gitIn(ctx, r, nil, "merge-base", fromC, toC)
		if err != nil {
			if _, serr := os.Stat(filepath.Join(r.GitDir(), "shallow")); serr == nil {
				return nil, fmt.Errorf("%s...%s: no merge base in this shallow clone: fetch the history (git fetch --unshallow; in CI, fetch-depth: 0 or GIT_DEPTH: 0)", from, to)
			}
			return nil, fmt.Errorf("%s...%s: no merge base: %w", from, to, err)
		}
		base = strings.TrimSpace(string(out))
	}
	out, err := gitIn(ctx, r, nil, "diff", "--name-only", "-z", "--no-renames", base, toC, "--", "runs", "models")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, p := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		if diffRunPathRe.MatchString(p) || diffVersionPathRe.MatchString(p) {
			paths = append(paths, p)
		}
	}
	var names []string
	for _, p := range paths {
		names = append(names, base+":"+p, toC+":"+p)
	}
	blobs, err := catFileBatch(ctx, r, names)
	if err != nil {
		return nil, err
	}
	in := diff.ChangeSetInput{From: from, To: to, FromCommit: base, ToCommit: toC, MergeBase: threeDot}
	for i, p := range paths {
		old, new := blobs[2*i], blobs[2*i+1]
		if diffRunPathRe.MatchString(p) {
			var pair diff.RunPair
			if pair.Old, err = decodeOpt(old, manifest.DecodeRun); err != nil {
				return nil, fmt.Errorf("%s:%s: %w", from, p, err)
			}
			if pair.New, err = decodeOpt(new, manifest.DecodeRun); err != nil {
				return nil, fmt.Errorf("%s:%s: %w", to, p, err)
			}
			in.Runs = append(in.Runs, pair)
			continue
		}
		var pair diff.VersionPair
		if pair.Old, err = decodeOpt(old, manifest.DecodeModelVersion); err != nil {
			return nil, fmt.Errorf("%s:%s: %w", from, p, err)
		}
		if pair.New, err = decodeOpt(new, manifest.DecodeModelVersion); err != nil {
			return nil, fmt.Errorf("%s:%s: %w", to, p, err)
		}
		in.Versions = append(in.Versions, pair)
	}
	return diff.Changes(in), nil
}

func decodeOpt[T any](data []byte, dec func([]byte) (*T, error)) (*T, error) {
	if data == nil {
		return nil, nil
	}
	return dec(data)
}

// catFileBatch reads <rev>:<path> objects with one git cat-file --batch;
// a missing object reads as nil.
func catFileBatch(ctx context.Context, r *repo.Repo, names []string) ([][]byte, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, n := range names {
		in.WriteString(n + "\n")
	}
	out, err := gitIn(ctx, r, in.Bytes(), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	res := make([][]byte, 0, len(names))
	for _, n := range names {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("git cat-file --batch: truncated output at %s", n)
		}
		hdr := strings.Fields(string(out[:nl]))
		out = out[nl+1:]
		if len(hdr) == 2 && hdr[1] == "missing" {
			res = append(res, nil)
			continue
		}
		if len(hdr) != 3 {
			return nil, fmt.Errorf("git cat-file --batch: %s: %q", n, hdr)
		}
		size, err := strconv.Atoi(hdr[2])
		if err != nil || size+1 > len(out) {
			return nil, fmt.Errorf("git cat-file --batch: bad header %q", hdr)
		}
		res = append(res, out[:size])
		out = out[size+1:]
	}
	return res, nil
}
