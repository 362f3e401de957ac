package synccmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestConfigFlags checks that the arguments and flags of config get,
// list, set and unset reach their options.
func TestConfigFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"get", newConfigGetCmd(a, func(_ context.Context, o *configGetOptions) error { got = *o; return nil }),
			[]string{"blobs.remote", "--local"}, configGetOptions{key: "blobs.remote", local: true}},
		{"get shared", newConfigGetCmd(a, func(_ context.Context, o *configGetOptions) error { got = *o; return nil }),
			[]string{"stages"}, configGetOptions{key: "stages"}},
		{"list", newConfigListCmd(a, func(_ context.Context, o *configListOptions) error { got = *o; return nil }),
			[]string{"--local", "--json"}, configListOptions{local: true, asJSON: true}},
		{"set", newConfigSetCmd(a, func(_ context.Context, o *configSetOptions) error { got = *o; return nil }),
			[]string{"promotion.production.require", "metrics.auc >= 0.9"}, configSetOptions{key: "promotion.production.require", value: "metrics.auc >= 0.9"}},
		{"set local", newConfigSetCmd(a, func(_ context.Context, o *configSetOptions) error { got = *o; return nil }),
			[]string{"--local", "blobs.remote", "/mnt/fast/blobs"}, configSetOptions{key: "blobs.remote", value: "/mnt/fast/blobs", local: true}},
		{"unset", newConfigUnsetCmd(a, func(_ context.Context, o *configUnsetOptions) error { got = *o; return nil }),
			[]string{"stages", "--local"}, configUnsetOptions{key: "stages", local: true}},
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
