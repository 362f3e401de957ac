package registry

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/shell"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Promotion through review (docs/registry.md, "Proposing a promotion"):
// instead of changing the tracking branch, Propose commits the same
// manifest change on a branch of its own, off the tip of the tracking
// branch, and PushProposal pushes it and derives the page that opens a pull
// request. No tag is created: after the merge, mlgit tags sync creates
// them from the merged manifests.

// ProposalBranchPrefix starts the name of every proposal branch.
const ProposalBranchPrefix = "mlgit-propose/"

// ProposalBranch returns the branch that proposes moving version of model
// name into stage: mlgit-propose/<model-key>-v<n>-<stage in lower case>.
// The key and the stage label are valid ref components, so the name is a
// valid branch name.
func ProposalBranch(name string, version int64, stage string) string {
	return fmt.Sprintf("%s%s-v%d-%s", ProposalBranchPrefix, ModelKey(name), version, StageLabel(stage))
}

// Proposal is the result of Propose.
type Proposal struct {
	// Branch is the proposal branch; "" when there was nothing to propose
	// (the version is already in the stage on the tracking branch).
	Branch string `json:"branch,omitempty"`
	// Commit is the branch's commit.
	Commit string `json:"commit,omitempty"`
	// Base is the tracking-branch commit the proposal was made on.
	Base string `json:"base"`
	// Target is the branch a pull request should merge into: the tracking
	// branch.
	Target  string                 `json:"target"`
	Version *manifest.ModelVersion `json:"model_version"`
	Changes []Transition           `json:"changes"`
	// Existing says the branch already held this very change (a re-run);
	// nothing was written.
	Existing bool `json:"existing,omitempty"`
}

// Propose commits the manifest change of a promotion (the change Promote
// would commit, --archive-existing included) on a new branch
// ProposalBranch(...) whose parent is the tip of the tracking branch. It
// never moves the tracking branch, never touches the working tree, index
// or HEAD, and creates no tag. The promotion policy's from and require
// rules apply as for Promote; review is what a proposal is for.
//
// When the version is already in the stage on the tracking branch, the
// result has no Branch. When the branch exists, Propose returns it with
// Existing set if applying the promotion to it changes nothing (a re-run),
// and fails with gitobj.ErrExists otherwise.
func (s *Store) Propose(spec PromoteSpec) (*Proposal, error) {
	_, stage, _, err := s.preparePromotion(spec)
	if err != nil {
		return nil, err
	}
	branch := ProposalBranch(spec.Name, spec.Version, stage)
	if err := CheckBranchName(branch); err != nil {
		return nil, err
	}
	ref := "refs/heads/" + branch
	for attempt := 0; attempt < 3; attempt++ {
		base, err := s.Branch.Tip()
		if err != nil {
			return nil, err
		}
		tx, err := s.Branch.DB.NewTx(base)
		if err != nil {
			return nil, err
		}
		res := &Promoted{}
		if err := s.applyPromotion(tx, spec, stage, s.Now().UnixMilli(), true, res); err != nil {
			return nil, err
		}
		p := &Proposal{Branch: branch, Target: s.Name, Base: base.String(), Version: res.Version, Changes: res.Changes}
		if len(res.Changes) == 0 {
			p.Branch = ""
			return p, nil
		}
		existing, err := s.Branch.Refs.Read(ref)
		if err != nil {
			return nil, err
		}
		if !existing.IsZero() {
			return s.existingProposal(spec, stage, p, existing)
		}
		subject := tx.Subject()
		if reason := strings.TrimSpace(spec.Reason); reason != "" {
			tx.SetMessage(subject+"\n\n"+reason, tx.Trailers()...)
		}
		tx.AddTrailer("Mlgit-Proposal: " + branch)
		commit, err := tx.Commit(s.Branch.Sign())
		if err != nil {
			return nil, err
		}
		name, email := s.Identity()
		who := fmt.Sprintf("%s <%s> %d %s", name, email, s.Now().Unix(), s.Now().Format("-0700"))
		err = s.Branch.Refs.CAS(ref, plumbing.ZeroHash, commit, who, "mlgit: propose "+subject)
		if errors.Is(err, gitobj.ErrCASMismatch) {
			continue // created meanwhile: compare with it
		}
		if err != nil {
			return nil, err
		}
		p.Commit = commit.String()
		return p, nil
	}
	return nil, fmt.Errorf("%w: branch %s kept changing; try again", gitobj.ErrConflict, branch)
}

