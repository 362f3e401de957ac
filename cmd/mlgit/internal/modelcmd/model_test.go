package modelcmd

import (
	"reflect"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

func TestModelFlagParsing(t *testing.T) {
	a := &cli.App{Getenv: func(string) string { return "" }}
	var got *modelPromoteOptions
	cmd := newModelPromoteCmd(a, func(o *modelPromoteOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"churn", "v4", "Production", "--archive-existing", "--reason", "AUC up"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.name != "churn" || got.version != 4 || got.stage != "Production" || !got.archiveExisting || got.reason != "AUC up" {
		t.Fatalf("options %+v", got)
	}
	cmd = newModelPromoteCmd(a, func(o *modelPromoteOptions) error { t.Fatal("ran"); return nil })
	cmd.SetArgs([]string{"churn", "four", "Production"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("bad version: %v", err)
	}

	var reg *modelRegisterOptions
	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"churn", "--run", "3f2a"}, true},
		{[]string{"churn", "--from", "dir"}, true},
		{[]string{"churn"}, false},
		{[]string{"churn", "--run", "3f2a", "--from", "dir"}, false},
		{[]string{"churn", "--from", "dir", "--path", "x"}, false},
	} {
		reg = nil
		cmd := newModelRegisterCmd(a, func(o *modelRegisterOptions) error { reg = o; return nil })
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetArgs(c.args)
		err := cmd.Execute()
		if (err == nil) != c.ok || (c.ok && reg == nil) {
			t.Errorf("register %v: %v", c.args, err)
		}
		if !c.ok && cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("register %v: exit %d", c.args, cli.ExitCode(err))
		}
	}
	if reg != nil {
		t.Fatal("last case ran")
	}

	for _, c := range []struct {
		args []string
		ok   bool
	}{
		{[]string{"churn@production", "--field", "digest"}, true},
		{[]string{"churn@production", "--field", "weights"}, false},
		{[]string{"churn@production", "--field", "version", "--json"}, false},
		{[]string{"churn@production", "--remote", "origin", "--field", "run"}, false},
		{[]string{"churn@production", "--remote", "origin", "--field", "commit"}, true},
	} {
		cmd := newModelResolveCmd(a, func(o *modelResolveOptions) error { return nil })
		cmd.SilenceErrors, cmd.SilenceUsage = true, true
		cmd.SetArgs(c.args)
		if err := cmd.Execute(); (err == nil) != c.ok {
			t.Errorf("resolve %v: %v", c.args, err)
		}
	}
	var created *modelCreateOptions
	cmd = newModelCreateCmd(a, func(o *modelCreateOptions) error { created = o; return nil })
	cmd.SetArgs([]string{"churn", "--tag", "team=ml", "--tag", "tier=1", "--description", "d"})
	if err := cmd.Execute(); err != nil || created.name != "churn" || len(created.tags) != 2 || created.description != "d" {
		t.Fatalf("create: %+v %v", created, err)
	}
}

