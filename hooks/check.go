package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
)

// DefaultMaxFileSize is the pre-commit size limit when neither
// $MLGIT_MAX_FILE_SIZE nor git config mlgit.maxFileSize sets one.
const DefaultMaxFileSize = 10 << 20

// ErrRejected marks a commit or push the checks refused; the report that
// goes with it says what and why.
var ErrRejected = errors.New("rejected by mlgit hook")

// Kinds of Problem. ProblemManifest is also a kind of mlgit check's
// problems (repo.CheckProblem), which has the same fields.
const (
	ProblemManifest = "manifest" // does not decode, breaks a rule, or is not canonical
	ProblemSize     = "size"     // a staged file over the size limit
	ProblemTag      = "tag"      // a registry tag pushed as a lightweight tag
)

// Problem is one thing a check found wrong: the fields, JSON names and
// String form of mlgit check's problems (repo.CheckProblem).
type Problem struct {
	Path string `json:"path"`
	// Line is the 1-based line of the problem in the file, 0 when unknown.
	Line    int    `json:"line,omitempty"`
	Kind    string `json:"kind"`
	Message string `json:"message"`
}

// String formats the problem as "path:line: message".
func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.Path, p.Line, p.Message)
	}
	return p.Path + ": " + p.Message
}

// manifestPathRe matches the paths of the tracking-branch layout.
var manifestPathRe = regexp.MustCompile(`^(mlgit\.yaml|experiments/[^/]+/experiment\.yaml|runs/[^/]+/[^/]+/run\.yaml|runs/[^/]+/[^/]+/metric-blobs/[0-9]+\.yaml|models/[^/]+/model\.yaml|models/[^/]+/versions/[^/]+\.yaml|logged-models/[^/]+/[^/]+/model\.yaml)$`)

// IsManifestPath reports whether p is where the tracking branch keeps a
// manifest (mlgit.yaml, experiments/*/experiment.yaml, runs/*/*/run.yaml,
// runs/*/*/metric-blobs/<seq>.yaml, models/*/model.yaml, models/*/versions/*.yaml,
// logged-models/*/*/model.yaml).
func IsManifestPath(p string) bool { return manifestPathRe.MatchString(p) }

// lineRe finds yaml.v3's "line N" in an error message.
var lineRe = regexp.MustCompile(`\bline ([0-9]+)\b`)

// CheckManifest validates one manifest's bytes: strict schema, rules, and
// canonical encoding. It returns nil when the file is fine.
func CheckManifest(p string, data []byte) *Problem {
	if err := manifest.Validate(data); err != nil {
		pr := &Problem{Path: p, Kind: ProblemManifest, Message: err.Error()}
		if m := lineRe.FindStringSubmatch(err.Error()); m != nil {
			pr.Line, _ = strconv.Atoi(m[1])
		}
		return pr
	}
	canon, err := canonicalOf(data)
	if err != nil {
		return &Problem{Path: p, Kind: ProblemManifest, Message: err.Error()}
	}
	if bytes.Equal(canon, data) {
		return nil
	}
	line, have, want := firstDiff(data, canon)
	return &Problem{Path: p, Line: line, Kind: ProblemManifest, Message: fmt.Sprintf("not in mlgit's canonical encoding (docs/spec/manifests.md): have %q, want %q; let mlgit write manifests, or fix the file to match", have, want)}
}

// canonicalOf returns the canonical encoding of a valid manifest.
func canonicalOf(data []byte) ([]byte, error) {
	kind, err := manifest.PeekKind(data)
	if err != nil {
		return nil, err
	}
	type encoder interface{ Encode() []byte }
	var v encoder
	switch kind {
	case manifest.KindConfig:
		v, err = manifest.DecodeConfig(data)
	case manifest.KindExperiment:
		v, err = manifest.DecodeExperiment(data)
	case manifest.KindRun:
		v, err = manifest.DecodeRun(data)
	case manifest.KindRegisteredModel:
		v, err = manifest.DecodeRegisteredModel(data)
	case manifest.KindModelVersion:
		v, err = manifest.DecodeModelVersion(data)
	case manifest.KindLoggedModel:
		v, err = manifest.DecodeLoggedModel(data)
	case manifest.KindMetricBlob:
		v, err = manifest.DecodeMetricBlob(data)
	default:
		return nil, fmt.Errorf("%w: unknown kind %q", manifest.ErrSyntax, kind)
	}
	if err != nil {
		return nil, err
	}
	return v.Encode(), nil
}

