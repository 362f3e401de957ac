package registry

import (
	"fmt"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlgit/mlgit/manifest"
)

// This file holds the pure part of the registry's tags: the model-key
// escaping, the tag-name grammar, and the function that turns a model's
// tags (name and peeled commit) into its state. Local and remote
// resolution share it. docs/registry.md describes the rules.

// MaxModelKeyLength bounds the escaped model name in bytes, so that every
// tag name of the model (key, label and counter) fits in a file name of 255
// bytes, which loose refs need.
const MaxModelKeyLength = 200

// MaxTagNameLength is the longest tag name we create: a loose ref is a file.
const MaxTagNameLength = 255

func isKeyByte(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'
}

const upperHex = "0123456789ABCDEF"

// ModelKey escapes a model name into its key: a valid directory name and
// Git ref component, from which the name is recovered exactly. Every byte
// outside [A-Za-z0-9._-] (so also '%', '@', '#', '/', space and every byte
// of a non-ASCII character) is written %XX with upper-case hex. A '.' is
// also escaped where Git or a file system would object: at the start, after
// another '.', at the end, and the '.' of a trailing ".lock". So "." and
// ".." become "%2E" and "%2E%2E".
func ModelKey(name string) string {
	n := len(name)
	lockDot := -1
	if strings.HasSuffix(name, ".lock") {
		lockDot = n - 5
	}
	var b strings.Builder
	b.Grow(n + 8)
	for i := 0; i < n; i++ {
		c := name[i]
		esc := !isKeyByte(c)
		if c == '.' && (i == 0 || name[i-1] == '.' || i == n-1 || i == lockDot) {
			esc = true
		}
		if esc {
			b.WriteByte('%')
			b.WriteByte(upperHex[c>>4])
			b.WriteByte(upperHex[c&15])
		} else {
			b.WriteByte(c)
		}
	}
	return b.String()
}

// ModelName reverses ModelKey. It accepts only canonical keys (those
// ModelKey produces for a valid model name), so one name has one key.
func ModelName(key string) (string, error) {
	if key == "" {
		return "", fmt.Errorf("%w: empty model key", manifest.ErrInvalid)
	}
	var b strings.Builder
	b.Grow(len(key))
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == '%':
			if i+2 >= len(key) {
				return "", fmt.Errorf("%w: model key %q: truncated escape", manifest.ErrInvalid, key)
			}
			hi, lo := unhex(key[i+1]), unhex(key[i+2])
			if hi < 0 || lo < 0 {
				return "", fmt.Errorf("%w: model key %q: bad escape %q (want %%XX, upper-case hex)", manifest.ErrInvalid, key, key[i:i+3])
			}
			b.WriteByte(byte(hi<<4 | lo))
			i += 2
		case isKeyByte(c):
			b.WriteByte(c)
		default:
			return "", fmt.Errorf("%w: model key %q: byte %q must be escaped", manifest.ErrInvalid, key, c)
		}
	}
	name := b.String()
	if !utf8.ValidString(name) || ModelKey(name) != key {
		return "", fmt.Errorf("%w: %q is not the canonical key of a model name", manifest.ErrInvalid, key)
	}
	if err := manifest.ValidateModelName(name); err != nil {
		return "", err
	}
	return name, nil
}

