package artifacts

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
)

type counter struct{ n atomic.Int64 }

func (c *counter) Add(n int64) { c.n.Add(n) }

// TestStoreAndWrite: what Store puts in a blob store, Write writes back
// below a folder with the same content and modes, counting the bytes.
func TestStoreAndWrite(t *testing.T) {
	big := strings.Repeat("0123456789abcdef", (bigFile+1000)/16)
	dir := tree(t, map[string]string{"m/MLmodel": "flavors: {}\n", "m/big.bin": big, "run.sh": "#!/bin/sh\n"})
	os.Chmod(filepath.Join(dir, "run.sh"), 0o755)
	files, err := Collect([]string{filepath.Join(dir, "m"), filepath.Join(dir, "run.sh")}, "out")
	if err != nil {
		t.Fatal(err)
	}
	st := blob.NewMem("test")
	var in counter
	arts, stored, err := Store(context.Background(), st, files, &in)
	if err != nil {
		t.Fatal(err)
	}
	total := int64(len(big) + len("flavors: {}\n") + len("#!/bin/sh\n"))
	if stored <= 0 || in.n.Load() != total {
		t.Fatalf("stored %d bytes, counted %d, want %d", stored, in.n.Load(), total)
	}
	if _, again, err := Store(context.Background(), st, files, nil); err != nil || again != 0 {
		t.Fatalf("storing again: %d new bytes, %v", again, err)
	}
	digests := make([]blob.Digest, len(arts))
	for i, x := range arts {
		if x.Path != files[i].Path || x.Size != files[i].Size || x.Mode != files[i].Mode {
			t.Fatalf("artifact %+v for file %+v", x, files[i])
		}
		if digests[i], err = blob.ParseDigest(x.Digest); err != nil {
			t.Fatal(err)
		}
	}
	dest := filepath.Join(t.TempDir(), "restored")
	var out counter
	if err := Write(context.Background(), st, dest, arts, digests, &out); err != nil {
		t.Fatal(err)
	}
	if out.n.Load() != total {
		t.Fatalf("wrote %d bytes, want %d", out.n.Load(), total)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "out", "m", "big.bin")); string(b) != big {
		t.Fatalf("big.bin: %d bytes", len(b))
	}
	if fi, err := os.Stat(filepath.Join(dest, "out", "run.sh")); err != nil || fi.Mode().Perm() != 0o755 {
		t.Fatalf("run.sh: %v %v", fi, err)
	}
	// A size the blob does not have is refused, and leaves nothing behind.
	bad := []manifest.Artifact{arts[0]}
	bad[0].Size++
	empty := t.TempDir()
	if err := Write(context.Background(), st, empty, bad, digests[:1], nil); !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("wrong size: %v", err)
	}
	filepath.WalkDir(empty, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			t.Errorf("left behind: %s", p)
		}
		return nil
	})
}

// TestStoreFileChanged: a file whose size changed since it was listed is
// blob.ErrFileChanged.
func TestStoreFileChanged(t *testing.T) {
	dir := tree(t, map[string]string{"a.txt": "abc"})
	files, err := Collect([]string{filepath.Join(dir, "a.txt")}, "")
	if err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(dir, "a.txt"), []byte("abcdef"), 0o644)
	if _, _, err := Store(context.Background(), blob.NewMem("test"), files, nil); !errors.Is(err, blob.ErrFileChanged) {
		t.Fatalf("changed file: %v", err)
	}
}

func TestDestStaysInside(t *testing.T) {
	root := t.TempDir()
	for _, bad := range []string{"../x", "a/../../x", "/etc/passwd", "a\\..\\x", "", "a//b", "a/./b", "a\x00b"} {
		if d, err := Dest(root, bad); err == nil {
			t.Errorf("%q: got %s, want an error", bad, d)
		}
	}
	d, err := Dest(root, "model/w.bin")
	if err != nil || d != filepath.Join(root, "model", "w.bin") {
		t.Fatalf("good path: %s %v", d, err)
	}
	// A folder on the way that is a link is refused.
	os.Symlink(t.TempDir(), filepath.Join(root, "model"))
	if err := mkdirsUnder(root, filepath.Join(root, "model", "sub")); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("mkdirs through a link: %v", err)
	}
	// Write refuses it before writing anything.
	st := blob.NewMem("test")
	d1, n, err := blob.Add(context.Background(), st, strings.NewReader("w"))
	if err != nil {
		t.Fatal(err)
	}
	arts := []manifest.Artifact{{Path: "model/sub/w.bin", Digest: d1.String(), Size: n, Mode: "0644"}}
	if err := Write(context.Background(), st, root, arts, []blob.Digest{d1}, nil); err == nil || !strings.Contains(err.Error(), "symbolic link") {
		t.Fatalf("Write through a link: %v", err)
	}
}

func TestCopyPipelined(t *testing.T) {
	src := strings.Repeat("x", 3*bufferSize+17)
	var b strings.Builder
	n, err := copyPipelined(&b, strings.NewReader(src))
	if err != nil || n != int64(len(src)) || b.String() != src {
		t.Fatalf("copied %d bytes, %v", n, err)
	}
	boom := errors.New("boom")
	if _, err := copyPipelined(failingWriter{boom}, strings.NewReader(src)); !errors.Is(err, boom) {
		t.Fatalf("failing writer: %v", err)
	}
}

type failingWriter struct{ err error }

func (w failingWriter) Write([]byte) (int, error) { return 0, w.err }
