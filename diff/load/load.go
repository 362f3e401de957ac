// Package load reads what `mlgit diff` compares from a store and builds
// the comparison with package diff: it classifies the two arguments (runs,
// model references, revisions of the tracking branch), resolves them the
// way the CLI documents, and returns a diff.Diff. The CLI and the web
// UI's diff page both call it, so they compare the same things.
//
// Package diff itself stays pure; this package does the reading: runs and
// versions through repo, revisions with the system git.
package load

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/mlgit/mlgit/diff"
	"github.com/mlgit/mlgit/internal/gitexec"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// UsageError is an argument error (the CLI's exit 2). It matches
// repo.ErrInvalid with errors.Is.
type UsageError struct{ Msg string }

func (e *UsageError) Error() string { return e.Msg }

// Is makes a UsageError match repo.ErrInvalid.
func (e *UsageError) Is(target error) bool { return target == repo.ErrInvalid }

func usagef(format string, args ...any) error {
	return &UsageError{Msg: fmt.Sprintf(format, args...)}
}

// Request is what to compare: two runs, two model references or two
// revisions, old side first.
type Request struct {
	A, B string
	// Revisions compares two revisions of the tracking branch; ThreeDot
	// compares B with the merge base of A and B.
	Revisions, ThreeDot bool
	// Options of the comparison (All keeps unchanged entries).
	Options diff.Options
}

// Parse turns one or two arguments into a Request: "A..B" or "A...B"
// alone is a revision range; two arguments are classified with KindOf
// (two model references, two runs, or revisions; a model reference next
// to anything else is refused).
func Parse(args []string) (Request, error) {
	var q Request
	switch len(args) {
	case 1:
		from, to, ok := strings.Cut(args[0], "..")
		if !ok {
			return q, usagef("give two runs, two model references, or a revision range A..B (got %q)", args[0])
		}
		q.ThreeDot = strings.HasPrefix(to, ".")
		q.A, q.B, q.Revisions = from, strings.TrimPrefix(to, "."), true
		if q.A == "" || q.B == "" {
			return q, usagef("revision range %q: want A..B or A...B", args[0])
		}
		return q, nil
	case 2:
		q.A, q.B = args[0], args[1]
	default:
		return q, usagef("give two runs, two model references, or two revisions")
	}
	ka, kb := KindOf(q.A), KindOf(q.B)
	switch {
	case ka == Revision && kb == Revision:
		q.Revisions = true
	case ka == Model && kb == Model, ka == Run && kb == Run:
	case ka == Model || kb == Model:
		return q, usagef("cannot compare a model version with a run or revision (%q, %q): give two model references such as churn@production churn@v4", q.A, q.B)
	default:
		// A hex argument next to a revision is a commit.
		q.Revisions = true
	}
	return q, nil
}

// Kind is what an argument names.
type Kind int

// Kinds of argument.
const (
	Run Kind = iota
	Model
	Revision
)

