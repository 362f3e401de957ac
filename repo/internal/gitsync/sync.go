package gitsync

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/registry"
)

// Sharing (docs/sharing.md). The network part goes through the system git, so
// every transport and credential the user's git knows (credential helpers,
// SSH agent, GIT_SSH_COMMAND, http.* settings) works unchanged; everything
// local (what is unpushed, re-applying it on the remote tip, renumbering,
// tags) is done here on the object store.
//
// A fetch brings the remote's tracking branch into its remote-tracking ref
// (refs/remotes/<remote>/<branch>, or refs/mlgit/remotes/<id>/heads/<branch>
// for a URL) and all of the remote's tags into a private mirror,
// refs/mlgit/remotes/<remote>/tags/*. The mirror says exactly which local
// registry tags are not on the remote yet (unpushed), and which remote tags
// are new here (they are copied into refs/tags).

// Options configure Fetch, Pull and Push.
type Options struct {
	// Remote is a configured remote name or a URL/path ("" = origin).
	Remote string
	// Progress, when set, receives git's progress output (a terminal).
	Progress io.Writer
	// Log receives one line per step worth telling (nil: none).
	Log io.Writer
	// UploadBlobs, when set, runs before the refs are pushed with the
	// range of commits being pushed ("<remote tip>..<new tip>", or the new
	// tip alone when the remote has no branch yet).
	UploadBlobs func(ctx context.Context, rev string) error
	// Attempts bounds how often Push re-fetches and retries after losing a
	// race (default 20).
	Attempts int
}

// Result says what a Fetch, Pull or Push did.
type Result struct {
	Remote string `json:"remote"`
	Branch string `json:"branch"`
	// RemoteTip is the remote's branch after the operation ("" if none).
	RemoteTip string `json:"remote_tip,omitempty"`
	// Tip is the local branch after the operation.
	Tip string `json:"tip,omitempty"`
	// Created is set when the local branch was created from the remote's.
	Created bool `json:"created,omitempty"`
	// FastForward is set when the local branch moved to the remote's tip.
	FastForward bool `json:"fast_forward,omitempty"`
	// Rebased counts local commits re-applied on the remote's tip.
	Rebased int `json:"rebased,omitempty"`
	// Renumbered lists versions that got a new number.
	Renumbered []Renumbered `json:"renumbered,omitempty"`
	// MergedExperiments lists local experiments merged into the remote's
	// experiment of the same name.
	MergedExperiments []ExperimentMerge `json:"merged_experiments,omitempty"`
	// Retagged lists local tags that were re-created (new name, commit or
	// counter) as "old -> new".
	Retagged []string `json:"retagged,omitempty"`
	// TagsFetched counts registry tags new in this clone.
	TagsFetched int `json:"tags_fetched,omitempty"`
	// Pushed counts commits sent; TagsPushed the tags sent.
	Pushed     int      `json:"pushed,omitempty"`
	TagsPushed []string `json:"tags_pushed,omitempty"`
	// Bytes is the size of the pack git sent (when it said).
	Bytes int64 `json:"bytes,omitempty"`
	// Attempts is how many push attempts it took.
	Attempts int `json:"attempts,omitempty"`
	// UpToDate is set when there was nothing to do.
	UpToDate bool `json:"up_to_date,omitempty"`
}

// remoteSpec is a resolved remote.
type remoteSpec struct {
	name     string // what to pass to git (remote name or URL)
	display  string
	trackRef string // the remote's branch, locally
	tagNS    string // mirror of the remote's tags, ending in "/"
}

