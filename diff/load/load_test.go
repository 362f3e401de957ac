package load

import (
	"errors"
	"testing"

	"github.com/mlgit/mlgit/repo"
)

func TestParse(t *testing.T) {
	for _, c := range []struct {
		args                []string
		a, b                string
		revisions, threeDot bool
		bad                 bool
	}{
		{args: []string{"3f2a", "9b1c"}, a: "3f2a", b: "9b1c"},
		{args: []string{"churn@v3", "models:/churn/4"}, a: "churn@v3", b: "models:/churn/4"},
		{args: []string{"mlgit~1", "mlgit"}, a: "mlgit~1", b: "mlgit", revisions: true},
		{args: []string{"3f2a", "mlgit"}, a: "3f2a", b: "mlgit", revisions: true},
		{args: []string{"origin/mlgit..mlgit"}, a: "origin/mlgit", b: "mlgit", revisions: true},
		{args: []string{"origin/mlgit...mlgit-propose/x"}, a: "origin/mlgit", b: "mlgit-propose/x", revisions: true, threeDot: true},
		{args: []string{"churn@v3", "3f2a"}, bad: true},
		{args: []string{"mlgit"}, bad: true},
		{args: []string{"..mlgit"}, bad: true},
		{args: nil, bad: true},
	} {
		q, err := Parse(c.args)
		if c.bad {
			if !errors.Is(err, repo.ErrInvalid) {
				t.Errorf("Parse(%q): %v, want a usage error", c.args, err)
			}
			continue
		}
		if err != nil || q.A != c.a || q.B != c.b || q.Revisions != c.revisions || q.ThreeDot != c.threeDot {
			t.Errorf("Parse(%q) = %+v, %v", c.args, q, err)
		}
	}
	for s, want := range map[string]Kind{"3f2a": Run, "churn@v3": Model, "models:/churn/3": Model, "mlgit~2": Revision, "@v3": Revision, "churn@": Revision} {
		if got := KindOf(s); got != want {
			t.Errorf("KindOf(%q) = %d, want %d", s, got, want)
		}
	}
}
