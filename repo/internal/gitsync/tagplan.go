package gitsync

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/registry"
)

// The tag plan: what a sync does to the local, unpushed registry tags once
// the branch moved (docs/sharing.md, "Pull" and "Crash safety").

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

func (s *Store) syncIntentPath() string { return filepath.Join(s.StateDir, "sync.intent") }

// finishSyncIntent applies the tag plan of a sync that died after moving
// the branch, or drops it if the branch never moved.
func (s *Store) finishSyncIntent() error {
	data, err := os.ReadFile(s.syncIntentPath())
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	var p tagPlan
	if err := json.Unmarshal(data, &p); err != nil || !plumbing.IsHash(p.Tip) {
		return os.Remove(s.syncIntentPath())
	}
	tip, err := s.Branch.Tip()
	if err != nil {
		return err
	}
	if tip.String() == p.Tip {
		if err := s.applyTagPlan(&p); err != nil {
			return err
		}
	} else if only, err := s.Branch.DB.RangeCommits(tip, plumbing.NewHash(p.Tip)); err == nil && len(only) == 0 {
		if err := s.applyTagPlan(&p); err != nil {
			return err
		}
	}
	return os.Remove(s.syncIntentPath())
}

// applyTagPlan applies the ops; an op whose ref already has its new value
// is done, one whose ref moved elsewhere is skipped.
func (s *Store) applyTagPlan(p *tagPlan) error {
	for _, op := range p.Ops {
		ref := "refs/tags/" + op.Name
		old, nw := plumbing.NewHash(op.Old), plumbing.NewHash(op.New)
		cur, err := s.Branch.Refs.Read(ref)
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
			err = s.Branch.Refs.Delete(ref, old)
		} else {
			err = s.Branch.Refs.CAS(ref, old, nw, "", "")
		}
		if err != nil && !errors.Is(err, gitobj.ErrCASMismatch) {
			return err
		}
	}
	return nil
}

// localTag is an unpushed registry tag being planned.
type localTag struct {
	name   registry.TagName
	value  plumbing.Hash
	target plumbing.Hash
	msg    registry.TagMessage
	ours   bool // the message is ours (decoded)
	raw    *tagObject
}

// planTags decides what happens to the local tags the remote does not have:
// re-pointed at re-applied commits, renamed for renumbered versions, given
// counters after the remote's when they collide with it; and the remote's
// values for names the local ones had taken.
func (s *Store) planTags(mirror, local map[string]plumbing.Hash, moved map[plumbing.Hash]plumbing.Hash, rn renumbering) (*tagPlan, error) {
	plan := &tagPlan{}
	var unpushed []*localTag
	for name, h := range local {
		if mirror[name] == h {
			continue
		}
		tn, err := registry.ParseTagName(name)
		if err != nil {
			continue
		}
		to, err := s.readTagObject(h)
		if err != nil {
			// Lightweight or unreadable. A lightweight copy of the
			// remote's annotated tag (what some CI checkouts make) is
			// replaced by the real one; others are left alone (fsck
			// reports them).
			if m, ok := mirror[name]; ok {
				if c, _, perr := s.Branch.DB.Peel(h); perr == nil && s.peeledEqual(m, c) {
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
		if tn, err := registry.ParseTagName(name); err == nil && tn.Kind == registry.TagEvent && tn.Counter > remoteMax[tn.Key] {
			remoteMax[tn.Key] = tn.Counter
		}
	}
	// Counters: a model's unpushed events keep their order and move after
	// the remote's highest counter when any of them collides with it.
	byKey := map[string][]*localTag{}
	for _, t := range unpushed {
		if t.name.Kind == registry.TagEvent {
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
		if nn.Kind == registry.TagEvent {
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
			if conflict && s.peeledEqual(mirror[newName], t.target) {
				// The same tag made twice (tags sync in two places):
				// the remote's copy wins.
				after = append(after, tagOp{Name: newName, Old: t.value.String(), New: mirror[newName].String()})
				continue
			}
			if conflict {
				return nil, fmt.Errorf("%w: tag %s exists on the remote with another value and nothing here renames it; delete the local one (git tag -d '%s') if it is a mistake, or rename it by hand", gitobj.ErrConflict, newName, newName)
			}
			continue
		}
		if taken[newName] || (mirror[newName] != plumbing.ZeroHash && newName != t.name.String()) {
			return nil, fmt.Errorf("%w: re-numbering tag %s would take %s, which exists; run mlgit fsck", gitobj.ErrConflict, t.name, newName)
		}
		taken[newName] = true
		h, err := s.writeTagObjectAs(newName, target, msg, t.raw)
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
func (s *Store) readTagObject(h plumbing.Hash) (*tagObject, error) {
	obj, err := s.Branch.DB.EncodedObject(plumbing.TagObject, h)
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
func (s *Store) writeTagObjectAs(name string, target plumbing.Hash, msg string, orig *tagObject) (plumbing.Hash, error) {
	return s.Branch.DB.WriteTag(&object.Tag{Name: name, Tagger: orig.tagger, Message: msg, TargetType: plumbing.CommitObject, Target: target})
}

// peeledEqual reports whether tag value h points at commit c.
func (s *Store) peeledEqual(h, c plumbing.Hash) bool {
	p, _, err := s.Branch.DB.Peel(h)
	return err == nil && p == c
}
