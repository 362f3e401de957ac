package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"gopkg.in/yaml.v3"
)

// The files of a model version: which run artifacts a registration takes,
// a local folder's files, the MLflow MLmodel file, and writing a version's
// files out. Blob storage is injected (AddFunc, OpenFunc), so this package
// stays independent of the blob store.

// RunModelFiles returns the artifacts of a run under p ("model" takes
// model/MLmodel, model/model.pkl...), with paths relative to p; p naming
// one file takes that file under its base name, and "" or "." takes all.
// A path with no artifacts fails with ErrNotFound listing what the run has.
func (s *Store) RunModelFiles(runID, p string) (*manifest.Run, []manifest.Artifact, error) {
	run, err := s.Runs.GetRun(runID)
	if err != nil {
		return nil, nil, err
	}
	p = strings.Trim(p, "/")
	if p == "." {
		p = ""
	}
	if p != "" {
		if err := manifest.ValidateArtifactPath(p); err != nil {
			return nil, nil, err
		}
	}
	var out []manifest.Artifact
	for _, a := range run.Artifacts {
		switch {
		case p == "":
			out = append(out, a)
		case a.Path == p:
			a.Path = path.Base(p)
			out = append(out, a)
		case strings.HasPrefix(a.Path, p+"/"):
			a.Path = strings.TrimPrefix(a.Path, p+"/")
			out = append(out, a)
		}
	}
	if len(out) == 0 {
		return run, nil, fmt.Errorf("%w: run %s has no artifacts under %q (it has: %s); log them first (mlgit run artifact add) or pass --path", ErrNotFound, runID, p, topLevel(run.Artifacts))
	}
	return run, manifest.SortArtifacts(out), nil
}

// topLevel lists the first path segments of artifacts ("model/", "plot.png").
func topLevel(arts []manifest.Artifact) string {
	out := manifest.TopLevelPaths(arts)
	if len(out) == 0 {
		return "no artifacts"
	}
	return ListOrNone(out)
}

// AddFunc stores the file at path in the blob store and returns its digest
// ("sha256:<hex>") and size.
type AddFunc func(path string) (digest string, size int64, err error)

// ScanModelDir stores every regular file below dir with add and returns
// the artifact list (paths relative to dir, sorted; mode 0755 when any
// execute bit is set, else 0644). Symbolic links and other special files
// are refused, as is an empty folder.
func ScanModelDir(dir string, add AddFunc) ([]manifest.Artifact, error) {
	fi, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", manifest.ErrInvalid, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("%w: %s is not a folder", manifest.ErrInvalid, dir)
	}
	var out []manifest.Artifact
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if !d.Type().IsRegular() {
			return fmt.Errorf("%w: %s is not a regular file (symbolic links and special files are not supported)", manifest.ErrInvalid, p)
		}
		if err := manifest.ValidateArtifactPath(rel); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		digest, size, err := add(p)
		if err != nil {
			return err
		}
		mode := "0644"
		if info.Mode().Perm()&0o111 != 0 {
			mode = "0755"
		}
		out = append(out, manifest.Artifact{Path: rel, Digest: digest, Size: size, Mode: mode})
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%w: folder %s has no files", manifest.ErrInvalid, dir)
	}
	return manifest.SortArtifacts(out), nil
}

// MLmodelInfo is what mlgit records from an MLflow MLmodel file.
type MLmodelInfo struct {
	Flavors   []string
	Signature string
	// ModelSize is model_size_bytes (0 when absent).
	ModelSize int64
}

// ParseMLmodel reads an MLmodel file (YAML): the flavor names (keys of
// flavors, sorted), the signature as compact JSON, and model_size_bytes.
func ParseMLmodel(data []byte) (MLmodelInfo, error) {
	var doc struct {
		Flavors   map[string]any `yaml:"flavors"`
		Signature any            `yaml:"signature"`
		Size      int64          `yaml:"model_size_bytes"`
	}
	var info MLmodelInfo
	if err := yaml.Unmarshal(data, &doc); err != nil {
		return info, fmt.Errorf("%w: MLmodel is not valid YAML: %v", manifest.ErrInvalid, err)
	}
	for f := range doc.Flavors {
		info.Flavors = append(info.Flavors, f)
	}
	sort.Strings(info.Flavors)
	if doc.Signature != nil {
		b, err := json.Marshal(doc.Signature)
		if err != nil {
			return info, fmt.Errorf("%w: MLmodel signature: %v", manifest.ErrInvalid, err)
		}
		info.Signature = string(b)
	}
	info.ModelSize = doc.Size
	return info, nil
}

// ApplyMLmodel fills flavors, signature and model size from the version's
// MLmodel file (at the root of its files), read with read. The size is
// model_size_bytes, or the sum of the file sizes. It returns a warning
// (not an error) when the MLmodel cannot be read or parsed.
func (spec *VersionSpec) ApplyMLmodel(read func(digest string) ([]byte, error)) string {
	var total int64
	var ml *manifest.Artifact
	for i, a := range spec.Artifacts {
		total += a.Size
		if a.Path == "MLmodel" {
			ml = &spec.Artifacts[i]
		}
	}
	if ml == nil {
		return ""
	}
	spec.ModelSize = total
	data, err := read(ml.Digest)
	if err != nil {
		return fmt.Sprintf("MLmodel not read (%v); flavors and signature not recorded", err)
	}
	info, err := ParseMLmodel(data)
	if err != nil {
		return fmt.Sprintf("%v; flavors and signature not recorded", err)
	}
	spec.Flavors, spec.Signature = info.Flavors, info.Signature
	if info.ModelSize > 0 {
		spec.ModelSize = info.ModelSize
	}
	return ""
}

// OpenFunc opens a blob by digest, verified, with its size.
type OpenFunc func(digest string) (io.ReadCloser, int64, error)

// WriteFiles writes artifacts below dir with their modes, each through a
// temporary file that is renamed into place once its bytes hashed to the
// recorded digest and size. Paths were validated when recorded (no "..",
// not absolute), so nothing lands outside dir.
func WriteFiles(dir string, arts []manifest.Artifact, open OpenFunc) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, a := range arts {
		if err := manifest.ValidateArtifactPath(a.Path); err != nil {
			return err
		}
		if err := writeOne(dir, a, open); err != nil {
			return fmt.Errorf("%s: %w", a.Path, err)
		}
	}
	return nil
}

func writeOne(dir string, a manifest.Artifact, open OpenFunc) (err error) {
	dest := filepath.Join(dir, filepath.FromSlash(a.Path))
	if err := os.MkdirAll(filepath.Dir(dest), 0o755); err != nil {
		return err
	}
	if fi, err := os.Lstat(dest); err == nil && !fi.Mode().IsRegular() {
		return fmt.Errorf("%s exists and is not a regular file", dest)
	}
	rc, _, err := open(a.Digest)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dest), ".mlgit-get-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	h := sha256.New()
	n, err := io.Copy(io.MultiWriter(tmp, h), rc)
	if err != nil {
		return err
	}
	if got := "sha256:" + hex.EncodeToString(h.Sum(nil)); got != a.Digest || n != a.Size {
		return fmt.Errorf("content mismatch: got %s (%d bytes), want %s (%d bytes)", got, n, a.Digest, a.Size)
	}
	mode := os.FileMode(0o644)
	if a.Mode == "0755" {
		mode = 0o755
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Sync(); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}
