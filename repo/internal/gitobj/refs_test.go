package gitobj

import (
	"bytes"
	"errors"
	"fmt"
	"math/rand"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/internal/gittest"
)

func hx(n int) string { return fmt.Sprintf("%040x", n) }

func TestDeleteRefPackedAndLoose(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	for _, tag := range []string{"a", "b", "c"} {
		gittest.Git(t, dir, "tag", "-a", "-m", tag, tag)
	}
	gittest.Git(t, dir, "pack-refs", "--all")
	gittest.Git(t, dir, "tag", "d") // loose
	rf := NewRefs(filepath.Join(dir, ".git"))
	for _, name := range []string{"refs/tags/b", "refs/tags/d"} {
		h, err := rf.Read(name)
		if err != nil || h.IsZero() {
			t.Fatalf("read %s: %v %v", name, h, err)
		}
		if err := rf.Delete(name, plumbing.ZeroHash); !errors.Is(err, ErrCASMismatch) {
			t.Fatalf("delete %s with a wrong old value: %v", name, err)
		}
		if err := rf.Delete(name, h); err != nil {
			t.Fatal(err)
		}
	}
	if got := gittest.Git(t, dir, "tag", "-l"); got != "a\nc" {
		t.Fatalf("tags after delete: %q", got)
	}
	// The peeled line of b went with it: packed-refs still parses for git.
	gittest.Git(t, dir, "fsck", "--strict")
	if out := gittest.Git(t, dir, "show-ref", "--dereference", "c"); !strings.Contains(out, "refs/tags/c^{}") {
		t.Fatalf("show-ref: %s", out)
	}
}

// TestPackedRefsPrefixSearch checks the binary search against a linear
// filter on packed-refs files with peeled lines and near-miss names.
func TestPackedRefsPrefixSearch(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	var names []string
	keys := []string{"a", "a%20b", "a-b", "ab", "churn", "churn2", "churn%40x", "z"}
	for i := 0; i < 3000; i++ {
		k := keys[rng.Intn(len(keys))]
		if rng.Intn(2) == 0 {
			names = append(names, fmt.Sprintf("refs/tags/%s@v%d", k, i))
		} else {
			names = append(names, fmt.Sprintf("refs/tags/%s#production#%d", k, i))
		}
	}
	names = append(names, "refs/heads/main", "refs/remotes/origin/x", "refs/tags/v1.0", "refs/tagsz")
	sort.Strings(names)
	var buf bytes.Buffer
	buf.WriteString("# pack-refs with: peeled fully-peeled sorted \n")
	peeled := map[string]bool{}
	for i, n := range names {
		fmt.Fprintf(&buf, "%s %s\n", hx(i+1), n)
		if strings.HasPrefix(n, "refs/tags/") && i%3 != 0 {
			fmt.Fprintf(&buf, "^%s\n", hx(100000+i))
			peeled[n] = true
		}
	}
	data := buf.Bytes()
	start, sorted := packedHeader(data)
	if !sorted {
		t.Fatal("header not sorted")
	}
	for _, k := range keys {
		for _, sep := range []string{"@", "#"} {
			p := "refs/tags/" + k + sep
			got := scanPacked(data, searchPacked(data, start, p), len(data), p, true)
			lin := scanPacked(data, start, len(data), p, false)
			if len(got) != len(lin) || len(got) == 0 {
				t.Fatalf("prefix %s: binary %d refs, linear %d", p, len(got), len(lin))
			}
			for i := range got {
				if got[i] != lin[i] {
					t.Fatalf("prefix %s: %v != %v", p, got[i], lin[i])
				}
				if peeled[got[i].Name] == got[i].Peeled.IsZero() {
					t.Fatalf("%s: peeled %v", got[i].Name, got[i].Peeled)
				}
			}
		}
	}
	p := "refs/tags/nothing@"
	if got := scanPacked(data, searchPacked(data, start, p), len(data), p, true); len(got) != 0 {
		t.Fatalf("found %v", got)
	}
}