// resolveRemote turns a remote name or URL into where its refs live here.
func (s *Store) resolveRemote(remote string) (*remoteSpec, error) {
	if remote == "" {
		remote = "origin"
	}
	if s.IsRemote != nil && s.IsRemote(remote) {
		return &remoteSpec{name: remote, display: remote,
			trackRef: "refs/remotes/" + remote + "/" + s.Name,
			tagNS:    "refs/mlgit/remotes/" + remote + "/tags/"}, nil
	}
	if !strings.ContainsAny(remote, "/:\\") {
		return nil, fmt.Errorf("%w: no remote named %q in this repository: add one (git remote add %s URL) or give a URL or path", registry.ErrNotFound, remote, remote)
	}
	u := remote
	if !strings.Contains(u, "://") && !isSCPLike(u) {
		// A path: make it absolute so that every later command finds it.
		abs, err := filepath.Abs(u)
		if err == nil {
			u = abs
		}
	}
	sum := sha256.Sum256([]byte(u))
	id := "url-" + hex.EncodeToString(sum[:8])
	return &remoteSpec{name: u, display: remote,
		trackRef: "refs/mlgit/remotes/" + id + "/heads/" + s.Name,
		tagNS:    "refs/mlgit/remotes/" + id + "/tags/"}, nil
}

// isSCPLike reports whether u is git's scp-like syntax (host:path).
func isSCPLike(u string) bool {
	i := strings.IndexByte(u, ':')
	return i > 0 && !strings.ContainsAny(u[:i], "/\\") && !strings.Contains(u, "://")
}

// gitFailure turns a failed git network command into an error that says
// what to do.
func gitFailure(what string, rs *remoteSpec, stderr string, err error, after string) error {
	msg := strings.TrimSpace(stderr)
	var lines []string
	for _, l := range strings.Split(msg, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "hint:") {
			lines = append(lines, l)
		}
	}
	detail := strings.Join(lines, "; ")
	if detail == "" {
		detail = err.Error()
	}
	return fmt.Errorf("%w: %s %s failed: %s (%s; check the remote and your credentials, then run the command again)", gitobj.ErrRemote, what, rs.display, detail, after)
}

// fetch brings the remote's branch and tags here. It returns the remote's
// tip (zero when the remote has no tracking branch).
func (s *Store) fetch(ctx context.Context, rs *remoteSpec, o *Options) (plumbing.Hash, error) {
	branchSpec := "+refs/heads/" + s.Name + ":" + rs.trackRef
	tagSpec := "+refs/tags/*:" + rs.tagNS + "*"
	args := []string{"fetch", "--no-tags", "--no-write-fetch-head", "--quiet"}
	if o.Progress != nil {
		args = []string{"fetch", "--no-tags", "--no-write-fetch-head", "--progress"}
	}
	_, stderr, err := s.Net(ctx, o.Progress, append(args, rs.name, branchSpec, tagSpec)...)
	if err != nil && strings.Contains(stderr, "couldn't find remote ref refs/heads/"+s.Name) {
		// No tracking branch there yet (a first push): the tags only.
		_, stderr, err = s.Net(ctx, o.Progress, append(args, rs.name, tagSpec)...)
		if err == nil {
			if cur, _ := s.Branch.Refs.Read(rs.trackRef); !cur.IsZero() {
				s.Branch.Refs.Delete(rs.trackRef, cur)
			}
			return plumbing.ZeroHash, nil
		}
	}
	if err != nil {
		return plumbing.ZeroHash, gitFailure("fetch from", rs, stderr, err, "nothing local was changed")
	}
	return s.Branch.Refs.Read(rs.trackRef)
}

// registryTags returns the registry tags below prefix (name → value).
func (s *Store) registryTags(prefix string) (map[string]plumbing.Hash, error) {
	vals, err := s.Branch.Refs.ListWithPrefixes(prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]plumbing.Hash, len(vals))
	for _, v := range vals {
		name := strings.TrimPrefix(v.Name, prefix)
		if _, err := registry.ParseTagName(name); err != nil {
			continue
		}
		out[name] = v.Hash
	}
	return out, nil
}

// importTags copies the remote's registry tags that this clone lacks into
// refs/tags. Names that exist here with another value are local, unpushed
// tags; they are left for the tag plan to move aside.
func (s *Store) importTags(mirror, local map[string]plumbing.Hash) (int, error) {
	n := 0
	for name, h := range mirror {
		if _, ok := local[name]; ok {
			continue
		}
		err := s.Branch.Refs.CAS("refs/tags/"+name, plumbing.ZeroHash, h, "", "")
		if errors.Is(err, gitobj.ErrCASMismatch) {
			continue // created meanwhile; the next sync looks again
		}
		if err != nil {
			return n, err
		}
		local[name] = h
		n++
	}
	return n, nil
}

