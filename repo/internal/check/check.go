package check

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/hooks"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/registry"
)

// Kinds of Problem, beside the hooks' (hooks.ProblemManifest, ...).
const (
	ProblemManifest = hooks.ProblemManifest // does not decode, breaks a rule, not canonical, or in the wrong place
	ProblemConfig   = "config"              // mlgit.yaml: the promotion policy does not apply
	ProblemPolicy   = "policy"              // a stage change the promotion policy refuses
	ProblemBlob     = "blob"                // a referenced blob that is not where blobs must be
	ProblemSegment  = "segment"             // a metric-history segment that does not parse or was rewritten
)

// Problem is one thing wrong in a change: the hooks' problem type, so
// mlgit check and the pre-commit and pre-push hooks report alike.
type Problem = hooks.Problem

// StageChange is a version whose stage differs between the merge base and
// head.
type StageChange struct {
	Model   string `json:"model"`
	Version int64  `json:"version"`
	From    string `json:"from"`
	To      string `json:"to"`
	Path    string `json:"path"`
	// Allowed says the promotion policy accepts the change.
	Allowed bool `json:"allowed"`
}

// Report is the outcome of a check (Run).
type Report struct {
	// BaseRef and HeadRef are the revisions compared, as given or chosen.
	BaseRef string `json:"base_ref"`
	HeadRef string `json:"head_ref"`
	Base    string `json:"base"`
	Head    string `json:"head"`
	// MergeBase is the commit head's changes are taken relative to; ""
	// when base and head share no history (every file of head is checked).
	MergeBase string `json:"merge_base"`
	// Files counts the files head adds or changes; Deleted those it
	// removes; Manifests the manifests among Files.
	Files        int           `json:"files"`
	Deleted      int           `json:"deleted"`
	Manifests    int           `json:"manifests"`
	StageChanges []StageChange `json:"stage_changes"`
	// Blobs counts the distinct blobs referenced by the changed manifests;
	// BlobStore says where their presence was checked ("" when it was not).
	Blobs     int    `json:"blobs"`
	BlobStore string `json:"blob_store,omitempty"`
	// PolicyFrom names the commit whose mlgit.yaml supplied the policy.
	PolicyFrom string    `json:"policy_from,omitempty"`
	Problems   []Problem `json:"problems"`
	Warnings   []string  `json:"warnings,omitempty"`
}

// OK reports whether the check found no problem.
func (rep *Report) OK() bool { return len(rep.Problems) == 0 }

// BlobChecker answers which blobs a store holds. cmd/mlgit adapts the blob
// package's Has to it.
type BlobChecker interface {
	// Location names the store for messages.
	Location() string
	// Has reports, for each digest ("sha256:<hex>"), whether the store
	// holds the whole file.
	Has(ctx context.Context, digests []string) (map[string]bool, error)
}

// Options configure a check: repo.Repo.Check resolves Base and Head and
// passes Blobs on in Input.
type Options struct {
	// Base and Head are revisions (repo.Repo.ResolveCommit); "" chooses the
	// defaults of repo.Repo.CheckRefs.
	Base, Head string
	// Blobs opens the store where referenced blobs must exist. It receives
	// mlgit.yaml as of head (for blobs.remote). nil: blobs are not checked.
	Blobs func(ctx context.Context, cfg *manifest.Config) (BlobChecker, error)
}

// Input is what Run compares: the revisions as named and the commits they
// resolve to.
type Input struct {
	BaseRef, HeadRef string
	Base, Head       plumbing.Hash
	// Blobs opens the store where referenced blobs must exist (nil: blobs
	// are not checked); see Options.
	Blobs func(ctx context.Context, cfg *manifest.Config) (BlobChecker, error)
	// Refs returns the blob references of the manifest at path p (run,
	// model version, logged model); nil for other files.
	Refs func(p string, data []byte) ([]Ref, error)
}

// Ref is one reference from a manifest to a blob.
type Ref struct {
	Digest string
	Size   int64
	// Path is the artifact's path inside the manifest's owner.
	Path string
}

