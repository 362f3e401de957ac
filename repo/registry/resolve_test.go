package registry

import (
	"errors"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

func TestParseModelRef(t *testing.T) {
	for ref, want := range map[string][2]string{
		"churn@production":         {"churn", "production"},
		"team@x@v3":                {"team@x", "v3"},
		"models:/churn/3":          {"churn", "v3"},
		"models:/churn/Production": {"churn", "Production"},
		"models:/churn@champion":   {"churn", "champion"},
		"models:/a/b/latest":       {"a/b", "latest"},
	} {
		n, s, err := ParseModelRef(ref)
		if err != nil || n != want[0] || s != want[1] {
			t.Errorf("ParseModelRef(%q) = %q, %q, %v", ref, n, s, err)
		}
	}
	for _, ref := range []string{"churn", "churn@", "@v1", "models:/churn", "models:/churn/"} {
		if _, _, err := ParseModelRef(ref); !errors.Is(err, manifest.ErrInvalid) {
			t.Errorf("ParseModelRef(%q): %v, want manifest.ErrInvalid", ref, err)
		}
	}
}