// existingProposal decides about a proposal branch that exists already: it
// is this proposal when applying the promotion to its tip changes nothing.
func (s *Store) existingProposal(spec PromoteSpec, stage string, p *Proposal, tip plumbing.Hash) (*Proposal, error) {
	tx, err := s.Branch.DB.NewTx(tip)
	if err != nil {
		return nil, err
	}
	res := &Promoted{}
	err = s.applyPromotion(tx, spec, stage, s.Now().UnixMilli(), true, res)
	if err == nil && len(res.Changes) == 0 {
		c, err := s.Branch.DB.ReadCommit(tip)
		if err != nil {
			return nil, err
		}
		p.Commit, p.Existing, p.Version = tip.String(), true, res.Version
		if len(c.ParentHashes) > 0 {
			p.Base = c.ParentHashes[0].String()
		}
		return p, nil
	}
	why := "it proposes a different change"
	if err != nil {
		why = fmt.Sprintf("it does not hold this change (%v)", err)
	}
	return nil, fmt.Errorf("%w: proposal branch %s exists (commit %s) and %s: look at it with git log -p %s..%s; to propose again, delete it here and on the remote (git branch -D %s; git push <remote> --delete %s)",
		gitobj.ErrExists, p.Branch, short(tip.String()), why, s.Name, p.Branch, p.Branch, p.Branch)
}

// PushedProposal says where a proposal went.
type PushedProposal struct {
	// Remote is the remote pushed to (a name or a URL).
	Remote string `json:"remote"`
	// RemoteURL is the remote's URL without credentials ("" when unknown).
	RemoteURL string `json:"remote_url,omitempty"`
	// Pushed says the branch was pushed; false when the remote does not
	// exist and the branch stays local.
	Pushed bool `json:"pushed"`
	// PushCommand pushes the branch by hand.
	PushCommand string `json:"push_command"`
	// URL opens a pull request (GitHub) or merge request (GitLab); "" for
	// other hosts.
	URL string `json:"url,omitempty"`
}

// PushProposal pushes a proposal's branch with the system git (so the
// user's credentials, SSH configuration and hooks apply):
//
//	git push <remote> refs/heads/<branch>:refs/heads/<branch>
//
// remote is a remote's name (default "origin") or a URL or path. When it
// names no remote and is not a URL, the branch stays local and the result
// says how to push it. The URL of the result is derived from the remote's
// URL (CompareURL). A failed push returns the result with an error
// wrapping gitobj.ErrRemote.
func (s *Store) PushProposal(ctx context.Context, remote string, p *Proposal) (*PushedProposal, error) {
	if remote == "" {
		remote = "origin"
	}
	if p == nil || p.Branch == "" {
		return nil, fmt.Errorf("%w: no proposal branch to push", manifest.ErrInvalid)
	}
	refspec := "refs/heads/" + p.Branch + ":refs/heads/" + p.Branch
	out := &PushedProposal{Remote: remote, PushCommand: "git push " + shell.Quote(remote) + " " + refspec}
	rawURL, ok, err := remoteURL(ctx, s.Dir, remote)
	if err != nil {
		return out, err
	}
	if !ok {
		return out, nil
	}
	out.RemoteURL = redactURL(rawURL)
	out.URL = CompareURL(rawURL, p.Target, p.Branch)
	if _, stderr, err := s.GitNet(ctx, "push", "--quiet", remote, refspec); err != nil {
		var lines []string
		for _, l := range strings.Split(stderr, "\n") {
			if l = strings.TrimSpace(l); l != "" && !strings.HasPrefix(l, "hint:") {
				lines = append(lines, l)
			}
		}
		if len(lines) == 0 {
			lines = []string{err.Error()}
		}
		return out, fmt.Errorf("%w: push %s to %s failed: %s", gitobj.ErrRemote, p.Branch, remote, strings.Join(lines, "; "))
	}
	out.Pushed = true
	return out, nil
}

// remoteURL returns the URL of a configured remote (git remote get-url,
// which applies insteadOf), or remote itself when it is a URL or a path;
// ok is false when it is neither.
func remoteURL(ctx context.Context, dir, remote string) (string, bool, error) {
	names, err := gitobj.Git(ctx, dir, "remote")
	if err != nil {
		return "", false, fmt.Errorf("git remote: %w", err)
	}
	for _, n := range strings.Fields(string(names)) {
		if n == remote {
			out, err := gitobj.Git(ctx, dir, "remote", "get-url", remote)
			if err != nil {
				return "", false, fmt.Errorf("git remote get-url %s: %w", remote, err)
			}
			return strings.TrimSpace(string(out)), true, nil
		}
	}
	if strings.ContainsAny(remote, ":/\\") || remote == "." || remote == ".." {
		return remote, true, nil
	}
	return "", false, nil
}

