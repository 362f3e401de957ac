package repo

import (
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Event is one commit of the tracking branch in human terms.
type Event struct {
	Commit   string              `json:"commit"`
	Author   string              `json:"author"`
	Email    string              `json:"email"`
	Time     time.Time           `json:"time"`
	Subject  string              `json:"subject"`
	Op       string              `json:"op,omitempty"`
	Trailers map[string][]string `json:"trailers,omitempty"`
}

// History returns up to max commits of the tracking branch, newest first
// (max <= 0: all).
func (r *Repo) History(max int) ([]Event, error) {
	h, err := r.tip()
	if err != nil {
		return nil, err
	}
	return r.historyFrom(h, max)
}

// historyFrom walks first parents from h, newest first (max <= 0: all).
func (r *Repo) historyFrom(h plumbing.Hash, max int) ([]Event, error) {
	var out []Event
	for !h.IsZero() && (max <= 0 || len(out) < max) {
		c, err := r.objects.ReadCommit(h)
		if err != nil {
			return nil, err
		}
		ev := Event{Commit: h.String(), Author: c.Author.Name, Email: c.Author.Email, Time: c.Author.When}
		ev.Subject, ev.Trailers = gitobj.ParseMessage(c.Message)
		if ops := ev.Trailers["Mlgit-Op"]; len(ops) > 0 {
			ev.Op = ops[0]
		}
		out = append(out, ev)
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return out, nil
}