// KindOf tells a model reference (name@selector, models:/...) from a run
// id or prefix (hex) and from a revision (anything else: mlgit~3,
// origin/mlgit, A..B).
func KindOf(s string) Kind {
	switch {
	case strings.HasPrefix(s, "models:/"), strings.Contains(s, "@") && !strings.HasSuffix(s, "@") && !strings.HasPrefix(s, "@"):
		return Model
	case isHex(s):
		return Run
	}
	return Revision
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

// Diff reads both sides of q from r and compares them: a *diff.RunDiff,
// a *diff.VersionDiff or a *diff.ChangeSet. warn receives warnings (a
// reference resolved from the manifests, a version whose run is missing);
// it may be nil.
func Diff(ctx context.Context, r *repo.Repo, q Request, warn func(...string)) (diff.Diff, error) {
	if warn == nil {
		warn = func(...string) {}
	}
	switch {
	case q.Revisions:
		return Revisions(ctx, r, q.A, q.B, q.ThreeDot)
	case KindOf(q.A) == Model:
		va, err := VersionInput(r, q.A, warn)
		if err != nil {
			return nil, err
		}
		vb, err := VersionInput(r, q.B, warn)
		if err != nil {
			return nil, err
		}
		return diff.Versions(va, vb, q.Options), nil
	}
	ra, errA := readRun(r, q.A)
	rb, errB := readRun(r, q.B)
	// Two hex arguments that are no runs may be commits.
	if errA != nil && errB != nil && isCommitish(ctx, r, q.A) && isCommitish(ctx, r, q.B) {
		return Revisions(ctx, r, q.A, q.B, false)
	}
	if errA != nil {
		return nil, errA
	}
	if errB != nil {
		return nil, errB
	}
	return diff.Runs(ra, rb, "", "", q.Options), nil
}

func readRun(r *repo.Repo, arg string) (*manifest.Run, error) {
	id, err := r.ResolveRunID(arg)
	if err != nil {
		return nil, err
	}
	return r.GetRun(id)
}

// VersionInput resolves a model reference (from the tags, as CI does) and
// reads the version and its run.
func VersionInput(r *repo.Repo, ref string, warn func(...string)) (diff.VersionInput, error) {
	res, err := r.Resolve(ref)
	if err != nil {
		return diff.VersionInput{}, err
	}
	warn(res.Warnings...)
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
			warn(fmt.Sprintf("%s: run %s not found; params and metrics are not compared", ref, v.RunID))
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
	return gitexec.OnGitDir(r.GitDir()).Run(ctx, stdin, args...)
}

func isCommitish(ctx context.Context, r *repo.Repo, rev string) bool {
	_, err := gitIn(ctx, r, nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	return err == nil
}

func resolveCommit(ctx context.Context, r *repo.Repo, rev string) (string, error) {
	if strings.HasPrefix(rev, "-") {
		return "", fmt.Errorf("%w: revision %q is not a commit of this repository (a run id, a model reference such as churn@v3, or a revision of the tracking branch such as mlgit~1)", repo.ErrNotFound, rev)
	}
	out, err := gitIn(ctx, r, nil, "rev-parse", "--verify", "-q", rev+"^{commit}")
	if err != nil {
		return "", fmt.Errorf("%w: revision %q is not a commit of this repository (a run id, a model reference such as churn@v3, or a revision of the tracking branch such as mlgit~1)", repo.ErrNotFound, rev)
	}
	return strings.TrimSpace(string(out)), nil
}

var (
	runPathRe     = regexp.MustCompile(`^runs/[^/]+/[^/]+/run\.yaml$`)
	versionPathRe = regexp.MustCompile(`^models/[^/]+/versions/[^/]+\.yaml$`)
)

// Revisions reads the run and version manifests that differ between two
// revisions (from the merge base with threeDot) and summarizes them.
func Revisions(ctx context.Context, r *repo.Repo, from, to string, threeDot bool) (*diff.ChangeSet, error) {
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
	// --numstat rather than --name-only: in a partial clone git fetches the
	// contents a numstat reads in one request, the manifests read below,
	// which cat-file would fetch one by one. Only manifests are named, so
	// no metric history is fetched.
	out, err := gitIn(ctx, r, nil, "diff", "--numstat", "-z", "--no-renames", base, toC, "--",
		":(glob)runs/*/*/run.yaml", ":(glob)models/*/versions/*.yaml")
	if err != nil {
		return nil, err
	}
	var paths []string
	for _, rec := range strings.Split(strings.TrimSuffix(string(out), "\x00"), "\x00") {
		// added<TAB>deleted<TAB>path
		_, rest, _ := strings.Cut(rec, "\t")
		_, p, _ := strings.Cut(rest, "\t")
		if runPathRe.MatchString(p) || versionPathRe.MatchString(p) {
			paths = append(paths, p)
		}
	}
	var names []string
	for _, p := range paths {
		names = append(names, base+":"+p, toC+":"+p)
	}
	blobs, err := gitexec.OnGitDir(r.GitDir()).CatFileBatch(ctx, names)
	if err != nil {
		return nil, err
	}
	in := diff.ChangeSetInput{From: from, To: to, FromCommit: base, ToCommit: toC, MergeBase: threeDot}
	for i, p := range paths {
		old, new := blobs[2*i], blobs[2*i+1]
		if runPathRe.MatchString(p) {
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
