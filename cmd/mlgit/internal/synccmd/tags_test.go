package synccmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestTagsSyncFlags checks that the flags and arguments of tags sync reach
// its options, and that tags sync refuses --push with --dry-run before it
// runs.
func TestTagsSyncFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"tags sync", newTagsSyncCmd(a, func(_ context.Context, o *tagsSyncOptions) error { got = *o; return nil }),
			[]string{"churn", "fraud", "--dry-run", "--json"}, tagsSyncOptions{names: []string{"churn", "fraud"}, dryRun: true, asJSON: true}},
		{"tags sync push", newTagsSyncCmd(a, func(_ context.Context, o *tagsSyncOptions) error { got = *o; return nil }),
			[]string{"--push", "--remote", "team"}, tagsSyncOptions{names: []string{}, push: true, remote: "team"}},
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
	cmd := newTagsSyncCmd(a, func(context.Context, *tagsSyncOptions) error { t.Fatal("ran"); return nil })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs([]string{"--push", "--dry-run"})
	if err := cmd.Execute(); cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("--push --dry-run: %v", err)
	}
}
