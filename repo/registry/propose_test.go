package registry

import (
	"strings"
	"testing"
)

func TestCompareURL(t *testing.T) {
	const branch = "mlgit-propose/churn-v4-production"
	gh := "https://github.com/acme/models/compare/mlgit...mlgit-propose/churn-v4-production?expand=1"
	gl := func(base string) string {
		return base + "/-/merge_requests/new?merge_request%5Bsource_branch%5D=mlgit-propose%2Fchurn-v4-production&merge_request%5Btarget_branch%5D=mlgit"
	}
	for _, c := range []struct{ remote, want string }{
		{"git@github.com:acme/models.git", gh},
		{"git@github.com:acme/models", gh},
		{"https://github.com/acme/models.git", gh},
		{"https://github.com/acme/models", gh},
		{"https://github.com/acme/models/", gh},
		{"https://x-access-token:s3cret@github.com/acme/models.git", gh},
		{"ssh://git@github.com/acme/models.git", gh},
		{"ssh://git@ssh.github.com:443/acme/models.git", "https://ssh.github.com/acme/models/compare/mlgit...mlgit-propose/churn-v4-production?expand=1"},
		{"https://github.com/acme/models/extra.git", ""}, // not owner/repo
		{"git@gitlab.com:acme/models.git", gl("https://gitlab.com/acme/models")},
		{"https://gitlab.com/acme/ml/models.git", gl("https://gitlab.com/acme/ml/models")},
		{"ssh://git@gitlab.example.com:2222/data/models.git", gl("https://gitlab.example.com/data/models")},
		{"https://gitlab.example.com:8443/data/models", gl("https://gitlab.example.com:8443/data/models")},
		{"http://gitlab.internal/data/models.git", gl("http://gitlab.internal/data/models")},
		{"git@bitbucket.org:acme/models.git", ""},
		{"https://git.example.com/acme/models.git", ""},
		{"/srv/git/models.git", ""},
		{"../models.git", ""},
		{"file:///srv/git/models.git", ""},
		{"C:\\git\\models", ""},
		{"", ""},
	} {
		if got := CompareURL(c.remote, "mlgit", branch); got != c.want {
			t.Errorf("CompareURL(%q)\n got %q\nwant %q", c.remote, got, c.want)
		}
	}
	// Keys with %XX stay exact in the URL.
	got := CompareURL("git@github.com:acme/models.git", "mlgit", ProposalBranch("my model", 2, "Staging"))
	if got != "https://github.com/acme/models/compare/mlgit...mlgit-propose/my%2520model-v2-staging?expand=1" {
		t.Errorf("escaped key: %s", got)
	}
	if u := redactURL("https://user:tok@github.com/a/b.git"); strings.Contains(u, "tok") || strings.Contains(u, "user") {
		t.Errorf("redactURL kept credentials: %s", u)
	}
}

func TestProposalBranchName(t *testing.T) {
	for _, c := range []struct {
		name  string
		v     int64
		stage string
		want  string
	}{
		{"churn", 4, "Production", "mlgit-propose/churn-v4-production"},
		{"team/churn", 12, "staging", "mlgit-propose/team%2Fchurn-v12-staging"},
		{"..", 1, "Canary", "mlgit-propose/%2E%2E-v1-canary"},
	} {
		got := ProposalBranch(c.name, c.v, c.stage)
		if got != c.want {
			t.Errorf("ProposalBranch(%q) = %q, want %q", c.name, got, c.want)
		}
		if err := CheckBranchName(got); err != nil {
			t.Errorf("%s: %v", got, err)
		}
	}
}