// Fetch brings the remote's tracking branch and registry tags into this
// clone without changing the local branch.
func (s *Store) Fetch(ctx context.Context, o Options) (*Result, error) {
	rs, err := s.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	res := &Result{Remote: rs.display, Branch: s.Name}
	remoteTip, err := s.fetch(ctx, rs, &o)
	if err != nil {
		return nil, err
	}
	mirror, err := s.registryTags(rs.tagNS)
	if err != nil {
		return nil, err
	}
	local, err := s.registryTags("refs/tags/")
	if err != nil {
		return nil, err
	}
	if res.TagsFetched, err = s.importTags(mirror, local); err != nil {
		return nil, err
	}
	res.RemoteTip = hashOrEmpty(remoteTip)
	tip, err := s.Branch.Tip()
	if err != nil {
		return nil, err
	}
	res.Tip = hashOrEmpty(tip)
	return res, nil
}

// Pull fetches the remote's tracking branch and registry tags and brings
// the local branch onto it: created from it when missing, fast-forwarded
// when behind, and local commits re-applied on top when both moved.
func (s *Store) Pull(ctx context.Context, o Options) (*Result, error) {
	rs, err := s.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	res := &Result{Remote: rs.display, Branch: s.Name}
	unlock, err := s.lockForSync()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := s.pullLocked(ctx, rs, &o, res); err != nil {
		return nil, err
	}
	return res, nil
}

// lockForSync takes the checkpoint lock for the whole operation and folds
// the journal into commits, so that no checkpoint can commit on a tip that
// is being replaced and every acknowledged record is in a commit that gets
// re-applied. It also finishes a sync that a crash interrupted.
func (s *Store) lockForSync() (func(), error) {
	l, err := gitobj.LockFile(s.CheckpointLock, true, true, 2*gitobj.LockTimeout)
	if err != nil {
		return nil, err
	}
	if err := s.finishSyncIntent(); err != nil {
		l.Unlock()
		return nil, err
	}
	if err := s.Checkpoint(); err != nil {
		l.Unlock()
		return nil, err
	}
	return l.Unlock, nil
}

// pullLocked fetches and integrates; it returns the remote's tip.
func (s *Store) pullLocked(ctx context.Context, rs *remoteSpec, o *Options, res *Result) (plumbing.Hash, error) {
	remoteTip, err := s.fetch(ctx, rs, o)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	mirror, err := s.registryTags(rs.tagNS)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	local, err := s.registryTags("refs/tags/")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	n, err := s.importTags(mirror, local)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	res.TagsFetched += n
	if err := s.integrate(remoteTip, mirror, local, res); err != nil {
		return plumbing.ZeroHash, err
	}
	res.RemoteTip = hashOrEmpty(remoteTip)
	return remoteTip, nil
}

// reportMerges records the experiments merged by a replay.
func (s *Store) reportMerges(tip plumbing.Hash, em expMerge, res *Result) error {
	if len(em) == 0 {
		return nil
	}
	tx, err := s.Branch.DB.NewTx(tip)
	if err != nil {
		return err
	}
	for from, to := range em {
		name := ""
		if data, ok, err := tx.Read(layout.Experiment(to)); err == nil && ok {
			if e, err := manifest.DecodeExperiment(data); err == nil {
				name = e.Name
			}
		}
		res.MergedExperiments = append(res.MergedExperiments, ExperimentMerge{Name: name, From: from, To: to})
	}
	sort.Slice(res.MergedExperiments, func(i, j int) bool { return res.MergedExperiments[i].From < res.MergedExperiments[j].From })
	return nil
}