func unhex(c byte) int {
	switch {
	case c >= '0' && c <= '9':
		return int(c - '0')
	case c >= 'A' && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}

// CheckModelName validates a model name for creation: MLflow's rules plus a
// key short enough for tag names.
func CheckModelName(name string) error {
	if err := manifest.ValidateModelName(name); err != nil {
		return err
	}
	if k := ModelKey(name); len(k) > MaxModelKeyLength {
		return fmt.Errorf("%w: model name %q escapes to a %d-byte key; the limit is %d bytes (non-ASCII characters take 6 to 12 bytes each)", manifest.ErrInvalid, AbbrevName(name), len(k), MaxModelKeyLength)
	}
	return nil
}

func AbbrevName(s string) string {
	if len(s) <= 60 {
		return s
	}
	i := 57
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}

// Tag kinds, as the tag grammar spells them.
const (
	// TagRegistration is <key>@v<n>: version n was registered; and
	// <key>@v<n>#<g> (g >= 2, GTO's counter form): registered again, the
	// g-th time, when its deleted model was restored.
	TagRegistration = "registration"
	// TagDeregistration is <key>@v<n>!: version n was deleted (or its model
	// deleted or renamed); <key>@v<n>!#<g> ends registration g.
	TagDeregistration = "deregistration"
	// TagEvent is <key>#<label>#<counter>: a stage change or alias move.
	TagEvent = "event"
)

// Event kinds, recorded in tag messages and derived from labels.
const (
	EventStage        = "stage"
	EventAlias        = "alias"
	EventAliasRemoved = "alias-removed"
)

// TagName is a parsed registry tag name (without "refs/tags/").
type TagName struct {
	Key  string
	Kind string // TagRegistration, TagDeregistration or TagEvent
	// Version is set for registration and deregistration tags; Gen is
	// their generation: 0 for the plain form (the first), g >= 2 for #<g>.
	Version int64
	Gen     int64
	// Label and Counter are set for event tags. Label is a lower-case stage,
	// an alias, or "!" and an alias for an alias removal.
	Label   string
	Counter int64
}

// String formats the tag name.
func (t TagName) String() string {
	gen := ""
	if t.Gen > 1 {
		gen = "#" + strconv.FormatInt(t.Gen, 10)
	}
	switch t.Kind {
	case TagRegistration:
		return t.Key + "@v" + strconv.FormatInt(t.Version, 10) + gen
	case TagDeregistration:
		return t.Key + "@v" + strconv.FormatInt(t.Version, 10) + "!" + gen
	}
	return t.Key + "#" + t.Label + "#" + strconv.FormatInt(t.Counter, 10)
}

// ErrNotRegistryTag marks a tag name outside the registry's grammar.
var ErrNotRegistryTag = fmt.Errorf("%w: not a registry tag", manifest.ErrInvalid)

// ParseTagName parses a registry tag name; a "refs/tags/" prefix is
// allowed. Names outside the grammar fail with an error wrapping
// manifest.ErrInvalid that says what is wrong.
func ParseTagName(s string) (TagName, error) {
	s = strings.TrimPrefix(s, "refs/tags/")
	i := strings.IndexAny(s, "@#")
	if i <= 0 {
		return TagName{}, fmt.Errorf("%w: %q has no <model>@ or <model># part", ErrNotRegistryTag, s)
	}
	t := TagName{Key: s[:i]}
	if _, err := ModelName(t.Key); err != nil {
		return TagName{}, fmt.Errorf("%w: %q: %v", ErrNotRegistryTag, s, err)
	}
	rest := s[i+1:]
	if s[i] == '@' {
		t.Kind = TagRegistration
		if j := strings.IndexByte(rest, '#'); j >= 0 {
			g, ok := ParsePositive(rest[j+1:])
			if !ok || g < 2 {
				return TagName{}, fmt.Errorf("%w: %q: generation %q must be a decimal number from 2 (%s@v<n>#<g>)", ErrNotRegistryTag, s, rest[j+1:], t.Key)
			}
			t.Gen, rest = g, rest[:j]
		}
		if strings.HasSuffix(rest, "!") {
			t.Kind = TagDeregistration
			rest = rest[:len(rest)-1]
		}
		n, ok := ParsePositive(strings.TrimPrefix(rest, "v"))
		if !strings.HasPrefix(rest, "v") || !ok {
			return TagName{}, fmt.Errorf("%w: %q: want %s@v<n> with n a positive decimal number", ErrNotRegistryTag, s, t.Key)
		}
		t.Version = n
		return t, nil
	}
	t.Kind = TagEvent
	j := strings.LastIndexByte(rest, '#')
	if j < 0 {
		return TagName{}, fmt.Errorf("%w: %q: want %s#<label>#<counter>", ErrNotRegistryTag, s, t.Key)
	}
	t.Label = rest[:j]
	n, ok := ParsePositive(rest[j+1:])
	if !ok {
		return TagName{}, fmt.Errorf("%w: %q: counter %q is not a positive decimal number", ErrNotRegistryTag, s, rest[j+1:])
	}
	t.Counter = n
	if err := checkLabel(t.Label); err != nil {
		return TagName{}, fmt.Errorf("%w: %q: %v", ErrNotRegistryTag, s, err)
	}
	return t, nil
}

// checkLabel accepts a stage label, an alias, or "!" and an alias.
func checkLabel(l string) error {
	a := strings.TrimPrefix(l, "!")
	if a == "" {
		return fmt.Errorf("empty label")
	}
	if err := manifest.ValidateAlias(a); err != nil && manifest.ValidateStageName(a) != nil {
		return fmt.Errorf("label %q is neither a stage nor an alias", l)
	}
	return nil
}

// ParsePositive parses a decimal number >= 1 without sign or leading zeros.
func ParsePositive(s string) (int64, bool) {
	if s == "" || s[0] == '0' || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}

// Built-in stages, as MLflow spells them.
const (
	StageNone       = "None"
	StageStaging    = "Staging"
	StageProduction = "Production"
	StageArchived   = "Archived"
)

// Stages is the set of stages of a repository: MLflow's four plus the
// custom ones declared in mlgit.yaml. Input is matched case-insensitively;
// labels in tags are lower case.
type Stages struct {
	names []string          // canonical spelling, in order
	byKey map[string]string // lower case -> canonical
}

// NewStages returns the built-in stages plus custom ones.
func NewStages(custom ...string) Stages {
	s := Stages{byKey: map[string]string{}}
	for _, n := range append([]string{StageNone, StageStaging, StageProduction, StageArchived}, custom...) {
		k := strings.ToLower(n)
		if n == "" || s.byKey[k] != "" {
			continue
		}
		s.byKey[k] = n
		s.names = append(s.names, n)
	}
	return s
}

// Canonical returns the canonical spelling of a stage given in any case.
func (s Stages) Canonical(name string) (string, bool) {
	c, ok := s.byKey[strings.ToLower(name)]
	return c, ok
}

// IsStage reports whether a label names a stage.
func (s Stages) IsStage(label string) bool {
	_, ok := s.byKey[strings.ToLower(label)]
	return ok
}

// Names returns the stages in their canonical spelling.
func (s Stages) Names() []string { return append([]string(nil), s.names...) }

func (s Stages) String() string { return strings.Join(s.names, ", ") }

// Label returns the tag label of a stage: its lower-case name.
func StageLabel(stage string) string { return strings.ToLower(stage) }

// TagRef is one tag of a model as plain Git shows it: the name (without
// "refs/tags/") and the commit it peels to. Object is the tag object id for
// annotated tags (equal to Commit for lightweight tags); it may be empty
// when unknown (ls-remote output).
type TagRef struct {
	Name   string
	Object string
	Commit string
}

// TagState is what a model's tags say, computed by StateFromTags.
type TagState struct {
	Key string
	// Versions holds every version with a registration tag.
	Versions map[int64]*TagVersion
	// Aliases maps each live alias to its version.
	Aliases map[string]int64
	// Events are the parsed event tags in order (counter, then name).
	Events []TagEventRef
	// Registrations are the parsed @v tags (and deregistrations).
	Registrations []TagRef
	// MaxCounter is the highest counter on any event tag (0 if none).
	MaxCounter int64
	// MaxVersion is the highest version with a registration tag.
	MaxVersion int64
	// Warnings describe tags that were ignored and why.
	Warnings []string
}

// TagVersion is one version as the tags see it.
type TagVersion struct {
	Version int64
	// Commit is the registration commit (the @v tag's target).
	Commit  string
	Tag     string
	Deleted bool
	// Gen is the version's latest registration generation (1 for the plain
	// @v<n> tag); a restored model's versions have higher ones.
	Gen int64
	// Stage is the label of the highest-counter stage event ("none" when
	// there is none); StageCounter is that event's counter (0 if none).
	Stage        string
	StageCounter int64
}

// TagEventRef is one parsed event tag.
type TagEventRef struct {
	TagRef
	Label   string
	Counter int64
	// Kind is EventStage, EventAlias or EventAliasRemoved.
	Kind string
	// Version is the version whose registration commit the tag points at
	// (0 when none does: the event is ignored).
	Version int64
}

// StateFromTags computes a model's state from its tags alone,
// deterministically and without clocks:
//
//   - a version exists when it has a registration tag <key>@v<n>, and is
//     deleted when it also has <key>@v<n>!; a restored version has a
//     registration of a later generation, <key>@v<n>#<g>, and is deleted
//     again by <key>@v<n>!#<g>: the latest generation decides;
//   - an event tag belongs to the version whose registration tag peels to
//     the same commit;
//   - a version's stage is the label of its highest-counter stage event
//     ("none" without one);
//   - an alias points at the version of its highest-counter event, unless
//     that event is a removal (!<alias>) or the version is deleted.
//
// Events with equal counters are ordered by tag name. Tags in the model's
// namespace that do not parse, and events that point at no version, are
// ignored with a warning. refs may come from local refs or ls-remote.
func StateFromTags(key string, refs []TagRef, stages Stages) *TagState {
	st := &TagState{Key: key, Versions: map[int64]*TagVersion{}, Aliases: map[string]int64{}}
	byCommit := map[string]int64{}
	ambiguous := map[string]bool{}
	var deregs, regens []TagName
	var events []TagEventRef
	sorted := append([]TagRef(nil), refs...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Name < sorted[j].Name })
	for _, ref := range sorted {
		t, err := ParseTagName(ref.Name)
		if err != nil {
			st.Warnings = append(st.Warnings, fmt.Sprintf("ignoring tag %s: %v", ref.Name, strings.TrimPrefix(err.Error(), ErrNotRegistryTag.Error()+": ")))
			continue
		}
		if t.Key != key {
			continue
		}
		switch t.Kind {
		case TagRegistration:
			if t.Gen > 1 {
				regens = append(regens, t)
				st.Registrations = append(st.Registrations, ref)
				continue
			}
			v := &TagVersion{Version: t.Version, Commit: ref.Commit, Tag: ref.Name, Stage: "none", Gen: 1}
			st.Versions[t.Version] = v
			st.Registrations = append(st.Registrations, ref)
			if t.Version > st.MaxVersion {
				st.MaxVersion = t.Version
			}
			if other, dup := byCommit[ref.Commit]; dup {
				ambiguous[ref.Commit] = true
				st.Warnings = append(st.Warnings, fmt.Sprintf("tags %s@v%d and %s both point at commit %s; events on that commit are ignored", key, other, ref.Name, ShortHash(ref.Commit)))
			}
			byCommit[ref.Commit] = t.Version
		case TagDeregistration:
			deregs = append(deregs, t)
			st.Registrations = append(st.Registrations, ref)
		case TagEvent:
			e := TagEventRef{TagRef: ref, Label: t.Label, Counter: t.Counter}
			switch {
			case strings.HasPrefix(t.Label, "!"):
				e.Kind = EventAliasRemoved
			case stages.IsStage(t.Label):
				e.Kind = EventStage
				e.Label = StageLabel(t.Label)
			default:
				e.Kind = EventAlias
			}
			events = append(events, e)
			if t.Counter > st.MaxCounter {
				st.MaxCounter = t.Counter
			}
		}
	}
	for _, g := range regens {
		if v := st.Versions[g.Version]; v != nil {
			v.Gen = max(v.Gen, g.Gen)
		} else {
			st.Warnings = append(st.Warnings, fmt.Sprintf("tag %s registers version %d again, which has no registration tag %s@v%d", g, g.Version, key, g.Version))
		}
	}
	deregGen := map[int64]int64{}
	for _, d := range deregs {
		deregGen[d.Version] = max(deregGen[d.Version], max(d.Gen, 1))
	}
	for _, d := range deregs {
		if v := st.Versions[d.Version]; v != nil {
			v.Deleted = deregGen[d.Version] >= v.Gen
		} else {
			st.Warnings = append(st.Warnings, fmt.Sprintf("tag %s deregisters version %d, which has no registration tag", d, d.Version))
		}
		if d.Version > st.MaxVersion {
			st.MaxVersion = d.Version
		}
	}
	sort.SliceStable(events, func(i, j int) bool {
		if events[i].Counter != events[j].Counter {
			return events[i].Counter < events[j].Counter
		}
		return events[i].Name < events[j].Name
	})
	type aliasAt struct {
		version int64 // 0: removed
	}
	aliases := map[string]aliasAt{}
	for i := range events {
		e := &events[i]
		if !ambiguous[e.Commit] {
			e.Version = byCommit[e.Commit]
		}
		if e.Kind == EventAliasRemoved {
			// A removal needs no version: it ends the alias wherever it is.
			aliases[strings.TrimPrefix(e.Label, "!")] = aliasAt{}
			continue
		}
		if e.Version == 0 {
			st.Warnings = append(st.Warnings, fmt.Sprintf("ignoring tag %s: its commit %s is no version's registration commit", e.Name, ShortHash(e.Commit)))
			continue
		}
		switch e.Kind {
		case EventStage:
			v := st.Versions[e.Version]
			v.Stage, v.StageCounter = e.Label, e.Counter
		case EventAlias:
			aliases[e.Label] = aliasAt{version: e.Version}
		}
	}
	for a, at := range aliases {
		if at.version != 0 && !st.Versions[at.version].Deleted {
			st.Aliases[a] = at.version
		}
	}
	st.Events = events
	return st
}

