package check

import (
	"testing"

	"github.com/mlgit/mlgit/repo/registry"
)

func TestSizeString(t *testing.T) {
	for n, want := range map[int64]string{0: "0 B", 1023: "1023 B", 1024: "1.0 KiB", 1536: "1.5 KiB", 5 << 30: "5.0 GiB"} {
		if got := sizeString(n); got != want {
			t.Errorf("sizeString(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestLines(t *testing.T) {
	data := []byte("kind: Config\nstages: [qa]\npromotion:\n  production:\n    from: [qa]\n    require: metrics.acc > 0.9\n  \"qa\":\n    from: [None]\nblobs:\n  remote: s3://b\n")
	if got := lineOf(data, "  remote:", "s3://b"); got != 10 {
		t.Errorf("lineOf = %d", got)
	}
	if got := lineOf(data, "nope"); got != 0 {
		t.Errorf("lineOf(missing) = %d", got)
	}
	for _, c := range []struct {
		is   registry.PolicyIssue
		want int
	}{
		{registry.PolicyIssue{Stage: "production"}, 4},
		{registry.PolicyIssue{Stage: "production", Field: "require"}, 6},
		{registry.PolicyIssue{Stage: "qa", Field: "from"}, 8},
		{registry.PolicyIssue{Stage: "staging"}, 3},
	} {
		if got := policyLine(data, c.is); got != c.want {
			t.Errorf("policyLine(%+v) = %d, want %d", c.is, got, c.want)
		}
	}
}
