package registry

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// findRegistrationCommits walks the first-parent history of the tracking
// branch back from the tip and returns, for each version, the commit that
// added models/<key>/versions/<n>.yaml. A rename commit (Mlgit-Op:
// model-rename) adds every file under the new key; the walk then follows
// the old key (Mlgit-Renamed-From), so a renamed version maps to its
// original registration commit, as RenameModel tags it. Versions not at
// the tip are missing from the result.
func (s *Store) findRegistrationCommits(key string, versions []int64) (map[int64]plumbing.Hash, error) {
	return s.findRegistrationCommitsIn(&fpChain{}, key, versions)
}

// fpChain is the first-parent history of the tip (commit and root tree),
// read once and shared by the walks of one SyncTags.
type fpChain struct {
	commits, trees []plumbing.Hash
	next           plumbing.Hash // parent of the last commit read
	end            bool          // the root commit was reached
}

// chainAt returns the i-th commit back from the tip and its tree; ok is false
// past the root.
func (s *Store) chainAt(ch *fpChain, i int) (commit, tree plumbing.Hash, ok bool, err error) {
	for len(ch.commits) <= i && !ch.end {
		h := ch.next
		if len(ch.commits) == 0 {
			if h, err = s.Branch.Tip(); err != nil {
				return
			}
		}
		if h.IsZero() {
			ch.end = true
			break
		}
		c, err := s.Branch.DB.ReadCommit(h)
		if err != nil {
			return plumbing.ZeroHash, plumbing.ZeroHash, false, err
		}
		ch.commits = append(ch.commits, h)
		ch.trees = append(ch.trees, c.TreeHash)
		ch.next = plumbing.ZeroHash
		if len(c.ParentHashes) > 0 {
			ch.next = c.ParentHashes[0]
		}
	}
	if i >= len(ch.commits) {
		return plumbing.ZeroHash, plumbing.ZeroHash, false, nil
	}
	return ch.commits[i], ch.trees[i], true, nil
}

func (s *Store) findRegistrationCommitsIn(ch *fpChain, key string, versions []int64) (map[int64]plumbing.Hash, error) {
	type want struct {
		key      string
		lastSeen plumbing.Hash
		done     bool
	}
	ws := map[int64]*want{}
	for _, n := range versions {
		ws[n] = &want{key: key}
	}
	found := map[int64]plumbing.Hash{}
	pending := len(ws)
	tc := gitobj.TreeCache{}
	for i := 0; pending > 0; i++ {
		h, tree, ok, err := s.chainAt(ch, i)
		if err != nil {
			return nil, err
		}
		if !ok {
			break
		}
		for n, w := range ws {
			if w.done {
				continue
			}
			present, err := s.pathExists(tc, tree, layout.Version(w.key, n))
			if err != nil {
				return nil, err
			}
			if present {
				w.lastSeen = h
				continue
			}
			if w.lastSeen.IsZero() { // not at the tip at all
				w.done = true
				pending--
				continue
			}
			// w.lastSeen added the file. Follow a rename back.
			if old := s.renamedFrom(w.lastSeen, w.key); old != "" {
				if ok, err := s.pathExists(tc, tree, layout.Version(old, n)); err == nil && ok {
					w.key, w.lastSeen = old, h
					continue
				}
			}
			found[n] = w.lastSeen
			w.done = true
			pending--
		}
		// Trees of old commits are not needed again.
		if len(tc) > 4096 {
			tc = gitobj.TreeCache{}
		}
	}
	for n, w := range ws {
		if !w.done && !w.lastSeen.IsZero() {
			found[n] = w.lastSeen // added by the root commit
		}
	}
	return found, nil
}

func (s *Store) pathExists(tc gitobj.TreeCache, root plumbing.Hash, p string) (bool, error) {
	_, ok, err := s.Branch.DB.Lookup(tc, root, p)
	return ok, err
}