func ShortHash(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}

// DeregistrationTag is the tag that deletes the version's current
// registration: <key>@v<n>!, or <key>@v<n>!#<g> for generation g.
func (v *TagVersion) DeregistrationTag(key string) TagName {
	return TagName{Key: key, Kind: TagDeregistration, Version: v.Version, Gen: v.Gen}
}

// RegistrationTag is the tag that registers the version again after its
// deletion: <key>@v<n>#<g+1>.
func (v *TagVersion) RegistrationTag(key string) TagName {
	return TagName{Key: key, Kind: TagRegistration, Version: v.Version, Gen: max(v.Gen, 1) + 1}
}

// Live returns the versions that are not deleted, in ascending order.
func (st *TagState) Live() []*TagVersion {
	var out []*TagVersion
	for _, v := range st.Versions {
		if !v.Deleted {
			out = append(out, v)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Version < out[j].Version })
	return out
}

// Selector kinds of a model reference (name@selector).
const (
	SelectVersion = "version"
	SelectLatest  = "latest"
	SelectStage   = "stage"
	SelectAlias   = "alias"
)

// Selector is the part of a model reference after '@'.
type Selector struct {
	Kind    string
	Version int64  // SelectVersion
	Stage   string // SelectStage: lower-case label
	Alias   string // SelectAlias
}

