package runcmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestExpFlags checks that the flags and arguments of the exp commands
// reach their options.
func TestExpFlags(t *testing.T) {
	var got any
	capture := func(o any) { got = o }
	a := &cli.App{}
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"create", newExpCreateCmd(a, func(_ context.Context, o *expCreateOptions) error { capture(*o); return nil }),
			[]string{"churn", "--tag", "team=ml", "--tag", "owner=ana", "--artifact-location", "s3://b/p", "--json"},
			expCreateOptions{Name: "churn", Tags: []string{"team=ml", "owner=ana"}, ArtifactLocation: "s3://b/p", AsJSON: true}},
		{"list", newExpListCmd(a, func(_ context.Context, o *expListOptions) error { capture(*o); return nil }),
			[]string{"--deleted", "--json"}, expListOptions{Deleted: true, AsJSON: true}},
		{"list all", newExpListCmd(a, func(_ context.Context, o *expListOptions) error { capture(*o); return nil }),
			[]string{"--all"}, expListOptions{All: true}},
		{"show", newExpShowCmd(a, func(_ context.Context, o *expShowOptions) error { capture(*o); return nil }),
			[]string{"churn", "--json"}, expShowOptions{Experiment: "churn", AsJSON: true}},
		{"rename", newExpRenameCmd(a, func(_ context.Context, o *expRenameOptions) error { capture(*o); return nil }),
			[]string{"churn", "churn-v2"}, expRenameOptions{Experiment: "churn", NewName: "churn-v2"}},
		{"delete", newExpLifecycleCmd(a, true, func(_ context.Context, o *expLifecycleOptions) error { capture(*o); return nil }),
			[]string{"churn", "-y"}, expLifecycleOptions{Experiment: "churn", Delete: true, Yes: true}},
		{"restore", newExpLifecycleCmd(a, false, func(_ context.Context, o *expLifecycleOptions) error { capture(*o); return nil }),
			[]string{"churn"}, expLifecycleOptions{Experiment: "churn"}},
		{"tag set", newExpTagCmd(a, func(_ context.Context, o *expTagSetOptions) error { capture(*o); return nil }, nil),
			[]string{"set", "churn", "team=ml", "owner=ana"}, expTagSetOptions{Experiment: "churn", Tags: []string{"team=ml", "owner=ana"}}},
		{"tag rm", newExpTagCmd(a, nil, func(_ context.Context, o *expTagRmOptions) error { capture(*o); return nil }),
			[]string{"rm", "churn", "owner", "team"}, expTagRmOptions{Experiment: "churn", Keys: []string{"owner", "team"}}},
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