func firstDiff(have, want []byte) (int, string, string) {
	hl := strings.Split(string(have), "\n")
	wl := strings.Split(string(want), "\n")
	for i := 0; i < len(hl) || i < len(wl); i++ {
		var h, w string
		if i < len(hl) {
			h = hl[i]
		}
		if i < len(wl) {
			w = wl[i]
		}
		if h != w {
			return i + 1, h, w
		}
	}
	return 0, "", ""
}

// Config is what the checks read from git config and the environment.
type Config struct {
	// MaxFileSize is the largest staged file accepted, in bytes; 0
	// disables the check.
	MaxFileSize int64
	// AllowLarge lists paths (or path.Match patterns) exempt from it.
	AllowLarge []string
	// Branch is the tracking branch ("mlgit").
	Branch string
}

// LoadConfig reads the check configuration for the repository containing
// dir: $MLGIT_MAX_FILE_SIZE, else git config mlgit.maxFileSize, else
// 10 MiB; git config mlgit.allowLargeFile (multi-valued); branch from
// $MLGIT_BRANCH, else "mlgit". getenv is os.Getenv in production.
func LoadConfig(ctx context.Context, dir string, getenv func(string) string) (Config, error) {
	c := Config{MaxFileSize: DefaultMaxFileSize, Branch: getenv("MLGIT_BRANCH")}
	if c.Branch == "" {
		c.Branch = "mlgit"
	}
	if s := getenv("MLGIT_MAX_FILE_SIZE"); s != "" {
		n, err := ParseSize(s)
		if err != nil {
			return c, fmt.Errorf("MLGIT_MAX_FILE_SIZE: %w", err)
		}
		c.MaxFileSize = n
	} else {
		vals, err := gitConfig(ctx, dir, "mlgit.maxFileSize")
		if err != nil {
			return c, err
		}
		if len(vals) > 0 {
			n, err := ParseSize(vals[len(vals)-1])
			if err != nil {
				return c, fmt.Errorf("git config mlgit.maxFileSize: %w", err)
			}
			c.MaxFileSize = n
		}
	}
	allow, err := gitConfig(ctx, dir, "mlgit.allowLargeFile")
	if err != nil {
		return c, err
	}
	c.AllowLarge = allow
	return c, nil
}

// ParseSize parses a byte count: 1048576, 500k, 10M, 10MiB, 1.5G, 2GB
// (binary units: k = 1024). "0" disables the limit.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(s)
	num := strings.TrimRight(strings.ToLower(t), "bi")
	mult := int64(1)
	if num != "" {
		switch num[len(num)-1] {
		case 'k':
			mult = 1 << 10
		case 'm':
			mult = 1 << 20
		case 'g':
			mult = 1 << 30
		case 't':
			mult = 1 << 40
		}
		if mult > 1 {
			num = num[:len(num)-1]
		}
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(num), 64)
	if err != nil || f < 0 || f*float64(mult) > 1<<62 {
		return 0, fmt.Errorf("size %q: want a number of bytes such as 10485760, 500k, 10M or 1G", s)
	}
	return int64(f * float64(mult)), nil
}

func (c Config) allowed(p string) bool {
	for _, pat := range c.AllowLarge {
		if pat == p {
			return true
		}
		if ok, _ := path.Match(pat, p); ok {
			return true
		}
	}
	return false
}

// Report is the outcome of a hook run.
type Report struct {
	Problems []Problem
	// Checked counts the manifests validated.
	Checked int
}

