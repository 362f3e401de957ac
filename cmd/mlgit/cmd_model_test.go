package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// mlgit runs the CLI in-process and returns stdout, stderr and the code.
func mlgit(t *testing.T, dir string, args ...string) (string, string, int) {
	t.Helper()
	var out, errb bytes.Buffer
	code := run(context.Background(), append([]string{"-C", dir}, args...), streams{In: strings.NewReader(""), Out: &out, Err: &errb})
	return out.String(), errb.String(), code
}

// runWithFiles creates a finished run whose artifacts are the given files,
// stored in the repository's local blob cache as the artifact commands do.
func runWithFiles(t *testing.T, r *repo.Repo, files map[string]string, spec repo.RunSpec) string {
	t.Helper()
	st, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		t.Fatal(err)
	}
	run, err := r.CreateRun(spec)
	if err != nil {
		t.Fatal(err)
	}
	var arts []manifest.Artifact
	for p, content := range files {
		d, n, err := blob.Add(context.Background(), st, strings.NewReader(content))
		if err != nil {
			t.Fatal(err)
		}
		arts = append(arts, manifest.Artifact{Path: p, Digest: d.String(), Size: n, Mode: "0644"})
	}
	if _, err := r.LogBatch(run.ID, repo.Batch{
		Artifacts: arts,
		Params:    []repo.KV{{Key: "lr", Value: "0.1"}},
		Metrics:   []manifest.MetricPoint{{Key: "auc", Value: 0.9, Step: 1, Timestamp: 1}},
		Inputs:    []manifest.Dataset{{Name: "train.csv", Digest: "sha256:abc", Source: "s3://data/train.csv", Context: "training"}},
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusFinished, EndTime: spec.StartTime + 10}); err != nil {
		t.Fatal(err)
	}
	return run.ID
}

func TestModelRegisterFromRunAndLineage(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	os.WriteFile(filepath.Join(dir, "train.py"), []byte("changed\n"), 0o644) // dirty
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	files := map[string]string{
		"model/MLmodel":   "flavors:\n  sklearn: {}\n  python_function: {}\nmodel_size_bytes: 77\n",
		"model/model.pkl": "weights v1",
		"plots/roc.png":   "png",
	}
	base := runWithFiles(t, r, files, repo.RunSpec{Name: "base", Source: r.SourceInfo()})

	out, errOut, code := mlgit(t, dir, "model", "register", "churn", "--run", base[:8], "--path", "model/")
	if code != 0 || !strings.Contains(out, "Registered churn v1 (2 files, flavors [python_function sklearn]) tag churn@v1") ||
		!strings.Contains(errOut, `Created model "churn"`) {
		t.Fatalf("register: %d %q %q", code, out, errOut)
	}
	v, err := r.GetVersion("churn", 1)
	if err != nil || v.Source != "runs:/"+base+"/model" || v.RunID != base || v.ModelSize != 77 {
		t.Fatalf("version: %+v %v", v, err)
	}
	dest := t.TempDir()
	if out, errOut, code := mlgit(t, dir, "model", "get", "churn@latest", "-o", dest); code != 0 {
		t.Fatalf("get: %d %s %s", code, out, errOut)
	}
	if b, _ := os.ReadFile(filepath.Join(dest, "model.pkl")); string(b) != "weights v1" {
		t.Fatalf("model.pkl = %q", b)
	}

	// A fine-tuned model: its run records the parent version.
	files["model/model.pkl"] = "weights v2"
	tuned := runWithFiles(t, r, files, repo.RunSpec{Name: "tuned", ParentModel: "churn@v1", Source: r.SourceInfo()})
	if _, _, code := mlgit(t, dir, "model", "register", "churn", "--run", tuned); code != 0 {
		t.Fatal("register tuned")
	}
	mlgit(t, dir, "model", "promote", "churn", "2", "production")
	out, errOut, code = mlgit(t, dir, "lineage", "churn@production")
	t.Logf("lineage:\n%s", out)
	if code != 0 {
		t.Fatalf("lineage: %d %s", code, errOut)
	}
	for _, want := range []string{
		"model churn v2 (Production)",
		"`-- run " + tuned + ` "tuned" FINISHED in experiment "Default"`,
		"|-- params", "lr = 0.1", "|-- metrics (final)", "auc = 0.9",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("lineage lacks %q:\n%s", want, out)
		}
	}
	for _, want := range []string{"(dirty) on main \"initial\"", "train.csv sha256:abc s3://data/train.csv (training)", "fine-tuned from", "model churn v1", "run " + base} {
		if !strings.Contains(out, want) {
			t.Errorf("lineage lacks %q:\n%s", want, out)
		}
	}
	out, _, _ = mlgit(t, dir, "lineage", "churn@production", "--json")
	var l repo.Lineage
	if err := json.Unmarshal([]byte(out), &l); err != nil {
		t.Fatal(err, out)
	}
	if l.Run.ID != tuned || l.Parent == nil || l.Parent.Version.Version != 1 || l.Parent.Run.ID != base || !l.Run.Code.Dirty || l.Run.Code.Subject != "initial" {
		t.Fatalf("lineage JSON: %s", out)
	}
	// A run id works as the start too.
	if out, _, code := mlgit(t, dir, "lineage", tuned[:6]); code != 0 || !strings.HasPrefix(out, "run "+tuned) {
		t.Fatalf("lineage of a run: %d %s", code, out)
	}
}

