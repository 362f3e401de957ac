// Package cloudtest builds the program mlgit-blob-cloud for tests that open
// gs:// or az:// stores through blob.OpenStore, which runs it.
package cloudtest

import (
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"testing"

	"github.com/mlgit/mlgit/blob"
)

// Package is what Build builds.
const Package = "github.com/mlgit/mlgit/cmd/mlgit-blob-cloud"

// Home and cache folders when the test binary started: tests that make HOME
// hermetic later still build with the user's Go cache.
var (
	startHome  = os.Getenv("HOME")
	startCache = os.Getenv("XDG_CACHE_HOME")
)

// Build builds mlgit-blob-cloud from this checkout into a temporary folder
// of t, with the build tags of the test binary and the Go cache of the
// user who started it, and returns its path.
func Build(t testing.TB) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), blob.CloudProgram)
	args := []string{"build"}
	if tags := buildTags(); tags != "" {
		args = append(args, "-tags", tags)
	}
	args = append(args, "-o", bin, Package)
	cmd := exec.Command("go", args...)
	cmd.Env = append(os.Environ(), "HOME="+startHome, "XDG_CACHE_HOME="+startCache)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go %v: %v\n%s", args, err, out)
	}
	return bin
}

// Use builds mlgit-blob-cloud and points blob.OpenStore at it for the rest
// of the test (blob.CloudProgramEnv, with t.Setenv). It returns the path.
func Use(t testing.TB) string {
	t.Helper()
	bin := Build(t)
	t.Setenv(blob.CloudProgramEnv, bin)
	return bin
}

// buildTags returns the -tags the running binary was built with.
func buildTags() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return ""
	}
	for _, s := range bi.Settings {
		if s.Key == "-tags" {
			return s.Value
		}
	}
	return ""
}