// Objects is what a check reads of the repository; *gitobj.DB implements
// it.
type Objects interface {
	ReadObject(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error)
	ReadCommit(h plumbing.Hash) (*object.Commit, error)
	ReadPath(tc gitobj.TreeCache, root plumbing.Hash, p string) ([]byte, bool, error)
	DiffTrees(oldT, newT plumbing.Hash, dir string, fn func(gitobj.TreeChange) error) error
	MergeBase(a, b plumbing.Hash) (base plumbing.Hash, incomplete bool, err error)
}

// Run validates what in.Head changes relative to the merge base of in.Base
// and in.Head:
//   - every added or changed manifest decodes strictly, follows the rules,
//     is in canonical encoding (hooks.CheckManifest) and sits at the path
//     its content implies; metric segments parse and are never rewritten;
//   - a changed mlgit.yaml has a promotion policy that applies (stages
//     declared, require filters that parse);
//   - every version whose stage differs between the merge base and head
//     satisfies the promotion policy of base's mlgit.yaml (from the stage
//     at the merge base to the stage at head; review is what the pull
//     request is), so a pull request cannot relax the policy it is checked
//     against;
//   - every blob that the changed run, version and logged-model manifests
//     reference is present where in.Blobs says.
//
// Problems are in the report; the error is for what prevented checking.
func Run(ctx context.Context, objs Objects, in Input) (*Report, error) {
	baseRef, headRef, base, head := in.BaseRef, in.HeadRef, in.Base, in.Head
	rep := &Report{BaseRef: baseRef, HeadRef: headRef, StageChanges: []StageChange{}, Problems: []Problem{}}
	rep.Base, rep.Head = base.String(), head.String()
	mb, incomplete, err := objs.MergeBase(base, head)
	if err != nil {
		return nil, err
	}
	if incomplete {
		rep.Warnings = append(rep.Warnings, "the history is incomplete (a shallow clone?): the merge base may be wrong; fetch with --unshallow or fetch-depth: 0")
	}
	var mbTree plumbing.Hash
	if mb.IsZero() {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s and %s share no history: every file of %s is checked", baseRef, headRef, headRef))
	} else {
		rep.MergeBase = mb.String()
		c, err := objs.ReadCommit(mb)
		if err != nil {
			return nil, err
		}
		mbTree = c.TreeHash
	}
	hc, err := objs.ReadCommit(head)
	if err != nil {
		return nil, err
	}
	bc, err := objs.ReadCommit(base)
	if err != nil {
		return nil, err
	}
	ck := &checker{objs: objs, refsOf: in.Refs, rep: rep, headTree: hc.TreeHash, mbTree: mbTree, tc: gitobj.TreeCache{}}
	ck.headCfg = ck.config(hc.TreeHash, "head")
	ck.policyCfg = ck.config(bc.TreeHash, "base")
	rep.PolicyFrom = baseRef
	if ck.policyCfg == nil {
		ck.policyCfg, rep.PolicyFrom = ck.headCfg, headRef
	}
	// Say when head itself changes the policy (a moved base may have, too).
	before := ck.policyCfg
	if !mbTree.IsZero() {
		before = ck.config(mbTree, "")
	}
	if before != nil && ck.headCfg != nil && !reflect.DeepEqual(before.Promotion, ck.headCfg.Promotion) {
		rep.Warnings = append(rep.Warnings, fmt.Sprintf("%s changes the promotion policy: stage changes were checked against the policy of %s; the new one applies once merged", headRef, rep.PolicyFrom))
	}
	if ck.headCfg == nil {
		ck.headCfg = manifest.NewConfig()
	}
	var changes []gitobj.TreeChange
	err = objs.DiffTrees(mbTree, hc.TreeHash, "", func(c gitobj.TreeChange) error {
		changes = append(changes, c)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, c := range changes {
		if err := ck.file(c); err != nil {
			return nil, err
		}
	}
	if err := ck.blobs(ctx, in.Blobs); err != nil {
		return nil, err
	}
	sort.SliceStable(rep.Problems, func(i, j int) bool {
		if rep.Problems[i].Path != rep.Problems[j].Path {
			return rep.Problems[i].Path < rep.Problems[j].Path
		}
		return rep.Problems[i].Line < rep.Problems[j].Line
	})
	return rep, nil
}

// checker carries the state of one Check.
type checker struct {
	objs      Objects
	refsOf    func(p string, data []byte) ([]Ref, error)
	rep       *Report
	headTree  plumbing.Hash
	mbTree    plumbing.Hash
	tc        gitobj.TreeCache
	headCfg   *manifest.Config
	policyCfg *manifest.Config
	// refs are the blob references of the changed manifests, with the
	// manifest bytes for line numbers.
	refs []checkRef
}

type checkRef struct {
	Ref
	path string
	data []byte
}

func (ck *checker) problem(p string, line int, kind, format string, args ...any) {
	ck.rep.Problems = append(ck.rep.Problems, Problem{Path: p, Line: line, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// config reads and decodes mlgit.yaml in a tree; nil when it is missing or
// does not decode (a warning says so for which "base"; the manifest check
// reports it for head).
func (ck *checker) config(tree plumbing.Hash, which string) *manifest.Config {
	data, ok, err := ck.objs.ReadPath(ck.tc, tree, layout.Config)
	if err != nil || !ok {
		return nil
	}
	cfg, err := manifest.DecodeConfig(data)
	if err != nil {
		if which == "base" {
			ck.rep.Warnings = append(ck.rep.Warnings, fmt.Sprintf("mlgit.yaml of the base does not decode (%v): the policy of head is used", err))
		}
		return nil
	}
	return cfg
}

// file checks one added, changed or deleted file.
func (ck *checker) file(c gitobj.TreeChange) error {
	p := c.Path
	if c.New.IsZero() {
		ck.rep.Deleted++
		if p == layout.Config {
			ck.problem(p, 0, ProblemConfig, "mlgit.yaml is deleted; the tracking branch needs it (stages, promotion policy, blob remote)")
		}
		return nil
	}
	ck.rep.Files++
	switch {
	case layout.IsSegmentBlob(p) && !c.Old.IsZero():
		ck.problem(p, 0, ProblemSegment, "metric segment rewritten: segments are append-only, a checkpoint adds a new one (restore this file as it was at the base)")
		return nil
	case hooks.IsManifestPath(p):
		ck.rep.Manifests++
		data, err := ck.objs.ReadObject(plumbing.BlobObject, c.New)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if pr := hooks.CheckManifest(p, data); pr != nil {
			ck.rep.Problems = append(ck.rep.Problems, *pr)
			return nil
		}
		return ck.manifest(p, data)
	case layout.IsSegment(p):
		if !c.Old.IsZero() {
			ck.problem(p, 0, ProblemSegment, "metric segment rewritten: segments are append-only, a checkpoint adds a new one (restore this file as it was at the base)")
			return nil
		}
		data, err := ck.objs.ReadObject(plumbing.BlobObject, c.New)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if err := manifest.ParseSegmentBytes(data, func(manifest.MetricPoint) error { return nil }); err != nil {
			line := 0
			if m := segmentLineRe.FindStringSubmatch(err.Error()); m != nil {
				line, _ = strconv.Atoi(m[1])
			}
			ck.problem(p, line, ProblemSegment, "%v", err)
		}
	}
	return nil
}

var segmentLineRe = regexp.MustCompile(`segment line ([0-9]+)`)

// manifest checks a manifest that decodes: its place, its stage change,
// and collects its blob references.
func (ck *checker) manifest(p string, data []byte) error {
	parts := strings.Split(p, "/")
	kind, err := manifest.PeekKind(data)
	if err != nil {
		return nil // CheckManifest has passed, so this does not happen
	}
	want := map[string]string{
		layout.Config: manifest.KindConfig, layout.Experiments: manifest.KindExperiment, layout.Runs: manifest.KindRun,
		layout.LoggedModels: manifest.KindLoggedModel,
	}[parts[0]]
	if layout.IsSegmentBlob(p) {
		want = manifest.KindMetricBlob
	}
	if parts[0] == layout.Models {
		want = manifest.KindRegisteredModel
		if len(parts) == 4 {
			want = manifest.KindModelVersion
		}
	}
	if kind != want {
		ck.problem(p, lineOf(data, "kind:"), ProblemManifest, "a %s manifest at the place of a %s", kind, want)
		return nil
	}
	switch kind {
	case manifest.KindConfig:
		cfg, _ := manifest.DecodeConfig(data)
		for _, is := range registry.PolicyIssues(cfg) {
			ck.problem(p, policyLine(data, is), ProblemConfig, "%s", is)
		}
	case manifest.KindExperiment:
		e, _ := manifest.DecodeExperiment(data)
		if parts[1] != e.ID {
			ck.problem(p, lineOf(data, "id:"), ProblemManifest, "experiment %s at the path of experiment %s", e.ID, parts[1])
		}
	case manifest.KindRun:
		run, _ := manifest.DecodeRun(data)
		if layout.Run(run.ID) != p {
			ck.problem(p, lineOf(data, "id:"), ProblemManifest, "run %s belongs at %s", run.ID, layout.Run(run.ID))
			return nil
		}
		ck.addRefs(p, data)
	case manifest.KindMetricBlob:
		m, _ := manifest.DecodeMetricBlob(data)
		if layout.SegmentBlob(m.Run, m.Segment) != p {
			ck.problem(p, lineOf(data, "run:"), ProblemManifest, "the pointer to run %s segment %d belongs at %s", m.Run, m.Segment, layout.SegmentBlob(m.Run, m.Segment))
			return nil
		}
		ck.addRefs(p, data)
	case manifest.KindLoggedModel:
		m, _ := manifest.DecodeLoggedModel(data)
		if layout.LoggedModel(m.ID) != p {
			ck.problem(p, lineOf(data, "id:"), ProblemManifest, "logged model %s belongs at %s", m.ID, layout.LoggedModel(m.ID))
			return nil
		}
		ck.addRefs(p, data)
	case manifest.KindRegisteredModel:
		m, _ := manifest.DecodeRegisteredModel(data)
		if registry.ModelKey(m.Name) != parts[1] {
			ck.problem(p, lineOf(data, "name:"), ProblemManifest, "model %q belongs at %s", m.Name, layout.Model(registry.ModelKey(m.Name)))
		}
	case manifest.KindModelVersion:
		v, _ := manifest.DecodeModelVersion(data)
		if layout.Version(registry.ModelKey(v.Name), v.Version) != p {
			ck.problem(p, lineOf(data, "version:"), ProblemManifest, "%s v%d belongs at %s", v.Name, v.Version, layout.Version(registry.ModelKey(v.Name), v.Version))
			return nil
		}
		ck.addRefs(p, data)
		return ck.stageChange(p, data, v)
	}
	return nil
}

func (ck *checker) addRefs(p string, data []byte) {
	if ck.refsOf == nil {
		return
	}
	refs, err := ck.refsOf(p, data)
	if err != nil {
		return
	}
	for _, a := range refs {
		ck.refs = append(ck.refs, checkRef{Ref: a, path: p, data: data})
	}
}

// stageChange checks a version whose stage differs from the merge base's
// against the promotion policy.
func (ck *checker) stageChange(p string, data []byte, v *manifest.ModelVersion) error {
	stages := registry.NewStages(ck.headCfg.Stages...)
	line := lineOf(data, "stage:")
	if !stages.IsStage(v.Stage) {
		ck.problem(p, line, ProblemManifest, "stage %q is not one of %s (declare custom stages under stages: in mlgit.yaml)", v.Stage, stages)
		return nil
	}
	from := registry.StageNone
	if !ck.mbTree.IsZero() {
		old, ok, err := ck.objs.ReadPath(ck.tc, ck.mbTree, p)
		if err != nil {
			return err
		}
		if ok {
			if ov, err := manifest.DecodeModelVersion(old); err == nil {
				from = ov.Stage
			}
		}
	}
	if strings.EqualFold(from, v.Stage) {
		return nil
	}
	var run *manifest.Run
	if v.RunID != "" && manifest.ValidRunID(v.RunID) {
		data, ok, err := ck.objs.ReadPath(ck.tc, ck.headTree, layout.Run(v.RunID))
		if err != nil {
			return err
		}
		if ok {
			run, _ = manifest.DecodeRun(data)
		}
	}
	sc := StageChange{Model: v.Name, Version: v.Version, From: from, To: v.Stage, Path: p, Allowed: true}
	err := registry.CheckPromotion(ck.policyCfg, from, v.Stage, run)
	var pe *registry.PolicyError
	switch {
	case errors.As(err, &pe):
		sc.Allowed = false
		for _, viol := range pe.Violations {
			ck.problem(p, line, ProblemPolicy, "%s v%d %s -> %s: %s", v.Name, v.Version, from, v.Stage, viol)
		}
	case err != nil:
		sc.Allowed = false
		ck.problem(p, line, ProblemPolicy, "%s v%d %s -> %s: %v", v.Name, v.Version, from, v.Stage, err)
	}
	ck.rep.StageChanges = append(ck.rep.StageChanges, sc)
	return nil
}

// blobs checks that every referenced blob is where blobs must be.
func (ck *checker) blobs(ctx context.Context, open func(context.Context, *manifest.Config) (BlobChecker, error)) error {
	var digests []string
	seen := map[string]bool{}
	for _, x := range ck.refs {
		if !seen[x.Digest] {
			seen[x.Digest] = true
			digests = append(digests, x.Digest)
		}
	}
	sort.Strings(digests)
	ck.rep.Blobs = len(digests)
	if open == nil || len(digests) == 0 {
		return nil
	}
	st, err := open(ctx, ck.headCfg)
	if err != nil {
		return err
	}
	ck.rep.BlobStore = st.Location()
	var valid []string
	for _, d := range digests {
		if manifest.ValidDigest(d) {
			valid = append(valid, d)
		}
	}
	has, err := st.Has(ctx, valid)
	if err != nil {
		return fmt.Errorf("blobs on %s: %w", st.Location(), err)
	}
	for _, x := range ck.refs {
		if has[x.Digest] {
			continue
		}
		ck.problem(x.path, lineOf(x.data, "", x.Digest), ProblemBlob, "blob %s (%s, %s) is not in %s: push it with mlgit blob push before merging",
			x.Digest, x.Path, sizeString(x.Size), st.Location())
	}
	return nil
}

func sizeString(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// lineOf returns the 1-based number of the first line that starts with
// prefix and contains every one of also (0 if none).
func lineOf(data []byte, prefix string, also ...string) int {
	for i, l := range strings.Split(string(data), "\n") {
		if !strings.HasPrefix(l, prefix) {
			continue
		}
		ok := true
		for _, a := range also {
			if !strings.Contains(l, a) {
				ok = false
				break
			}
		}
		if ok {
			return i + 1
		}
	}
	return 0
}

// policyLine finds the line of mlgit.yaml that a policy issue is about:
// the stage's key under promotion:, or its from or require line (the
// layout mlgit and most people write: two-space indentation).
func policyLine(data []byte, is registry.PolicyIssue) int {
	lines := strings.Split(string(data), "\n")
	start := lineOf(data, "promotion:")
	if start == 0 {
		return 0
	}
	inStage := false
	for i := start; i < len(lines); i++ {
		l := lines[i]
		if l != "" && l[0] != ' ' && l[0] != '#' {
			break // the next top-level key
		}
		t := strings.TrimSpace(l)
		if strings.HasPrefix(l, "  ") && !strings.HasPrefix(l, "   ") {
			key := strings.Trim(strings.SplitN(t, ":", 2)[0], `"'`)
			inStage = key == is.Stage
			if inStage && is.Field == "" {
				return i + 1
			}
			continue
		}
		if inStage && strings.HasPrefix(t, is.Field+":") {
			return i + 1
		}
	}
	return start
}
