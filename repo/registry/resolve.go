package registry

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// ParseModelRef splits a model reference into the model name and the
// selector: "name@production", "name@champion", "name@v3", "name@latest",
// and MLflow's URIs "models:/name/3", "models:/name/Production",
// "models:/name/latest", "models:/name@champion". The name is everything
// before the last '@' (names may contain '@'; selectors never do).
func ParseModelRef(ref string) (name, selector string, err error) {
	if rest, ok := strings.CutPrefix(ref, "models:/"); ok {
		if i := strings.LastIndexByte(rest, '@'); i > 0 {
			return rest[:i], rest[i+1:], nil
		}
		i := strings.LastIndexByte(rest, '/')
		if i <= 0 || i == len(rest)-1 {
			return "", "", fmt.Errorf("%w: model URI %q: want models:/<name>/<version|stage|latest> or models:/<name>@<alias>", manifest.ErrInvalid, ref)
		}
		sel := rest[i+1:]
		if _, ok := ParsePositive(sel); ok {
			sel = "v" + sel
		}
		return rest[:i], sel, nil
	}
	i := strings.LastIndexByte(ref, '@')
	if i <= 0 || i == len(ref)-1 {
		return "", "", fmt.Errorf("%w: model reference %q: want <name>@<selector>, where the selector is v<n>, latest, a stage or an alias (e.g. churn@production)", manifest.ErrInvalid, ref)
	}
	return ref[:i], ref[i+1:], nil
}

// Resolution is what a model reference resolves to.
type Resolution struct {
	Ref     string   `json:"ref"`
	Model   string   `json:"model"`
	Key     string   `json:"key"`
	Version int64    `json:"version"`
	Stage   string   `json:"stage,omitempty"`
	Aliases []string `json:"aliases,omitempty"`
	RunID   string   `json:"run_id,omitempty"`
	Source  string   `json:"source,omitempty"`
	// URI is MLflow's models:/<name>/<version>.
	URI string `json:"uri"`
	// Digest identifies the version's files (VersionDigest).
	Digest string `json:"digest,omitempty"`
	// Tag is the registration tag; RegistrationCommit the commit it peels to.
	Tag                string              `json:"tag,omitempty"`
	RegistrationCommit string              `json:"registration_commit,omitempty"`
	Artifacts          []manifest.Artifact `json:"artifacts,omitempty"`
	// ResolvedFrom is "tags", "manifests" (tags had no answer) or "remote".
	ResolvedFrom string   `json:"resolved_from"`
	Remote       string   `json:"remote,omitempty"`
	Warnings     []string `json:"warnings,omitempty"`
}

// VersionDigest is the digest of a version's files: "sha256:" and the
// SHA-256 of the lines "<hex>  <path>\n" (sha256sum's format, hex without
// "sha256:") of its artifacts sorted by path. It changes when any file's
// content or path does, and not with metadata.
func VersionDigest(arts []manifest.Artifact) string {
	if len(arts) == 0 {
		return ""
	}
	sorted := append([]manifest.Artifact(nil), arts...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].Path < sorted[j].Path })
	h := sha256.New()
	for _, a := range sorted {
		fmt.Fprintf(h, "%s  %s\n", strings.TrimPrefix(a.Digest, "sha256:"), a.Path)
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil))
}

// modelURI is MLflow's URI of a version.
func modelURI(name string, v int64) string { return fmt.Sprintf("models:/%s/%d", name, v) }