func (s Selector) String() string {
	switch s.Kind {
	case SelectVersion:
		return "v" + strconv.FormatInt(s.Version, 10)
	case SelectLatest:
		return "latest"
	case SelectStage:
		return s.Stage
	}
	return s.Alias
}

// ParseSelector classifies what follows '@' in a model reference: v<n>,
// latest, a stage (any case) or an alias.
func ParseSelector(sel string, stages Stages) (Selector, error) {
	switch {
	case sel == "":
		return Selector{}, fmt.Errorf("%w: empty selector after '@': want v<n>, latest, a stage or an alias", manifest.ErrInvalid)
	case strings.EqualFold(sel, "latest"):
		return Selector{Kind: SelectLatest}, nil
	case (sel[0] == 'v' || sel[0] == 'V') && len(sel) > 1 && strings.Trim(sel[1:], "0123456789") == "":
		n, ok := ParsePositive(strings.TrimLeft(sel[1:], "0"))
		if !ok {
			return Selector{}, fmt.Errorf("%w: version %q is not a positive number", manifest.ErrInvalid, sel)
		}
		return Selector{Kind: SelectVersion, Version: n}, nil
	case stages.IsStage(sel):
		return Selector{Kind: SelectStage, Stage: StageLabel(sel)}, nil
	}
	if err := manifest.ValidateAlias(sel); err != nil {
		return Selector{}, fmt.Errorf("%q is not a version (v3), latest, a stage (%s) or an alias: %w", sel, stages, err)
	}
	return Selector{Kind: SelectAlias, Alias: sel}, nil
}

