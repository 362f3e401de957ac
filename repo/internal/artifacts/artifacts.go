package artifacts

import (
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

// Which blobs does the tracking branch need? Artifacts live in the blob
// store; manifests on the branch name them by digest. The functions of package repo
// answer that question for what a command asks about, at a cost that
// follows the question: one run reads one manifest (and that run's pending
// journal records); one commit reads the manifests of its tree; a range
// A..B reads only the manifests that the range's commits changed; the
// whole history (for blob gc) reads each distinct manifest version once,
// skipping subtrees already seen.
//
// Four kinds of manifest reference blobs:
//
//	runs/<xx>/<run-id>/run.yaml                 run artifacts
//	runs/<xx>/<run-id>/metric-blobs/<seq>.yaml  metric history kept in the blob store
//	models/<key>/versions/<n>.yaml              model version files
//	logged-models/<xx>/<model-id>/model.yaml    MLflow 3 logged models

// Objects is what the walks read of the repository; *gitobj.DB implements
// it.
type Objects interface {
	ReadObject(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error)
	ReadTree(h plumbing.Hash) ([]object.TreeEntry, error)
	ReadCommit(h plumbing.Hash) (*object.Commit, error)
	RangeCommits(from, to plumbing.Hash) ([]plumbing.Hash, error)
}

// Ref is one reference from a manifest to a blob.
type Ref struct {
	// Digest is the blob's "sha256:<hex>".
	Digest string `json:"digest"`
	// Size is the size the manifest records, in bytes.
	Size int64 `json:"size"`
	// Owner names the manifest: "run <id>", "model <name> v<n>" or
	// "logged-model <id>".
	Owner string `json:"owner"`
	// Path is the artifact's path inside its owner.
	Path string `json:"path"`
}

// String describes the reference for messages: "run 3f2a… model.bin".
func (a Ref) String() string { return a.Owner + " " + a.Path }

// Digests returns the distinct digests of refs, sorted.
func Digests(refs []Ref) []string {
	seen := make(map[string]bool, len(refs))
	var out []string
	for _, a := range refs {
		if !seen[a.Digest] {
			seen[a.Digest] = true
			out = append(out, a.Digest)
		}
	}
	sort.Strings(out)
	return out
}

// Kind tells which kind of manifest lives at slash path p, if any:
// "run", "version", "logged-model", "metric-blob" or "".
func Kind(p string) string {
	parts := strings.Split(p, "/")
	if len(parts) == 5 && layout.IsSegmentBlob(p) {
		return "metric-blob"
	}
	if len(parts) != 4 {
		return ""
	}
	switch {
	case parts[0] == layout.Runs && parts[3] == "run.yaml":
		return "run"
	case parts[0] == layout.LoggedModels && parts[3] == "model.yaml":
		return "logged-model"
	case parts[0] == layout.Models && parts[2] == "versions" && versionFileRe.MatchString(parts[3]):
		return "version"
	}
	return ""
}

var versionFileRe = regexp.MustCompile(`^[1-9][0-9]*\.yaml$`)

// manifestRoots are the top-level folders that hold manifests with
// artifacts; tree walks descend into nothing else.
var manifestRoots = map[string]bool{layout.Runs: true, layout.Models: true, layout.LoggedModels: true}

// FromManifest decodes the manifest at p and returns its artifact
// references. A manifest without the word "artifacts" is not decoded.
func FromManifest(p string, data []byte) ([]Ref, error) {
	kind := Kind(p)
	if kind == "metric-blob" {
		m, err := manifest.DecodeMetricBlob(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		return []Ref{{Digest: m.Digest, Size: m.Size, Owner: "run " + m.Run, Path: fmt.Sprintf("metric history segment %d", m.Segment)}}, nil
	}
	if !bytes.Contains(data, []byte("artifacts")) {
		return nil, nil
	}
	var owner string
	var arts []manifest.Artifact
	switch kind {
	case "run":
		doc, err := manifest.DecodeRun(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		owner, arts = "run "+doc.ID, doc.Artifacts
	case "version":
		doc, err := manifest.DecodeModelVersion(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		owner, arts = fmt.Sprintf("model %s v%d", doc.Name, doc.Version), doc.Artifacts
	case "logged-model":
		doc, err := manifest.DecodeLoggedModel(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		owner, arts = "logged-model "+doc.ID, doc.Artifacts
	default:
		return nil, nil
	}
	out := make([]Ref, len(arts))
	for i, a := range arts {
		out[i] = Ref{Digest: a.Digest, Size: a.Size, Owner: owner, Path: a.Path}
	}
	return out, nil
}

// manifestDigestRe finds digests in a manifest that does not decode (gc's fallback).
var manifestDigestRe = regexp.MustCompile(`sha256:[0-9a-f]{64}`)

// descend tells whether a walk enters folder name at path p, found depth
// levels below the root: the manifest roots, their shards and entries, and
// a run's metric-blobs folder (never its metrics folder, which holds only
// history kept in Git).
func descend(p, name string, depth int) bool {
	switch {
	case depth == 0:
		return manifestRoots[name]
	case depth < 3:
		return true
	case depth == 3:
		return name == layout.MetricBlobs && strings.HasPrefix(p, layout.Runs+"/")
	}
	return false
}

// walkManifests calls fn for every manifest file below tree root. Trees in
// seen (if not nil) are skipped, and every tree walked is added to it, so a
// walk over many commits reads each distinct tree once.
func walkManifests(objs Objects, root plumbing.Hash, seen map[plumbing.Hash]bool, fn func(p string, h plumbing.Hash) error) error {
	var walk func(tree plumbing.Hash, dir string, depth int) error
	walk = func(tree plumbing.Hash, dir string, depth int) error {
		if seen != nil {
			if seen[tree] {
				return nil
			}
			seen[tree] = true
		}
		es, err := objs.ReadTree(tree)
		if err != nil {
			return err
		}
		for _, e := range es {
			p := e.Name
			if dir != "" {
				p = dir + "/" + e.Name
			}
			switch {
			case e.Mode == filemode.Dir:
				if !descend(p, e.Name, depth) {
					continue
				}
				if err := walk(e.Hash, p, depth+1); err != nil {
					return err
				}
			case depth >= 3 && e.Mode.IsFile() && Kind(p) != "":
				if err := fn(p, e.Hash); err != nil {
					return err
				}
			}
		}
		return nil
	}
	if root.IsZero() {
		return nil
	}
	return walk(root, "", 0)
}

// diffManifests calls fn for every manifest file of tree newRoot that is
// absent from oldRoot or differs from it, descending only into subtrees
// whose ids differ.
func diffManifests(objs Objects, oldRoot, newRoot plumbing.Hash, fn func(p string, h plumbing.Hash) error) error {
	var diff func(oldT, newT plumbing.Hash, dir string, depth int) error
	diff = func(oldT, newT plumbing.Hash, dir string, depth int) error {
		if oldT == newT {
			return nil
		}
		if oldT.IsZero() {
			return walkSub(objs, newT, dir, depth, fn)
		}
		oldEs, err := objs.ReadTree(oldT)
		if err != nil {
			return err
		}
		newEs, err := objs.ReadTree(newT)
		if err != nil {
			return err
		}
		old := make(map[string]object.TreeEntry, len(oldEs))
		for _, e := range oldEs {
			old[e.Name] = e
		}
		for _, e := range newEs {
			p := e.Name
			if dir != "" {
				p = dir + "/" + e.Name
			}
			o, had := old[e.Name]
			if had && o.Hash == e.Hash && o.Mode == e.Mode {
				continue
			}
			switch {
			case e.Mode == filemode.Dir:
				if !descend(p, e.Name, depth) {
					continue
				}
				var sub plumbing.Hash
				if had && o.Mode == filemode.Dir {
					sub = o.Hash
				}
				if err := diff(sub, e.Hash, p, depth+1); err != nil {
					return err
				}
			case depth >= 3 && e.Mode.IsFile() && Kind(p) != "":
				if err := fn(p, e.Hash); err != nil {
					return err
				}
			}
		}
		return nil
	}
	return diff(oldRoot, newRoot, "", 0)
}

// walkSub walks the subtree tree found at dir (depth levels below the root).
func walkSub(objs Objects, tree plumbing.Hash, dir string, depth int, fn func(p string, h plumbing.Hash) error) error {
	if depth == 0 {
		return walkManifests(objs, tree, nil, fn)
	}
	es, err := objs.ReadTree(tree)
	if err != nil {
		return err
	}
	for _, e := range es {
		p := dir + "/" + e.Name
		switch {
		case e.Mode == filemode.Dir && descend(p, e.Name, depth):
			if err := walkSub(objs, e.Hash, p, depth+1, fn); err != nil {
				return err
			}
		case depth >= 3 && e.Mode.IsFile() && Kind(p) != "":
			if err := fn(p, e.Hash); err != nil {
				return err
			}
		}
	}
	return nil
}

// readManifestRefs reads the manifest blob h found at p and returns its
// references.
func readManifestRefs(objs Objects, p string, h plumbing.Hash) ([]Ref, error) {
	data, err := objs.ReadObject(plumbing.BlobObject, h)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", p, err)
	}
	return FromManifest(p, data)
}

// Tree returns the references of every manifest in a commit's tree.
func Tree(objs Objects, commit plumbing.Hash) ([]Ref, error) {
	if commit.IsZero() {
		return nil, nil
	}
	c, err := objs.ReadCommit(commit)
	if err != nil {
		return nil, err
	}
	var out []Ref
	err = walkManifests(objs, c.TreeHash, nil, func(p string, h plumbing.Hash) error {
		refs, err := readManifestRefs(objs, p, h)
		if err != nil {
			return fmt.Errorf("commit %s: %w", short(commit.String()), err)
		}
		out = append(out, refs...)
		return nil
	})
	return out, err
}

// FromJournal returns the references that pending journal records add.
func FromJournal(ops []journal.Op) []Ref {
	var out []Ref
	add := func(run string, arts []manifest.Artifact) {
		for _, a := range arts {
			out = append(out, Ref{Digest: a.Digest, Size: a.Size, Owner: "run " + run, Path: a.Path})
		}
	}
	for _, o := range ops {
		switch {
		case o.Op == journal.OpArtifacts:
			add(o.Run, o.Artifacts)
		case o.Op == journal.OpCreate && o.Doc != nil:
			add(o.Run, o.Doc.Artifacts)
		}
	}
	return out
}

// FromArtifacts returns the references of arts, owned by owner ("run <id>",
// "model <name> v<n>").
func FromArtifacts(owner string, arts []manifest.Artifact) []Ref {
	out := make([]Ref, len(arts))
	for i, a := range arts {
		out[i] = Ref{Digest: a.Digest, Size: a.Size, Owner: owner, Path: a.Path}
	}
	return out
}

// Range returns the references of the manifests that the commits reachable
// from to but not from from added or changed (each commit compared with its
// first parent), as git rev-list from..to. It reads only changed manifests.
func Range(objs Objects, fh, th plumbing.Hash) ([]Ref, error) {
	commits, err := objs.RangeCommits(fh, th)
	if err != nil {
		return nil, err
	}
	var out []Ref
	seen := map[plumbing.Hash]bool{}
	for _, h := range commits {
		c, err := objs.ReadCommit(h)
		if err != nil {
			return nil, err
		}
		var parentTree plumbing.Hash
		if len(c.ParentHashes) > 0 {
			pc, err := objs.ReadCommit(c.ParentHashes[0])
			if err != nil {
				return nil, err
			}
			parentTree = pc.TreeHash
		}
		err = diffManifests(objs, parentTree, c.TreeHash, func(p string, bh plumbing.Hash) error {
			if seen[bh] {
				return nil
			}
			seen[bh] = true
			refs, err := readManifestRefs(objs, p, bh)
			if err != nil {
				return fmt.Errorf("commit %s: %w", short(h.String()), err)
			}
			out = append(out, refs...)
			return nil
		})
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// History returns seed and the references of every manifest reachable from
// roots (commits), each digest once; each distinct tree and manifest version
// is read once. A manifest that no longer decodes is scanned for anything
// that looks like a digest instead (keeping too much is safe), and a
// warning says so.
func History(objs Objects, roots []plumbing.Hash, seed []Ref) (refs []Ref, warnings []string, err error) {
	seenDigest := map[string]bool{}
	add := func(a Ref) {
		if !seenDigest[a.Digest] {
			seenDigest[a.Digest] = true
			refs = append(refs, a)
		}
	}
	for _, a := range seed {
		add(a)
	}
	seenCommit := map[plumbing.Hash]bool{}
	seenTree := map[plumbing.Hash]bool{}
	seenBlob := map[plumbing.Hash]bool{}
	queue := append([]plumbing.Hash(nil), roots...)
	for len(queue) > 0 {
		h := queue[len(queue)-1]
		queue = queue[:len(queue)-1]
		if seenCommit[h] {
			continue
		}
		seenCommit[h] = true
		c, err := objs.ReadCommit(h)
		if err != nil {
			return nil, nil, err
		}
		queue = append(queue, c.ParentHashes...)
		err = walkManifests(objs, c.TreeHash, seenTree, func(p string, bh plumbing.Hash) error {
			if seenBlob[bh] {
				return nil
			}
			seenBlob[bh] = true
			data, err := objs.ReadObject(plumbing.BlobObject, bh)
			if err != nil {
				return fmt.Errorf("read %s at %s: %w", p, short(h.String()), err)
			}
			mrefs, err := FromManifest(p, data)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("commit %s: %v; keeping every digest it mentions", short(h.String()), err))
				for _, d := range manifestDigestRe.FindAll(data, -1) {
					add(Ref{Digest: string(d), Owner: "undecodable " + p})
				}
				return nil
			}
			for _, a := range mrefs {
				add(a)
			}
			return nil
		})
		if err != nil {
			return nil, nil, err
		}
	}
	return refs, warnings, nil
}

func short(id string) string {
	if len(id) > 8 {
		return id[:8]
	}
	return id
}
