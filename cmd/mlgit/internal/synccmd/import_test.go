package synccmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
)

func TestImportFlags(t *testing.T) {
	var got importMLflowOptions
	cmd := newImportMLflowCmd(&cli.App{}, func(_ context.Context, o *importMLflowOptions) error { got = *o; return nil })
	cmd.SetArgs([]string{"--from", "./mlruns", "--experiment", "churn", "--experiment", "0", "--dry-run", "--verify", "--json"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	want := importMLflowOptions{from: "./mlruns", experiments: []string{"churn", "0"}, dryRun: true, verify: true, asJSON: true}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("options %+v, want %+v", got, want)
	}
}
