package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const specPath = "../docs/spec/manifests.md"

// TestSpecExamples checks that the spec quotes every golden file byte for
// byte, and that its non-canonical example is what it says it is.
func TestSpecExamples(t *testing.T) {
	spec, err := os.ReadFile(specPath)
	if err != nil {
		t.Fatalf("the format spec is missing: %v", err)
	}
	files, _ := filepath.Glob(filepath.Join("testdata", "golden", "*"))
	if len(files) == 0 {
		t.Fatal("no golden files")
	}
	for _, f := range files {
		golden, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		fence := "```yaml\n"
		if strings.HasSuffix(f, ".tsv") {
			fence = "```\n"
		}
		if !bytes.Contains(spec, []byte(fence+string(golden)+"```\n")) {
			t.Errorf("%s does not quote %s as it is now; update section 8", specPath, f)
		}
	}

	const heading = "Not canonical"
	i := bytes.Index(spec, []byte(heading))
	if i < 0 {
		t.Fatalf("%s has no %q example", specPath, heading)
	}
	rest := string(spec[i:])
	start := strings.Index(rest, "```yaml\n")
	end := strings.Index(rest[start+8:], "```\n")
	if start < 0 || end < 0 {
		t.Fatalf("no YAML block after %q", heading)
	}
	example := []byte(rest[start+8 : start+8+end])
	r, err := DecodeRun(example)
	if err != nil {
		t.Fatalf("the non-canonical example does not decode: %v", err)
	}
	if ok, err := Canonical(example); ok || err != nil {
		t.Errorf("Canonical(example) = %v, %v; want false, nil", ok, err)
	}
	if !bytes.Equal(r.Encode(), readGolden(t, "run-minimal.yaml")) {
		t.Errorf("the non-canonical example re-encodes as\n%s\nnot as run-minimal.yaml", r.Encode())
	}
}