// renamedFrom returns the old key when commit h renamed a model to key.
func (s *Store) renamedFrom(h plumbing.Hash, key string) string {
	c, err := s.Branch.DB.ReadCommit(h)
	if err != nil {
		return ""
	}
	_, tr := gitobj.ParseMessage(c.Message)
	if first(tr["Mlgit-Op"]) != "model-rename" || first(tr["Mlgit-Model"]) != key {
		return ""
	}
	return first(tr["Mlgit-Renamed-From"])
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

// anchorCommit returns a commit that stands for version n when the commit
// that added it also added another version (a squash merge): a child of
// base with the same tree, authored as base was committed, so every clone
// that makes it makes the same object. The tag keeps it reachable.
func (s *Store) anchorCommit(base plumbing.Hash, key string, n int64) (plumbing.Hash, error) {
	c, err := s.Branch.DB.ReadCommit(base)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	a := &object.Commit{
		Author:       c.Committer,
		Committer:    c.Committer,
		TreeHash:     c.TreeHash,
		ParentHashes: []plumbing.Hash{base},
		Message: fmt.Sprintf("mlgit: registration anchor for %s v%d\n\nMlgit-Op: model-anchor\nMlgit-Model: %s\nMlgit-Version: %d\n",
			key, n, key, n),
	}
	return s.Branch.DB.WriteCommit(a)
}

// SyncAction is one tag that SyncTags created (or, dry, would create).
type SyncAction struct {
	Model   string `json:"model"`
	Tag     string `json:"tag"`
	Kind    string `json:"kind"`
	Version int64  `json:"version"`
	Label   string `json:"label,omitempty"`
	Commit  string `json:"commit,omitempty"`
}

// SyncReport is the result of SyncTags.
type SyncReport struct {
	Created  []SyncAction `json:"created"`
	Warnings []string     `json:"warnings,omitempty"`
}

// SyncTags creates the tags the manifests imply and that are missing, so
// that the tags say what the manifests say (idempotent: a second run
// creates nothing):
//
//   - a registration tag for every version, on the commit that added it;
//   - a deregistration tag for every version that has a live registration
//     tag, is part of this branch's history, and no longer has a manifest
//     (deleted version, deleted or renamed model);
//   - a new stage event for every version whose tag-derived stage differs
//     from its manifest, and a new alias event (or removal) for every alias
//     whose tag-derived version differs from model.yaml.
//
// With names, only those models are synced; otherwise every model with a
// manifest or tags. With dryRun nothing is written.
func (s *Store) SyncTags(names []string, dryRun bool) (*SyncReport, error) {
	rep := &SyncReport{Created: []SyncAction{}}
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	keys, err := s.registryKeys(names)
	if err != nil {
		return nil, err
	}
	for _, name := range names { // a name with no manifest and no tag is a typo
		if _, err := s.GetModel(name); err == nil {
			continue
		}
		vals, err := s.Branch.Refs.ListWithPrefixes(modelTagPrefixes(ModelKey(name))...)
		if err != nil {
			return nil, err
		}
		if len(vals) == 0 {
			return nil, s.view(func(tx *gitobj.Tx) error { return modelNotFound(tx, name) })
		}
	}
	anc := &ancestry{s: s}
	for _, key := range keys {
		if err := s.syncModel(key, stages, dryRun, anc, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// registryKeys returns the keys to look at: those of names, or every key
// with a manifest or a tag.
func (s *Store) registryKeys(names []string) ([]string, error) {
	set := map[string]bool{}
	if len(names) > 0 {
		for _, n := range names {
			if err := manifest.ValidateModelName(n); err != nil {
				return nil, err
			}
			set[ModelKey(n)] = true
		}
	} else {
		err := s.view(func(tx *gitobj.Tx) error {
			ks, err := listModelKeysTx(tx)
			for _, k := range ks {
				set[k] = true
			}
			return err
		})
		if err != nil {
			return nil, err
		}
		all, err := s.allTagRefs()
		if err != nil {
			return nil, err
		}
		for _, v := range all {
			if k := tagKeyOf(strings.TrimPrefix(v.Name, "refs/tags/")); k != "" {
				set[k] = true
			}
		}
	}
	keys := make([]string, 0, len(set))
	for k := range set {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys, nil
}

// tagKeyOf returns the model key a tag name belongs to ("" when none).
func tagKeyOf(name string) string {
	i := strings.IndexAny(name, "@#")
	if i <= 0 || strings.Contains(name[:i], "/") {
		return ""
	}
	if _, err := ModelName(name[:i]); err != nil {
		return ""
	}
	return name[:i]
}

// manifestView is what the tracking branch says about one model key.
type manifestView struct {
	model    *manifest.RegisteredModel // nil: no model.yaml
	versions map[int64]*manifest.ModelVersion
	problems []string
}

func (s *Store) readManifestView(key string) (*manifestView, error) {
	mv := &manifestView{versions: map[int64]*manifest.ModelVersion{}}
	err := s.view(func(tx *gitobj.Tx) error {
		m, ok, err := decodeModelAt(tx, key)
		if err != nil {
			mv.problems = append(mv.problems, err.Error())
			return nil
		}
		if !ok {
			return nil
		}
		mv.model = m
		nums, err := versionNumbersTx(tx, key)
		if err != nil {
			return err
		}
		for _, n := range nums {
			data, _, err := tx.Read(layout.Version(key, n))
			if err != nil {
				return err
			}
			v, err := manifest.DecodeModelVersion(data)
			if err != nil {
				mv.problems = append(mv.problems, fmt.Sprintf("read %s: %v", layout.Version(key, n), err))
				continue
			}
			mv.versions[n] = v
		}
		return nil
	})
	return mv, err
}

// ancestry answers "is this commit in the tracking branch's history",
// walking the history once and only when first asked.
type ancestry struct {
	s     *Store
	set   map[plumbing.Hash]bool
	chain fpChain // first parents, for registration commits
}

func (a *ancestry) contains(h plumbing.Hash) (bool, error) {
	if a.set == nil {
		a.set = map[plumbing.Hash]bool{}
		tip, err := a.s.Branch.Tip()
		if err != nil {
			return false, err
		}
		stack := []plumbing.Hash{tip}
		for len(stack) > 0 {
			c := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			if c.IsZero() || a.set[c] {
				continue
			}
			a.set[c] = true
			cm, err := a.s.Branch.DB.ReadCommit(c)
			if err != nil {
				return false, err
			}
			stack = append(stack, cm.ParentHashes...)
		}
	}
	if a.set[h] {
		return true, nil
	}
	// An anchor commit is not on the branch; its parent is.
	if c, err := a.s.Branch.DB.ReadCommit(h); err == nil && len(c.ParentHashes) == 1 {
		if _, tr := gitobj.ParseMessage(c.Message); first(tr["Mlgit-Op"]) == "model-anchor" {
			return a.set[c.ParentHashes[0]], nil
		}
	}
	return false, nil
}

func (s *Store) syncModel(key string, stages Stages, dryRun bool, anc *ancestry, rep *SyncReport) error {
	name, err := ModelName(key)
	if err != nil {
		return err
	}
	lock, err := s.lockModel(key)
	if err != nil {
		return err
	}
	defer lock.Unlock()
	mv, err := s.readManifestView(key)
	if err != nil {
		return err
	}
	if len(mv.problems) > 0 {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("model %s: skipped: %s", name, strings.Join(mv.problems, "; ")))
		return nil
	}
	if mv.model != nil {
		name = mv.model.Name
	}
	st, err := s.modelTagState(key, stages)
	if err != nil {
		return err
	}
	for _, w := range st.Warnings {
		rep.Warnings = append(rep.Warnings, "model "+name+": "+w)
	}
	add := func(a SyncAction) { a.Model = name; rep.Created = append(rep.Created, a) }
	tipCommit, _ := s.Branch.Tip()

	// 1. Registration tags.
	var missing []int64
	for n := range mv.versions {
		if st.Versions[n] == nil {
			missing = append(missing, n)
		}
	}
	sort.Slice(missing, func(i, j int) bool { return missing[i] < missing[j] })
	if len(missing) > 0 {
		found, err := s.findRegistrationCommitsIn(&anc.chain, key, missing)
		if err != nil {
			return err
		}
		used := map[plumbing.Hash]bool{}
		for _, v := range st.Versions {
			used[plumbing.NewHash(v.Commit)] = true
		}
		for _, n := range missing {
			target := found[n]
			if target.IsZero() {
				rep.Warnings = append(rep.Warnings, fmt.Sprintf("model %s: no commit adds %s", name, layout.Version(key, n)))
				continue
			}
			if used[target] {
				if dryRun {
					target = plumbing.ZeroHash
				} else if target, err = s.anchorCommit(target, key, n); err != nil {
					return err
				}
			}
			used[target] = true
			tag := TagName{Key: key, Kind: TagRegistration, Version: n}.String()
			if !dryRun {
				v := mv.versions[n]
				m := &TagMessage{Model: name, Version: n, Kind: TagRegistration, Actor: s.actor(), Commit: target.String(), Run: v.RunID, Source: v.Source, Synced: true}
				if _, err := s.createVersionTag(TagName{Key: key, Kind: TagRegistration, Version: n}, target, m); err != nil && !errors.Is(err, gitobj.ErrExists) {
					return err
				}
			}
			add(SyncAction{Tag: tag, Kind: TagRegistration, Version: n, Commit: hashOrEmpty(target)})
			if dryRun { // later steps see the tag as if it were there
				st.Versions[n] = &TagVersion{Version: n, Commit: target.String(), Tag: tag, Stage: "none"}
			}
		}
		if !dryRun {
			if st, err = s.modelTagState(key, stages); err != nil {
				return err
			}
		}
	}

	// 2. Deregistration of versions without a manifest.
	for _, tv := range st.Live() {
		if mv.versions[tv.Version] != nil {
			continue
		}
		in, err := anc.contains(plumbing.NewHash(tv.Commit))
		if err != nil {
			return err
		}
		if !in {
			rep.Warnings = append(rep.Warnings, fmt.Sprintf("model %s: tag %s points at a commit that is not on branch %s; pull the branch (not deregistering)", name, tv.Tag, s.Name))
			continue
		}
		tag := tv.DeregistrationTag(key).String()
		if !dryRun {
			reason := "version deleted"
			if mv.model == nil {
				reason = "model deleted or renamed"
			}
			m := &TagMessage{Model: name, Version: tv.Version, Kind: TagDeregistration, Actor: s.actor(), Reason: reason, Commit: tipCommit.String(), Synced: true}
			if _, err := s.createVersionTag(tv.DeregistrationTag(key), plumbing.NewHash(tv.Commit), m); err != nil && !errors.Is(err, gitobj.ErrExists) {
				return err
			}
		}
		add(SyncAction{Tag: tag, Kind: TagDeregistration, Version: tv.Version, Commit: tv.Commit})
	}
	if mv.model == nil {
		return nil
	}

	// 3. Stages, then 4. aliases: one new event per disagreement.
	event := func(version int64, label, kind, prev string) error {
		tv := st.Versions[version]
		if tv == nil || tv.Deleted {
			return nil // reported by fsck; nothing to hang an event on
		}
		tag := key + "#" + label + "#?"
		if !dryRun {
			m := &TagMessage{Model: name, Version: version, Kind: kind, Label: strings.TrimPrefix(label, "!"), Previous: prev, Actor: s.actor(),
				Reason: "tags sync", Commit: tipCommit.String(), Synced: true}
			var err error
			if tag, err = s.createEventTag(key, label, plumbing.NewHash(tv.Commit), m); err != nil {
				return err
			}
		}
		add(SyncAction{Tag: tag, Kind: kind, Version: version, Label: label, Commit: tv.Commit})
		return nil
	}
	nums := make([]int64, 0, len(mv.versions))
	for n := range mv.versions {
		nums = append(nums, n)
	}
	sort.Slice(nums, func(i, j int) bool { return nums[i] < nums[j] })
	for _, n := range nums {
		want := StageLabel(mv.versions[n].Stage)
		if tv := st.Versions[n]; tv != nil && tv.Stage != want {
			if err := event(n, want, EventStage, tv.Stage); err != nil {
				return err
			}
		}
	}
	for _, a := range sortedAliases(mv.model.Aliases) {
		v := mv.model.Aliases[a]
		if st.Aliases[a] != v && mv.versions[v] != nil {
			prev := ""
			if p := st.Aliases[a]; p != 0 {
				prev = "v" + strconv.FormatInt(p, 10)
			}
			if err := event(v, a, EventAlias, prev); err != nil {
				return err
			}
		}
	}
	for _, a := range sortedAliases(st.Aliases) {
		if _, ok := mv.model.Aliases[a]; !ok {
			if err := event(st.Aliases[a], "!"+a, EventAliasRemoved, ""); err != nil {
				return err
			}
		}
	}
	return nil
}

func hashOrEmpty(h plumbing.Hash) string {
	if h.IsZero() {
		return ""
	}
	return h.String()
}

// FsckProblem is one disagreement or defect found by Fsck.
type FsckProblem struct {
	Model   string `json:"model"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// FsckReport is the result of Fsck.
type FsckReport struct {
	Models   int           `json:"models"`
	Versions int           `json:"versions"`
	Tags     int           `json:"tags"`
	Problems []FsckProblem `json:"problems"`
}

// Fsck checks the registry: every manifest decodes and sits under its
// name's key; and manifests and tags agree (registration tags present,
// deleted versions deregistered, each version's tag-derived stage and each
// alias as in the manifests, no unparsable tag in a model's namespace, no
// live tags of a model that has no manifest). It reads every tag once.
func (s *Store) Fsck() (*FsckReport, error) {
	rep := &FsckReport{Problems: []FsckProblem{}}
	stages, err := s.Stages()
	if err != nil {
		return nil, err
	}
	all, err := s.allTagRefs()
	if err != nil {
		return nil, err
	}
	byKey := map[string][]gitobj.RefValue{}
	for _, v := range all {
		if k := tagKeyOf(strings.TrimPrefix(v.Name, "refs/tags/")); k != "" {
			byKey[k] = append(byKey[k], v)
			rep.Tags++
		}
	}
	var manifestKeys []string
	if err := s.view(func(tx *gitobj.Tx) (err error) { manifestKeys, err = listModelKeysTx(tx); return err }); err != nil {
		return nil, err
	}
	keys := map[string]bool{}
	for _, k := range manifestKeys {
		keys[k] = true
	}
	for k := range byKey {
		keys[k] = true
	}
	sorted := make([]string, 0, len(keys))
	for k := range keys {
		sorted = append(sorted, k)
	}
	sort.Strings(sorted)
	anc := &ancestry{s: s}
	for _, key := range sorted {
		if err := s.fsckModel(key, byKey[key], stages, anc, rep); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

func (s *Store) fsckModel(key string, vals []gitobj.RefValue, stages Stages, anc *ancestry, rep *FsckReport) error {
	name, err := ModelName(key)
	problem := func(kind, format string, args ...any) {
		rep.Problems = append(rep.Problems, FsckProblem{Model: name, Kind: kind, Message: fmt.Sprintf(format, args...)})
	}
	if err != nil {
		name = key
		problem("bad-key", "folder models/%s is not the key of a model name: %v", key, err)
		return nil
	}
	mv, err := s.readManifestView(key)
	if err != nil {
		return err
	}
	for _, p := range mv.problems {
		problem("bad-manifest", "%s", p)
	}
	refs, warns, err := s.peelRefs(vals)
	if err != nil {
		return err
	}
	st := StateFromTags(key, refs, stages)
	for _, w := range append(warns, st.Warnings...) {
		problem("bad-tag", "%s", w)
	}
	if mv.model == nil {
		if len(mv.problems) > 0 {
			return nil
		}
		for _, tv := range st.Live() {
			in, err := anc.contains(plumbing.NewHash(tv.Commit))
			if err != nil {
				return err
			}
			if in {
				problem("not-deregistered", "tag %s is live but the model has no manifest (deleted or renamed); run mlgit tags sync", tv.Tag)
			} else {
				problem("ahead", "tag %s is live but neither the model nor the tag's commit is on branch %s; pull the branch", tv.Tag, s.Name)
			}
		}
		return nil
	}
	m := mv.model
	rep.Models++
	rep.Versions += len(mv.versions)
	if m.Name != name {
		problem("bad-manifest", "%s names model %q, but its folder is the key of %q", layout.Model(key), m.Name, name)
	}
	for n, v := range mv.versions {
		if v.Name != m.Name || v.Version != n {
			problem("bad-manifest", "%s says model %q version %d", layout.Version(key, n), v.Name, v.Version)
		}
		if n > m.LatestVersion {
			problem("bad-manifest", "version %d is above latestVersion %d", n, m.LatestVersion)
		}
		if _, ok := stages.Canonical(v.Stage); !ok {
			problem("bad-manifest", "version %d is in stage %q, which is not one of %s", n, v.Stage, stages)
		}
	}
	for _, a := range sortedAliases(m.Aliases) {
		if mv.versions[m.Aliases[a]] == nil {
			problem("bad-manifest", "alias %s points at version %d, which does not exist", a, m.Aliases[a])
		}
	}
	for _, n := range sortedVersionKeys(mv.versions) {
		v := mv.versions[n]
		tv := st.Versions[n]
		switch {
		case tv == nil:
			problem("missing-tag", "version %d has no registration tag %s@v%d; run mlgit tags sync", n, key, n)
			continue
		case tv.Deleted:
			problem("deregistered", "version %d has a manifest but tag %s@v%d! says it was deleted", n, key, n)
			continue
		}
		if want := StageLabel(v.Stage); tv.Stage != want {
			problem("stage", "version %d is %s in its manifest but %s by its tags; run mlgit tags sync", n, v.Stage, tv.Stage)
		}
	}
	for _, tv := range st.Live() {
		if mv.versions[tv.Version] != nil {
			continue
		}
		if tv.Version > m.LatestVersion {
			problem("ahead", "tag %s names a version above latestVersion %d; pull the branch", tv.Tag, m.LatestVersion)
		} else {
			problem("not-deregistered", "version %d was deleted but tag %s is live; run mlgit tags sync", tv.Version, tv.Tag)
		}
	}
	for _, a := range sortedAliases(m.Aliases) {
		if got, ok := st.Aliases[a]; !ok {
			problem("alias", "alias %s -> v%d in model.yaml has no tag; run mlgit tags sync", a, m.Aliases[a])
		} else if got != m.Aliases[a] {
			problem("alias", "alias %s is v%d in model.yaml but v%d by its tags; run mlgit tags sync", a, m.Aliases[a], got)
		}
	}
	for _, a := range sortedAliases(st.Aliases) {
		if _, ok := m.Aliases[a]; !ok {
			problem("alias", "alias %s -> v%d by its tags is not in model.yaml; run mlgit tags sync", a, st.Aliases[a])
		}
	}
	return nil
}

func sortedVersionKeys(m map[int64]*manifest.ModelVersion) []int64 {
	out := make([]int64, 0, len(m))
	for n := range m {
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}
