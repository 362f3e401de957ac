package repo

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
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

// SyncOptions configure Fetch, Pull and Push.
type SyncOptions struct {
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

// SyncResult says what a Fetch, Pull or Push did.
type SyncResult struct {
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
func (r *Repo) resolveRemote(remote string) (*remoteSpec, error) {
	if remote == "" {
		remote = "origin"
	}
	cfg, err := r.st.Config()
	if err == nil {
		if rc, ok := cfg.Remotes[remote]; ok && len(rc.URLs) > 0 {
			return &remoteSpec{name: remote, display: remote,
				trackRef: "refs/remotes/" + remote + "/" + r.branch,
				tagNS:    "refs/mlgit/remotes/" + remote + "/tags/"}, nil
		}
	}
	if !strings.ContainsAny(remote, "/:\\") {
		return nil, fmt.Errorf("%w: no remote named %q in this repository: add one (git remote add %s URL) or give a URL or path", ErrNotFound, remote, remote)
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
		trackRef: "refs/mlgit/remotes/" + id + "/heads/" + r.branch,
		tagNS:    "refs/mlgit/remotes/" + id + "/tags/"}, nil
}

// isSCPLike reports whether u is git's scp-like syntax (host:path).
func isSCPLike(u string) bool {
	i := strings.IndexByte(u, ':')
	return i > 0 && !strings.ContainsAny(u[:i], "/\\") && !strings.Contains(u, "://")
}

// gitNet runs the system git for a network operation in this repository.
// stderr is returned (and copied to progress when set).
func (r *Repo) gitNet(ctx context.Context, progress io.Writer, args ...string) (string, string, error) {
	cmd := exec.CommandContext(ctx, "git", args...)
	cmd.Dir = r.gitDir
	if r.workTree != "" {
		cmd.Dir = r.workTree
	}
	cmd.Env = append(os.Environ(), "GIT_DIR="+r.gitDir)
	var stdout, stderr bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = &stderr
	if progress != nil {
		cmd.Stderr = io.MultiWriter(&stderr, progress)
	}
	err := cmd.Run()
	return stdout.String(), stderr.String(), err
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
	return fmt.Errorf("%w: %s %s failed: %s (%s; check the remote and your credentials, then run the command again)", ErrRemote, what, rs.display, detail, after)
}

// ErrRemote marks a failure of the remote (unreachable, refused, denied).
var ErrRemote = gitobj.ErrRemote

// fetch brings the remote's branch and tags here. It returns the remote's
// tip (zero when the remote has no tracking branch).
func (r *Repo) fetch(ctx context.Context, rs *remoteSpec, o *SyncOptions) (plumbing.Hash, error) {
	branchSpec := "+refs/heads/" + r.branch + ":" + rs.trackRef
	tagSpec := "+refs/tags/*:" + rs.tagNS + "*"
	args := []string{"fetch", "--no-tags", "--no-write-fetch-head", "--quiet"}
	if o.Progress != nil {
		args = []string{"fetch", "--no-tags", "--no-write-fetch-head", "--progress"}
	}
	_, stderr, err := r.gitNet(ctx, o.Progress, append(args, rs.name, branchSpec, tagSpec)...)
	if err != nil && strings.Contains(stderr, "couldn't find remote ref refs/heads/"+r.branch) {
		// No tracking branch there yet (a first push): the tags only.
		_, stderr, err = r.gitNet(ctx, o.Progress, append(args, rs.name, tagSpec)...)
		if err == nil {
			if cur, _ := r.refs.Read(rs.trackRef); !cur.IsZero() {
				r.refs.Delete(rs.trackRef, cur)
			}
			return plumbing.ZeroHash, nil
		}
	}
	if err != nil {
		return plumbing.ZeroHash, gitFailure("fetch from", rs, stderr, err, "nothing local was changed")
	}
	return r.refs.Read(rs.trackRef)
}

// registryTags returns the registry tags below prefix (name → value).
func (r *Repo) registryTags(prefix string) (map[string]plumbing.Hash, error) {
	vals, err := r.refs.ListWithPrefixes(prefix)
	if err != nil {
		return nil, err
	}
	out := make(map[string]plumbing.Hash, len(vals))
	for _, v := range vals {
		name := strings.TrimPrefix(v.Name, prefix)
		if _, err := ParseTagName(name); err != nil {
			continue
		}
		out[name] = v.Hash
	}
	return out, nil
}

// importTags copies the remote's registry tags that this clone lacks into
// refs/tags. Names that exist here with another value are local, unpushed
// tags; they are left for the tag plan to move aside.
func (r *Repo) importTags(mirror, local map[string]plumbing.Hash) (int, error) {
	n := 0
	for name, h := range mirror {
		if _, ok := local[name]; ok {
			continue
		}
		err := r.refs.CAS("refs/tags/"+name, plumbing.ZeroHash, h, "", "")
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
func (r *Repo) Fetch(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	rs, err := r.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	res := &SyncResult{Remote: rs.display, Branch: r.branch}
	remoteTip, err := r.fetch(ctx, rs, &o)
	if err != nil {
		return nil, err
	}
	mirror, err := r.registryTags(rs.tagNS)
	if err != nil {
		return nil, err
	}
	local, err := r.registryTags("refs/tags/")
	if err != nil {
		return nil, err
	}
	if res.TagsFetched, err = r.importTags(mirror, local); err != nil {
		return nil, err
	}
	res.RemoteTip = hashOrEmpty(remoteTip)
	tip, err := r.tip()
	if err != nil {
		return nil, err
	}
	res.Tip = hashOrEmpty(tip)
	return res, nil
}

// Pull fetches the remote's tracking branch and registry tags and brings
// the local branch onto it: created from it when missing, fast-forwarded
// when behind, and local commits re-applied on top when both moved.
func (r *Repo) Pull(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	rs, err := r.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	res := &SyncResult{Remote: rs.display, Branch: r.branch}
	unlock, err := r.lockForSync()
	if err != nil {
		return nil, err
	}
	defer unlock()
	if _, err := r.pullLocked(ctx, rs, &o, res); err != nil {
		return nil, err
	}
	return res, nil
}

// lockForSync takes the checkpoint lock for the whole operation and folds
// the journal into commits, so that no checkpoint can commit on a tip that
// is being replaced and every acknowledged record is in a commit that gets
// re-applied. It also finishes a sync that a crash interrupted.
func (r *Repo) lockForSync() (func(), error) {
	l, err := gitobj.LockFile(r.checkpointLockPath(), true, true, 2*gitobj.LockTimeout)
	if err != nil {
		return nil, err
	}
	if err := r.finishSyncIntent(); err != nil {
		l.Unlock()
		return nil, err
	}
	if _, err := r.checkpointLocked(); err != nil {
		l.Unlock()
		return nil, err
	}
	return l.Unlock, nil
}

// pullLocked fetches and integrates; it returns the remote's tip.
func (r *Repo) pullLocked(ctx context.Context, rs *remoteSpec, o *SyncOptions, res *SyncResult) (plumbing.Hash, error) {
	remoteTip, err := r.fetch(ctx, rs, o)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	mirror, err := r.registryTags(rs.tagNS)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	local, err := r.registryTags("refs/tags/")
	if err != nil {
		return plumbing.ZeroHash, err
	}
	n, err := r.importTags(mirror, local)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	res.TagsFetched += n
	if err := r.integrate(remoteTip, mirror, local, res); err != nil {
		return plumbing.ZeroHash, err
	}
	res.RemoteTip = hashOrEmpty(remoteTip)
	return remoteTip, nil
}

// integrate brings the local branch onto remoteTip and moves the local,
// unpushed tags with it.
func (r *Repo) integrate(remoteTip plumbing.Hash, mirror, local map[string]plumbing.Hash, res *SyncResult) error {
	for attempt := 0; attempt < gitobj.MaxCASRetries; attempt++ {
		localTip, err := r.tip()
		if err != nil {
			return err
		}
		newTip := localTip
		var moved map[plumbing.Hash]plumbing.Hash
		rn := renumbering{}
		rebased := 0
		switch {
		case remoteTip.IsZero() || remoteTip == localTip:
		case localTip.IsZero():
			newTip = remoteTip
		default:
			ahead, err := r.firstParentChain(remoteTip, localTip)
			if err != nil {
				return err
			}
			behind, err := r.objects.RangeCommits(localTip, remoteTip)
			if err != nil {
				return err
			}
			switch {
			case len(behind) == 0: // the remote has nothing new
			case len(ahead) == 0:
				newTip = remoteTip
			default:
				if newTip, moved, rn, err = r.replay(remoteTip, ahead); err != nil {
					return err
				}
				rebased = len(ahead)
			}
		}
		plan, err := r.planTags(mirror, local, moved, rn)
		if err != nil {
			return err
		}
		plan.Tip = newTip.String()
		if len(plan.Ops) > 0 {
			if err := gitobj.WriteFileRename(r.syncIntentPath(), plan.encode()); err != nil {
				return err
			}
		}
		if newTip != localTip {
			err := r.refs.CAS(r.BranchRef(), localTip, newTip, r.actor()+" "+fmt.Sprint(r.now().Unix())+" +0000", "mlgit: sync with "+res.Remote)
			if errors.Is(err, gitobj.ErrCASMismatch) {
				os.Remove(r.syncIntentPath())
				continue // a local writer committed meanwhile: again
			}
			if err != nil {
				os.Remove(r.syncIntentPath())
				return err
			}
		}
		if afterSyncCAS != nil {
			if err := afterSyncCAS(); err != nil {
				return err
			}
		}
		if err := r.applyTagPlan(plan); err != nil {
			return err
		}
		os.Remove(r.syncIntentPath())
		for k := range local {
			delete(local, k)
		}
		if fresh, err := r.registryTags("refs/tags/"); err == nil {
			for k, v := range fresh {
				local[k] = v
			}
		}
		res.Created = res.Created || (localTip.IsZero() && !newTip.IsZero())
		res.FastForward = res.FastForward || (!localTip.IsZero() && newTip == remoteTip && newTip != localTip)
		res.Rebased += rebased
		for key, m := range rn {
			name, _ := ModelName(key)
			for from, to := range m {
				res.Renumbered = append(res.Renumbered, Renumbered{Model: name, From: from, To: to})
			}
		}
		sort.Slice(res.Renumbered, func(i, j int) bool {
			a, b := res.Renumbered[i], res.Renumbered[j]
			return a.Model < b.Model || a.Model == b.Model && a.From < b.From
		})
		res.Retagged = append(res.Retagged, plan.Retagged...)
		res.Tip = newTip.String()
		return nil
	}
	return fmt.Errorf("%w: branch %s kept moving during the sync; try again", ErrConflict, r.branch)
}

// afterSyncCAS, when set by tests, runs after the branch moved and before
// the tag plan is applied; an error stands for the process dying there.
var afterSyncCAS func() error

// firstParentChain returns the commits from tip back along first parents
// that are not reachable from base, oldest first: the local changes to
// re-apply.
func (r *Repo) firstParentChain(base, tip plumbing.Hash) ([]plumbing.Hash, error) {
	only, err := r.objects.RangeCommits(base, tip)
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
		c, err := r.objects.ReadCommit(h)
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
func (r *Repo) Push(ctx context.Context, o SyncOptions) (*SyncResult, error) {
	rs, err := r.resolveRemote(o.Remote)
	if err != nil {
		return nil, err
	}
	attempts := o.Attempts
	if attempts <= 0 {
		attempts = 60
	}
	res := &SyncResult{Remote: rs.display, Branch: r.branch}
	for attempt := 1; ; attempt++ {
		res.Attempts = attempt
		// The first attempt pushes on what the last fetch saw, without
		// fetching: one round trip when nobody else pushed meanwhile.
		retry, err := r.pushOnce(ctx, rs, &o, res, attempt == 1)
		if err != nil || !retry {
			return res, err
		}
		if attempt >= attempts {
			return res, fmt.Errorf("%w: %s kept moving (%d attempts); run mlgit push again", ErrConflict, rs.display, attempts)
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
func (r *Repo) pushOnce(ctx context.Context, rs *remoteSpec, o *SyncOptions, res *SyncResult, optimistic bool) (retry bool, err error) {
	unlock, err := r.lockForSync()
	if err != nil {
		return false, err
	}
	defer unlock()
	tip, err := r.tip()
	if err != nil {
		return false, err
	}
	var remoteTip plumbing.Hash
	if optimistic {
		// Only when the branch contains what the remote had at the last
		// fetch; otherwise the push would be refused anyway.
		remoteTip, err = r.refs.Read(rs.trackRef)
		if err != nil {
			return false, err
		}
		if remoteTip.IsZero() || tip.IsZero() {
			optimistic = false
		} else if behind, err := r.objects.RangeCommits(tip, remoteTip); err != nil || len(behind) > 0 {
			optimistic = false
		}
	}
	if !optimistic {
		if remoteTip, err = r.pullLocked(ctx, rs, o, res); err != nil {
			return false, err
		}
		if tip, err = r.tip(); err != nil {
			return false, err
		}
	}
	if tip.IsZero() {
		return false, fmt.Errorf("%w: branch %s does not exist here; run mlgit init or mlgit pull first", ErrNotFound, r.branch)
	}
	mirror, err := r.registryTags(rs.tagNS)
	if err != nil {
		return false, err
	}
	local, err := r.registryTags("refs/tags/")
	if err != nil {
		return false, err
	}
	if optimistic {
		// No pull ran: settle local tags against what the last fetch saw
		// (counters after the remote's, lightweight copies replaced).
		plan, err := r.planTags(mirror, local, nil, renumbering{})
		if err != nil {
			return false, err
		}
		if len(plan.Ops) > 0 {
			if err := r.applyTagPlan(plan); err != nil {
				return false, err
			}
			if local, err = r.registryTags("refs/tags/"); err != nil {
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
		if commits, err = r.objects.RangeCommits(remoteTip, tip); err != nil {
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
		specs = append(specs, tip.String()+":refs/heads/"+r.branch)
	}
	for _, t := range tags {
		specs = append(specs, "refs/tags/"+t+":refs/tags/"+t)
	}
	out, stderr, err := r.gitPush(ctx, rs, o, specs)
	if err != nil {
		if pushRaced(out + stderr) {
			return true, nil
		}
		return false, gitFailure("push to", rs, stderr, err, "nothing was lost: your commits and tags are all still here")
	}
	// Record what the remote now has, as the next fetch would.
	if tip != remoteTip {
		r.refs.CAS(rs.trackRef, remoteTip, tip, "", "")
	}
	for _, t := range tags {
		cur, _ := r.refs.Read(rs.tagNS + t)
		r.refs.CAS(rs.tagNS+t, cur, local[t], "", "")
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
func (r *Repo) gitPush(ctx context.Context, rs *remoteSpec, o *SyncOptions, specs []string) (string, string, error) {
	base := []string{"push", "--porcelain", "--progress"}
	progress := o.Progress
	out, stderr, err := r.gitNet(ctx, progress, append(append(base, "--atomic", rs.name), specs...)...)
	if err == nil || !strings.Contains(stderr, "does not support --atomic") {
		return out, stderr, err
	}
	out, stderr, err = r.gitNet(ctx, progress, append(base, rs.name, specs[0])...)
	if err != nil || len(specs) == 1 {
		return out, stderr, err
	}
	out2, stderr2, err := r.gitNet(ctx, progress, append(append(base, rs.name), specs[1:]...)...)
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

// --- tag plan

// tagOp sets refs/tags/<Name> from Old to New (zero New: delete).
type tagOp struct {
	Name string `json:"name"`
	Old  string `json:"old"`
	New  string `json:"new"`
}

// tagPlan is what a sync does to local tags once the branch moved. It is
// written to disk before the branch moves, so a crash in between is
// finished by the next sync.
type tagPlan struct {
	Tip      string   `json:"tip"`
	Ops      []tagOp  `json:"ops"`
	Retagged []string `json:"retagged,omitempty"`
}

func (p *tagPlan) encode() []byte {
	b, _ := json.Marshal(p)
	return b
}

func (r *Repo) syncIntentPath() string { return filepath.Join(r.branchState(), "sync.intent") }

// finishSyncIntent applies the tag plan of a sync that died after moving
// the branch, or drops it if the branch never moved.
func (r *Repo) finishSyncIntent() error {
	data, err := os.ReadFile(r.syncIntentPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p tagPlan
	if err := json.Unmarshal(data, &p); err != nil || !plumbing.IsHash(p.Tip) {
		return os.Remove(r.syncIntentPath())
	}
	tip, err := r.tip()
	if err != nil {
		return err
	}
	if tip.String() == p.Tip {
		if err := r.applyTagPlan(&p); err != nil {
			return err
		}
	} else if only, err := r.objects.RangeCommits(tip, plumbing.NewHash(p.Tip)); err == nil && len(only) == 0 {
		if err := r.applyTagPlan(&p); err != nil {
			return err
		}
	}
	return os.Remove(r.syncIntentPath())
}

// applyTagPlan applies the ops; an op whose ref already has its new value
// is done, one whose ref moved elsewhere is skipped.
func (r *Repo) applyTagPlan(p *tagPlan) error {
	for _, op := range p.Ops {
		ref := "refs/tags/" + op.Name
		old, nw := plumbing.NewHash(op.Old), plumbing.NewHash(op.New)
		cur, err := r.refs.Read(ref)
		if err != nil {
			return err
		}
		if cur == nw {
			continue
		}
		if cur != old {
			continue
		}
		if nw.IsZero() {
			err = r.refs.Delete(ref, old)
		} else {
			err = r.refs.CAS(ref, old, nw, "", "")
		}
		if err != nil && !errors.Is(err, gitobj.ErrCASMismatch) {
			return err
		}
	}
	return nil
}

// localTag is an unpushed registry tag being planned.
type localTag struct {
	name   TagName
	value  plumbing.Hash
	target plumbing.Hash
	msg    TagMessage
	ours   bool // the message is ours (decoded)
	raw    *tagObject
}

// planTags decides what happens to the local tags the remote does not have:
// re-pointed at re-applied commits, renamed for renumbered versions, given
// counters after the remote's when they collide with it; and the remote's
// values for names the local ones had taken.
func (r *Repo) planTags(mirror, local map[string]plumbing.Hash, moved map[plumbing.Hash]plumbing.Hash, rn renumbering) (*tagPlan, error) {
	plan := &tagPlan{}
	var unpushed []*localTag
	for name, h := range local {
		if mirror[name] == h {
			continue
		}
		tn, err := ParseTagName(name)
		if err != nil {
			continue
		}
		to, err := r.readTagObject(h)
		if err != nil {
			// Lightweight or unreadable. A lightweight copy of the
			// remote's annotated tag (what some CI checkouts make) is
			// replaced by the real one; others are left alone (fsck
			// reports them).
			if m, ok := mirror[name]; ok {
				if c, _, perr := r.objects.Peel(h); perr == nil && r.peeledEqual(m, c) {
					plan.Ops = append(plan.Ops, tagOp{Name: name, Old: h.String(), New: m.String()})
				}
			}
			continue
		}
		lt := &localTag{name: tn, value: h, target: to.target, raw: to}
		lt.msg, lt.ours = registry.DecodeTagMessage(to.message)
		unpushed = append(unpushed, lt)
	}
	if len(unpushed) == 0 {
		return plan, nil
	}
	// Highest remote counter per model.
	remoteMax := map[string]int64{}
	for name := range mirror {
		if tn, err := ParseTagName(name); err == nil && tn.Kind == TagEvent && tn.Counter > remoteMax[tn.Key] {
			remoteMax[tn.Key] = tn.Counter
		}
	}
	// Counters: a model's unpushed events keep their order and move after
	// the remote's highest counter when any of them collides with it.
	byKey := map[string][]*localTag{}
	for _, t := range unpushed {
		if t.name.Kind == TagEvent {
			byKey[t.name.Key] = append(byKey[t.name.Key], t)
		}
	}
	counterMap := map[string]map[int64]int64{}
	for key, ts := range byKey {
		sort.Slice(ts, func(i, j int) bool { return ts[i].name.Counter < ts[j].name.Counter })
		if ts[0].name.Counter > remoteMax[key] {
			continue
		}
		counterMap[key] = map[int64]int64{}
		for i, t := range ts {
			counterMap[key][t.name.Counter] = remoteMax[key] + int64(i) + 1
		}
	}
	sort.Slice(unpushed, func(i, j int) bool { return unpushed[i].name.String() < unpushed[j].name.String() })
	taken := map[string]bool{}
	// Creations first, then what becomes of the old names: a renamed tag
	// may take the name of another one that moves on too.
	var after []tagOp
	defer func() { plan.Ops = append(plan.Ops, after...) }()
	for _, t := range unpushed {
		nn := t.name
		key := nn.Key
		if nn.Kind == TagEvent {
			if m, ok := counterMap[key][nn.Counter]; ok {
				nn.Counter = m
			}
		} else {
			nn.Version = rn.version(key, nn.Version)
		}
		target := t.target
		if m, ok := moved[target]; ok {
			target = m
		}
		msg := t.raw.message
		if t.ours {
			m := t.msg
			m.Version = rn.version(key, m.Version)
			if strings.HasPrefix(m.Previous, "v") {
				if pv, ok := registry.ParsePositive(m.Previous[1:]); ok {
					m.Previous = fmt.Sprintf("v%d", rn.version(key, pv))
				}
			}
			if plumbing.IsHash(m.Commit) {
				if c, ok := moved[plumbing.NewHash(m.Commit)]; ok {
					m.Commit = c.String()
				}
			}
			if m.After > 0 {
				after := m.After
				for old, nw := range counterMap[key] {
					if old <= m.After && nw > after {
						after = nw
					}
				}
				if len(counterMap[key]) > 0 && remoteMax[key] > after {
					after = remoteMax[key]
				}
				m.After = after
			}
			if m != t.msg {
				msg = m.Encode(registry.TagSubject(&m))
			}
		}
		newName := nn.String()
		_, conflict := mirror[t.name.String()]
		if newName == t.name.String() && target == t.target && msg == t.raw.message {
			if conflict && r.peeledEqual(mirror[newName], t.target) {
				// The same tag made twice (tags sync in two places):
				// the remote's copy wins.
				after = append(after, tagOp{Name: newName, Old: t.value.String(), New: mirror[newName].String()})
				continue
			}
			if conflict {
				return nil, fmt.Errorf("%w: tag %s exists on the remote with another value and nothing here renames it; delete the local one (git tag -d '%s') if it is a mistake, or rename it by hand", ErrConflict, newName, newName)
			}
			continue
		}
		if taken[newName] || (mirror[newName] != plumbing.ZeroHash && newName != t.name.String()) {
			return nil, fmt.Errorf("%w: re-numbering tag %s would take %s, which exists; run mlgit fsck", ErrConflict, t.name, newName)
		}
		taken[newName] = true
		h, err := r.writeTagObjectAs(newName, target, msg, t.raw)
		if err != nil {
			return nil, err
		}
		cur := local[newName]
		if newName == t.name.String() {
			cur = t.value
		}
		plan.Ops = append(plan.Ops, tagOp{Name: newName, Old: cur.String(), New: h.String()})
		if newName != t.name.String() {
			// The old name: the remote's value if it has one, else gone.
			after = append(after, tagOp{Name: t.name.String(), Old: t.value.String(), New: mirror[t.name.String()].String()})
			plan.Retagged = append(plan.Retagged, t.name.String()+" -> "+newName)
		}
	}
	return plan, nil
}

// tagObject is the part of an annotated tag a sync rewrites.
type tagObject struct {
	target  plumbing.Hash
	message string
	tagger  object.Signature
}

// readTagObject reads an annotated tag of a commit.
func (r *Repo) readTagObject(h plumbing.Hash) (*tagObject, error) {
	obj, err := r.objects.EncodedObject(plumbing.TagObject, h)
	if err != nil {
		return nil, err
	}
	var t object.Tag
	if err := t.Decode(obj); err != nil {
		return nil, err
	}
	if t.TargetType != plumbing.CommitObject {
		return nil, fmt.Errorf("tag %s does not point at a commit", h)
	}
	return &tagObject{target: t.Target, message: t.Message, tagger: t.Tagger}, nil
}

// writeTagObjectAs writes a tag object like orig (same tagger and date)
// with a new name, target and message.
func (r *Repo) writeTagObjectAs(name string, target plumbing.Hash, msg string, orig *tagObject) (plumbing.Hash, error) {
	return r.objects.WriteTag(&object.Tag{Name: name, Tagger: orig.tagger, Message: msg, TargetType: plumbing.CommitObject, Target: target})
}

// peeledEqual reports whether tag value h points at commit c.
func (r *Repo) peeledEqual(h, c plumbing.Hash) bool {
	p, _, err := r.objects.Peel(h)
	return err == nil && p == c
}

func hashOrEmpty(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}