// Resolve picks the version a selector names in this state. It fails with
// an error wrapping ErrNotFound that says what does exist.
func (st *TagState) Resolve(name string, sel Selector) (*TagVersion, error) {
	live := st.Live()
	if len(live) == 0 {
		if len(st.Versions) > 0 {
			return nil, fmt.Errorf("%w: every version of model %q is deleted (tags %s@v1..v%d are deregistered)", ErrNotFound, name, st.Key, st.MaxVersion)
		}
		return nil, fmt.Errorf("%w: model %q has no registration tags (%s@v<n>); if it exists, run mlgit tags sync (or fetch tags)", ErrNotFound, name, st.Key)
	}
	switch sel.Kind {
	case SelectLatest:
		return live[len(live)-1], nil
	case SelectVersion:
		v := st.Versions[sel.Version]
		switch {
		case v == nil:
			return nil, fmt.Errorf("%w: model %q has no version %d (versions: %s)", ErrNotFound, name, sel.Version, versionList(live))
		case v.Deleted:
			return nil, fmt.Errorf("%w: version %d of model %q was deleted (versions: %s)", ErrNotFound, sel.Version, name, versionList(live))
		}
		return v, nil
	case SelectStage:
		for i := len(live) - 1; i >= 0; i-- {
			if live[i].Stage == sel.Stage {
				return live[i], nil
			}
		}
		return nil, fmt.Errorf("%w: no version of model %q is in stage %s (stages in use: %s)", ErrNotFound, name, sel.Stage, stagesInUse(live))
	}
	if v, ok := st.Aliases[sel.Alias]; ok {
		return st.Versions[v], nil
	}
	return nil, fmt.Errorf("%w: model %q has no alias %q (aliases: %s)", ErrNotFound, name, sel.Alias, AliasList(st.Aliases))
}

