package repo

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/artifacts"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// Which blobs does the tracking branch need? Artifacts live in the blob
// store; manifests on the branch name them by digest. The functions here
// answer that question for what a command asks about, at a cost that
// follows the question: one run reads one manifest (and that run's pending
// journal records); one commit reads the manifests of its tree; a range
// A..B reads only the manifests that the range's commits changed; the
// whole history (for blob gc) reads each distinct manifest version once,
// skipping subtrees already seen.
//
// The manifest side (which manifests hold references, decoding them, the
// tree walks) is package repo/internal/artifacts; this file resolves what a
// command names and adds the pending journal records.

// ArtifactRef is one reference from a manifest to a blob: Digest
// ("sha256:<hex>"), Size (bytes, as the manifest records), Owner ("run
// <id>", "model <name> v<n>" or "logged-model <id>") and Path (inside its
// owner).
type ArtifactRef = artifacts.Ref

// ArtifactDigests returns the distinct digests of refs, sorted.
func ArtifactDigests(refs []ArtifactRef) []string { return artifacts.Digests(refs) }

// manifestRefs decodes the manifest at p and returns its artifact
// references.
func manifestRefs(p string, data []byte) ([]ArtifactRef, error) {
	return artifacts.FromManifest(p, data)
}

// treeRefs returns the references of every manifest in a commit's tree.
func (r *Repo) treeRefs(commit plumbing.Hash) ([]ArtifactRef, error) {
	return artifacts.Tree(r.objects, commit)
}

// TipArtifactRefs returns the references of every manifest at the tip of
// the tracking branch plus those of acknowledged writes still in the
// journal: everything a reader of the branch may ask for now.
func (r *Repo) TipArtifactRefs() ([]ArtifactRef, error) {
	tip, ops, err := r.snapshot("")
	if err != nil {
		return nil, err
	}
	out, err := r.treeRefs(tip)
	if err != nil {
		return nil, err
	}
	return append(out, artifacts.FromJournal(ops)...), nil
}

// RunArtifactRefs returns the artifacts of the given runs as acknowledged
// (committed manifest plus pending journal records). It reads one manifest
// per run.
func (r *Repo) RunArtifactRefs(ids ...string) ([]ArtifactRef, error) {
	var out []ArtifactRef
	for _, id := range ids {
		run, err := r.GetRun(id)
		if err != nil {
			return nil, err
		}
		out = append(out, artifacts.FromArtifacts("run "+run.ID, run.Artifacts)...)
		hist, err := r.historyBlobRefs(run.ID)
		if err != nil {
			return nil, err
		}
		out = append(out, hist...)
	}
	return out, nil
}

// historyBlobRefs returns the metric-history blobs of run id that the tip
// of the branch points at.
func (r *Repo) historyBlobRefs(id string) ([]ArtifactRef, error) {
	var out []ArtifactRef
	err := r.View(func(tx *Tx) error {
		if tx.BaseTree().IsZero() {
			return nil
		}
		names, err := tx.List(layout.RunDir(id) + "/" + layout.MetricBlobs)
		if err != nil || len(names) == 0 {
			return err
		}
		for _, name := range names {
			p := layout.RunDir(id) + "/" + layout.MetricBlobs + "/" + name
			data, ok, err := tx.Read(p)
			if err != nil || !ok {
				return err
			}
			refs, err := manifestRefs(p, data)
			if err != nil {
				return err
			}
			out = append(out, refs...)
		}
		return nil
	})
	return out, err
}

// CommitArtifactRefs returns the references of every manifest in the tree
// of the commit rev names (see ResolveCommit).
func (r *Repo) CommitArtifactRefs(rev string) ([]ArtifactRef, error) {
	h, err := r.ResolveCommit(rev)
	if err != nil {
		return nil, err
	}
	return r.treeRefs(h)
}

