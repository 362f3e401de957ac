package main

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
)

// TestDamagedCacheDetectedAndRepaired damages the local blob cache three
// ways (a truncated chunk, a flipped byte in another, a file object cut in
// half): blob verify --local reports each damaged blob and exits 1, a get
// refuses to write damaged bytes, and blob verify --repair fetches exactly
// the damaged objects again from the blob remote, after which every file
// reads back byte for byte and the intact objects were never rewritten.
func TestDamagedCacheDetectedAndRepaired(t *testing.T) {
	dir, id := newArtifactRepo(t)
	remote := t.TempDir()
	writeRandom(t, filepath.Join(dir, "a.bin"), 6<<20)
	writeRandom(t, filepath.Join(dir, "b.bin"), 6<<20)
	os.WriteFile(filepath.Join(dir, "c.txt"), []byte("intact\n"), 0o644)
	mustCLI(t, dir, "run", "artifact", "add", "--run", id, filepath.Join(dir, "a.bin"), filepath.Join(dir, "b.bin"), filepath.Join(dir, "c.txt"))
	mustCLI(t, dir, "blob", "push", "--remote", "file://"+remote)

	cache := filepath.Join(dir, ".git", "mlgit", "blobs")
	local, err := blob.NewLocal(cache)
	if err != nil {
		t.Fatal(err)
	}
	digestOf := func(name string) blob.Digest {
		out := mustCLI(t, dir, "run", "artifact", "ls", id, name, "--json")
		i := strings.Index(out, "sha256:")
		d, err := blob.ParseDigest(out[i : i+71])
		if err != nil {
			t.Fatal(err)
		}
		return d
	}
	keysOf := func(d blob.Digest) []string {
		keys, err := blob.Keys(context.Background(), local, d)
		if err != nil {
			t.Fatal(err)
		}
		return keys
	}
	pathOf := func(key string) string {
		p, err := local.Path(key)
		if err != nil {
			t.Fatal(err)
		}
		os.Chmod(p, 0o644)
		return p
	}
	a, b, c := digestOf("a.bin"), digestOf("b.bin"), digestOf("c.txt")
	ka, kb := keysOf(a), keysOf(b)
	// a.bin: one chunk truncated to half.
	pa := pathOf(ka[1])
	data, _ := os.ReadFile(pa)
	os.WriteFile(pa, data[:len(data)/2], 0o644)
	// b.bin: one byte flipped in its last chunk, and its file object cut.
	pb := pathOf(kb[len(kb)-1])
	data, _ = os.ReadFile(pb)
	data[len(data)/2] ^= 0x08
	os.WriteFile(pb, data, 0o644)
	pf := pathOf(kb[0])
	data, _ = os.ReadFile(pf)
	os.WriteFile(pf, data[:len(data)/2], 0o644)
	// An intact chunk of a.bin: it must not be fetched again.
	intact := pathOf(ka[2])
	before, _ := os.Stat(intact)

	out, errOut, code := runCLI(t, dir, "blob", "verify", "--local", "--json")
	if code != cli.ExitFailure {
		t.Fatalf("verify of a damaged cache: exit %d\n%s%s", code, out, errOut)
	}
	var rep struct {
		Checked, OK int
		Problems    []struct{ Digest, Status string }
	}
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("%v: %s", err, out)
	}
	bad := map[string]bool{}
	for _, p := range rep.Problems {
		bad[p.Digest] = true
	}
	if rep.Checked != 3 || rep.OK != 1 || !bad[a.String()] || !bad[b.String()] || bad[c.String()] {
		t.Fatalf("verify report: %s", out)
	}
	got := filepath.Join(t.TempDir(), "got")
	if _, errOut, code := runCLI(t, dir, "run", "artifact", "get", id, "a.bin", "-o", got); code != cli.ExitFailure || !strings.Contains(errOut, "corrupt") {
		t.Fatalf("get of a damaged blob: exit %d: %s", code, errOut)
	}
	if _, err := os.Stat(filepath.Join(got, "a.bin")); err == nil {
		t.Fatal("a damaged file was written")
	}

	out, errOut, code = runCLI(t, dir, "blob", "verify", "--repair", "--remote", "file://"+remote)
	if code != 0 || !strings.Contains(errOut, "repaired 2 blobs: 3 damaged or missing objects fetched again") || !strings.Contains(out, "All 3 blobs") {
		t.Fatalf("repair: exit %d\n%s%s", code, out, errOut)
	}
	if after, _ := os.Stat(intact); !os.SameFile(before, after) {
		t.Fatal("an intact chunk was fetched again")
	}
	mustCLI(t, dir, "run", "artifact", "get", id, "-o", got)
	for _, n := range []string{"a.bin", "b.bin", "c.txt"} {
		want, _ := os.ReadFile(filepath.Join(dir, n))
		have, err := os.ReadFile(filepath.Join(got, n))
		if err != nil || string(have) != string(want) {
			t.Fatalf("%s differs after the repair: %v", n, err)
		}
	}
	if out := mustCLI(t, dir, "blob", "verify", "--local"); !strings.Contains(out, "All 3 blobs") {
		t.Fatalf("verify after the repair: %s", out)
	}
	// Nothing left to repair: a no-op.
	if out, errOut, code := runCLI(t, dir, "blob", "verify", "--repair", "--remote", "file://"+remote); code != 0 || strings.Contains(errOut, "repaired") {
		t.Fatalf("second repair: exit %d\n%s%s", code, out, errOut)
	}
}
