package artifacts

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// File is one file to add: where its bytes are, and what it is recorded
// as.
type File struct {
	Src  string // file on disk (may be a symbolic link to it)
	Path string // artifact path
	Mode string // "0644" or "0755"
	Size int64
}

// CleanDir returns the artifact folder files are added under with its
// trailing slashes removed ("" and "." are the top level), and an error
// when it is not a valid artifact path.
func CleanDir(as string) (string, error) {
	as = strings.TrimRight(as, "/")
	if as == "." {
		as = ""
	}
	if as != "" {
		if err := manifest.ValidateArtifactPath(as); err != nil {
			return as, err
		}
	}
	return as, nil
}

// Collect expands paths (as given on a command line) into the files to
// add, checking all of them before anything is stored. A file becomes
// as/<name>; a folder as/<name>/...; "folder/." (or ".") the folder's
// contents directly under as. Inside folders, symbolic links to files in
// the same folder are followed; others are errors, as are special files,
// empty folders, unreadable files, invalid artifact paths and two sources
// for one artifact path. The files are sorted by artifact path.
func Collect(paths []string, as string) ([]File, error) {
	as, err := CleanDir(as)
	if err != nil {
		return nil, invalidf("artifact folder %q: %v", as, err)
	}
	join := func(rel string) string {
		if as == "" {
			return rel
		}
		if rel == "" {
			return as
		}
		return as + "/" + rel
	}
	var files []File
	var problems []string
	for _, arg := range paths {
		got, err := expandArg(arg, join)
		if err != nil {
			problems = append(problems, err.Error())
			continue
		}
		files = append(files, got...)
	}
	if len(problems) > 0 {
		return nil, invalidf("%s\nNothing was added.", joinProblems(problems))
	}
	// One source per artifact path.
	sort.SliceStable(files, func(i, j int) bool { return files[i].Path < files[j].Path })
	out := files[:0]
	for i, f := range files {
		if i > 0 && files[i-1].Path == f.Path {
			if sameFile(files[i-1].Src, f.Src) {
				continue
			}
			problems = append(problems, fmt.Sprintf("artifact %q would come from both %s and %s", f.Path, files[i-1].Src, f.Src))
			continue
		}
		out = append(out, f)
	}
	if len(problems) > 0 {
		return nil, invalidf("%s\nNothing was added.", joinProblems(problems))
	}
	return out, nil
}

func sameFile(a, b string) bool {
	fa, err1 := os.Stat(a)
	fb, err2 := os.Stat(b)
	return err1 == nil && err2 == nil && os.SameFile(fa, fb)
}

// expandArg lists the files one command-line path stands for.
func expandArg(arg string, join func(string) string) ([]File, error) {
	if arg == "" {
		return nil, errors.New("empty path")
	}
	contentsOnly := arg == "." || strings.HasSuffix(arg, "/.")
	clean := filepath.Clean(arg)
	fi, err := os.Stat(clean) // follows a link named on the command line
	if err != nil {
		return nil, describeFSError(arg, err)
	}
	name := filepath.Base(clean)
	if name == "." || name == ".." || name == string(filepath.Separator) {
		contentsOnly = true
	}
	switch {
	case fi.Mode().IsRegular():
		if contentsOnly {
			return nil, fmt.Errorf("%s: is a file, not a folder", arg)
		}
		f, err := newFile(clean, join(name), fi)
		if err != nil {
			return nil, err
		}
		return []File{f}, nil
	case fi.IsDir():
		prefix := name
		if contentsOnly {
			prefix = ""
		}
		return walkDir(arg, clean, func(rel string) string {
			if prefix == "" {
				return join(rel)
			}
			return join(prefix + "/" + rel)
		})
	}
	return nil, fmt.Errorf("%s: not a regular file or folder (%s)", arg, fi.Mode().Type())
}

