package registry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/manifest"
)

// HistoryEntry is one registration, deregistration, stage change or alias
// move of a model, read from its tags.
type HistoryEntry struct {
	Tag string `json:"tag"`
	// Kind is registration, deregistration, stage, alias or alias-removed.
	Kind    string `json:"kind"`
	Version int64  `json:"version"`
	// Counter is the event's counter (0 for registrations).
	Counter int64 `json:"counter,omitempty"`
	// From and To say what changed: stages for stage events, "v<n>" for
	// alias events.
	Label string `json:"label,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	// Actor and Time are the tagger's; Reason comes from the tag message.
	Actor  string    `json:"actor,omitempty"`
	Time   time.Time `json:"time,omitzero"`
	Reason string    `json:"reason,omitempty"`
	// Commit is the manifest change; Target the registration commit the
	// tag points at.
	Commit string `json:"commit,omitempty"`
	Target string `json:"target"`
	Synced bool   `json:"synced,omitempty"`
	// Ignored says why resolution ignores this event (it points at no
	// version).
	Ignored string `json:"ignored,omitempty"`
}

// ModelHistory returns every registration, deregistration, stage change
// and alias move of a model in order: events by counter, each
// registration after the events that existed when it was tagged. It reads
// the model's tags only (so it also works for deleted models), and the
// returned warnings name tags it ignored.
func (s *Store) ModelHistory(name string) ([]HistoryEntry, []string, error) {
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, nil, err
	}
	stages, err := s.Stages()
	if err != nil {
		return nil, nil, err
	}
	key := ModelKey(name)
	vals, err := s.Branch.Refs.ListWithPrefixes(modelTagPrefixes(key)...)
	if err != nil {
		return nil, nil, err
	}
	if len(vals) == 0 {
		if _, err := s.GetModel(name); err != nil {
			return nil, nil, err
		}
		return []HistoryEntry{}, []string{fmt.Sprintf("model %q has no tags; run mlgit tags sync", name)}, nil
	}
	type info struct {
		msg    TagMessage
		ok     bool
		actor  string
		when   time.Time
		target string
	}
	infos := map[string]info{}
	var refs []TagRef
	var warnings []string
	for _, v := range vals {
		short := strings.TrimPrefix(v.Name, "refs/tags/")
		c, tag, err := s.Branch.DB.Peel(v.Hash)
		if err != nil {
			warnings = append(warnings, fmt.Sprintf("ignoring tag %s: %v", short, err))
			continue
		}
		in := info{target: c.String()}
		if tag != nil {
			in.msg, in.ok = DecodeTagMessage(tag.Message)
			in.actor = tag.Tagger.Name + " <" + tag.Tagger.Email + ">"
			in.when = tag.Tagger.When
		} else {
			in.actor = "(lightweight tag)"
		}
		infos[short] = in
		refs = append(refs, TagRef{Name: short, Object: v.Hash.String(), Commit: c.String()})
	}
	st := StateFromTags(key, refs, stages)
	warnings = append(warnings, st.Warnings...)

	type keyed struct {
		seq, sub int64
		e        HistoryEntry
	}
	var all []keyed
	entry := func(tag string) HistoryEntry {
		in := infos[tag]
		e := HistoryEntry{Tag: tag, Actor: in.actor, Time: in.when, Target: in.target}
		if in.ok {
			e.Reason, e.Commit, e.Synced = in.msg.Reason, in.msg.Commit, in.msg.Synced
		}
		return e
	}
	for _, ref := range st.Registrations {
		t, _ := ParseTagName(ref.Name)
		e := entry(ref.Name)
		e.Kind, e.Version = t.Kind, t.Version
		if t.Kind == TagRegistration {
			e.To = "v" + strconv.FormatInt(t.Version, 10)
		} else {
			e.From = "v" + strconv.FormatInt(t.Version, 10)
		}
		sub := int64(2)
		if t.Kind == TagDeregistration {
			sub = 3
		}
		all = append(all, keyed{seq: infos[ref.Name].msg.After, sub: sub, e: e})
	}
	stageOf := map[int64]string{}
	aliasAt := map[string]int64{}
	for _, ev := range st.Events {
		e := entry(ev.Name)
		e.Kind, e.Version, e.Counter = ev.Kind, ev.Version, ev.Counter
		label := strings.TrimPrefix(ev.Label, "!")
		e.Label = label
		if ev.Version == 0 && ev.Kind != EventAliasRemoved {
			e.Ignored = "points at no version's registration commit"
			if m := infos[ev.Name].msg; infos[ev.Name].ok {
				e.Version = m.Version
			}
		}
		switch ev.Kind {
		case EventStage:
			e.From, e.To = "none", ev.Label
			if s, ok := stageOf[ev.Version]; ok {
				e.From = s
			}
			if e.Ignored == "" {
				stageOf[ev.Version] = ev.Label
			}
		case EventAlias:
			if p := aliasAt[label]; p != 0 {
				e.From = "v" + strconv.FormatInt(p, 10)
			}
			e.To = "v" + strconv.FormatInt(ev.Version, 10)
			if e.Ignored == "" {
				aliasAt[label] = ev.Version
			}
		case EventAliasRemoved:
			if p := aliasAt[label]; p != 0 {
				e.From = "v" + strconv.FormatInt(p, 10)
				if e.Version == 0 {
					e.Version = p
				}
			}
			delete(aliasAt, label)
		}
		all = append(all, keyed{seq: ev.Counter, sub: 1, e: e})
	}
	sort.SliceStable(all, func(i, j int) bool {
		a, b := all[i], all[j]
		if a.seq != b.seq {
			return a.seq < b.seq
		}
		if a.sub != b.sub {
			return a.sub < b.sub
		}
		if a.e.Version != b.e.Version {
			return a.e.Version < b.e.Version
		}
		return a.e.Tag < b.e.Tag
	})
	out := make([]HistoryEntry, len(all))
	for i, k := range all {
		out[i] = k.e
	}
	return out, warnings, nil
}