func versionList(vs []*TagVersion) string {
	parts := make([]string, len(vs))
	for i, v := range vs {
		parts[i] = strconv.FormatInt(v.Version, 10)
	}
	return ListOrNone(parts)
}

func stagesInUse(vs []*TagVersion) string {
	seen := map[string][]string{}
	var order []string
	for _, v := range vs {
		if seen[v.Stage] == nil {
			order = append(order, v.Stage)
		}
		seen[v.Stage] = append(seen[v.Stage], "v"+strconv.FormatInt(v.Version, 10))
	}
	sort.Strings(order)
	parts := make([]string, len(order))
	for i, s := range order {
		parts[i] = s + " (" + strings.Join(seen[s], ", ") + ")"
	}
	return ListOrNone(parts)
}

func AliasList(m map[string]int64) string {
	parts := make([]string, 0, len(m))
	for a, v := range m {
		parts = append(parts, fmt.Sprintf("%s -> v%d", a, v))
	}
	sort.Strings(parts)
	return ListOrNone(parts)
}

func ListOrNone(parts []string) string {
	if len(parts) == 0 {
		return "none"
	}
	if len(parts) > 20 {
		return strings.Join(parts[:20], ", ") + fmt.Sprintf(", ... (%d in all)", len(parts))
	}
	return strings.Join(parts, ", ")
}

// ParseLsRemote reads `git ls-remote` output (lines "<id>\trefs/tags/<name>"
// and "<id>\trefs/tags/<name>^{}") into tag refs, peeled: a tag with a ^{}
// line peels to that commit, a tag without one (lightweight) to its own id.
// Lines for other refs are skipped.
func ParseLsRemote(out string) []TagRef {
	objs := map[string]string{}
	peeled := map[string]string{}
	var order []string
	for _, line := range strings.Split(out, "\n") {
		line = strings.TrimRight(line, "\r")
		id, ref, ok := strings.Cut(line, "\t")
		if !ok || !strings.HasPrefix(ref, "refs/tags/") || len(id) < 40 {
			continue
		}
		name := strings.TrimPrefix(ref, "refs/tags/")
		if p, ok := strings.CutSuffix(name, "^{}"); ok {
			peeled[p] = id
			continue
		}
		if _, seen := objs[name]; !seen {
			order = append(order, name)
		}
		objs[name] = id
	}
	out2 := make([]TagRef, 0, len(order))
	for _, n := range order {
		c := peeled[n]
		if c == "" {
			c = objs[n]
		}
		out2 = append(out2, TagRef{Name: n, Object: objs[n], Commit: c})
	}
	return out2
}

// CanonicalOrErr returns a stage's canonical spelling, or an error wrapping
// manifest.ErrInvalid that lists the stages.
func (s Stages) CanonicalOrErr(stage string) (string, error) {
	c, ok := s.Canonical(stage)
	if !ok {
		return "", fmt.Errorf("%w: stage %q is not one of %s (declare custom stages under stages: in mlgit.yaml)", manifest.ErrInvalid, stage, s)
	}
	return c, nil
}