func TestModelFlagParsing(t *testing.T) {
	a := &app{Getenv: func(string) string { return "" }}
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
	if err := cmd.Execute(); exitCode(err) != exitUsage {
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
		if !c.ok && exitCode(err) != exitUsage {
			t.Errorf("register %v: exit %d", c.args, exitCode(err))
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

// TestModelRegisterFromWaitsForBlobGC: register --from adds to the blob
// cache under the cache lock, held shared, so it waits while a blob gc
// holds it exclusive (gc must not remove chunks the add relies on), then
// registers.
func TestModelRegisterFromWaitsForBlobGC(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	model := t.TempDir()
	os.WriteFile(filepath.Join(model, "model.pkl"), []byte("weights"), 0o644)
	gc, err := r.LockBlobCache(true, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	type result struct {
		out, errOut string
		code        int
	}
	done := make(chan result, 1)
	go func() {
		out, errOut, code := mlgit(t, dir, "model", "register", "churn", "--from", model)
		done <- result{out, errOut, code}
	}()
	select {
	case res := <-done:
		t.Fatalf("register --from ran while blob gc held the cache lock: %+v", res)
	case <-time.After(300 * time.Millisecond):
	}
	gc.Unlock()
	select {
	case res := <-done:
		if res.code != 0 || !strings.Contains(res.out, "Registered churn v1 (1 file)") {
			t.Fatalf("register after gc: %+v", res)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("register --from still waiting after the lock was released")
	}
}

// TestModelCommandOptions checks that the flags and arguments of the
// model list, show, rename, delete, describe, tag, versions, alias, get,
// check-ref and history commands reach their options, and that get,
// check-ref and alias set refuse bad usage before they run.
func TestModelCommandOptions(t *testing.T) {
	a := &app{}
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
		if err := tc.cmd.Execute(); exitCode(err) != exitUsage {
			t.Errorf("%s: %v", tc.name, err)
		}
	}
}

// TestModelDeleteRestoreCLI: a deleted model comes back with mlgit model
// restore, resolving as before; the delete says how.
func TestModelDeleteRestoreCLI(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{}, false)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	id := runWithFiles(t, r, map[string]string{"model/MLmodel": "flavors: {}\n", "model/model.pkl": "w"}, repo.RunSpec{Name: "base"})
	for _, args := range [][]string{
		{"model", "register", "churn model", "--run", id, "--path", "model/"},
		{"model", "promote", "churn model", "1", "Production"},
	} {
		if out, errOut, code := mlgit(t, dir, args...); code != 0 {
			t.Fatalf("%v: %d %s %s", args, code, out, errOut)
		}
	}
	out, _, code := mlgit(t, dir, "model", "delete", "churn model", "--yes")
	if code != 0 || !strings.Contains(out, "mlgit model restore 'churn model' brings it back") {
		t.Fatalf("delete: %d %q", code, out)
	}
	if _, _, code := mlgit(t, dir, "model", "resolve", "churn model@production"); code != exitNotFound {
		t.Fatalf("deleted model resolves: exit %d", code)
	}
	out, errOut, code := mlgit(t, dir, "model", "restore", "churn model")
	if code != 0 || !strings.Contains(out, `Restored model "churn model" with 1 version (v1)`) {
		t.Fatalf("restore: %d %q %q", code, out, errOut)
	}
	if out, _, code := mlgit(t, dir, "model", "resolve", "churn model@production"); code != 0 || !strings.Contains(out, "v1") {
		t.Fatalf("restored model resolves: %d %q", code, out)
	}
	if tags := gittest.Git(t, dir, "tag", "--list", "churn%20model@*"); !strings.Contains(tags, "churn%20model@v1#2") {
		t.Fatalf("tags: %s", tags)
	}
	if out, errOut, code := mlgit(t, dir, "model", "check-ref", "churn%20model@v1#2", "--json"); code != 0 || !strings.Contains(out, `"registration"`) {
		t.Fatalf("check-ref of the re-registration: %d %s %s", code, out, errOut)
	}
	if _, errOut, code := mlgit(t, dir, "model", "restore", "churn model"); code != exitUsage && code != exitFailure || !strings.Contains(errOut, "nothing to restore") {
		t.Fatalf("second restore: %d %q", code, errOut)
	}
	if out, _, code := mlgit(t, dir, "fsck"); code != 0 {
		t.Fatalf("fsck: %d %s", code, out)
	}
}