// redactURL removes the user information (a token, a password) from a URL.
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// CompareURL returns the web page that opens a pull request from branch
// into target for a Git remote URL: GitHub's compare page
// (https://github.com/O/R/compare/<target>...<branch>?expand=1) for
// github.com, and GitLab's new merge request page for gitlab.com and hosts
// whose name starts with "gitlab." (self-hosted). Remote URLs may be
// https://host/O/R(.git), ssh://[user@]host[:port]/O/R(.git) or
// user@host:O/R(.git). Other hosts and local paths give "".
func CompareURL(remoteURL, target, branch string) string {
	web, host, path, ok := webRepo(remoteURL)
	if !ok {
		return ""
	}
	segs := strings.Split(path, "/")
	switch {
	case isGitHubHost(host):
		if len(segs) != 2 {
			return ""
		}
		return web + "/" + path + "/compare/" + escapeRefPath(target) + "..." + escapeRefPath(branch) + "?expand=1"
	case host == "gitlab.com" || strings.HasPrefix(host, "gitlab."):
		if len(segs) < 2 {
			return ""
		}
		return web + "/" + path + "/-/merge_requests/new?merge_request%5Bsource_branch%5D=" + url.QueryEscape(branch) +
			"&merge_request%5Btarget_branch%5D=" + url.QueryEscape(target)
	}
	return ""
}

func isGitHubHost(host string) bool {
	switch host {
	case "github.com", "www.github.com", "ssh.github.com":
		return true
	}
	return false
}

// webRepo splits a Git remote URL into the web site's base URL
// (https://host, or http(s)://host:port for a web remote), the host name
// and the repository path without ".git".
func webRepo(raw string) (web, host, path string, ok bool) {
	raw = strings.TrimSpace(raw)
	if scheme, _, found := strings.Cut(raw, "://"); found {
		u, err := url.Parse(raw)
		if err != nil || u.Hostname() == "" {
			return "", "", "", false
		}
		host = strings.ToLower(u.Hostname())
		web = "https://" + host
		switch strings.ToLower(scheme) {
		case "https", "http":
			web = strings.ToLower(scheme) + "://" + host
			if p := u.Port(); p != "" {
				web += ":" + p
			}
		case "ssh", "git", "git+ssh", "ssh+git":
		default:
			return "", "", "", false
		}
		path = u.Path
	} else {
		// scp-like: [user@]host:path (a colon before any slash).
		colon := strings.IndexByte(raw, ':')
		slash := strings.IndexByte(raw, '/')
		if colon <= 0 || (slash >= 0 && slash < colon) {
			return "", "", "", false
		}
		host = raw[:colon]
		if at := strings.LastIndexByte(host, '@'); at >= 0 {
			host = host[at+1:]
		}
		if len(host) <= 1 { // a Windows drive letter, C:\...
			return "", "", "", false
		}
		host = strings.ToLower(host)
		web = "https://" + host
		path = raw[colon+1:]
	}
	path = strings.Trim(path, "/")
	path = strings.TrimSuffix(path, ".git")
	path = strings.Trim(path, "/")
	if path == "" || strings.Contains(path, "//") {
		return "", "", "", false
	}
	return web, host, path, true
}

// escapeRefPath escapes a branch name for a URL path, keeping its slashes.
func escapeRefPath(ref string) string {
	segs := strings.Split(ref, "/")
	for i, s := range segs {
		segs[i] = url.PathEscape(s)
	}
	return strings.Join(segs, "/")
}

// CheckBranchName refuses a branch name that Git would refuse, or that
// would read as an option: the tracking branch's and a proposal's.
func CheckBranchName(b string) error {
	if b == "" || strings.ContainsAny(b, " ~^:?*[\\") || strings.Contains(b, "..") || strings.HasPrefix(b, "-") ||
		strings.HasSuffix(b, ".lock") || strings.HasSuffix(b, "/") || strings.HasPrefix(b, "/") {
		return fmt.Errorf("%w: %q is not a valid branch name", manifest.ErrInvalid, b)
	}
	return nil
}
