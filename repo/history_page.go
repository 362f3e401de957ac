package repo

import (
	"context"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/gitexec"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// HistoryPage returns up to max commits of the tracking branch (first
// parents, newest first) that come after commit before in that order, i.e.
// are older than it; before "" starts at the tip. more says older commits
// remain: pass the last returned commit as before to read them. A before
// that is not a full commit id of this repository is ErrInvalid or
// ErrNotFound.
func (r *Repo) HistoryPage(before string, max int) (evs []Event, more bool, err error) {
	if max <= 0 {
		return nil, false, fmt.Errorf("%w: page size %d", ErrInvalid, max)
	}
	var h plumbing.Hash
	if before == "" {
		if h, err = r.tip(); err != nil {
			return nil, false, err
		}
	} else {
		if len(before) != 40 || !plumbing.IsHash(before) {
			return nil, false, fmt.Errorf("%w: %q is not a full commit id", ErrInvalid, before)
		}
		c, err := r.objects.ReadCommit(plumbing.NewHash(before))
		if err != nil {
			return nil, false, fmt.Errorf("%w: commit %s: %v", ErrNotFound, before, err)
		}
		if len(c.ParentHashes) == 0 {
			return []Event{}, false, nil
		}
		h = c.ParentHashes[0]
	}
	if h.IsZero() {
		return []Event{}, false, nil
	}
	evs, err = r.historyFrom(h, max+1)
	if err != nil {
		return nil, false, err
	}
	if len(evs) > max {
		return evs[:max], true, nil
	}
	return evs, false, nil
}

// ProposalInfo is a proposal branch of a model version (repo.Propose):
// what it proposes, by whom, and why, read from its commit.
type ProposalInfo struct {
	Branch string `json:"branch"`
	Commit string `json:"commit"`
	// Base is the commit's parent: the tracking-branch tip it was made on.
	Base    string    `json:"base,omitempty"`
	Stage   string    `json:"stage"`
	Subject string    `json:"subject"`
	Reason  string    `json:"reason,omitempty"`
	Author  string    `json:"author"`
	Time    time.Time `json:"time"`
	// Remote is set for a branch known only as a remote-tracking branch
	// (refs/remotes/<remote>/<branch>, fetched from another clone).
	Remote string `json:"remote,omitempty"`
	// PushedTo lists the remotes whose tracking branch holds the same
	// commit as the local branch.
	PushedTo []string `json:"pushed_to,omitempty"`
}

// Proposals returns the proposal branches of a model version
// (mlgit-propose/<model-key>-v<n>-<stage>, repo.Propose), sorted by
// branch: local branches, and remote-tracking ones (refs/remotes/<remote>/,
// from git fetch) that have no local branch of the same name. A branch
// counts when its commit's trailers name this model and version (so model
// keys that are prefixes of each other do not mix).
func (r *Repo) Proposals(name string, version int64) ([]ProposalInfo, error) {
	key := ModelKey(name)
	n := strconv.FormatInt(version, 10)
	suffix := ProposalBranchPrefix + key + "-v" + n + "-"
	read := func(ref string, h plumbing.Hash) (ProposalInfo, bool) {
		c, err := r.objects.ReadCommit(h)
		if err != nil {
			return ProposalInfo{}, false
		}
		subject, tr := gitobj.ParseMessage(c.Message)
		if first(tr["Mlgit-Model"]) != key || first(tr["Mlgit-Version"]) != n {
			return ProposalInfo{}, false
		}
		p := ProposalInfo{Commit: h.String(), Stage: first(tr["Mlgit-Stage"]), Subject: subject,
			Author: c.Author.Name + " <" + c.Author.Email + ">", Time: c.Author.When}
		if len(c.ParentHashes) > 0 {
			p.Base = c.ParentHashes[0].String()
		}
		// The reason is the body between the subject and the trailers.
		paras := strings.Split(strings.TrimRight(c.Message, "\n"), "\n\n")
		if len(paras) > 2 {
			p.Reason = strings.TrimSpace(strings.Join(paras[1:len(paras)-1], "\n\n"))
		}
		return p, true
	}
	vals, err := r.refs.ListWithPrefixes("refs/heads/" + suffix)
	if err != nil {
		return nil, err
	}
	out := []ProposalInfo{}
	local := map[string]int{}
	for _, v := range vals {
		if p, ok := read(v.Name, v.Hash); ok {
			p.Branch = strings.TrimPrefix(v.Name, "refs/heads/")
			local[p.Branch] = len(out)
			out = append(out, p)
		}
	}
	for _, rem := range r.RemoteNames() {
		prefix := "refs/remotes/" + rem + "/"
		vals, err := r.refs.ListWithPrefixes(prefix + suffix)
		if err != nil {
			return nil, err
		}
		for _, v := range vals {
			branch := strings.TrimPrefix(v.Name, prefix)
			if i, ok := local[branch]; ok {
				if out[i].Commit == v.Hash.String() {
					out[i].PushedTo = append(out[i].PushedTo, rem)
				}
				continue
			}
			if p, ok := read(v.Name, v.Hash); ok {
				p.Branch, p.Remote = branch, rem
				out = append(out, p)
			}
		}
	}
	sort.SliceStable(out, func(i, j int) bool {
		if out[i].Branch != out[j].Branch {
			return out[i].Branch < out[j].Branch
		}
		return out[i].Remote < out[j].Remote
	})
	return out, nil
}

// RemoteNames lists the configured Git remotes (git remote); none when
// git cannot tell.
func (r *Repo) RemoteNames() []string {
	dir := r.workTree
	if dir == "" {
		dir = r.gitDir
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	out, err := gitexec.In(dir).Run(ctx, nil, "remote")
	if err != nil {
		return nil
	}
	return strings.Fields(string(out))
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}