// walkDir lists the files below dir, following symbolic links only to
// files inside dir, and skipping folders named .git. dir itself may be a
// link; messages name files as found below dir.
func walkDir(arg, dir string, name func(rel string) string) ([]File, error) {
	root, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, describeFSError(arg, err)
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	var out []File
	var problems []string
	err = filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		rel, rerr := filepath.Rel(root, p)
		if rerr != nil {
			return rerr
		}
		shown := filepath.Join(dir, rel)
		if err != nil {
			problems = append(problems, describeFSError(shown, err).Error())
			if d != nil && d.IsDir() && p != root {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			if d.Name() == ".git" && p != root {
				return fs.SkipDir
			}
			return nil
		}
		rel = filepath.ToSlash(rel)
		var fi fs.FileInfo
		switch {
		case d.Type()&fs.ModeSymlink != 0:
			target, err := filepath.EvalSymlinks(p)
			if err != nil {
				problems = append(problems, fmt.Sprintf("%s: symbolic link to nothing (%v)", shown, unwrapPathError(err)))
				return nil
			}
			target, _ = filepath.Abs(target)
			if !strings.HasPrefix(target, root+string(filepath.Separator)) {
				problems = append(problems, fmt.Sprintf("%s: symbolic link points outside %s (to %s); mlgit follows links only to files inside the folder it adds", shown, arg, target))
				return nil
			}
			fi, err = os.Stat(p)
			if err != nil {
				problems = append(problems, describeFSError(shown, err).Error())
				return nil
			}
			if fi.IsDir() {
				problems = append(problems, fmt.Sprintf("%s: symbolic link to a folder (%s) is not supported; add that folder itself", shown, target))
				return nil
			}
		case d.Type().IsRegular():
			fi, err = d.Info()
			if err != nil {
				problems = append(problems, describeFSError(shown, err).Error())
				return nil
			}
		default:
			problems = append(problems, fmt.Sprintf("%s: not a regular file (%s)", shown, d.Type()))
			return nil
		}
		if !fi.Mode().IsRegular() {
			problems = append(problems, fmt.Sprintf("%s: not a regular file (%s)", shown, fi.Mode().Type()))
			return nil
		}
		f, err := newFile(p, name(rel), fi)
		if err != nil {
			problems = append(problems, strings.Replace(err.Error(), p, shown, 1))
			return nil
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		return nil, err
	}
	if len(problems) > 0 {
		return nil, errors.New(joinProblems(problems))
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("%s: folder has no files", arg)
	}
	return out, nil
}

// newFile checks that src can be read and that p is a valid artifact path.
func newFile(src, p string, fi fs.FileInfo) (File, error) {
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return File{}, fmt.Errorf("%s: %v", src, err)
	}
	f, err := os.Open(src)
	if err != nil {
		return File{}, describeFSError(src, err)
	}
	f.Close()
	mode := "0644"
	if fi.Mode().Perm()&0o111 != 0 {
		mode = "0755"
	}
	return File{Src: src, Path: p, Mode: mode, Size: fi.Size()}, nil
}

// describeFSError says what is wrong with a path in plain words.
func describeFSError(p string, err error) error {
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such file or folder", p)
	case errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%s: permission denied (cannot read it)", p)
	}
	return fmt.Errorf("%s: %v", p, unwrapPathError(err))
}

func unwrapPathError(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

// CheckConflicts refuses a new artifact path that is a folder of an
// existing or new file artifact, or a file where there is a folder: Write
// could not write both. Replacing a path is fine.
func CheckConflicts(existing []manifest.Artifact, files []File) error {
	all := map[string]bool{}
	for _, x := range existing {
		all[x.Path] = true
	}
	for _, f := range files {
		all[f.Path] = true
	}
	paths := make([]string, 0, len(all))
	for p := range all {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	var problems []string
	for _, f := range files {
		for dir := path.Dir(f.Path); dir != "."; dir = path.Dir(dir) {
			if all[dir] {
				problems = append(problems, fmt.Sprintf("artifact %q would be below %q, which is a file", f.Path, dir))
			}
		}
		i := sort.SearchStrings(paths, f.Path+"/")
		if i < len(paths) && strings.HasPrefix(paths[i], f.Path+"/") {
			problems = append(problems, fmt.Sprintf("artifact %q would be a file where %q is a folder", f.Path, f.Path+"/"))
		}
	}
	if len(problems) > 0 {
		return invalidf("%s\nNothing was added.", joinProblems(problems))
	}
	return nil
}

// Under returns the artifacts at or below p, and p cleaned of leading and
// trailing slashes ("" or "." select all of them, and return ""). A p that
// is not a valid artifact path is an error; one that matches nothing
// returns no artifacts (Describe says what there is).
func Under(arts []manifest.Artifact, p string) ([]manifest.Artifact, string, error) {
	p = strings.Trim(p, "/")
	if p == "." {
		p = ""
	}
	if p == "" {
		return arts, "", nil
	}
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return nil, p, err
	}
	var out []manifest.Artifact
	for _, x := range arts {
		if x.Path == p || strings.HasPrefix(x.Path, p+"/") {
			out = append(out, x)
		}
	}
	return out, p, nil
}

// Describe says what arts hold at the top level: "it has model/,
// plot.png", or "it has no artifacts".
func Describe(arts []manifest.Artifact) string {
	names := manifest.TopLevelPaths(arts)
	if len(names) == 0 {
		return "it has no artifacts"
	}
	if len(names) > 8 {
		names = append(names[:8:8], "...")
	}
	return "it has " + strings.Join(names, ", ")
}
