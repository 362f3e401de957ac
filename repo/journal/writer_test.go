package journal

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// TestGroupFileFormat: records of several requests in one file decode with
// the single-writer format; a file of one run is named after it.
func TestGroupFileFormat(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	a, b := strings.Repeat("a", 32), strings.Repeat("b", 32)
	reqs := []*Request{}
	for _, ops := range [][]Op{
		{{Op: OpMetric, Run: a, Point: manifest.MetricPoint{Key: "x", Value: 1, Step: 1, Timestamp: 2}}},
		{{Op: OpParam, Run: b, Key: "k", Value: "v"}, {Op: OpMetric, Run: b, Point: manifest.MetricPoint{Key: "y", Value: 2}}},
	} {
		body, err := EncodeRecords(nil, ops)
		if err != nil {
			t.Fatal(err)
		}
		reqs = append(reqs, &Request{Ops: ops, n: len(ops), body: body})
	}
	if err := w.writeGroup(reqs); err != nil {
		t.Fatal(err)
	}
	if err := w.writeGroup(reqs[:1]); err != nil {
		t.Fatal(err)
	}
	files, _ := filepath.Glob(filepath.Join(dir, "*.jnl"))
	sort.Strings(files)
	if len(files) != 2 {
		t.Fatalf("%d files", len(files))
	}
	if !strings.HasSuffix(files[0], "-multi.jnl") || !strings.HasSuffix(files[1], "-"+a+".jnl") {
		t.Fatalf("names %s, %s", files[0], files[1])
	}
	data, err := os.ReadFile(files[0])
	if err != nil {
		t.Fatal(err)
	}
	ops, err := Decode(data)
	if err != nil || len(ops) != 3 {
		t.Fatalf("%d records, %v", len(ops), err)
	}
	if ops[0].Run != a || ops[1].Op != OpParam || ops[2].Point.Key != "y" {
		t.Fatalf("records %+v", ops)
	}
	// The whole file is one checksum: one flipped byte rejects it all.
	data[len(Magic)+3] ^= 1
	if _, err := Decode(data); err == nil {
		t.Fatal("corrupt group file decoded")
	}
}