// integrate brings the local branch onto remoteTip and moves the local,
// unpushed tags with it.
func (s *Store) integrate(remoteTip plumbing.Hash, mirror, local map[string]plumbing.Hash, res *Result) error {
	for attempt := 0; attempt < gitobj.MaxCASRetries; attempt++ {
		localTip, err := s.Branch.Tip()
		if err != nil {
			return err
		}
		newTip := localTip
		var moved map[plumbing.Hash]plumbing.Hash
		rn := renumbering{}
		em := expMerge{}
		rebased := 0
		switch {
		case remoteTip.IsZero() || remoteTip == localTip:
		case localTip.IsZero():
			newTip = remoteTip
		default:
			ahead, err := s.firstParentChain(remoteTip, localTip)
			if err != nil {
				return err
			}
			behind, err := s.Branch.DB.RangeCommits(localTip, remoteTip)
			if err != nil {
				return err
			}
			switch {
			case len(behind) == 0: // the remote has nothing new
			case len(ahead) == 0:
				newTip = remoteTip
			default:
				if newTip, moved, rn, err = s.replay(remoteTip, ahead, em); err != nil {
					return err
				}
				rebased = len(ahead)
			}
		}
		plan, err := s.planTags(mirror, local, moved, rn)
		if err != nil {
			return err
		}
		plan.Tip = newTip.String()
		if len(plan.Ops) > 0 {
			if err := gitobj.WriteFileRename(s.syncIntentPath(), plan.encode()); err != nil {
				return err
			}
		}
		if newTip != localTip {
			sig := s.Branch.Sign()
			who := sig.Name + " <" + sig.Email + "> " + fmt.Sprint(sig.When.Unix()) + " +0000"
			err := s.Branch.Refs.CAS(s.Branch.Ref, localTip, newTip, who, "mlgit: sync with "+res.Remote)
			if errors.Is(err, gitobj.ErrCASMismatch) {
				os.Remove(s.syncIntentPath())
				continue // a local writer committed meanwhile: again
			}
			if err != nil {
				os.Remove(s.syncIntentPath())
				return err
			}
		}
		if s.AfterBranchMove != nil {
			if err := s.AfterBranchMove(); err != nil {
				return err
			}
		}
		if err := s.applyTagPlan(plan); err != nil {
			return err
		}
		os.Remove(s.syncIntentPath())
		for k := range local {
			delete(local, k)
		}
		if fresh, err := s.registryTags("refs/tags/"); err == nil {
			for k, v := range fresh {
				local[k] = v
			}
		}
		res.Created = res.Created || (localTip.IsZero() && !newTip.IsZero())
		res.FastForward = res.FastForward || (!localTip.IsZero() && newTip == remoteTip && newTip != localTip)
		res.Rebased += rebased
		for key, m := range rn {
			name, _ := registry.ModelName(key)
			for from, to := range m {
				res.Renumbered = append(res.Renumbered, Renumbered{Model: name, From: from, To: to})
			}
		}
		sort.Slice(res.Renumbered, func(i, j int) bool {
			a, b := res.Renumbered[i], res.Renumbered[j]
			return a.Model < b.Model || a.Model == b.Model && a.From < b.From
		})
		if err := s.reportMerges(newTip, em, res); err != nil {
			return err
		}
		res.Retagged = append(res.Retagged, plan.Retagged...)
		res.Tip = newTip.String()
		return nil
	}
	return fmt.Errorf("%w: branch %s kept moving during the sync; try again", gitobj.ErrConflict, s.Name)
}

