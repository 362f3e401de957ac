package repo

import (
	"context"
	"os"
	"path/filepath"

	"fmt"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// TestLsRefsLocalAsksOnlyForOneModel: against a local bare remote, the
// v2 ls-refs exchange carries only the asked model's tags (checked with
// git's own packet trace of the serving upload-pack).
func TestLsRefsLocalAsksOnlyForOneModel(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	remote := filepath.Join(t.TempDir(), "r.git")
	gittest.Git(t, dir, "init", "-q", "--bare", remote)
	for i := 1; i <= 50; i++ {
		gittest.Git(t, dir, "tag", fmt.Sprintf("other%d@v1", i))
	}
	gittest.Git(t, dir, "tag", "-a", "-m", "x", "churn@v1")
	gittest.Git(t, dir, "tag", "-a", "-m", "y", "churn#production#1")
	gittest.Git(t, dir, "push", "-q", remote, "--tags")
	trace := filepath.Join(t.TempDir(), "trace")
	t.Setenv("GIT_TRACE_PACKET", trace)
	out, err := gitobj.LsRefsLocal(context.Background(), remote, []string{"refs/tags/churn@", "refs/tags/churn#"})
	if err != nil {
		t.Fatal(err)
	}
	refs := ParseLsRemote(string(out))
	if len(refs) != 2 {
		t.Fatalf("got %d refs: %s", len(refs), out)
	}
	if !strings.Contains(string(out), "refs/tags/churn@v1^{}") {
		t.Fatalf("no peeled line: %s", out)
	}
	tr, _ := os.ReadFile(trace)
	if strings.Contains(string(tr), "other1@v1") {
		t.Fatalf("the serving side sent other models' tags:\n%s", tr)
	}
	if !strings.Contains(string(tr), "ref-prefix refs/tags/churn@") {
		t.Fatalf("no ref-prefix in the exchange:\n%s", tr)
	}
}

func hx(n int) string { return fmt.Sprintf("%040x", n) }
