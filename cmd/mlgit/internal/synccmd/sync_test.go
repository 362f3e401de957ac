package synccmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestSyncFlags checks that the flags and arguments of init, push, pull
// and fetch reach their options.
func TestSyncFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	syncF := func(_ context.Context, o *syncFlags) error { got = *o; return nil }
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"init", NewInitCmd(a, func(_ context.Context, o *initOptions) error { got = *o; return nil }),
			[]string{"--bare-repo", "/srv/t.git", "--json"}, initOptions{bare: "/srv/t.git", json: true}},
		{"push", NewPushCmd(a, syncF),
			[]string{"team", "--json", "--no-blobs", "--blob-remote", "s3://b/p"}, syncFlags{remote: "team", asJSON: true, noBlobs: true, blobRemote: "s3://b/p"}},
		{"push default", NewPushCmd(a, syncF), nil, syncFlags{}},
		{"pull", NewPullCmd(a, syncF), []string{"origin", "--json"}, syncFlags{remote: "origin", asJSON: true}},
		{"fetch", NewFetchCmd(a, syncF), []string{"/srv/git/team.git"}, syncFlags{remote: "/srv/git/team.git"}},
	} {
		got = nil
		tc.cmd.SetArgs(tc.args)
		if tc.args == nil {
			tc.cmd.SetArgs([]string{})
		}
		if err := tc.cmd.Execute(); err != nil {
			t.Fatalf("%s: %v", tc.name, err)
		}
		if !reflect.DeepEqual(got, tc.want) {
			t.Errorf("%s: options %+v, want %+v", tc.name, got, tc.want)
		}
	}
}