// firstParentChain returns the commits from tip back along first parents
// that are not reachable from base, oldest first: the local changes to
// re-apply.
func (s *Store) firstParentChain(base, tip plumbing.Hash) ([]plumbing.Hash, error) {
	only, err := s.Branch.DB.RangeCommits(base, tip)
	if err != nil {
		return nil, err
	}
	in := make(map[plumbing.Hash]bool, len(only))
	for _, h := range only {
		in[h] = true
	}
	var chain []plumbing.Hash
	for h := tip; in[h]; {
		chain = append(chain, h)
		c, err := s.Branch.DB.ReadCommit(h)
		if err != nil {
			return nil, err
		}
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	for i, j := 0, len(chain)-1; i < j; i, j = i+1, j-1 {
		chain[i], chain[j] = chain[j], chain[i]
	}
	return chain, nil
}

// Push sends the tracking branch and the registry tags the remote lacks:
// it pulls (re-applying local commits on the remote's tip, renumbering what
// is not pushed yet), uploads the blobs the new commits reference, then
// pushes branch and tags in one atomic push. If another clone pushed in
// between, it starts over. It never force-pushes.
func (s *Store) Push(ctx context.Context, o Options) (*Result, error) {
	rs, err := s.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	attempts := o.Attempts
	if attempts <= 0 {
		attempts = 60
	}
	res := &Result{Remote: rs.display, Branch: s.Name}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		// The first attempt pushes on what the last fetch saw, without
		// fetching: one round trip when nobody else pushed meanwhile.
		retry, err := s.pushOnce(ctx, rs, &o, res, attempt == 1)
		if err != nil || !retry {
			return res, err
		}
		if attempt >= attempts {
			return res, fmt.Errorf("%w: %s kept moving (%d attempts); run mlgit push again", gitobj.ErrConflict, rs.display, attempts)
		}
		if o.Log != nil && attempt > 1 {
			fmt.Fprintf(o.Log, "%s moved while pushing; fetching and trying again\n", rs.display)
		}
		// Randomized exponential back-off (capped at 2 s) spreads clones
		// that keep colliding.
		backoff := min(2*time.Second, time.Duration(10<<min(attempt, 8))*time.Millisecond)
		time.Sleep(time.Duration(rand.Int64N(int64(backoff))))
	}
}

// pushOnce is one fetch-integrate-upload-push round. retry is set when the
// remote refused because it moved.
func (s *Store) pushOnce(ctx context.Context, rs *remoteSpec, o *Options, res *Result, optimistic bool) (retry bool, err error) {
	unlock, err := s.lockForSync()
	if err != nil {
		return false, err
	}
	defer unlock()
	tip, err := s.Branch.Tip()
	if err != nil {
		return false, err
	}
	var remoteTip plumbing.Hash
	// A partial clone fetches first: when the remote has moved, git push
	// in a partial clone fetches the remote's new tip lazily, with all the
	// history below it, before refusing; a fetch brings the new commits
	// only.
	if optimistic && s.Branch.DB.Promisor() != "" {
		optimistic = false
	}
	if optimistic {
		// Only when the branch contains what the remote had at the last
		// fetch; otherwise the push would be refused anyway.
		remoteTip, err = s.Branch.Refs.Read(rs.trackRef)
		if err != nil {
			return false, err
		}
		if remoteTip.IsZero() || tip.IsZero() {
			optimistic = false
		} else if behind, err := s.Branch.DB.RangeCommits(tip, remoteTip); err != nil || len(behind) > 0 {
			optimistic = false
		}
	}
	if !optimistic {
		if remoteTip, err = s.pullLocked(ctx, rs, o, res); err != nil {
			return false, err
		}
		if tip, err = s.Branch.Tip(); err != nil {
			return false, err
		}
	}
	if tip.IsZero() {
		return false, fmt.Errorf("%w: branch %s does not exist here; run mlgit init or mlgit pull first", registry.ErrNotFound, s.Name)
	}
	mirror, err := s.registryTags(rs.tagNS)
	if err != nil {
		return false, err
	}
	local, err := s.registryTags("refs/tags/")
	if err != nil {
		return false, err
	}
	if optimistic {
		// No pull ran: settle local tags against what the last fetch saw
		// (counters after the remote's, lightweight copies replaced).
		plan, err := s.planTags(mirror, local, nil, renumbering{})
		if err != nil {
			return false, err
		}
		if len(plan.Ops) > 0 {
			if err := s.applyTagPlan(plan); err != nil {
				return false, err
			}
			if local, err = s.registryTags("refs/tags/"); err != nil {
				return false, err
			}
			res.Retagged = append(res.Retagged, plan.Retagged...)
		}
	}
	// Tags the remote lacks. A name the remote has with another value is
	// never pushed (it would be refused): the tag plan renamed or replaced
	// it, or reported why it cannot.
	var tags []string
	for name := range local {
		if _, ok := mirror[name]; !ok {
			tags = append(tags, name)
		}
	}
	sort.Strings(tags)
	if tip == remoteTip && len(tags) == 0 {
		res.UpToDate = true
		return false, nil
	}
	var commits []plumbing.Hash
	if tip != remoteTip {
		if commits, err = s.Branch.DB.RangeCommits(remoteTip, tip); err != nil {
			return false, err
		}
		if o.UploadBlobs != nil {
			rev := tip.String()
			if !remoteTip.IsZero() {
				rev = remoteTip.String() + ".." + tip.String()
			}
			if err := o.UploadBlobs(ctx, rev); err != nil {
				return false, fmt.Errorf("upload blobs before pushing (nothing was pushed): %w", err)
			}
		}
	}
	specs := []string{}
	if tip != remoteTip {
		specs = append(specs, tip.String()+":refs/heads/"+s.Name)
	}
	for _, t := range tags {
		specs = append(specs, "refs/tags/"+t+":refs/tags/"+t)
	}
	out, stderr, err := s.gitPush(ctx, rs, o, specs)
	if err != nil {
		if pushRaced(out + stderr) {
			return true, nil
		}
		return false, gitFailure("push to", rs, stderr, err, "nothing was lost: your commits and tags are all still here")
	}
	// Record what the remote now has, as the next fetch would.
	if tip != remoteTip {
		s.Branch.Refs.CAS(rs.trackRef, remoteTip, tip, "", "")
	}
	for _, t := range tags {
		cur, _ := s.Branch.Refs.Read(rs.tagNS + t)
		s.Branch.Refs.CAS(rs.tagNS+t, cur, local[t], "", "")
	}
	res.Pushed += len(commits)
	res.TagsPushed = append(res.TagsPushed, tags...)
	res.Bytes += packBytes(stderr)
	res.RemoteTip = tip.String()
	res.Tip = tip.String()
	return false, nil
}

