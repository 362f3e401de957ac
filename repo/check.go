package repo

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/hooks"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/registry"
)

// mlgit check: everything a pull request to the tracking branch changes,
// validated as mlgit itself would have written it. The change is what head
// adds relative to the merge base of base and head (as a pull request shows
// it), so a proposal whose base moved on is checked for its own changes
// only. docs/registry.md, "Review of promotions", describes the rules.

// Kinds of CheckProblem.
const (
	ProblemManifest = "manifest" // does not decode, breaks a rule, not canonical, or in the wrong place
	ProblemConfig   = "config"   // mlgit.yaml: the promotion policy does not apply
	ProblemPolicy   = "policy"   // a stage change the promotion policy refuses
	ProblemBlob     = "blob"     // a referenced blob that is not where blobs must be
	ProblemSegment  = "segment"  // a metric-history segment that does not parse or was rewritten
)

// CheckProblem is one thing wrong in a change.
type CheckProblem struct {
	Path string `json:"path"`
	// Line is the 1-based line in the file at head, 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// String formats the problem as "path:line: message".
func (p CheckProblem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.Message)
	}
	return p.Path + ": " + p.Message
}

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

// CheckReport is the outcome of Check.
type CheckReport struct {
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
	PolicyFrom string         `json:"policy_from,omitempty"`
	Problems   []CheckProblem `json:"problems"`
	Warnings   []string       `json:"warnings,omitempty"`
}

// OK reports whether the check found no problem.
func (rep *CheckReport) OK() bool { return len(rep.Problems) == 0 }

// BlobChecker answers which blobs a store holds. cmd/mlgit adapts the blob
// package's Has to it.
type BlobChecker interface {
	// Location names the store for messages.
	Location() string
	// Has reports, for each digest ("sha256:<hex>"), whether the store
	// holds the whole file.
	Has(ctx context.Context, digests []string) (map[string]bool, error)
}

// CheckOptions configure Check.
type CheckOptions struct {
	// Base and Head are revisions (ResolveCommit); "" chooses the defaults
	// of CheckRefs.
	Base, Head string
	// Blobs opens the store where referenced blobs must exist. It receives
	// mlgit.yaml as of head (for blobs.remote). nil: blobs are not checked.
	Blobs func(ctx context.Context, cfg *manifest.Config) (BlobChecker, error)
}

// OpenRepository opens the Git repository containing path like Open, but
// does not require the tracking branch to exist locally: mlgit check in a
// CI checkout reads other refs (HEAD, origin/mlgit).
func OpenRepository(path string, opts Options) (*Repo, error) {
	return openAt(path, opts)
}

// CheckRefs returns the revisions Check compares when base or head is "":
//
//   - head: HEAD when the commit it names has mlgit.yaml at the root of its
//     tree (a checkout of the tracking branch, of a proposal, or of a pull
//     request's merge commit), else the tracking branch;
//   - base: origin/<tracking branch> when that remote-tracking branch
//     exists, else the tracking branch, unless head is the tracking branch
//     itself (then there is nothing to compare with and --base is needed).
func (r *Repo) CheckRefs(base, head string) (string, string, error) {
	if head == "" {
		head = r.branch
		if h, err := r.refs.Read("HEAD"); err == nil && !h.IsZero() {
			if c, err := r.objects.ReadCommit(h); err == nil {
				if _, ok, err := r.objects.ReadPath(gitobj.TreeCache{}, c.TreeHash, layout.Config); err == nil && ok {
					head = "HEAD"
				}
			}
		}
	}
	if base != "" {
		return base, head, nil
	}
	origin := "origin/" + r.branch
	if h, err := r.refs.Read("refs/remotes/" + origin); err == nil && !h.IsZero() {
		return origin, head, nil
	}
	tip, err := r.tip()
	if err != nil {
		return "", "", err
	}
	hh, err := r.ResolveCommit(head)
	if err != nil {
		return "", "", err
	}
	if tip.IsZero() || hh == tip {
		return "", "", fmt.Errorf("%w: no base to compare %s with: there is no %s, and head is the tracking branch; pass --base REF (for a pull request, the branch it merges into, e.g. --base origin/%s after git fetch origin %s)",
			ErrInvalid, head, origin, r.branch, r.branch)
	}
	return r.branch, head, nil
}