// Write prints the problems and the advice for them.
func (r *Report) Write(w io.Writer, hook string) {
	if len(r.Problems) == 0 {
		return
	}
	fmt.Fprintf(w, "mlgit %s: %d %s:\n", hook, len(r.Problems), plural(len(r.Problems), "problem", "problems"))
	large := false
	for _, p := range r.Problems {
		fmt.Fprintf(w, "  %s\n", p)
		if p.Kind == ProblemSize {
			large = true
		}
	}
	if large {
		fmt.Fprintf(w, `Large files belong in the blob store, not in Git: record them with
  mlgit run artifact add <file> --run <run-id>
and unstage them (git rm --cached <file>). To allow one anyway:
  git config --add mlgit.allowLargeFile <path>
or raise the limit: git config mlgit.maxFileSize 50M (or $MLGIT_MAX_FILE_SIZE).
`)
	}
	fmt.Fprintf(w, "Fix the problems above, or skip the check this once with --no-verify.\n")
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// staged is one staged file: its path and blob.
type staged struct {
	path, blob string
}

// PreCommit checks what is staged in the repository containing dir:
// files over the size limit (unless allowed) and manifests that do not
// validate. It returns ErrRejected with a report of the problems.
//
// A file at a manifest path is validated when the commit goes to the
// tracking branch, or when it declares "apiVersion: mlgit/", so that a
// project's own models/x/model.yaml on a code branch is left alone.
func PreCommit(ctx context.Context, dir string, c Config) (*Report, error) {
	out, err := git(ctx, dir, nil, "diff", "--cached", "--raw", "-z", "--no-renames", "--diff-filter=AMT", "--no-abbrev")
	if err != nil {
		return nil, err
	}
	files, err := parseRaw(out)
	if err != nil {
		return nil, err
	}
	onTracking := false
	if head, err := git(ctx, dir, nil, "symbolic-ref", "-q", "HEAD"); err == nil {
		onTracking = strings.TrimSpace(string(head)) == "refs/heads/"+c.Branch
	}
	rep := &Report{}
	if len(files) == 0 {
		return rep, nil
	}
	sizes, err := blobSizes(ctx, dir, files)
	if err != nil {
		return nil, err
	}
	var manifests []staged
	for i, f := range files {
		if c.MaxFileSize > 0 && sizes[i] > c.MaxFileSize && !c.allowed(f.path) {
			rep.Problems = append(rep.Problems, Problem{Path: f.path, Kind: ProblemSize, Message: fmt.Sprintf("file is %s, over the %s limit", units.Bytes(sizes[i]), units.Bytes(c.MaxFileSize))})
		}
		if IsManifestPath(f.path) && sizes[i] <= 16<<20 {
			manifests = append(manifests, f)
		}
	}
	if len(manifests) > 0 {
		contents, err := readBlobs(ctx, dir, blobNames(manifests))
		if err != nil {
			return nil, err
		}
		for i, f := range manifests {
			data := contents[i]
			if !onTracking && !bytes.Contains(data, []byte("apiVersion: mlgit/")) {
				continue
			}
			rep.Checked++
			if p := CheckManifest(f.path, data); p != nil {
				rep.Problems = append(rep.Problems, *p)
			}
		}
	}
	if len(rep.Problems) > 0 {
		return rep, ErrRejected
	}
	return rep, nil
}

func blobNames(fs []staged) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.blob
	}
	return out
}

// parseRaw parses `git diff --raw -z` output:
// ":<mode> <mode> <sha> <sha> <status>\0<path>\0".
func parseRaw(out []byte) ([]staged, error) {
	parts := splitZ(out)
	var fs []staged
	for i := 0; i+1 < len(parts); i += 2 {
		fields := strings.Fields(parts[i])
		if len(fields) < 5 {
			return nil, fmt.Errorf("unexpected git diff --raw output %q", parts[i])
		}
		if strings.HasPrefix(fields[1], "160000") { // a submodule
			continue
		}
		fs = append(fs, staged{path: parts[i+1], blob: fields[3]})
	}
	return fs, nil
}

// blobSizes returns the size of each file's blob with one git cat-file.
func blobSizes(ctx context.Context, dir string, fs []staged) ([]int64, error) {
	var in bytes.Buffer
	for _, f := range fs {
		in.WriteString(f.blob + "\n")
	}
	out, err := git(ctx, dir, in.Bytes(), "cat-file", "--batch-check=%(objectsize)")
	if err != nil {
		return nil, err
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) != len(fs) {
		return nil, fmt.Errorf("git cat-file --batch-check: %d answers for %d blobs", len(lines), len(fs))
	}
	sizes := make([]int64, len(fs))
	for i, l := range lines {
		n, err := strconv.ParseInt(strings.TrimSpace(l), 10, 64)
		if err != nil {
			return nil, fmt.Errorf("git cat-file --batch-check: %q for %s", l, fs[i].path)
		}
		sizes[i] = n
	}
	return sizes, nil
}

// sortProblems orders problems by path, then line.
func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].Path != ps[j].Path {
			return ps[i].Path < ps[j].Path
		}
		return ps[i].Line < ps[j].Line
	})
}
