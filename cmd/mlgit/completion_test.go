package main

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
)

// TestCompletion: the shell's __complete requests list what is in the
// repository: runs by name and id, metric keys of the run, experiments,
// models, versions with their stage, stages, aliases and model references.
func TestCompletion(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	mustCLI(t, dir, "init")
	mustCLI(t, dir, "exp", "create", "churn")
	mustCLI(t, dir, "run", "start", "--exp", "churn", "--name", "lr-0.1")
	mustCLI(t, dir, "run", "log", "--run", "lr-0.1", "--metric", "loss=1", "--metric", "acc=0.5")
	model := filepath.Join(dir, "m")
	os.MkdirAll(model, 0o755)
	os.WriteFile(filepath.Join(model, "f"), []byte("x"), 0o644)
	mustCLI(t, dir, "model", "register", "churn", "--from", model)
	mustCLI(t, dir, "model", "alias", "set", "churn", "champion", "1")
	complete := func(args ...string) []string {
		t.Helper()
		var out, errb bytes.Buffer
		code := run(context.Background(), append([]string{"-C", dir, "__complete"}, args...), cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb})
		if code != 0 {
			t.Fatalf("__complete %v: exit %d %s", args, code, errb.String())
		}
		var got []string
		for _, l := range strings.Split(strings.TrimSpace(out.String()), "\n") {
			if !strings.HasPrefix(l, ":") {
				got = append(got, strings.SplitN(l, "\t", 2)[0])
			}
		}
		return got
	}
	for _, c := range []struct {
		args []string
		want []string
	}{
		{[]string{"run", "show", ""}, []string{"lr-0.1"}},
		{[]string{"run", "metrics", "lr-0.1", ""}, []string{"acc", "loss"}},
		{[]string{"run", "list", "--exp", ""}, []string{"Default", "churn"}},
		{[]string{"model", "promote", ""}, []string{"churn"}},
		{[]string{"model", "promote", "churn", ""}, []string{"1"}},
		{[]string{"model", "promote", "churn", "1", ""}, []string{"None", "Staging", "Production", "Archived"}},
		{[]string{"model", "alias", "rm", "churn", ""}, []string{"champion"}},
		{[]string{"model", "resolve", ""}, []string{"churn@latest", "churn@champion", "churn@production"}},
	} {
		got := complete(c.args...)
		for _, w := range c.want {
			if !hasString(got, w) {
				t.Errorf("complete %q: %v, want %q among them", c.args, got, w)
			}
		}
	}
	// A run id is offered too.
	if got := complete("run", "show", ""); len(got) != 2 || len(got[1]) != 32 {
		t.Errorf("run show: %v, want the name and the id", got)
	}
}

func hasString(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}