// gitPush pushes refspecs atomically, or in two steps (branch, then tags)
// when the remote cannot push atomically, so that a tag never arrives
// without its commit.
func (s *Store) gitPush(ctx context.Context, rs *remoteSpec, o *Options, specs []string) (string, string, error) {
	base := []string{"push", "--porcelain", "--progress"}
	progress := o.Progress
	out, stderr, err := s.Net(ctx, progress, append(append(base, "--atomic", rs.name), specs...)...)
	if err == nil || !strings.Contains(stderr, "does not support --atomic") {
		return out, stderr, err
	}
	out, stderr, err = s.Net(ctx, progress, append(base, rs.name, specs[0])...)
	if err != nil || len(specs) == 1 {
		return out, stderr, err
	}
	out2, stderr2, err := s.Net(ctx, progress, append(append(base, rs.name), specs[1:]...)...)
	return out + out2, stderr + stderr2, err
}

// pushRaced reports whether git refused a push because the remote moved
// (another clone pushed first), which a re-fetch resolves.
func pushRaced(s string) bool {
	for _, m := range []string{"(fetch first)", "(non-fast-forward)", "(already exists)", "(stale info)", "cannot lock ref", "incorrect old value provided"} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// packBytes reads the pack size from git's "Writing objects: ..., 1.23 KiB"
// progress line.
func packBytes(stderr string) int64 {
	i := strings.LastIndex(stderr, "Writing objects:")
	if i < 0 {
		return 0
	}
	line := stderr[i:]
	if j := strings.IndexAny(line, "\r\n"); j >= 0 {
		line = line[:j]
	}
	if k := strings.Index(line, "|"); k >= 0 {
		line = line[:k]
	}
	parts := strings.Split(line, ",")
	f := strings.Fields(parts[len(parts)-1])
	if len(f) < 2 {
		return 0
	}
	var v float64
	if _, err := fmt.Sscan(f[0], &v); err != nil {
		return 0
	}
	mult := map[string]float64{"bytes": 1, "KiB": 1 << 10, "MiB": 1 << 20, "GiB": 1 << 30}[f[1]]
	return int64(v * mult)
}

func hashOrEmpty(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
