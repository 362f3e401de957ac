package runcmd

import (
	"context"
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// TestRunReadFlags checks that the flags and arguments of run list, show
// and metrics reach their options.
func TestRunReadFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"list", newRunListCmd(a, func(_ context.Context, o *runListOptions) error { got = *o; return nil }),
			[]string{"--exp", "churn", "--exp", "fraud", "--filter", "metrics.acc > 0.9", "--order-by", "metrics.acc DESC", "--max", "5", "--deleted", "--json", "--columns", "params.lr,metrics.acc", "--only-changed"},
			runListOptions{exps: []string{"churn", "fraud"}, filter: "metrics.acc > 0.9", orderBy: []string{"metrics.acc DESC"}, max: 5, deleted: true, asJSON: true, columns: []string{"params.lr", "metrics.acc"}, onlyChanged: true}},
		{"list defaults", newRunListCmd(a, func(_ context.Context, o *runListOptions) error { got = *o; return nil }),
			[]string{"--all"}, runListOptions{max: 100, all: true}},
		{"show", newRunShowCmd(a, func(_ context.Context, o *runShowOptions) error { got = *o; return nil }),
			[]string{"3f2a", "--json"}, runShowOptions{run: "3f2a", asJSON: true}},
		{"show current", newRunShowCmd(a, func(_ context.Context, o *runShowOptions) error { got = *o; return nil }),
			[]string{}, runShowOptions{}},
		{"metrics", newRunMetricsCmd(a, func(_ context.Context, o *runMetricsOptions) error { got = *o; return nil }),
			[]string{"3f2a", "loss", "--json"}, runMetricsOptions{run: "3f2a", key: "loss", asJSON: true}},
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

// TestRunEndFlushFlags checks that the flags of run end and run flush
// reach their options.
func TestRunEndFlushFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"end", newRunEndCmd(a, func(_ context.Context, o *runEndOptions) error { got = *o; return nil }),
			[]string{"--run", "3f2a", "--status", "failed", "--force"}, runEndOptions{run: "3f2a", status: "failed", statusChanged: true, force: true}},
		{"end defaults", newRunEndCmd(a, func(_ context.Context, o *runEndOptions) error { got = *o; return nil }),
			[]string{}, runEndOptions{status: "FINISHED"}},
		{"end stale", newRunEndCmd(a, func(_ context.Context, o *runEndOptions) error { got = *o; return nil }),
			[]string{"--stale"}, runEndOptions{status: "FINISHED", stale: true}},
		{"flush", newRunFlushCmd(a, func(_ context.Context, o *runFlushOptions) error { got = *o; return nil }),
			[]string{"--json"}, runFlushOptions{asJSON: true}},
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

// TestRunLifecycleFlags checks that the arguments and flags of run delete
// and run restore reach their options.
func TestRunLifecycleFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"delete", newRunLifecycleCmd(a, true, func(_ context.Context, o *runLifecycleOptions) error { got = *o; return nil }),
			[]string{"3f2a", "9c1e", "-y"}, runLifecycleOptions{runs: []string{"3f2a", "9c1e"}, delete: true, yes: true}},
		{"restore", newRunLifecycleCmd(a, false, func(_ context.Context, o *runLifecycleOptions) error { got = *o; return nil }),
			[]string{"3f2a"}, runLifecycleOptions{runs: []string{"3f2a"}}},
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

// TestRunWriteFlags checks that the flags and arguments of run start, run
// log and run exec reach their options, and that run exec refuses a
// command that is not after --.
func TestRunWriteFlags(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"start", newRunStartCmd(a, func(_ context.Context, o *runStartOptions) error { got = *o; return nil }),
			[]string{"--exp", "churn", "--name", "baseline", "--param", "lr=0.1", "--param", "epochs=3", "--tag", "team=ml", "--create-exp=false", "--parent-model", "churn@v3", "--json"},
			runStartOptions{exp: "churn", name: "baseline", params: []string{"lr=0.1", "epochs=3"}, tags: []string{"team=ml"}, parentModel: "churn@v3", asJSON: true}},
		{"start defaults", newRunStartCmd(a, func(_ context.Context, o *runStartOptions) error { got = *o; return nil }),
			[]string{}, runStartOptions{createExp: true}},
		{"log", newRunLogCmd(a, func(_ context.Context, o *runLogOptions) error { got = *o; return nil }),
			[]string{"--run", "3f2a", "--param", "lr=0.1", "--metric", "loss=0.31@7", "--metric", "acc=0.9", "--tag", "stage=warmup", "--delete-tag", "old",
				"--metrics-from", "-", "--strict", "--input", "data/train.csv,context=training"},
			runLogOptions{run: "3f2a", params: []string{"lr=0.1"}, metrics: []string{"loss=0.31@7", "acc=0.9"}, tags: []string{"stage=warmup"}, deleteTags: []string{"old"},
				metricsFrom: "-", strict: true, inputs: []string{"data/train.csv,context=training"}}},
		{"exec", newRunExecCmd(a, func(_ context.Context, o *runExecOptions) error { got = *o; return nil }),
			[]string{"--exp", "churn", "--name", "sweep", "--param", "lr=0.1", "--params", "params.yaml", "--metrics", "metrics.json", "--metrics", "eval.json",
				"--tag", "team=ml", "--parent-model", "churn@v1", "--artifacts", "outputs", "--metrics-from-output", "--mlflow", "--", "python", "train.py", "--epochs", "10"},
			runExecOptions{exp: "churn", name: "sweep", params: []string{"lr=0.1"}, paramFiles: []string{"params.yaml"}, metricFiles: []string{"metrics.json", "eval.json"},
				tags: []string{"team=ml"}, parentModel: "churn@v1", artifacts: "outputs", fromOutput: true, mlflow: true, command: []string{"python", "train.py", "--epochs", "10"}}},
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
	cmd := newRunExecCmd(a, func(context.Context, *runExecOptions) error { t.Fatal("ran"); return nil })
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	cmd.SetArgs([]string{"python", "train.py"})
	if err := cmd.Execute(); cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("exec without --: %v", err)
	}
}
