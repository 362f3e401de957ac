package gitobj

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestPackReaderMatchesGit reads every object of a packed repository with
// deltas (after git gc --aggressive) through mlgit's pack reader and
// compares it byte for byte with git cat-file.
func TestPackReaderMatchesGit(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	base := strings.Repeat("line of a file that changes a little between versions\n", 200)
	for i := 0; i < 30; i++ {
		content := base + fmt.Sprintf("version %d\n", i) + strings.Repeat("x", i*10)
		if err := os.WriteFile(filepath.Join(dir, "f.txt"), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		gittest.Git(t, dir, "add", "f.txt")
		gittest.Git(t, dir, "commit", "-q", "-m", fmt.Sprint("v", i))
	}
	gittest.Git(t, dir, "gc", "-q", "--aggressive")
	if loose := gittest.Git(t, dir, "count-objects"); !strings.HasPrefix(loose, "0 objects") {
		t.Fatalf("objects still loose: %s", loose)
	}
	db := Open(filepath.Join(dir, ".git"))
	defer db.Close()
	list := gittest.Git(t, dir, "rev-list", "--objects", "--all")
	n, deltas := 0, 0
	for _, line := range strings.Split(list, "\n") {
		id, _, _ := strings.Cut(line, " ")
		h := plumbing.NewHash(id)
		obj, err := db.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			t.Fatalf("%s: %v", id, err)
		}
		got, err := ReadAll(obj)
		if err != nil {
			t.Fatal(err)
		}
		want, err := exec.Command("git", "-C", dir, "cat-file", obj.Type().String(), id).Output()
		if err != nil {
			t.Fatalf("git cat-file %s %s: %v", obj.Type(), id, err)
		}
		if string(got) != string(want) {
			t.Fatalf("%s %s differs from git cat-file", obj.Type(), id)
		}
		if plumbing.ComputeHash(obj.Type(), got) != h {
			t.Fatalf("%s: content does not hash to its id", id)
		}
		n++
	}
	verify := gittest.Git(t, dir, "verify-pack", "-v", filepath.Join(dir, ".git", "objects", "pack", packName(t, dir)))
	for _, l := range strings.Split(verify, "\n") {
		if f := strings.Fields(l); len(f) >= 7 && len(f[0]) == 40 {
			deltas++
		}
	}
	if n < 90 || deltas == 0 {
		t.Fatalf("read %d objects, %d deltas in the pack: the test is not exercising deltas", n, deltas)
	}
}

func packName(t *testing.T, dir string) string {
	m, _ := filepath.Glob(filepath.Join(dir, ".git", "objects", "pack", "*.idx"))
	if len(m) != 1 {
		t.Fatalf("packs: %v", m)
	}
	return filepath.Base(m[0])
}