// Resolve resolves a model reference locally. The version comes from the
// model's tags alone, as CI and --remote see them; the version manifest at
// the tip adds run, source, files and digest. When the tags and the
// manifests disagree the answer is the tags' and a warning says so; when
// the tags know nothing of the reference (not synced or not fetched) the
// manifests answer, with a warning.
func (s *Store) Resolve(ref string) (*Resolution, error) {
	name, selStr, err := ParseModelRef(ref)
	if err != nil {
		return nil, err
	}
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, err
	}
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	sel, err := ParseSelector(selStr, stages)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", manifest.ErrInvalid, err)
	}
	key := ModelKey(name)
	st, err := s.modelTagState(key, stages)
	if err != nil {
		return nil, err
	}
	res := &Resolution{Ref: ref, Model: name, Key: key, Warnings: st.Warnings, ResolvedFrom: "tags"}
	tv, tagErr := st.Resolve(name, sel)
	err = s.view(func(tx *gitobj.Tx) error {
		m, ok, err := decodeModelAt(tx, key)
		if err != nil {
			return err
		}
		if tagErr != nil {
			if !ok {
				if len(st.Versions) == 0 {
					return modelNotFound(tx, name)
				}
				return tagErr
			}
			v, err := resolveManifestTx(tx, m, sel)
			if err != nil {
				return tagErr
			}
			res.ResolvedFrom = "manifests"
			res.Warnings = append(res.Warnings, fmt.Sprintf("the tags do not resolve %s (%v); answered from the manifests; run mlgit tags sync", ref, strings.TrimPrefix(tagErr.Error(), ErrNotFound.Error()+": ")))
			res.fill(v, m)
			return nil
		}
		res.Version = tv.Version
		res.Tag, res.RegistrationCommit = tv.Tag, tv.Commit
		res.Stage = tv.Stage
		for a, v := range st.Aliases {
			if v == tv.Version {
				res.Aliases = append(res.Aliases, a)
			}
		}
		sort.Strings(res.Aliases)
		res.URI = modelURI(name, tv.Version)
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("model %q has tags but no manifest on branch %s (deleted, renamed, or not pulled)", name, s.Name))
			return nil
		}
		data, ok, err := tx.Read(layout.Version(key, tv.Version))
		if err != nil {
			return err
		}
		if !ok {
			res.Warnings = append(res.Warnings, fmt.Sprintf("version %d has no manifest on branch %s (deleted, or not pulled); run mlgit fsck", tv.Version, s.Name))
			return nil
		}
		v, err := manifest.DecodeModelVersion(data)
		if err != nil {
			return fmt.Errorf("read %s: %w", layout.Version(key, tv.Version), err)
		}
		tagStage := res.Stage
		res.fill(v, m)
		if mv, err := resolveManifestTx(tx, m, sel); err != nil || mv.Version != tv.Version {
			want := "nothing"
			if err == nil {
				want = fmt.Sprintf("v%d", mv.Version)
			}
			res.Warnings = append(res.Warnings, fmt.Sprintf("tags and manifests disagree: the tags say v%d, the manifests %s; run mlgit fsck and mlgit tags sync", tv.Version, want))
		} else if StageLabel(v.Stage) != tagStage {
			res.Warnings = append(res.Warnings, fmt.Sprintf("v%d is %s in its manifest but %s by its tags; run mlgit tags sync", tv.Version, v.Stage, tagStage))
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// fill copies what the manifests say about a version.
func (res *Resolution) fill(v *manifest.ModelVersion, m *manifest.RegisteredModel) {
	res.Version = v.Version
	res.Stage = v.Stage
	res.RunID, res.Source = v.RunID, v.Source
	res.Artifacts = v.Artifacts
	res.Digest = VersionDigest(v.Artifacts)
	res.URI = modelURI(v.Name, v.Version)
	res.Aliases = nil
	for a, n := range m.Aliases {
		if n == v.Version {
			res.Aliases = append(res.Aliases, a)
		}
	}
	sort.Strings(res.Aliases)
}

// resolveManifestTx resolves a selector against the manifests (MLflow's
// rules: highest version in a stage; alias; version; latest).
func resolveManifestTx(tx *gitobj.Tx, m *manifest.RegisteredModel, sel Selector) (*manifest.ModelVersion, error) {
	key := ModelKey(m.Name)
	switch sel.Kind {
	case SelectVersion:
		return readVersionTx(tx, m, sel.Version)
	case SelectAlias:
		n, ok := m.Aliases[sel.Alias]
		if !ok {
			return nil, fmt.Errorf("%w: model %q has no alias %q (aliases: %s)", ErrNotFound, m.Name, sel.Alias, AliasList(m.Aliases))
		}
		return readVersionTx(tx, m, n)
	}
	all, err := listVersionsTx(tx, key)
	if err != nil {
		return nil, err
	}
	for i := len(all) - 1; i >= 0; i-- {
		if sel.Kind == SelectLatest || StageLabel(all[i].Stage) == sel.Stage {
			return all[i], nil
		}
	}
	if sel.Kind == SelectLatest {
		return nil, fmt.Errorf("%w: model %q has no versions", ErrNotFound, m.Name)
	}
	return nil, fmt.Errorf("%w: no version of model %q is in stage %s", ErrNotFound, m.Name, sel.Stage)
}

// LsRemoteArgs returns the arguments of the one `git ls-remote` call that
// lists a model's tags on a remote: only refs/tags/<key>@* and
// refs/tags/<key>#*.
func LsRemoteArgs(remote, key string) []string {
	return []string{"ls-remote", "--tags", remote, "refs/tags/" + key + "@*", "refs/tags/" + key + "#*"}
}

// RemoteOptions configure ResolveRemote.
type RemoteOptions struct {
	// Dir is where git runs (a clone, so that remote names work; "" for
	// the current directory).
	Dir string
	// Stages tells stage labels from aliases (default: built-in stages).
	Stages *Stages
	// Git runs git with args in dir and returns its standard output
	// (default: the system git, so the user's credentials and transports
	// work).
	Git func(ctx context.Context, dir string, args ...string) ([]byte, error)
}

// ResolveRemote resolves a model reference from a remote's tags alone, in
// one `git ls-remote` round trip that asks for that model's tags only, and
// without fetching anything. It answers the version, its registration tag
// and commit, its stage and aliases as the tags say; run, source and files
// need the branch (mlgit model resolve without --remote).
func ResolveRemote(ctx context.Context, remote, ref string, opts RemoteOptions) (*Resolution, error) {
	name, selStr, err := ParseModelRef(ref)
	if err != nil {
		return nil, err
	}
	if err := manifest.ValidateModelName(name); err != nil {
		return nil, err
	}
	stages := NewStages()
	if opts.Stages != nil {
		stages = *opts.Stages
	}
	sel, err := ParseSelector(selStr, stages)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", manifest.ErrInvalid, err)
	}
	key := ModelKey(name)
	var out []byte
	if opts.Git == nil {
		// A local remote is asked with protocol v2 ls-refs, so the
		// serving side filters by this model's prefixes.
		if p := gitobj.LocalRemotePath(ctx, opts.Dir, remote); p != "" {
			out, err = gitobj.LsRefsLocal(ctx, p, []string{"refs/tags/" + key + "@", "refs/tags/" + key + "#"})
			if err != nil && !errors.Is(err, gitobj.ErrNoV2) {
				return nil, err
			}
		}
	}
	if out == nil {
		run := opts.Git
		if run == nil {
			run = gitobj.Git
		}
		out, err = run(ctx, opts.Dir, LsRemoteArgs(remote, key)...)
		if err != nil {
			return nil, fmt.Errorf("git ls-remote %s: %w", remote, err)
		}
	}
	st := StateFromTags(key, ParseLsRemote(string(out)), stages)
	tv, err := st.Resolve(name, sel)
	if err != nil {
		return nil, fmt.Errorf("on remote %s: %w", remote, err)
	}
	res := &Resolution{Ref: ref, Model: name, Key: key, Version: tv.Version, Stage: tv.Stage, URI: modelURI(name, tv.Version),
		Tag: tv.Tag, RegistrationCommit: tv.Commit, ResolvedFrom: "remote", Remote: remote, Warnings: st.Warnings}
	for a, v := range st.Aliases {
		if v == tv.Version {
			res.Aliases = append(res.Aliases, a)
		}
	}
	sort.Strings(res.Aliases)
	return res, nil
}

