package runcmd

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/par"
)

// datasetDigest is the digest run log --input records for a file or a
// folder, computed from the bytes (sha256, as the blob store names files):
//
//   - a file: sha256:<hex of its content>;
//   - a folder: sha256 of the lines "<hex>  <path>\n" of every file below
//     it, paths relative with forward slashes, sorted bytewise — the same as
//     (cd DIR && find . -type f | sed 's|^\./||' | LC_ALL=C sort | xargs sha256sum | sha256sum).
//
// Files are hashed in parallel, one reader per core. Symbolic links are
// followed for the folder itself, not inside it (a link inside is skipped).
func datasetDigest(path string) (string, int64, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", 0, err
	}
	if !fi.IsDir() {
		d, n, err := hashFile(path)
		if err != nil {
			return "", 0, err
		}
		return d.String(), n, nil
	}
	var files []string
	err = filepath.WalkDir(path, func(p string, e fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if e.Type().IsRegular() {
			rel, err := filepath.Rel(path, p)
			if err != nil {
				return err
			}
			files = append(files, filepath.ToSlash(rel))
		}
		return nil
	})
	if err != nil {
		return "", 0, err
	}
	if len(files) == 0 {
		return "", 0, fmt.Errorf("%s has no files", path)
	}
	sort.Strings(files)
	sums := make([]blob.Digest, len(files))
	sizes := make([]int64, len(files))
	errs := make([]error, len(files))
	par.Each(len(files), runtime.GOMAXPROCS(0), func(k int) {
		sums[k], sizes[k], errs[k] = hashFile(filepath.Join(path, filepath.FromSlash(files[k])))
	})
	h := sha256.New()
	var total int64
	for k, f := range files {
		if errs[k] != nil {
			return "", 0, errs[k]
		}
		fmt.Fprintf(h, "%s  %s\n", hex.EncodeToString(sums[k][:]), f)
		total += sizes[k]
	}
	return "sha256:" + hex.EncodeToString(h.Sum(nil)), total, nil
}

func hashFile(p string) (blob.Digest, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return blob.Digest{}, 0, err
	}
	defer f.Close()
	return blob.DigestReader(f)
}

// isPathInput reports whether an --input value starts with a path rather
// than name=...: its first comma-separated part has no "=".
func isPathInput(s string) bool {
	first, _, _ := strings.Cut(s, ",")
	return !strings.Contains(first, "=")
}