// TestModelCommandOptions checks that the flags and arguments of the
// model list, show, rename, delete, describe, tag, versions, alias, get,
// check-ref and history commands reach their options, and that get,
// check-ref and alias set refuse bad usage before they run.
func TestModelCommandOptions(t *testing.T) {
	a := &cli.App{}
	var got any
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
		want any
	}{
		{"list", newModelListCmd(a, func(o *modelListOptions) error { got = *o; return nil }),
			[]string{"--json"}, modelListOptions{asJSON: true}},
		{"show", newModelShowCmd(a, func(o *modelShowOptions) error { got = *o; return nil }),
			[]string{"churn", "4", "--json"}, modelShowOptions{name: "churn", version: "4", asJSON: true}},
		{"show model", newModelShowCmd(a, func(o *modelShowOptions) error { got = *o; return nil }),
			[]string{"churn"}, modelShowOptions{name: "churn"}},
		{"rename", newModelRenameCmd(a, func(o *modelRenameOptions) error { got = *o; return nil }),
			[]string{"churn", "churn-classifier"}, modelRenameOptions{name: "churn", newName: "churn-classifier"}},
		{"delete", newModelDeleteCmd(a, func(o *modelDeleteOptions) error { got = *o; return nil }),
			[]string{"churn", "3", "--yes"}, modelDeleteOptions{name: "churn", version: "3", yes: true}},
		{"restore", newModelRestoreCmd(a, func(o *modelRestoreOptions) error { got = *o; return nil }),
			[]string{"churn", "--json"}, modelRestoreOptions{name: "churn", asJSON: true}},
		{"describe", newModelDescribeCmd(a, func(o *modelDescribeOptions) error { got = *o; return nil }),
			[]string{"churn", "June snapshot", "--version", "4"}, modelDescribeOptions{name: "churn", text: "June snapshot", version: "4"}},
		{"tag set", newModelTagCmd(a, func(o *modelTagOptions) error { got = *o; return nil }, nil),
			[]string{"set", "churn", "validated=true", "--version", "4"}, modelTagOptions{name: "churn", tags: []string{"validated=true"}, version: "4"}},
		{"tag rm", newModelTagCmd(a, nil, func(o *modelTagOptions) error { got = *o; return nil }),
			[]string{"rm", "churn", "team", "tier"}, modelTagOptions{name: "churn", tags: []string{"team", "tier"}}},
		{"versions", newModelVersionsCmd(a, func(o *modelVersionsOptions) error { got = *o; return nil }),
			[]string{"churn", "--stage", "production", "--json"}, modelVersionsOptions{name: "churn", stage: "production", asJSON: true}},
		{"alias set", newModelAliasCmd(a, func(o *modelAliasSetOptions) error { got = *o; return nil }, nil),
			[]string{"set", "churn", "champion", "v4", "--reason", "won the A/B test"}, modelAliasSetOptions{name: "churn", alias: "champion", version: 4, reason: "won the A/B test"}},
		{"alias rm", newModelAliasCmd(a, nil, func(o *modelAliasRmOptions) error { got = *o; return nil }),
			[]string{"delete", "churn", "challenger", "--reason", "retired"}, modelAliasRmOptions{name: "churn", alias: "challenger", reason: "retired"}},
		{"get", newModelGetCmd(a, func(o *modelGetOptions) error { got = *o; return nil }),
			[]string{"churn@production", "-o", "./model", "--json"}, modelGetOptions{ref: "churn@production", output: "./model", asJSON: true}},
		{"get long", newModelGetCmd(a, func(o *modelGetOptions) error { got = *o; return nil }),
			[]string{"churn@v3", "--output", "/srv/models/churn"}, modelGetOptions{ref: "churn@v3", output: "/srv/models/churn"}},
		{"check-ref", newModelCheckRefCmd(a, func(o *modelCheckRefOptions) error { got = *o; return nil }),
			[]string{"refs/tags/churn#production#7", "--env", "--stages", "shadow,canary"}, modelCheckRefOptions{tag: "refs/tags/churn#production#7", asEnv: true, stages: []string{"shadow", "canary"}}},
		{"check-ref json", newModelCheckRefCmd(a, func(o *modelCheckRefOptions) error { got = *o; return nil }),
			[]string{"churn@v2", "--json"}, modelCheckRefOptions{tag: "churn@v2", asJSON: true}},
		{"history", newModelHistoryCmd(a, func(o *modelHistoryOptions) error { got = *o; return nil }),
			[]string{"churn", "--json"}, modelHistoryOptions{name: "churn", asJSON: true}},
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
	for _, tc := range []struct {
		name string
		cmd  *cobra.Command
		args []string
	}{
		{"get without -o", newModelGetCmd(a, func(*modelGetOptions) error { t.Fatal("ran"); return nil }), []string{"churn@production"}},
		{"check-ref --json --env", newModelCheckRefCmd(a, func(*modelCheckRefOptions) error { t.Fatal("ran"); return nil }), []string{"churn@v1", "--json", "--env"}},
		{"alias set bad version", newModelAliasCmd(a, func(*modelAliasSetOptions) error { t.Fatal("ran"); return nil }, nil), []string{"set", "churn", "champion", "four"}},
	} {
		tc.cmd.SilenceErrors, tc.cmd.SilenceUsage = true, true
		tc.cmd.SetArgs(tc.args)
		if err := tc.cmd.Execute(); cli.ExitCode(err) != cli.ExitUsage {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}