// TagEventInfo is what a registry tag name says, for CI jobs triggered by
// a tag push (CheckRef).
type TagEventInfo struct {
	Tag string `json:"tag"`
	// Event is registration, deregistration, stage, alias or alias-removed.
	Event   string `json:"event"`
	Model   string `json:"model"`
	Key     string `json:"key"`
	Version int64  `json:"version,omitempty"`
	Stage   string `json:"stage,omitempty"`
	Alias   string `json:"alias,omitempty"`
	Counter int64  `json:"counter,omitempty"`
	// Commit is the registration commit the tag points at, when the tag
	// is present locally.
	Commit   string   `json:"commit,omitempty"`
	Warnings []string `json:"warnings,omitempty"`
}

// CheckRef parses a registry tag name (with or without refs/tags/). The
// version of an event tag comes from the local tags of the Git repository
// that open opens (no tracking branch needed; package repo opens the one
// at a path): the version whose registration tag peels to the same
// commit. A name outside the grammar fails with ErrNotFound; a repository
// that cannot be opened leaves the version unknown, with a warning.
func CheckRef(tag string, stages Stages, open func() (*Store, func(), error)) (*TagEventInfo, error) {
	tag = strings.TrimPrefix(tag, "refs/tags/")
	t, err := ParseTagName(tag)
	if err != nil {
		return nil, fmt.Errorf("%w: %s is not a registry tag (<model>@v<n>, <model>@v<n>!, <model>#<label>#<counter>): %v", ErrNotFound, tag,
			strings.TrimPrefix(err.Error(), ErrNotRegistryTag.Error()+": "))
	}
	name, _ := ModelName(t.Key)
	ev := &TagEventInfo{Tag: tag, Model: name, Key: t.Key, Version: t.Version, Counter: t.Counter}
	switch {
	case t.Kind != TagEvent:
		ev.Event = t.Kind
	case strings.HasPrefix(t.Label, "!"):
		ev.Event, ev.Alias = EventAliasRemoved, t.Label[1:]
	case stages.IsStage(t.Label):
		ev.Event, ev.Stage = EventStage, StageLabel(t.Label)
	default:
		ev.Event, ev.Alias = EventAlias, t.Label
	}
	s, closeStore, err := open()
	if err != nil {
		ev.Warnings = append(ev.Warnings, fmt.Sprintf("no local Git repository (%v): version of the event unknown", err))
		return ev, nil
	}
	defer closeStore()
	h, err := s.Branch.Refs.Read("refs/tags/" + tag)
	if err != nil || h.IsZero() {
		return ev, fmt.Errorf("%w: tag %s is not in this repository, so the version of the event is unknown: fetch it (git fetch --force --tags origin)", ErrNotFound, tag)
	}
	c, to, err := s.Branch.DB.Peel(h)
	if err != nil {
		return nil, err
	}
	ev.Commit = c.String()
	if t.Kind != TagEvent {
		return ev, nil
	}
	// The event's own message names the version; the registration tag on
	// the same commit confirms it.
	if to != nil {
		if m, ok := DecodeTagMessage(to.Message); ok && m.Version > 0 {
			ev.Version = m.Version
		}
	}
	st, err := s.modelTagState(t.Key, stages)
	if err != nil {
		return nil, err
	}
	for _, v := range st.Versions {
		if v.Commit == ev.Commit {
			if ev.Version != 0 && ev.Version != v.Version {
				ev.Warnings = append(ev.Warnings, fmt.Sprintf("the message of %s says v%d, the registration tag on its commit v%d; using v%d", tag, ev.Version, v.Version, v.Version))
			}
			ev.Version = v.Version
		}
	}
	if ev.Version == 0 {
		return ev, fmt.Errorf("%w: no registration tag %s@v<n> points at %s and %s is a lightweight tag, so the version of the event is unknown: fetch the model's tags (git fetch --force --tags origin)", ErrNotFound, t.Key, ShortHash(ev.Commit), tag)
	}
	return ev, nil
}