// RangeArtifactRefs returns the references of the manifests that the
// commits reachable from to but not from from added or changed (each
// commit compared with its first parent), as git rev-list from..to. An
// empty from or to means the tracking branch. It reads only changed
// manifests, so the cost follows the size of the range.
func (r *Repo) RangeArtifactRefs(from, to string) ([]ArtifactRef, error) {
	if from == "" {
		from = r.branch
	}
	if to == "" {
		to = r.branch
	}
	fh, err := r.ResolveCommit(from)
	if err != nil {
		return nil, err
	}
	th, err := r.ResolveCommit(to)
	if err != nil {
		return nil, err
	}
	return artifacts.Range(r.objects, fh, th)
}

// ModelArtifactRefs returns the files of the model version a reference
// names (name@v3, name@production, name@alias, models:/name/3).
func (r *Repo) ModelArtifactRefs(ref string) ([]ArtifactRef, error) {
	res, err := r.Resolve(ref)
	if err != nil {
		return nil, err
	}
	v, err := r.GetVersion(res.Model, res.Version)
	if err != nil {
		return nil, err
	}
	return artifacts.FromArtifacts(fmt.Sprintf("model %s v%d", v.Name, v.Version), v.Artifacts), nil
}

// ArtifactRefsFor returns the references that specs name. A spec is one of:
//
//	A..B                     manifests changed by the commits in B and not
//	                         in A (either side empty: the tracking branch)
//	name@v3, name@stage,     the files of a model version
//	name@alias, models:/name/3
//	run id or unique prefix  that run's artifacts (committed and pending)
//	commit or ref            every manifest at that commit: a full or
//	                         abbreviated commit id, a branch, tag or
//	                         remote-tracking ref, HEAD, with ~N and ^N
//
// A hex string is tried as a run id prefix first, then as a commit; write
// abc123^0 to mean the commit when a run id also starts with abc123.
func (r *Repo) ArtifactRefsFor(specs ...string) ([]ArtifactRef, error) {
	var out []ArtifactRef
	for _, s := range specs {
		refs, err := r.artifactRefsFor(s)
		if err != nil {
			return nil, err
		}
		out = append(out, refs...)
	}
	return out, nil
}

func (r *Repo) artifactRefsFor(s string) ([]ArtifactRef, error) {
	if s == "" {
		return nil, fmt.Errorf("%w: empty reference", ErrInvalid)
	}
	if from, to, ok := strings.Cut(s, ".."); ok {
		return r.RangeArtifactRefs(from, to)
	}
	if strings.HasPrefix(s, "models:/") || (strings.Contains(s, "@") && !strings.Contains(s, "@{")) {
		return r.ModelArtifactRefs(s)
	}
	if manifest.ValidRunID(s) {
		return r.RunArtifactRefs(s)
	}
	if isLowerHex(s) && len(s) >= 4 && len(s) <= 32 {
		id, err := r.ResolveRunID(s)
		switch {
		case err == nil:
			return r.RunArtifactRefs(id)
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	commit, err := r.ResolveCommit(s)
	if errors.Is(err, ErrNotFound) {
		return nil, fmt.Errorf("%w: %q names no run, model version, commit or ref", ErrNotFound, s)
	}
	if err != nil {
		return nil, err
	}
	return r.treeRefs(commit)
}

func isLowerHex(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// HistoryArtifactRefs returns one reference for every digest that any
// manifest anywhere in the history of the tracking branch references, in
// that of its remote-tracking copies (refs/remotes/*/<branch>, which hold
// what other clones pushed), or in a pending journal record. It is what
// blob gc must keep. Each distinct tree and manifest version is read once.
//
// A historical manifest that no longer decodes is scanned for anything
// that looks like a digest instead (keeping too much is safe), and a
// warning says so.
func (r *Repo) HistoryArtifactRefs() (refs []ArtifactRef, warnings []string, err error) {
	tip, ops, err := r.snapshot("")
	if err != nil {
		return nil, nil, err
	}
	roots := []plumbing.Hash{}
	if !tip.IsZero() {
		roots = append(roots, tip)
	}
	remotes, err := r.remoteTrackingTips()
	if err != nil {
		return nil, nil, err
	}
	roots = append(roots, remotes...)
	return artifacts.History(r.objects, roots, artifacts.FromJournal(ops))
}

// remoteTrackingTips returns the commits of refs/remotes/<remote>/<branch>
// for every remote, loose or packed.
func (r *Repo) remoteTrackingTips() ([]plumbing.Hash, error) {
	names := map[string]bool{}
	ents, err := os.ReadDir(filepath.Join(r.gitDir, "refs", "remotes"))
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return nil, err
	}
	for _, e := range ents {
		if e.IsDir() {
			names["refs/remotes/"+e.Name()+"/"+r.branch] = true
		}
	}
	if data, err := os.ReadFile(filepath.Join(r.gitDir, "packed-refs")); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if len(l) < 42 || l[0] == '#' || l[0] == '^' {
				continue
			}
			name := l[41:]
			if strings.HasPrefix(name, "refs/remotes/") && strings.HasSuffix(name, "/"+r.branch) &&
				strings.Count(name, "/") == 3+strings.Count(r.branch, "/") {
				names[name] = true
			}
		}
	}
	var out []plumbing.Hash
	for _, n := range sortedRefNames(names) {
		h, err := r.refs.Read(n)
		if err != nil {
			return nil, err
		}
		if !h.IsZero() {
			out = append(out, h)
		}
	}
	return out, nil
}

