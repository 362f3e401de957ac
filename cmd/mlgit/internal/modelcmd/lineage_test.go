package modelcmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestLineageFlags checks that the flags and arguments of lineage reach
// its options.
func TestLineageFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"lineage", NewLineageCmd(a, func(_ context.Context, o *lineageOptions) error { got = *o; return nil }),
			[]string{"churn@production", "--json"}, lineageOptions{ref: "churn@production", asJSON: true}},
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
