package registry

import (
	"errors"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"gopkg.in/yaml.v3"
)

// TagMessage is the YAML body of every registry tag. The first line of the
// message is a YAML comment that says what happened in words, so that
// `git tag -n` reads well.
type TagMessage struct {
	Model   string `yaml:"model" json:"model"`
	Version int64  `yaml:"version" json:"version"`
	// Kind is registration, deregistration, stage, alias or alias-removed.
	Kind string `yaml:"kind" json:"kind"`
	// Label is the stage label or alias (without "!").
	Label string `yaml:"label,omitempty" json:"label,omitempty"`
	// Previous is the version's stage before a stage change, or the version
	// an alias pointed at before it moved ("v3"), if any.
	Previous string `yaml:"previous,omitempty" json:"previous,omitempty"`
	Actor    string `yaml:"actor" json:"actor"`
	Reason   string `yaml:"reason,omitempty" json:"reason,omitempty"`
	// Commit is the tracking-branch commit that made the manifest change.
	Commit string `yaml:"commit,omitempty" json:"commit,omitempty"`
	Run    string `yaml:"run,omitempty" json:"run,omitempty"`
	Source string `yaml:"source,omitempty" json:"source,omitempty"`
	// After is the model's highest event counter when a registration or
	// deregistration tag was written, so history can place it among events.
	After int64 `yaml:"after,omitempty" json:"after,omitempty"`
	// Synced marks tags created by mlgit tags sync rather than by the
	// command that changed the manifest.
	Synced bool `yaml:"synced,omitempty" json:"synced,omitempty"`
}

// Encode returns the tag message: subject as a YAML comment line, then m
// as YAML.
func (m *TagMessage) Encode(subject string) string {
	b, err := yaml.Marshal(m)
	if err != nil {
		panic(err) // plain struct of strings and numbers
	}
	return "# " + subject + "\n" + string(b)
}

// DecodeTagMessage parses a tag message; ok is false for messages that are
// not ours (hand-made tags). A sync that re-numbers tags rewrites them.
func DecodeTagMessage(msg string) (TagMessage, bool) {
	var m TagMessage
	if err := yaml.Unmarshal([]byte(msg), &m); err != nil || m.Model == "" || m.Kind == "" {
		return TagMessage{}, false
	}
	return m, true
}

// TagSubject is the one-line description of an event, the first line of
// its tag message (Encode).
func TagSubject(m *TagMessage) string {
	v := "v" + strconv.FormatInt(m.Version, 10)
	switch m.Kind {
	case TagRegistration:
		if m.Run != "" {
			return fmt.Sprintf("%s %s registered from run %s", m.Model, v, short(m.Run))
		}
		return fmt.Sprintf("%s %s registered", m.Model, v)
	case TagDeregistration:
		return fmt.Sprintf("%s %s deregistered", m.Model, v)
	case EventStage:
		return fmt.Sprintf("%s %s -> %s", m.Model, v, m.Label)
	case EventAlias:
		return fmt.Sprintf("%s alias %s -> %s", m.Model, m.Label, v)
	case EventAliasRemoved:
		return fmt.Sprintf("%s alias %s removed (was %s)", m.Model, m.Label, v)
	}
	return m.Model + " " + m.Kind
}

// writeTagObject writes an annotated tag object for target.
func (s *Store) writeTagObject(name string, target plumbing.Hash, msg string) (plumbing.Hash, error) {
	tagger, email := s.Identity()
	return s.Branch.DB.WriteTag(&object.Tag{
		Name:       name,
		Tagger:     object.Signature{Name: tagger, Email: email, When: s.Now()},
		Message:    msg,
		TargetType: plumbing.CommitObject,
		Target:     target,
	})
}

// createAnnotatedTag creates refs/tags/<name> as an annotated tag of
// target. It fails with gitobj.ErrExists when the tag exists.
func (s *Store) createAnnotatedTag(name string, target plumbing.Hash, msg string) error {
	if len(name) > MaxTagNameLength {
		return fmt.Errorf("%w: tag name %q is %d bytes; the limit is %d", manifest.ErrInvalid, AbbrevName(name), len(name), MaxTagNameLength)
	}
	h, err := s.writeTagObject(name, target, msg)
	if err != nil {
		return err
	}
	if s.BeforeTagCreate != nil {
		s.BeforeTagCreate(name)
	}
	return s.Branch.Refs.CreateTag(name, h)
}

// maxEventCounter returns the highest counter among a model's event tags,
// reading ref names only.
func (s *Store) maxEventCounter(key string) (int64, error) {
	vals, err := s.Branch.Refs.ListWithPrefixes("refs/tags/" + key + "#")
	if err != nil {
		return 0, err
	}
	var max int64
	for _, v := range vals {
		t, err := ParseTagName(strings.TrimPrefix(v.Name, "refs/tags/"))
		if err == nil && t.Key == key && t.Kind == TagEvent && t.Counter > max {
			max = t.Counter
		}
	}
	return max, nil
}

// createEventTag creates <key>#<label>#<counter> on target with counter one
// more than the model's highest. When another process takes that name
// first, it recomputes the counter and tries again, so concurrent events
// all end up recorded with distinct counters.
func (s *Store) createEventTag(key, label string, target plumbing.Hash, m *TagMessage) (string, error) {
	for attempt := 0; attempt < 100; attempt++ {
		max, err := s.maxEventCounter(key)
		if err != nil {
			return "", err
		}
		name := TagName{Key: key, Kind: TagEvent, Label: label, Counter: max + 1}.String()
		err = s.createAnnotatedTag(name, target, m.Encode(TagSubject(m)))
		if errors.Is(err, gitobj.ErrExists) {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		if err != nil {
			return "", fmt.Errorf("create tag %s: %w", name, err)
		}
		return name, nil
	}
	return "", fmt.Errorf("%w: could not create an event tag for %s: the counter kept moving", gitobj.ErrConflict, key)
}

// createVersionTag creates a registration or deregistration tag t of a
// version. It returns gitobj.ErrExists when present.
func (s *Store) createVersionTag(t TagName, target plumbing.Hash, m *TagMessage) (string, error) {
	name, key := t.String(), t.Key
	after, err := s.maxEventCounter(key)
	if err != nil {
		return "", err
	}
	m.After = after
	if err := s.createAnnotatedTag(name, target, m.Encode(TagSubject(m))); err != nil {
		if errors.Is(err, gitobj.ErrExists) {
			return name, err
		}
		return "", fmt.Errorf("create tag %s: %w", name, err)
	}
	return name, nil
}

// registrationCommit returns the commit the version's @v tag peels to
// (zero when the tag does not exist).
func (s *Store) registrationCommit(key string, version int64) (plumbing.Hash, error) {
	h, err := s.Branch.Refs.Read("refs/tags/" + TagName{Key: key, Kind: TagRegistration, Version: version}.String())
	if err != nil || h.IsZero() {
		return plumbing.ZeroHash, err
	}
	c, _, err := s.Branch.DB.Peel(h)
	return c, err
}

// modelLockTimeout bounds how long a registry write waits for another
// process changing the same model.
const modelLockTimeout = 30 * time.Second

// lockModel serializes registry writes to one model within this clone, so
// that the order of commits and the order of tag counters agree.
func (s *Store) lockModel(key string) (*gitobj.FileLock, error) {
	l, err := gitobj.LockFile(filepath.Join(s.StateDir, "locks", "model-"+key+".lock"), true, true, modelLockTimeout)
	if err != nil {
		return nil, fmt.Errorf("another mlgit process is changing this model: %w", err)
	}
	return l, nil
}
