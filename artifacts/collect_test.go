package artifacts

import (
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// tree writes files (path -> content) below a new folder and returns it.
func tree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for p, content := range files {
		full := filepath.Join(dir, filepath.FromSlash(p))
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func paths(files []File) []string {
	var out []string
	for _, f := range files {
		out = append(out, f.Path)
	}
	return out
}

func TestCollect(t *testing.T) {
	dir := tree(t, map[string]string{
		"model/MLmodel":       "flavors: {}\n",
		"model/w/weights.bin": "0123456789",
		"model/.git/HEAD":     "ref: x\n",
		"plot.png":            "png",
	})
	os.Chmod(filepath.Join(dir, "model", "w", "weights.bin"), 0o755)
	os.Symlink("MLmodel", filepath.Join(dir, "model", "MLmodel.link"))
	for _, tc := range []struct {
		name  string
		paths []string
		as    string
		want  []string
	}{
		{"folder and file", []string{filepath.Join(dir, "model"), filepath.Join(dir, "plot.png")}, "",
			[]string{"model/MLmodel", "model/MLmodel.link", "model/w/weights.bin", "plot.png"}},
		{"contents only, under a folder", []string{filepath.Join(dir, "model") + "/."}, "out/",
			[]string{"out/MLmodel", "out/MLmodel.link", "out/w/weights.bin"}},
		{"the same file twice", []string{filepath.Join(dir, "plot.png"), filepath.Join(dir, "plot.png")}, ".", []string{"plot.png"}},
	} {
		files, err := Collect(tc.paths, tc.as)
		if err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if got := paths(files); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
	files, _ := Collect([]string{filepath.Join(dir, "model", "w")}, "")
	if len(files) != 1 || files[0].Mode != "0755" || files[0].Size != 10 || files[0].Src != filepath.Join(dir, "model", "w", "weights.bin") {
		t.Fatalf("executable file: %+v", files)
	}
}

// TestCollectRefuses: every problem is reported at once, as input that
// matches manifest.ErrInvalid, and nothing is returned.
func TestCollectRefuses(t *testing.T) {
	dir := tree(t, map[string]string{"a/x.txt": "x", "b/x.txt": "other", "file.txt": "f"})
	os.MkdirAll(filepath.Join(dir, "empty"), 0o755)
	os.Symlink("/etc/hostname", filepath.Join(dir, "a", "outside"))
	os.Symlink("nowhere", filepath.Join(dir, "b", "dangling"))
	for _, tc := range []struct {
		name  string
		paths []string
		as    string
		want  []string
	}{
		{"missing", []string{filepath.Join(dir, "nope")}, "", []string{"nope: no such file or folder", "Nothing was added."}},
		{"empty folder", []string{filepath.Join(dir, "empty")}, "", []string{"empty: folder has no files"}},
		{"links", []string{filepath.Join(dir, "a"), filepath.Join(dir, "b")}, "",
			[]string{"outside: symbolic link points outside", "dangling: symbolic link to nothing"}},
		{"file as folder", []string{filepath.Join(dir, "file.txt") + "/."}, "", []string{"file.txt/.: is a file, not a folder"}},
		{"two sources", []string{filepath.Join(dir, "a", "x.txt"), filepath.Join(dir, "b", "x.txt")}, "",
			[]string{`artifact "x.txt" would come from both`}},
		{"bad folder", []string{filepath.Join(dir, "file.txt")}, "../up", []string{`artifact folder "../up"`}},
		{"empty path", []string{""}, "", []string{"empty path"}},
	} {
		files, err := Collect(tc.paths, tc.as)
		if err == nil || files != nil {
			t.Fatalf("%s: %v %v", tc.name, files, err)
		}
		if !errors.Is(err, manifest.ErrInvalid) {
			t.Errorf("%s: %v does not match manifest.ErrInvalid", tc.name, err)
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, err, w)
			}
		}
	}
}

func TestCleanDir(t *testing.T) {
	for in, want := range map[string]string{"": "", ".": "", "model/": "model", "a/b//": "a/b"} {
		if got, err := CleanDir(in); err != nil || got != want {
			t.Errorf("CleanDir(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := CleanDir("../x"); err == nil {
		t.Error("CleanDir(../x): no error")
	}
}

func TestCheckConflicts(t *testing.T) {
	existing := []manifest.Artifact{{Path: "model/w.bin"}, {Path: "plot.png"}}
	if err := CheckConflicts(existing, []File{{Path: "model/w.bin"}, {Path: "model/x.bin"}}); err != nil {
		t.Fatalf("replacing and adding beside: %v", err)
	}
	for _, tc := range []struct {
		files []File
		want  string
	}{
		{[]File{{Path: "plot.png/a"}}, `artifact "plot.png/a" would be below "plot.png", which is a file`},
		{[]File{{Path: "model"}}, `artifact "model" would be a file where "model/" is a folder`},
		{[]File{{Path: "new"}, {Path: "new/x"}}, `would be below "new"`},
	} {
		err := CheckConflicts(existing, tc.files)
		if !errors.Is(err, manifest.ErrInvalid) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%v: %v, want %q", paths(tc.files), err, tc.want)
		}
	}
}

func TestUnderAndDescribe(t *testing.T) {
	arts := []manifest.Artifact{{Path: "model/MLmodel"}, {Path: "model/w.bin"}, {Path: "modelx"}, {Path: "plot.png"}}
	for _, tc := range []struct {
		p, clean string
		want     []string
	}{
		{"", "", []string{"model/MLmodel", "model/w.bin", "modelx", "plot.png"}},
		{".", "", []string{"model/MLmodel", "model/w.bin", "modelx", "plot.png"}},
		{"/model/", "model", []string{"model/MLmodel", "model/w.bin"}},
		{"model/w.bin", "model/w.bin", []string{"model/w.bin"}},
		{"mode", "mode", nil},
	} {
		sel, clean, err := Under(arts, tc.p)
		var got []string
		for _, x := range sel {
			got = append(got, x.Path)
		}
		if err != nil || clean != tc.clean || !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Under(%q) = %v, %q, %v; want %v, %q", tc.p, got, clean, err, tc.want, tc.clean)
		}
	}
	if _, _, err := Under(arts, "a/../b"); err == nil {
		t.Error("Under(a/../b): no error")
	}
	if got := Describe(arts); got != "it has model/, modelx, plot.png" {
		t.Errorf("Describe = %q", got)
	}
	if got := Describe(nil); got != "it has no artifacts" {
		t.Errorf("Describe(nil) = %q", got)
	}
}
