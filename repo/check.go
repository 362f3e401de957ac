package repo

import (
	"context"
	"fmt"

	"github.com/mlgit/mlgit/repo/internal/check"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// mlgit check (package repo/internal/check): what a pull request to the
// tracking branch changes, validated as mlgit itself would have written
// it. This file resolves the revisions and re-exports the report's types.

// Kinds of CheckProblem.
const (
	ProblemManifest = check.ProblemManifest // does not decode, breaks a rule, not canonical, or in the wrong place
	ProblemConfig   = check.ProblemConfig   // mlgit.yaml: the promotion policy does not apply
	ProblemPolicy   = check.ProblemPolicy   // a stage change the promotion policy refuses
	ProblemBlob     = check.ProblemBlob     // a referenced blob that is not where blobs must be
	ProblemSegment  = check.ProblemSegment  // a metric-history segment that does not parse or was rewritten
)

type (
	// CheckProblem is one thing wrong in a change.
	CheckProblem = check.Problem
	// StageChange is a version whose stage differs between the merge
	// base and head.
	StageChange = check.StageChange
	// CheckReport is the outcome of Check.
	CheckReport = check.Report
	// BlobChecker answers which blobs a store holds.
	BlobChecker = check.BlobChecker
	// CheckOptions configure Check.
	CheckOptions = check.Options
)

// OpenRepository opens the Git repository containing path like Open, but
// does not require the tracking branch to exist locally: mlgit check in a
// CI checkout reads other refs (HEAD, origin/mlgit).
func OpenRepository(path string, opts Options) (*Repo, error) {
	return openAt(path, opts)
}

// CheckRefs returns the revisions Check compares when base or head is "":
//
//   - head: HEAD when the commit it names has mlgit.yaml at the root of its
//     tree (a checkout of the tracking branch, of a proposal, or of a pull
//     request's merge commit), else the tracking branch;
//   - base: origin/<tracking branch> when that remote-tracking branch
//     exists, else the tracking branch, unless head is the tracking branch
//     itself (then there is nothing to compare with and --base is needed).
func (r *Repo) CheckRefs(base, head string) (string, string, error) {
	if head == "" {
		head = r.branch
		if h, err := r.refs.Read("HEAD"); err == nil && !h.IsZero() {
			if c, err := r.objects.ReadCommit(h); err == nil {
				if _, ok, err := r.objects.ReadPath(gitobj.TreeCache{}, c.TreeHash, layout.Config); err == nil && ok {
					head = "HEAD"
				}
			}
		}
	}
	if base != "" {
		return base, head, nil
	}
	origin := "origin/" + r.branch
	if h, err := r.refs.Read("refs/remotes/" + origin); err == nil && !h.IsZero() {
		return origin, head, nil
	}
	tip, err := r.tip()
	if err != nil {
		return "", "", err
	}
	hh, err := r.ResolveCommit(head)
	if err != nil {
		return "", "", err
	}
	if tip.IsZero() || hh == tip {
		return "", "", fmt.Errorf("%w: no base to compare %s with: there is no %s, and head is the tracking branch; pass --base REF (for a pull request, the branch it merges into, e.g. --base origin/%s after git fetch origin %s)",
			ErrInvalid, head, origin, r.branch, r.branch)
	}
	return r.branch, head, nil
}

// Check validates what head changes relative to the merge base of base and
// head (check.Run has the rules). Problems are in the report; the error is
// for what prevented checking.
func (r *Repo) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	baseRef, headRef, err := r.CheckRefs(opts.Base, opts.Head)
	if err != nil {
		return nil, err
	}
	head, err := r.ResolveCommit(headRef)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	base, err := r.ResolveCommit(baseRef)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	return check.Run(ctx, r.objects, check.Input{
		BaseRef: baseRef, HeadRef: headRef, Base: base, Head: head,
		Blobs: opts.Blobs, Refs: checkRefs,
	})
}

// checkRefs gives check the blob references of a manifest.
func checkRefs(p string, data []byte) ([]check.Ref, error) {
	refs, err := manifestRefs(p, data)
	if err != nil {
		return nil, err
	}
	out := make([]check.Ref, len(refs))
	for i, a := range refs {
		out[i] = check.Ref{Digest: a.Digest, Size: a.Size, Path: a.Path}
	}
	return out, nil
}
