package main

import (
	"encoding/hex"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
	"github.com/zeebo/blake3"
)

func TestMain(m *testing.M) {
	// The test binary run as mlgit is main itself, signal handling
	// included (a server stopped with SIGTERM commits and pushes first).
	testscript.Main(m, map[string]func(){"mlgit": main})
}

// TestScripts runs the CLI transcripts in testdata/script against the real
// binary and real git, in hermetic temporary repositories.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir:                 "testdata/script",
		RequireExplicitExec: true,
		Setup: func(env *testscript.Env) error {
			home := filepath.Join(env.WorkDir, ".home")
			if err := os.MkdirAll(home, 0o755); err != nil {
				return err
			}
			env.Setenv("HOME", home)
			env.Setenv("XDG_CONFIG_HOME", filepath.Join(home, ".config"))
			env.Setenv("GIT_CONFIG_NOSYSTEM", "1")
			env.Setenv("GIT_AUTHOR_NAME", "Ada Lovelace")
			env.Setenv("GIT_AUTHOR_EMAIL", "ada@example.com")
			env.Setenv("GIT_COMMITTER_NAME", "Ada Lovelace")
			env.Setenv("GIT_COMMITTER_EMAIL", "ada@example.com")
			env.Setenv("USER", "ada")
			env.Setenv("MLGIT_NO_AUTO_GC", "1")
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"chunks-named-by-content": chunksNamedByContent,
		},
	})
}

// chunksNamedByContent DIR: every visible chunk file below DIR/chunks
// (stored raw: a flag byte, then the bytes) is named by the BLAKE3 of its
// bytes, so a killed writer left no partial chunk under a final name. A
// missing DIR has no chunks.
func chunksNamedByContent(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: chunks-named-by-content DIR")
	}
	root := filepath.Join(ts.MkAbs(args[0]), "chunks")
	filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasPrefix(d.Name(), ".") {
			return nil
		}
		data, err := os.ReadFile(p)
		ts.Check(err)
		if len(data) == 0 {
			ts.Fatalf("empty chunk %s", p)
		}
		if sum := blake3.Sum256(data[1:]); hex.EncodeToString(sum[:]) != d.Name() {
			ts.Fatalf("chunk %s does not hash to its name", p)
		}
		return nil
	})
}

// TestVersionStamp: the version make build stamps with -ldflags -X is the
// one --version prints.
func TestVersionStamp(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	bin := filepath.Join(t.TempDir(), "mlgit")
	if out, err := exec.Command("go", "build", "-ldflags", "-X main.version=v9.9.9-test", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(bin, "--version").Output()
	if err != nil || string(out) != "mlgit version v9.9.9-test\n" {
		t.Fatalf("--version: %q %v", out, err)
	}
}
