package repo

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

func artifactPaths(arts []manifest.Artifact) string {
	var ps []string
	for _, a := range arts {
		ps = append(ps, a.Path)
	}
	return strings.Join(ps, ",")
}

// TestDeleteRunArtifactsJournaled: the proxy's DELETE is a journal record,
// acknowledged before any commit, ordered with the run's other records,
// there for a process that opens the repository after this one died, and
// committed by the next checkpoint.
func TestDeleteRunArtifactsJournaled(t *testing.T) {
	r, dir := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{})
	if err != nil {
		t.Fatal(err)
	}
	art := func(p string) manifest.Artifact {
		return manifest.Artifact{Path: p, Digest: "sha256:" + strings.Repeat("ab", 32), Size: 1, Mode: "0644"}
	}
	if _, err := r.LogBatch(run.ID, Batch{Artifacts: []manifest.Artifact{art("a/x"), art("a/y"), art("ab"), art("b")}}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	tip := gittest.Git(t, dir, "rev-parse", "mlgit")
	n, err := r.DeleteRunArtifacts(run.ID, "a")
	if err != nil || n != 2 {
		t.Fatalf("delete a: %d %v", n, err)
	}
	if n, err := r.DeleteRunArtifacts(run.ID, "nothing/here"); err != nil || n != 0 {
		t.Fatalf("delete of nothing: %d %v", n, err)
	}
	// An upload after the delete stays.
	if _, err := r.LogBatch(run.ID, Batch{Artifacts: []manifest.Artifact{art("a/z")}}); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "rev-parse", "mlgit"); got != tip {
		t.Fatal("the delete committed at once; it should be a journal record")
	}
	doc, err := r.GetRun(run.ID)
	if err != nil || artifactPaths(doc.Artifacts) != "a/z,ab,b" {
		t.Fatalf("acknowledged: %s %v", artifactPaths(doc.Artifacts), err)
	}
	// The process dies here: another opens the repository.
	r2, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r2.Close()
	if doc, _ := r2.GetRun(run.ID); artifactPaths(doc.Artifacts) != "a/z,ab,b" {
		t.Fatalf("after a restart: %s", artifactPaths(doc.Artifacts))
	}
	if _, err := r2.Checkpoint(); err != nil {
		t.Fatal(err)
	}
	if got := gittest.Git(t, dir, "show", "mlgit:runs/"+run.ID[:2]+"/"+run.ID+"/run.yaml"); strings.Contains(got, "a/x") || !strings.Contains(got, "a/z") {
		t.Fatalf("committed run.yaml:\n%s", got)
	}
	if n, err := r2.DeleteRunArtifacts(run.ID, "../x"); err == nil || n != 0 {
		t.Fatalf("a path outside the run: %d %v", n, err)
	}
}

// TestCheckpointSkipsTornJournalFile: a journal file cut short (a disk
// that lost its tail) is reported once and dropped; the records of the
// other files are committed.
func TestCheckpointSkipsTornJournalFile(t *testing.T) {
	r, dir := newTestRepo(t)
	run, err := r.CreateRun(RunSpec{Params: map[string]string{"lr": "0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	names, err := os.ReadDir(r.journalDir())
	if err != nil || len(names) == 0 {
		t.Fatalf("journal: %v %v", names, err)
	}
	data, err := os.ReadFile(filepath.Join(r.journalDir(), names[0].Name()))
	if err != nil {
		t.Fatal(err)
	}
	torn := "0000000000000000001-torn-multi.jnl"
	if err := os.WriteFile(filepath.Join(r.journalDir(), torn), data[:len(data)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	res, err := r.Checkpoint()
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Warnings) != 1 || !strings.Contains(res.Warnings[0], torn) || !strings.Contains(res.Warnings[0], "corrupt") {
		t.Fatalf("warnings: %q", res.Warnings)
	}
	if got := gittest.Git(t, dir, "show", "mlgit:runs/"+run.ID[:2]+"/"+run.ID+"/run.yaml"); !strings.Contains(got, "lr:") {
		t.Fatalf("the good file's run was not committed:\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(r.journalDir(), torn)); !os.IsNotExist(err) {
		t.Fatalf("the torn file stays: %v", err)
	}
}
