package synccmd

import (
	"context"
	"encoding/json"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/hooks"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// TestHooksFlags checks that the flags and arguments of hooks install,
// uninstall and run reach their options.
func TestHooksFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"install", newHooksInstallCmd(a, func(_ context.Context, o *hooksInstallOptions) error { got = *o; return nil }),
			[]string{"--force", "--json"}, hooksInstallOptions{force: true, asJSON: true}},
		{"install defaults", newHooksInstallCmd(a, func(_ context.Context, o *hooksInstallOptions) error { got = *o; return nil }),
			[]string{}, hooksInstallOptions{}},
		{"run pre-commit", newHooksRunCmd(a, func(_ context.Context, o *hooksPreCommitOptions) error { got = *o; return nil }, nil),
			[]string{"pre-commit", "a.txt", "b.txt"}, hooksPreCommitOptions{args: []string{"a.txt", "b.txt"}}},
		{"run pre-push", newHooksRunCmd(a, nil, func(_ context.Context, o *hooksPrePushOptions) error { got = *o; return nil }),
			[]string{"pre-push", "origin", "git@example.com:team/churn.git"}, hooksPrePushOptions{remote: "origin", url: "git@example.com:team/churn.git"}},
		{"run pre-push no arguments", newHooksRunCmd(a, nil, func(_ context.Context, o *hooksPrePushOptions) error { got = *o; return nil }),
			[]string{"pre-push"}, hooksPrePushOptions{}},
		{"uninstall", newHooksUninstallCmd(a, func(_ context.Context, o *hooksUninstallOptions) error { got = *o; return nil }),
			[]string{"--json"}, hooksUninstallOptions{asJSON: true}},
	} {
		got = nil
		tc.cmd.SetArgs(tc.args)
		if err := tc.cmd.Execute(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: options %+v, want %+v", tc.name, got, tc.want)
		}
	}
}

// TestHookProblemsAreCheckProblems: a problem the hooks find and a problem
// of mlgit check have the same fields (the conversion compiles only then),
// JSON and text, so a hook's report and mlgit check's read alike.
func TestHookProblemsAreCheckProblems(t *testing.T) {
	hp := hooks.Problem{Path: "runs/3f/x/run.yaml", Line: 7, Kind: hooks.ProblemManifest, Message: "colour: unknown field"}
	cp := repo.CheckProblem(hp)
	hj, _ := json.Marshal(hp)
	cj, _ := json.Marshal(cp)
	if string(hj) != string(cj) || hp.String() != cp.String() {
		t.Fatalf("hook problem %s %q, check problem %s %q", hj, hp, cj, cp)
	}
	if hooks.ProblemManifest != repo.ProblemManifest {
		t.Fatalf("manifest kinds %q and %q", hooks.ProblemManifest, repo.ProblemManifest)
	}
}
