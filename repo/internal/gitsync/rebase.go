package gitsync

import (
	"bytes"
	"fmt"
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/registry"
	"gopkg.in/yaml.v3"
)

// This file re-applies local, unpushed commits of the tracking branch onto a
// remote tip (docs/sharing.md, "Pull"). Runs, experiments and logged models
// have random ids, so their paths are disjoint between clones and their
// changes re-apply as they are. Model versions are numbered per model, so
// two clones can register the same number: the unpushed one is renumbered to
// the next free number, and every later local reference to it (its manifest,
// aliases in model.yaml, tag names and messages) follows. A file that both
// sides changed is merged field by field, the local change winning where
// both changed the same field, as if it were made after the remote's.
//
// Experiment names are unique, but two clones can each create an
// experiment of one name under different ids. The remote's wins: the
// local experiment is merged into it (its creation is dropped, its later
// changes apply to the remote's), and every local run and logged model of
// it moves to the remote's id. Which id survives does not depend on who
// pulls: the one pushed first is on the remote.

// fileChange is one file that differs between two trees (zero hash: absent).
type fileChange struct {
	path     string
	old, new plumbing.Hash
}

// diffFiles lists the files that differ between two trees, reading only
// the subtrees whose hashes differ.
func (s *Store) diffFiles(tc gitobj.TreeCache, oldT, newT plumbing.Hash, dir string, out []fileChange) ([]fileChange, error) {
	if oldT == newT {
		return out, nil
	}
	var oldEs, newEs []object.TreeEntry
	var err error
	if !oldT.IsZero() {
		if oldEs, err = s.Branch.DB.CachedTree(tc, oldT); err != nil {
			return nil, err
		}
	}
	if !newT.IsZero() {
		if newEs, err = s.Branch.DB.CachedTree(tc, newT); err != nil {
			return nil, err
		}
	}
	type pair struct{ o, n object.TreeEntry }
	byName := map[string]*pair{}
	for _, e := range oldEs {
		byName[e.Name] = &pair{o: e}
	}
	for _, e := range newEs {
		if p, ok := byName[e.Name]; ok {
			p.n = e
		} else {
			byName[e.Name] = &pair{n: e}
		}
	}
	names := make([]string, 0, len(byName))
	for n := range byName {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, name := range names {
		p := byName[name]
		if p.o.Hash == p.n.Hash && p.o.Mode == p.n.Mode {
			continue
		}
		full := name
		if dir != "" {
			full = dir + "/" + name
		}
		var oldSub, newSub, oldFile, newFile plumbing.Hash
		if !p.o.Hash.IsZero() {
			if p.o.Mode == filemode.Dir {
				oldSub = p.o.Hash
			} else {
				oldFile = p.o.Hash
			}
		}
		if !p.n.Hash.IsZero() {
			if p.n.Mode == filemode.Dir {
				newSub = p.n.Hash
			} else {
				newFile = p.n.Hash
			}
		}
		if oldFile != newFile {
			out = append(out, fileChange{path: full, old: oldFile, new: newFile})
		}
		if oldSub != newSub {
			if out, err = s.diffFiles(tc, oldSub, newSub, full, out); err != nil {
				return nil, err
			}
		}
	}
	return out, nil
}

// renumbering maps local version numbers to the numbers they get on the
// remote's history, per model key.
type renumbering map[string]map[int64]int64

func (rn renumbering) version(key string, n int64) int64 {
	if m, ok := rn[key][n]; ok {
		return m
	}
	return n
}

// expMerge maps local experiment ids to the remote's experiment of the same
// name that they were merged into.
type expMerge map[string]string

// ExperimentMerge is a local experiment merged into the remote's experiment
// of the same name.
type ExperimentMerge struct {
	Name string `json:"name"`
	From string `json:"from"` // the local id, gone
	To   string `json:"to"`   // the remote's id
}

// Renumbered is one model version that got a new number because another
// clone pushed the same number first.
type Renumbered struct {
	Model string `json:"model"`
	From  int64  `json:"from"`
	To    int64  `json:"to"`
}

// replay re-applies commits (oldest first, each against its first parent)
// on top of onto. It returns the new tip, the old → new commit map (a
// commit whose change was already there maps to the tip it found) and the
// version renumbering.
func (s *Store) replay(onto plumbing.Hash, commits []plumbing.Hash, em expMerge) (plumbing.Hash, map[plumbing.Hash]plumbing.Hash, renumbering, error) {
	tip := onto
	moved := map[plumbing.Hash]plumbing.Hash{}
	rn := renumbering{}
	tc := gitobj.TreeCache{}
	for _, h := range commits {
		c, err := s.Branch.DB.ReadCommit(h)
		if err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		var parentTree plumbing.Hash
		if len(c.ParentHashes) > 0 {
			pc, err := s.Branch.DB.ReadCommit(c.ParentHashes[0])
			if err != nil {
				return plumbing.ZeroHash, nil, nil, err
			}
			parentTree = pc.TreeHash
		}
		changes, err := s.diffFiles(tc, parentTree, c.TreeHash, "", nil)
		if err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		tx, err := s.Branch.DB.NewTx(tip)
		if err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		tx.ShareTrees(tc)
		if err := s.allocateVersions(tx, changes, rn); err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		if err := s.mergeExperiments(tx, changes, em); err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		for _, ch := range changes {
			if err := s.reapply(tx, ch, rn, em); err != nil {
				return plumbing.ZeroHash, nil, nil, fmt.Errorf("re-apply commit %s (%s) on %s: %w", short(h.String()), firstLine(c.Message), short(tip.String()), err)
			}
		}
		if !tx.Changed() {
			moved[h] = tip
			continue
		}
		nc, err := tx.CommitAs(c.Author, s.Branch.Sign(), renumberMessage(c.Message, rn))
		if err != nil {
			return plumbing.ZeroHash, nil, nil, err
		}
		moved[h] = nc
		tip = nc
	}
	return tip, moved, rn, nil
}

func firstLine(s string) string {
	line, _, _ := strings.Cut(s, "\n")
	return line
}

// allocateVersions gives every version file that the changes add a number
// that is free on the tip: its own when free, else one past the highest
// number the model has issued there.
func (s *Store) allocateVersions(tx *gitobj.Tx, changes []fileChange, rn renumbering) error {
	for _, ch := range changes {
		key, n, ok := layout.ParseVersion(ch.path)
		if !ok || !ch.old.IsZero() || ch.new.IsZero() {
			continue
		}
		if _, done := rn[key][n]; done {
			continue
		}
		highest, err := s.highestVersion(tx, key)
		if err != nil {
			return err
		}
		if n <= highest {
			if rn[key] == nil {
				rn[key] = map[int64]int64{}
			}
			rn[key][n] = highest + 1
			// The model.yaml merge raises latestVersion; until then the
			// next allocation must see this number as taken.
			tx.Write(layout.Version(key, highest+1), nil)
		}
	}
	return nil
}

// highestVersion is the highest version number a model has issued on the
// transaction's tree: its latestVersion, or a higher version file.
func (s *Store) highestVersion(tx *gitobj.Tx, key string) (int64, error) {
	var highest int64
	data, ok, err := tx.Read(layout.Model(key))
	if err != nil {
		return 0, err
	}
	if ok {
		if m, err := manifest.DecodeRegisteredModel(data); err == nil {
			highest = m.LatestVersion
		}
	}
	names, err := tx.List(layout.VersionsDir(key))
	if err != nil {
		return 0, err
	}
	for _, name := range names {
		if n, ok := registry.ParsePositive(strings.TrimSuffix(name, ".yaml")); ok && n > highest {
			highest = n
		}
	}
	return highest, nil
}

// mergeExperiments finds the experiments the changes create under a name
// that another experiment has on the tip, and maps them to it.
func (s *Store) mergeExperiments(tx *gitobj.Tx, changes []fileChange, em expMerge) error {
	var byName map[string]string
	for _, ch := range changes {
		id, ok := experimentOf(ch.path)
		if !ok || !ch.old.IsZero() || ch.new.IsZero() || em[id] != "" {
			continue
		}
		data, err := s.Branch.DB.ReadObject(plumbing.BlobObject, ch.new)
		if err != nil {
			return err
		}
		e, err := manifest.DecodeExperiment(data)
		if err != nil {
			continue // re-applied as is; check reports it
		}
		if byName == nil {
			if byName, err = experimentNames(tx); err != nil {
				return err
			}
		}
		if other, ok := byName[e.Name]; ok && other != id {
			em[id] = other
		}
	}
	return nil
}

// experimentOf returns the id of experiments/<id>/experiment.yaml.
func experimentOf(p string) (string, bool) {
	rest, ok := strings.CutPrefix(p, layout.Experiments+"/")
	if !ok {
		return "", false
	}
	id, file, ok := strings.Cut(rest, "/")
	return id, ok && file == "experiment.yaml"
}

// experimentNames maps the names of the experiments on tx's tree to ids.
func experimentNames(tx *gitobj.Tx) (map[string]string, error) {
	ids, err := tx.List(layout.Experiments)
	if err != nil {
		return nil, err
	}
	out := make(map[string]string, len(ids))
	for _, id := range ids {
		id = strings.TrimSuffix(id, "/") // List marks folders so
		data, ok, err := tx.Read(layout.Experiment(id))
		if err != nil {
			return nil, err
		}
		if !ok {
			continue
		}
		if e, err := manifest.DecodeExperiment(data); err == nil {
			out[e.Name] = id
		}
	}
	return out, nil
}

// reapply applies one file change of a local commit to tx, whose base is
// the new tip.
func (s *Store) reapply(tx *gitobj.Tx, ch fileChange, rn renumbering, em expMerge) error {
	target := ch.path
	key, n, isVersion := layout.ParseVersion(ch.path)
	if isVersion {
		target = layout.Version(key, rn.version(key, n))
	}
	if id, ok := experimentOf(ch.path); ok && em[id] != "" {
		if ch.old.IsZero() {
			return nil // the creation: the remote's experiment stands
		}
		target = layout.Experiment(em[id])
	}
	mkey, isModel := layout.ParseModel(ch.path)
	needsRewrite := (isVersion && len(rn[key]) > 0) || (isModel && len(rn[mkey]) > 0) || len(em) > 0
	base, err := s.localContent(ch.path, ch.old, rn, em, needsRewrite)
	if err != nil {
		return err
	}
	theirs, err := s.localContent(ch.path, ch.new, rn, em, needsRewrite)
	if err != nil {
		return err
	}
	e, found, err := s.Branch.DB.Lookup(tx.Trees(), tx.BaseTree(), target)
	if err != nil {
		return err
	}
	var ours []byte
	if c, pending := tx.Pending(target); pending && c.Data != nil {
		ours, found = c.Data, true
	} else if found {
		if ours, err = s.Branch.DB.ReadObject(plumbing.BlobObject, e.Hash); err != nil {
			return err
		}
	}
	switch {
	case !found && base == nil, found && base != nil && bytes.Equal(ours, base):
		// Unchanged on the remote's side: take the local change.
		if theirs == nil {
			tx.Delete(target)
		} else if !needsRewrite {
			tx.WriteBlob(target, ch.new)
		} else {
			tx.Write(target, theirs)
		}
		return nil
	case found && theirs != nil && bytes.Equal(ours, theirs), !found && theirs == nil:
		return nil // the remote made the same change
	}
	// Both sides changed the file.
	if isSegment(ch.path) && base == nil && theirs != nil {
		// Two clones checkpointed the same run: the local segment takes
		// the next free sequence number.
		return s.appendSegment(tx, target, theirs)
	}
	if theirs == nil {
		tx.Delete(target) // a local deletion wins
		return nil
	}
	if !strings.HasSuffix(ch.path, ".yaml") {
		return fmt.Errorf("%w: both this clone and the remote changed %s; merge it by hand (git merge), then push", gitobj.ErrConflict, ch.path)
	}
	merged, err := mergeManifest(ch.path, base, ours, theirs)
	if err != nil {
		return fmt.Errorf("%w: both this clone and the remote changed %s and they do not merge: %v", gitobj.ErrConflict, ch.path, err)
	}
	tx.Write(target, merged)
	return nil
}

// localContent reads a blob of the local history, rewritten to the remote's
// version numbers and experiment ids when needed (nil for the zero hash).
func (s *Store) localContent(p string, h plumbing.Hash, rn renumbering, em expMerge, rewrite bool) ([]byte, error) {
	if h.IsZero() {
		return nil, nil
	}
	data, err := s.Branch.DB.ReadObject(plumbing.BlobObject, h)
	if err != nil || !rewrite {
		return data, err
	}
	if len(em) > 0 {
		if out, ok := rewriteExperiment(p, data, em); ok {
			return out, nil
		}
	}
	if key, _, ok := layout.ParseVersion(p); ok {
		v, err := manifest.DecodeModelVersion(data)
		if err != nil {
			return data, nil // merged or refused later, as is
		}
		v.Version = rn.version(key, v.Version)
		return v.Encode(), nil
	}
	if key, ok := layout.ParseModel(p); ok {
		m, err := manifest.DecodeRegisteredModel(data)
		if err != nil {
			return data, nil
		}
		for a, n := range m.Aliases {
			m.Aliases[a] = rn.version(key, n)
		}
		m.LatestVersion = rn.version(key, m.LatestVersion)
		return m.Encode(), nil
	}
	return data, nil
}

// rewriteExperiment moves a run, logged model or experiment manifest of a
// merged experiment to the remote's id (ok false: nothing to rewrite).
func rewriteExperiment(p string, data []byte, em expMerge) ([]byte, bool) {
	switch {
	case strings.HasPrefix(p, layout.Runs+"/") && strings.HasSuffix(p, "/run.yaml"):
		r, err := manifest.DecodeRun(data)
		if err != nil || em[r.ExperimentID] == "" {
			return nil, false
		}
		from, to := r.ExperimentID, em[r.ExperimentID]
		r.ExperimentID = to
		r.ArtifactURI = movedURI(r.ArtifactURI, from, to)
		return r.Encode(), true
	case strings.HasPrefix(p, layout.LoggedModels+"/"):
		m, err := manifest.DecodeLoggedModel(data)
		if err != nil || em[m.ExperimentID] == "" {
			return nil, false
		}
		from, to := m.ExperimentID, em[m.ExperimentID]
		m.ExperimentID = to
		m.ArtifactLocation = movedURI(m.ArtifactLocation, from, to)
		return m.Encode(), true
	}
	if id, ok := experimentOf(p); ok && em[id] != "" {
		e, err := manifest.DecodeExperiment(data)
		if err != nil {
			return nil, false
		}
		e.ID = em[id]
		return e.Encode(), true
	}
	return nil, false
}

// movedURI is an mlflow-artifacts:/<exp>/... location under another
// experiment id.
func movedURI(u, from, to string) string {
	if rest, ok := strings.CutPrefix(u, "mlflow-artifacts:/"+from+"/"); ok {
		return "mlflow-artifacts:/" + to + "/" + rest
	}
	return u
}

func isSegment(p string) bool {
	return strings.HasPrefix(p, layout.Runs+"/") && path.Base(path.Dir(p)) == "metrics" && strings.HasSuffix(p, ".tsv")
}

// appendSegment stores a metric segment under the next free sequence
// number of its directory.
func (s *Store) appendSegment(tx *gitobj.Tx, p string, data []byte) error {
	dir := path.Dir(p)
	names, err := tx.List(dir)
	if err != nil {
		return err
	}
	var highest int64
	for _, n := range names {
		if v, err := strconv.ParseInt(strings.TrimSuffix(n, ".tsv"), 10, 64); err == nil && v > highest {
			highest = v
		}
	}
	tx.Write(fmt.Sprintf("%s/%06d.tsv", dir, highest+1), data)
	return nil
}

// mergeManifest merges a manifest that both sides changed: field by field
// from the common base, the local side winning where both changed the same
// field; maps merge key by key. The result must decode strictly and is
// re-encoded canonically. A model's latestVersion is the larger of both.
// When both sides added the file, the remote's fields win instead.
func mergeManifest(p string, base, ours, theirs []byte) ([]byte, error) {
	var b, o, t any
	if base != nil {
		if err := yaml.Unmarshal(base, &b); err != nil {
			return nil, err
		}
	}
	if err := yaml.Unmarshal(ours, &o); err != nil {
		return nil, fmt.Errorf("remote side: %v", err)
	}
	if err := yaml.Unmarshal(theirs, &t); err != nil {
		return nil, fmt.Errorf("local side: %v", err)
	}
	var merged any
	if base != nil {
		merged, _ = merge3(b, o, t, true, true, true)
	} else {
		// Both added it (two clones created the same model, or both ran
		// mlgit init): the remote's copy came first, so its fields win
		// and the local one only adds keys.
		merged, _ = merge3(nil, t, o, false, true, true)
	}
	data, err := yaml.Marshal(merged)
	if err != nil {
		return nil, err
	}
	kind := ""
	if m, ok := merged.(map[string]any); ok {
		kind, _ = m["kind"].(string)
	}
	switch kind {
	case manifest.KindRun:
		v, err := manifest.DecodeRun(data)
		if err != nil {
			return nil, err
		}
		return v.Encode(), nil
	case manifest.KindExperiment:
		v, err := manifest.DecodeExperiment(data)
		if err != nil {
			return nil, err
		}
		return v.Encode(), nil
	case manifest.KindRegisteredModel:
		v, err := manifest.DecodeRegisteredModel(data)
		if err != nil {
			return nil, err
		}
		om, err1 := manifest.DecodeRegisteredModel(ours)
		tm, err2 := manifest.DecodeRegisteredModel(theirs)
		if err1 == nil && err2 == nil {
			v.LatestVersion = max(om.LatestVersion, tm.LatestVersion)
		}
		return v.Encode(), nil
	case manifest.KindModelVersion:
		v, err := manifest.DecodeModelVersion(data)
		if err != nil {
			return nil, err
		}
		return v.Encode(), nil
	case manifest.KindLoggedModel:
		v, err := manifest.DecodeLoggedModel(data)
		if err != nil {
			return nil, err
		}
		return v.Encode(), nil
	case manifest.KindConfig:
		v, err := manifest.DecodeConfig(data)
		if err != nil {
			return nil, err
		}
		return v.Encode(), nil
	}
	return nil, fmt.Errorf("%s is not an mlgit manifest", p)
}

// merge3 merges one YAML value; has* say whether the value exists on that
// side. Maps merge key by key; anything else takes the changed side, the
// local (theirs) one when both changed.
func merge3(base, ours, theirs any, hasBase, hasOurs, hasTheirs bool) (any, bool) {
	same := func(x, y any, hx, hy bool) bool { return hx == hy && (!hx || reflect.DeepEqual(x, y)) }
	if same(base, theirs, hasBase, hasTheirs) {
		return ours, hasOurs
	}
	if same(base, ours, hasBase, hasOurs) || same(ours, theirs, hasOurs, hasTheirs) {
		return theirs, hasTheirs
	}
	om, ok1 := ours.(map[string]any)
	tm, ok2 := theirs.(map[string]any)
	if !ok1 || !ok2 {
		return theirs, hasTheirs
	}
	bm, _ := base.(map[string]any)
	out := map[string]any{}
	keys := map[string]bool{}
	for k := range om {
		keys[k] = true
	}
	for k := range tm {
		keys[k] = true
	}
	for k := range bm {
		keys[k] = true
	}
	for k := range keys {
		bv, hb := bm[k]
		ov, ho := om[k]
		tv, ht := tm[k]
		if v, ok := merge3(bv, ov, tv, hb, ho, ht); ok {
			out[k] = v
		}
	}
	return out, true
}

// renumberMessage rewrites the version number of a commit message whose
// Mlgit-Model and Mlgit-Version trailers name a renumbered version, in the
// trailer and in the subject ("churn v2 -> Production").
func renumberMessage(msg string, rn renumbering) string {
	if len(rn) == 0 {
		return msg
	}
	lines := strings.Split(msg, "\n")
	var key string
	var n int64
	vline := -1
	for i, l := range lines {
		if v, ok := strings.CutPrefix(l, "Mlgit-Model: "); ok {
			key = registry.ModelKey(strings.TrimSpace(v))
		}
		if v, ok := strings.CutPrefix(l, "Mlgit-Version: "); ok {
			n, _ = registry.ParsePositive(strings.TrimSpace(v))
			vline = i
		}
	}
	m, ok := rn[key][n]
	if !ok || vline < 0 {
		return msg
	}
	lines[vline] = fmt.Sprintf("Mlgit-Version: %d", m)
	old, nw := fmt.Sprintf("v%d", n), fmt.Sprintf("v%d", m)
	words := strings.Split(lines[0], " ")
	for i, w := range words {
		if w == old {
			words[i] = nw
		}
	}
	lines[0] = strings.Join(words, " ")
	return strings.Join(lines, "\n")
}