func sortedRefNames(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// ResolveCommit turns a revision into a commit id: a full or abbreviated
// (at least 4 hex digits) commit id, HEAD, a ref name (full, or a branch,
// tag or remote-tracking branch, as git tries them), followed by any of ~N,
// ^ and ^N. Annotated tags are peeled. An abbreviated id is looked up among
// the commits of the tracking branch and its remote-tracking copies. It
// fails with ErrNotFound when nothing matches.
func (r *Repo) ResolveCommit(rev string) (plumbing.Hash, error) {
	base, ops, err := splitRev(rev)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	h, err := r.resolveBase(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	for _, op := range ops {
		if op.caret {
			if op.n == 0 {
				continue // ^0 is the commit itself
			}
			c, err := r.objects.ReadCommit(h)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if op.n > len(c.ParentHashes) {
				return plumbing.ZeroHash, fmt.Errorf("%w: %s: commit %s has no parent %d", ErrNotFound, rev, short(h.String()), op.n)
			}
			h = c.ParentHashes[op.n-1]
			continue
		}
		for range op.n {
			c, err := r.objects.ReadCommit(h)
			if err != nil {
				return plumbing.ZeroHash, err
			}
			if len(c.ParentHashes) == 0 {
				return plumbing.ZeroHash, fmt.Errorf("%w: %s: commit %s has no parent", ErrNotFound, rev, short(h.String()))
			}
			h = c.ParentHashes[0]
		}
	}
	return h, nil
}

type revOp struct {
	caret bool // ^N (N-th parent) rather than ~N (N-th first-parent ancestor)
	n     int
}

// splitRev splits "base~2^2^" into its base and suffix operations.
func splitRev(rev string) (string, []revOp, error) {
	i := strings.IndexAny(rev, "~^")
	if rev == "" || i == 0 {
		return "", nil, fmt.Errorf("%w: %q is not a revision", ErrInvalid, rev)
	}
	if i < 0 {
		return rev, nil, nil
	}
	base, rest := rev[:i], rev[i:]
	var ops []revOp
	for rest != "" {
		op := revOp{caret: rest[0] == '^', n: 1}
		rest = rest[1:]
		j := 0
		for j < len(rest) && rest[j] >= '0' && rest[j] <= '9' {
			j++
		}
		if j > 0 {
			n, err := strconv.Atoi(rest[:j])
			if err != nil || n > 1<<20 {
				return "", nil, fmt.Errorf("%w: %q is not a revision", ErrInvalid, rev)
			}
			op.n = n
			rest = rest[j:]
		}
		if rest != "" && rest[0] != '~' && rest[0] != '^' {
			return "", nil, fmt.Errorf("%w: %q is not a revision", ErrInvalid, rev)
		}
		ops = append(ops, op)
	}
	return base, ops, nil
}

func (r *Repo) resolveBase(base string) (plumbing.Hash, error) {
	if len(base) == 40 && isLowerHex(base) {
		h := plumbing.NewHash(base)
		return r.peelToCommit(h, base)
	}
	candidates := []string{base}
	if base != "HEAD" && !strings.HasPrefix(base, "refs/") {
		candidates = []string{"refs/" + base, "refs/tags/" + base, "refs/heads/" + base, "refs/remotes/" + base, "refs/remotes/" + base + "/HEAD"}
	}
	if strings.ContainsAny(base, " \t\n:?*[\\") || strings.Contains(base, "..") {
		return plumbing.ZeroHash, fmt.Errorf("%w: %q is not a revision", ErrInvalid, base)
	}
	for _, name := range candidates {
		h, err := r.refs.Read(name)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("ref %s: %w", name, err)
		}
		if !h.IsZero() {
			return r.peelToCommit(h, base)
		}
	}
	if len(base) >= 4 && len(base) < 40 && isLowerHex(base) {
		return r.abbreviatedCommit(base)
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: no commit or ref named %q", ErrNotFound, base)
}

// peelToCommit follows annotated tags to the commit they point at.
func (r *Repo) peelToCommit(h plumbing.Hash, name string) (plumbing.Hash, error) {
	for range 10 {
		obj, err := r.objects.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, fmt.Errorf("%w: %s: no object %s", ErrNotFound, name, h)
		}
		switch obj.Type() {
		case plumbing.CommitObject:
			return h, nil
		case plumbing.TagObject:
			var t object.Tag
			if err := t.Decode(obj); err != nil {
				return plumbing.ZeroHash, fmt.Errorf("%s: tag %s: %w", name, h, err)
			}
			h = t.Target
		default:
			return plumbing.ZeroHash, fmt.Errorf("%w: %s names a %s, not a commit", ErrInvalid, name, obj.Type())
		}
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: %s: tag chain too long", ErrInvalid, name)
}

// abbreviatedCommit finds the one commit whose id starts with prefix among
// the history of the tracking branch and its remote-tracking copies.
func (r *Repo) abbreviatedCommit(prefix string) (plumbing.Hash, error) {
	tip, err := r.tip()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	queue, err := r.remoteTrackingTips()
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if !tip.IsZero() {
		queue = append(queue, tip)
	}
	seen := map[plumbing.Hash]bool{}
	var found []plumbing.Hash
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seen[h] {
			continue
		}
		seen[h] = true
		if strings.HasPrefix(h.String(), prefix) {
			found = append(found, h)
		}
		c, err := r.objects.ReadCommit(h)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		queue = append(queue, c.ParentHashes...)
	}
	switch len(found) {
	case 0:
		return plumbing.ZeroHash, fmt.Errorf("%w: no commit of branch %s starts with %q", ErrNotFound, r.branch, prefix)
	case 1:
		return found[0], nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: commit prefix %q is ambiguous (%d commits)", ErrInvalid, prefix, len(found))
}

// BlobCacheLock is a held lock on the local blob cache.
type BlobCacheLock struct{ l *gitobj.FileLock }

// Unlock releases the lock.
func (l *BlobCacheLock) Unlock() { l.l.Unlock() }

// LockBlobCache takes the lock that serializes blob gc of the local cache
// with adds to it: adds hold it shared, gc exclusive (an add that finds a
// chunk present does not rewrite it, so gc must not delete chunks under
// it). It waits up to timeout and then fails with ErrLocked, saying who
// holds it.
func (r *Repo) LockBlobCache(exclusive bool, timeout time.Duration) (*BlobCacheLock, error) {
	l, err := gitobj.LockFile(filepath.Join(r.stateDir, "blobs.lock"), exclusive, true, timeout)
	if err != nil {
		if errors.Is(err, ErrLocked) {
			if exclusive {
				return nil, fmt.Errorf("an artifact add, fetch or blob pull is writing to the local blob cache; run gc again when it is done: %w", err)
			}
			return nil, fmt.Errorf("the blob cache is locked by a running mlgit blob gc; try again when it is done: %w", err)
		}
		return nil, err
	}
	return &BlobCacheLock{l: l}, nil
}