// Check validates what head changes relative to the merge base of base and
// head:
//
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
//     reference is present where opts.Blobs says.
//
// Problems are in the report; the error is for what prevented checking.
func (r *Repo) Check(ctx context.Context, opts CheckOptions) (*CheckReport, error) {
	baseRef, headRef, err := r.CheckRefs(opts.Base, opts.Head)
	if err != nil {
		return nil, err
	}
	rep := &CheckReport{BaseRef: baseRef, HeadRef: headRef, StageChanges: []StageChange{}, Problems: []CheckProblem{}}
	head, err := r.ResolveCommit(headRef)
	if err != nil {
		return nil, fmt.Errorf("head: %w", err)
	}
	base, err := r.ResolveCommit(baseRef)
	if err != nil {
		return nil, fmt.Errorf("base: %w", err)
	}
	rep.Base, rep.Head = base.String(), head.String()
	mb, incomplete, err := r.mergeBase(base, head)
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
		c, err := r.objects.ReadCommit(mb)
		if err != nil {
			return nil, err
		}
		mbTree = c.TreeHash
	}
	hc, err := r.objects.ReadCommit(head)
	if err != nil {
		return nil, err
	}
	bc, err := r.objects.ReadCommit(base)
	if err != nil {
		return nil, err
	}
	ck := &checker{r: r, rep: rep, headTree: hc.TreeHash, mbTree: mbTree, tc: gitobj.TreeCache{}}
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
	var changes []treeChange
	err = r.diffTrees(mbTree, hc.TreeHash, "", func(c treeChange) error {
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
	if err := ck.blobs(ctx, opts.Blobs); err != nil {
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
	r         *Repo
	rep       *CheckReport
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
	ArtifactRef
	path string
	data []byte
}

func (ck *checker) problem(p string, line int, kind, format string, args ...any) {
	ck.rep.Problems = append(ck.rep.Problems, CheckProblem{Path: p, Line: line, Kind: kind, Message: fmt.Sprintf(format, args...)})
}

// config reads and decodes mlgit.yaml in a tree; nil when it is missing or
// does not decode (a warning says so for which "base"; the manifest check
// reports it for head).
func (ck *checker) config(tree plumbing.Hash, which string) *manifest.Config {
	data, ok, err := ck.r.objects.ReadPath(ck.tc, tree, layout.Config)
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

var segmentPathRe = regexp.MustCompile(`^runs/[^/]+/[^/]+/metrics/[^/]+\.tsv$`)

// file checks one added, changed or deleted file.
func (ck *checker) file(c treeChange) error {
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
	case hooks.IsManifestPath(p):
		ck.rep.Manifests++
		data, err := ck.r.objects.ReadObject(plumbing.BlobObject, c.New)
		if err != nil {
			return fmt.Errorf("read %s: %w", p, err)
		}
		if pr := hooks.CheckManifest(p, data); pr != nil {
			ck.problem(p, pr.Line, ProblemManifest, "%s", pr.Message)
			return nil
		}
		return ck.manifest(p, data)
	case segmentPathRe.MatchString(p):
		if !c.Old.IsZero() {
			ck.problem(p, 0, ProblemSegment, "metric segment rewritten: segments are append-only, a checkpoint adds a new one (restore this file as it was at the base)")
			return nil
		}
		data, err := ck.r.objects.ReadObject(plumbing.BlobObject, c.New)
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
		"mlgit.yaml": manifest.KindConfig, "experiments": manifest.KindExperiment, "runs": manifest.KindRun,
		"logged-models": manifest.KindLoggedModel,
	}[parts[0]]
	if parts[0] == "models" {
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
	case manifest.KindLoggedModel:
		m, _ := manifest.DecodeLoggedModel(data)
		if layout.LoggedModel(m.ID) != p {
			ck.problem(p, lineOf(data, "id:"), ProblemManifest, "logged model %s belongs at %s", m.ID, layout.LoggedModel(m.ID))
			return nil
		}
		ck.addRefs(p, data)
	case manifest.KindRegisteredModel:
		m, _ := manifest.DecodeRegisteredModel(data)
		if ModelKey(m.Name) != parts[1] {
			ck.problem(p, lineOf(data, "name:"), ProblemManifest, "model %q belongs at %s", m.Name, layout.Model(ModelKey(m.Name)))
		}
	case manifest.KindModelVersion:
		v, _ := manifest.DecodeModelVersion(data)
		if layout.Version(ModelKey(v.Name), v.Version) != p {
			ck.problem(p, lineOf(data, "version:"), ProblemManifest, "%s v%d belongs at %s", v.Name, v.Version, layout.Version(ModelKey(v.Name), v.Version))
			return nil
		}
		ck.addRefs(p, data)
		return ck.stageChange(p, data, v)
	}
	return nil
}

func (ck *checker) addRefs(p string, data []byte) {
	refs, err := manifestRefs(p, data)
	if err != nil {
		return
	}
	for _, a := range refs {
		ck.refs = append(ck.refs, checkRef{ArtifactRef: a, path: p, data: data})
	}
}

// stageChange checks a version whose stage differs from the merge base's
// against the promotion policy.
func (ck *checker) stageChange(p string, data []byte, v *manifest.ModelVersion) error {
	stages := NewStages(ck.headCfg.Stages...)
	line := lineOf(data, "stage:")
	if !stages.IsStage(v.Stage) {
		ck.problem(p, line, ProblemManifest, "stage %q is not one of %s (declare custom stages under stages: in mlgit.yaml)", v.Stage, stages)
		return nil
	}
	from := StageNone
	if !ck.mbTree.IsZero() {
		old, ok, err := ck.r.objects.ReadPath(ck.tc, ck.mbTree, p)
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
		data, ok, err := ck.r.objects.ReadPath(ck.tc, ck.headTree, layout.Run(v.RunID))
		if err != nil {
			return err
		}
		if ok {
			run, _ = manifest.DecodeRun(data)
		}
	}
	sc := StageChange{Model: v.Name, Version: v.Version, From: from, To: v.Stage, Path: p, Allowed: true}
	err := CheckPromotion(ck.policyCfg, from, v.Stage, run)
	var pe *PolicyError
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

// treeChange is a file that differs between two trees: Old is zero for an
// added file, New for a deleted one.
type treeChange struct {
	Path     string
	Old, New plumbing.Hash
}

// diffTrees calls fn for every file (blob or link) that differs between
// the trees oldT and newT (zero: empty), in path order, descending only
// into subtrees whose ids differ.
func (r *Repo) diffTrees(oldT, newT plumbing.Hash, dir string, fn func(treeChange) error) error {
	if oldT == newT {
		return nil
	}
	oldEs, err := r.objects.ReadTree(oldT)
	if err != nil {
		return err
	}
	newEs, err := r.objects.ReadTree(newT)
	if err != nil {
		return err
	}
	byName := func(es []object.TreeEntry) map[string]object.TreeEntry {
		m := make(map[string]object.TreeEntry, len(es))
		for _, e := range es {
			m[e.Name] = e
		}
		return m
	}
	oldM, newM := byName(oldEs), byName(newEs)
	names := make([]string, 0, len(oldM)+len(newM))
	for n := range oldM {
		names = append(names, n)
	}
	for n := range newM {
		if _, ok := oldM[n]; !ok {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	for _, n := range names {
		p := n
		if dir != "" {
			p = dir + "/" + n
		}
		o, hadOld := oldM[n]
		e, hasNew := newM[n]
		if hadOld && hasNew && o.Hash == e.Hash && o.Mode == e.Mode {
			continue
		}
		var oldSub, newSub, oldFile, newFile plumbing.Hash
		if hadOld {
			if o.Mode == filemode.Dir {
				oldSub = o.Hash
			} else if o.Mode != filemode.Submodule {
				oldFile = o.Hash
			}
		}
		if hasNew {
			if e.Mode == filemode.Dir {
				newSub = e.Hash
			} else if e.Mode != filemode.Submodule {
				newFile = e.Hash
			}
		}
		if !oldSub.IsZero() || !newSub.IsZero() {
			if err := r.diffTrees(oldSub, newSub, p, fn); err != nil {
				return err
			}
		}
		if !oldFile.IsZero() || !newFile.IsZero() {
			if oldFile == newFile {
				oldFile = plumbing.ZeroHash // a mode change: checked as added
			}
			if err := fn(treeChange{Path: p, Old: oldFile, New: newFile}); err != nil {
				return err
			}
		}
	}
	return nil
}

// mergeBase returns the best common ancestor of a and b (zero when they
// share no history), as git merge-base does: it walks both histories
// newest first, marking what each side reaches, and stops when every
// commit still queued is below a common one. incomplete reports parents
// that are missing (a shallow clone), which may hide the true merge base.
func (r *Repo) mergeBase(a, b plumbing.Hash) (base plumbing.Hash, incomplete bool, err error) {
	if a == b {
		return a, false, nil
	}
	const (
		fromA  = 1
		fromB  = 2
		stale  = 4
		result = 8
	)
	flags := map[plumbing.Hash]uint8{}
	commits := map[plumbing.Hash]*object.Commit{}
	q := &commitTimeQueue{}
	seq := 0
	push := func(h plumbing.Hash, f uint8) error {
		if flags[h]|f == flags[h] {
			return nil
		}
		flags[h] |= f
		c := commits[h]
		if c == nil {
			var err error
			if c, err = r.objects.ReadCommit(h); err != nil {
				return err
			}
			commits[h] = c
		}
		seq++
		heap.Push(q, queuedCommit{h: h, when: c.Committer.When, seq: seq})
		return nil
	}
	if err := push(a, fromA); err != nil {
		return plumbing.ZeroHash, false, err
	}
	if err := push(b, fromB); err != nil {
		return plumbing.ZeroHash, false, err
	}
	var results []plumbing.Hash
	for {
		live := false
		for _, it := range *q {
			if flags[it.h]&stale == 0 {
				live = true
				break
			}
		}
		if !live {
			break
		}
		it := heap.Pop(q).(queuedCommit)
		f := flags[it.h] & (fromA | fromB | stale)
		if f == fromA|fromB {
			if flags[it.h]&result == 0 {
				flags[it.h] |= result
				results = append(results, it.h)
			}
			f |= stale
		}
		for _, p := range commits[it.h].ParentHashes {
			if err := push(p, f); err != nil {
				if _, ok := commits[p]; !ok {
					incomplete = true
					continue
				}
				return plumbing.ZeroHash, incomplete, err
			}
		}
	}
	for _, h := range results {
		if flags[h]&stale == 0 {
			return h, incomplete, nil
		}
	}
	// Every result became stale through another result (clock skew):
	// the first found is the newest.
	if len(results) > 0 {
		return results[0], incomplete, nil
	}
	return plumbing.ZeroHash, incomplete, nil
}
