package runcmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestLogFlags checks that the flags of log reach its options.
func TestLogFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"log", NewLogCmd(a, func(_ context.Context, o *logOptions) error { got = *o; return nil }),
			[]string{"-n", "20", "--json"}, logOptions{max: 20, asJSON: true}},
		{"log long", NewLogCmd(a, func(_ context.Context, o *logOptions) error { got = *o; return nil }),
			[]string{"--max-count", "3"}, logOptions{max: 3}},
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
