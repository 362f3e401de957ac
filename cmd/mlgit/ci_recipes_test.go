package main

// The CI recipes of docs/ci, run as the runners would run them, against a
// local bare remote: the shell of every `run:` step (GitHub Actions) and of
// every job's before_script and script (GitLab CI) is taken from the YAML
// files as they are and executed with bash, in a workspace prepared the way
// the runner's checkout prepares it (depth, tags, detached HEAD, the remote's
// URL mapped to the bare repository with git's url.<base>.insteadOf).
//
// What cannot run offline is emulated, never skipped silently:
//   - `uses:` steps: actions/checkout is emulated (fetch-depth, fetch-tags,
//     filter, sparse-checkout, and its rewrite of a pushed tag into a
//     lightweight tag at depth 1; GitLab's GIT_DEPTH, GIT_FETCH_EXTRA_FLAGS
//     and GIT_CHECKOUT likewise), and every recipe must leave a partial
//     clone that still lacks part of the history (ciPartial),
//     actions/setup-go does nothing; any other action fails the test;
//   - `go`, `gh` and `curl` are stubs on PATH that record their arguments
//     and the files they would send (`--body-file F`, `body@F`); the gh stub
//     refuses what the workflow's token permissions do not allow;
//   - `${{ }}` expressions in env: values are evaluated from a small table
//     (github.*, inputs.*, vars.*, secrets.*, steps.<id>.outputs.*, ||);
//     an unknown one fails the test, and `run:` scripts must not contain
//     any (pass them through env:, which also avoids script injection);
//   - GitLab rules are evaluated (==, !=, =~, !~, &&, ||), so the test also
//     checks which job each pipeline runs.
// Keys the emulation does not understand fail the strict YAML decoding, so
// a recipe cannot grow a feature that this test silently ignores.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"testing"
	"time"

	"gopkg.in/yaml.v3"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
)

const (
	ciRecipes    = "../../docs/ci"
	ciGood       = "mlgit-propose/churn-v2-production" // made by mlgit model promote --propose
	ciBad        = "edit/churn-v3-production"          // a hand edit the policy refuses
	ciGitHubRepo = "acme/models"
)

func TestCIRecipes(t *testing.T) {
	for _, tool := range []string{"bash", "jq", "sed"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("the CI recipes need %s (preinstalled on GitHub's runners; apt-get install %s)", tool, tool)
		}
	}
	gittest.Setenv(t)
	exe := mlgitExe(t)
	t.Run("github", func(t *testing.T) { testGitHubRecipes(t, exe) })
	t.Run("gitlab", func(t *testing.T) { testGitLabRecipes(t, exe) })
}

// --- the shared fixture: a bare remote with runs, versions and proposals

type ciFixture struct {
	exe, root, bare, blobs, dev string
	weights                     map[int]string // model.bin of each version
	v4Commit                    string         // registration commit of churn v4, untagged on the remote
}

var runIDRe = regexp.MustCompile(`\b[0-9a-f]{32}\b`)

// newCIFixture builds the remote a team would have: the CI recipes and a
// promotion policy committed on the tracking branch (by hand, in a worktree,
// as docs/ci/README.md says), churn v1 in Production (acc 0.91), v2 in
// Staging (acc 0.95), v3 in None (acc 0.5), blobs pushed, v4 pushed
// without its tag; then a proposal of
// v2 for Production (mlgit model promote --propose --archive-existing) and a
// hand edit that moves v3 to Production against the policy.
func newCIFixture(t *testing.T, exe string, tracked map[string]string) *ciFixture {
	t.Helper()
	root := t.TempDir()
	fx := &ciFixture{exe: exe, root: root, bare: filepath.Join(root, "models.git"),
		blobs: filepath.Join(filepath.Dir(exe), "blobs"), dev: filepath.Join(root, "dev"),
		weights: map[int]string{1: "churn weights v1\n", 2: "churn weights v2\n", 3: "churn weights v3\n"}}
	gittest.Git(t, root, "init", "-q", "--bare", fx.bare)
	// As GitHub and GitLab serve them: partial clones allowed.
	gittest.Git(t, fx.bare, "config", "uploadpack.allowFilter", "true")
	gittest.Git(t, fx.bare, "config", "uploadpack.allowAnySHA1InWant", "true")
	if err := os.MkdirAll(filepath.Join(fx.dev, "model"), 0o755); err != nil {
		t.Fatal(err)
	}
	gittest.Git(t, fx.dev, "init", "-q", "-b", "main")
	gittest.Git(t, fx.dev, "commit", "-q", "--allow-empty", "-m", "training code")
	gittest.Git(t, fx.dev, "remote", "add", "origin", fx.bare)
	mustProc(t, exe, fx.dev, "init")

	tracked["mlgit.yaml"] = "apiVersion: mlgit/v1\nkind: Config\npromotion:\n  production:\n    from:\n      - staging\n    require: metrics.acc >= 0.9\n"
	fx.commitOnBranch(t, "mlgit", "", "CI recipes and promotion policy", tracked)

	var runs []string
	for v, run := range []struct{ name, lr, acc string }{{"baseline", "0.1", "0.91"}, {"candidate", "0.05", "0.95"}, {"weak", "0.5", "0.5"}} {
		id := runIDRe.FindString(mustProc(t, exe, fx.dev, "run", "start", "--name", run.name, "--param", "lr="+run.lr))
		runs = append(runs, id)
		mustProc(t, exe, fx.dev, "run", "log", "--run", id, "--metric", "acc="+run.acc)
		ciWrite(t, filepath.Join(fx.dev, "model", "model.bin"), fx.weights[v+1])
		mustProc(t, exe, fx.dev, "run", "artifact", "add", "--run", id, "model")
		mustProc(t, exe, fx.dev, "run", "end", "--run", id)
		mustProc(t, exe, fx.dev, "model", "register", "churn", "--run", id, "--path", "model")
	}
	mustProc(t, exe, fx.dev, "model", "promote", "churn", "1", "staging")
	mustProc(t, exe, fx.dev, "model", "promote", "churn", "1", "production")
	mustProc(t, exe, fx.dev, "model", "promote", "churn", "2", "staging")
	mustProc(t, exe, fx.dev, "push")
	// v4 reaches the remote without its tag (the branch pushed with plain
	// git): tags sync must find the commit that added it, in the history.
	mustProc(t, exe, fx.dev, "model", "register", "churn", "--run", runs[0], "--path", "model")
	gittest.Git(t, fx.dev, "push", "-q", "origin", "mlgit")
	fx.v4Commit = gittest.Git(t, fx.dev, "rev-parse", "churn@v4^{commit}")

	out := mustProc(t, exe, fx.dev, "model", "promote", "churn", "2", "production", "--propose", "--archive-existing", "--reason", "acc 0.95 > 0.91")
	if !strings.Contains(out, "Pushed to origin") {
		t.Fatalf("the proposal was not pushed:\n%s", out)
	}
	gittest.Git(t, fx.bare, "rev-parse", "--verify", "refs/heads/"+ciGood)

	v3 := filepath.Join("models", "churn", "versions", "3.yaml")
	yml := gittest.Git(t, fx.dev, "show", "mlgit:"+v3) + "\n"
	if !strings.Contains(yml, "\nstage: None\n") {
		t.Fatalf("%s has no stage None:\n%s", v3, yml)
	}
	fx.commitOnBranch(t, ciBad, "mlgit", "churn v3 -> Production, by hand", map[string]string{v3: strings.Replace(yml, "\nstage: None\n", "\nstage: Production\n", 1)})
	gittest.Git(t, fx.dev, "push", "-q", "origin", ciBad)
	return fx
}

// commitOnBranch commits files on branch (created from start when start is
// not empty) in a temporary worktree of the dev clone, the way a person adds
// files to the tracking branch.
func (fx *ciFixture) commitOnBranch(t *testing.T, branch, start, msg string, files map[string]string) {
	t.Helper()
	wt := filepath.Join(fx.root, "wt")
	if start == "" {
		gittest.Git(t, fx.dev, "worktree", "add", "-q", wt, branch)
	} else {
		gittest.Git(t, fx.dev, "worktree", "add", "-q", "-b", branch, wt, start)
	}
	for name, body := range files {
		ciWrite(t, filepath.Join(wt, name), body)
	}
	gittest.Git(t, wt, "add", "-A")
	gittest.Git(t, wt, "commit", "-q", "-m", msg)
	gittest.Git(t, fx.dev, "worktree", "remove", wt)
}

// merge merges branch into the remote's tracking branch with --no-ff, as
// the merge button does, and returns the new tip. With ref set, the merge
// is pushed there instead (GitHub's refs/pull/<n>/merge).
func (fx *ciFixture) merge(t *testing.T, branch, ref string) string {
	t.Helper()
	m := filepath.Join(fx.root, "merger")
	if _, err := os.Stat(m); err != nil {
		gittest.Git(t, fx.root, "init", "-q", m)
		gittest.Git(t, m, "remote", "add", "origin", fx.bare)
	}
	gittest.Git(t, m, "fetch", "-q", "origin")
	gittest.Git(t, m, "checkout", "-q", "--detach", "origin/mlgit")
	gittest.Git(t, m, "merge", "-q", "--no-ff", "--no-edit", "origin/"+branch)
	if ref == "" {
		ref = "refs/heads/mlgit"
	}
	gittest.Git(t, m, "push", "-q", "origin", "HEAD:"+ref)
	return gittest.Git(t, m, "rev-parse", "HEAD")
}

// remoteTags returns the remote's tags: name → peeled commit.
func (fx *ciFixture) remoteTags(t *testing.T) map[string]string {
	t.Helper()
	tags := map[string]string{}
	for _, l := range strings.Split(gittest.Git(t, fx.root, "ls-remote", "--tags", fx.bare), "\n") {
		sha, ref, ok := strings.Cut(l, "\t")
		if name, peeled := strings.CutSuffix(strings.TrimPrefix(ref, "refs/tags/"), "^{}"); ok && peeled {
			tags[name] = sha
		}
	}
	return tags
}

// newTag returns the one tag that after has and before has not whose name
// matches pattern (path.Match).
func ciNewTag(t *testing.T, before, after map[string]string, pattern string) string {
	t.Helper()
	var found []string
	for name := range after {
		if _, old := before[name]; !old {
			if ok, _ := path.Match(pattern, name); ok {
				found = append(found, name)
			}
		}
	}
	if len(found) != 1 {
		t.Fatalf("want one new tag %s on the remote, have %v", pattern, found)
	}
	return found[0]
}

func ciWrite(t *testing.T, name, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(name), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(name, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func ciRead(t *testing.T, name string) string {
	t.Helper()
	b, err := os.ReadFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// ciPartial checks that the job ran in a partial clone that is still
// partial when it ends (the recipe's commands fetched what they read, not
// the history), with no run files in the working tree, and returns how
// many objects of the history it lacks.
func ciPartial(t *testing.T, r *ciRunner, dir, job string) int {
	t.Helper()
	if got := r.git(dir, "config", "--get", "remote.origin.promisor"); got != "true" {
		t.Errorf("%s: the checkout is not a partial clone (remote.origin.promisor %q)", job, got)
	}
	missing := 0
	for _, l := range strings.Split(r.git(dir, "rev-list", "--objects", "--all", "--missing=print"), "\n") {
		if strings.HasPrefix(l, "?") {
			missing++
		}
	}
	if missing == 0 {
		t.Errorf("%s: the clone lacks nothing at the end: something fetched the whole history", job)
	}
	if _, err := os.Stat(filepath.Join(dir, "runs")); err == nil {
		t.Errorf("%s: the runs were checked out into the working tree", job)
	}
	return missing
}

func ciDecode(t *testing.T, data []byte, v any) {
	t.Helper()
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		t.Fatalf("decode recipe: %v (a key this test does not emulate? teach ci_recipes_test.go first)", err)
	}
}

// --- a runner's machine: folders, hermetic environment, stubs

type ciRunner struct {
	t                    *testing.T
	dir, home, tmp, work string
	mlgitDir             string // holds the mlgit executable
	calls                string // the stubs' records
	log                  strings.Builder
}

type stubCall struct {
	tool string
	args []string
	body string // the file it would have sent, if any
}

const stubHeader = `#!/usr/bin/env bash
# A stub for the CI recipe tests (cmd/mlgit/ci_recipes_test.go): it records
# its arguments, one per line, and the file it would send.
set -euo pipefail
calls=%q
rec="$calls/$(printf '%%03d' "$(find "$calls" -name '*.args' | wc -l)")-%s"
printf '%%s\n' "$@" > "$rec.args"
`

var stubBodies = map[string]string{
	"go": `[ "${1:-}" = install ] || { echo "go stub: the recipes only run go install" >&2; exit 2; }
`,
	"gh": `case "${1:-} ${2:-}" in
  "pr comment") need=pull-requests:write ;;
  "workflow run") need=actions:write ;;
  *) echo "gh stub: unexpected command: $*" >&2; exit 2 ;;
esac
case ",${GH_TOKEN:-}," in
  *",$need,"*) ;;
  *) echo "gh: HTTP 403: Resource not accessible by integration (the token lacks $need)" >&2; exit 1 ;;
esac
prev=
for a in "$@"; do
  if [ "$prev" = --body-file ]; then cp "$a" "$rec.body"; fi
  prev=$a
done
`,
	"curl": `for a in "$@"; do
  case "$a" in body@*) cp "${a#body@}" "$rec.body" ;; esac
done
`,
}

func newCIRunner(t *testing.T, fx *ciFixture, name string, gitconfig string) *ciRunner {
	t.Helper()
	r := &ciRunner{t: t, dir: filepath.Join(fx.root, name), mlgitDir: filepath.Dir(fx.exe)}
	r.home, r.tmp, r.work, r.calls = filepath.Join(r.dir, "home"), filepath.Join(r.dir, "tmp"), filepath.Join(r.dir, "work"), filepath.Join(r.dir, "calls")
	for _, d := range []string{r.home, r.tmp, r.work, r.calls, filepath.Join(r.dir, "stubs")} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ciWrite(t, filepath.Join(r.home, ".gitconfig"), gitconfig)
	for tool, body := range stubBodies {
		stub := filepath.Join(r.dir, "stubs", tool)
		ciWrite(t, stub, fmt.Sprintf(stubHeader, r.calls, tool)+body)
		if err := os.Chmod(stub, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		if t.Failed() || os.Getenv("MLGIT_CI_LOG") != "" {
			t.Logf("runner %s transcript:\n%s", name, r.log.String())
		}
	})
	return r
}

// env is a runner's environment: no Git identity (runners have none), the
// stubs first on PATH, then mlgit, then the system's tools.
func (r *ciRunner) env(extra map[string]string) []string {
	env := []string{
		"PATH=" + filepath.Join(r.dir, "stubs") + string(os.PathListSeparator) + r.mlgitDir + string(os.PathListSeparator) + os.Getenv("PATH"),
		"HOME=" + r.home, "TMPDIR=" + r.tmp, "LANG=C.UTF-8", "CI=true",
		"GIT_CONFIG_NOSYSTEM=1", "GIT_TERMINAL_PROMPT=0", "MLGIT_NO_AUTO_GC=1",
	}
	for _, k := range cli.SortedKeys(extra) {
		env = append(env, k+"="+extra[k])
	}
	return env
}

// git runs git as the runner (its HOME, hence its url rewrites).
func (r *ciRunner) git(dir string, args ...string) string {
	r.t.Helper()
	cmd := exec.Command("git", args...)
	cmd.Dir = dir
	cmd.Env = r.env(nil)
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(&r.log, "[runner] git %s\n%s", strings.Join(args, " "), out)
	if err != nil {
		r.t.Fatalf("runner: git %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// bash runs script the way the runner runs a step, and returns its error.
func (r *ciRunner) bash(label, dir, script string, flags []string, env []string) error {
	r.t.Helper()
	f := filepath.Join(r.tmp, fmt.Sprintf("step-%d.sh", time.Now().UnixNano()))
	ciWrite(r.t, f, script)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "bash", append(append([]string{"--noprofile", "--norc"}, flags...), f)...)
	cmd.Dir = dir
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	fmt.Fprintf(&r.log, "--- %s (%v)\n%s\n%s", label, err, script, out)
	return err
}

// transcript returns the scripts run so far and their output.
func (r *ciRunner) transcript() string { return r.log.String() }

// recorded returns what the stubs recorded, in order.
func (r *ciRunner) recorded(tool string) []stubCall {
	r.t.Helper()
	names, err := filepath.Glob(filepath.Join(r.calls, "*-"+tool+".args"))
	if err != nil {
		r.t.Fatal(err)
	}
	sort.Strings(names)
	var calls []stubCall
	for _, n := range names {
		c := stubCall{tool: tool, args: strings.Split(strings.TrimSuffix(ciRead(r.t, n), "\n"), "\n")}
		if b, err := os.ReadFile(strings.TrimSuffix(n, ".args") + ".body"); err == nil {
			c.body = string(b)
		}
		calls = append(calls, c)
	}
	return calls
}

// --- GitHub Actions

type ghWorkflow struct {
	Name        string            `yaml:"name"`
	On          ghTriggers        `yaml:"on"`
	Permissions map[string]string `yaml:"permissions"`
	Concurrency *ghConcurrency    `yaml:"concurrency"`
	Defaults    struct {
		Run struct {
			Shell string `yaml:"shell"`
		} `yaml:"run"`
	} `yaml:"defaults"`
	Env  map[string]string `yaml:"env"`
	Jobs map[string]*ghJob `yaml:"jobs"`
}

type ghTriggers struct {
	PullRequest      *ghRefFilter `yaml:"pull_request"`
	Push             *ghRefFilter `yaml:"push"`
	WorkflowDispatch *struct {
		Inputs map[string]struct {
			Description string `yaml:"description"`
			Required    bool   `yaml:"required"`
			Type        string `yaml:"type"`
		} `yaml:"inputs"`
	} `yaml:"workflow_dispatch"`
}

type ghRefFilter struct {
	Branches []string `yaml:"branches"`
	Tags     []string `yaml:"tags"`
}

type ghConcurrency struct {
	Group            string `yaml:"group"`
	CancelInProgress bool   `yaml:"cancel-in-progress"`
}

type ghJob struct {
	RunsOn      string            `yaml:"runs-on"`
	Environment string            `yaml:"environment"`
	Permissions map[string]string `yaml:"permissions"`
	Env         map[string]string `yaml:"env"`
	Steps       []ghStep          `yaml:"steps"`
}

type ghStep struct {
	Name            string            `yaml:"name"`
	ID              string            `yaml:"id"`
	Uses            string            `yaml:"uses"`
	With            map[string]string `yaml:"with"`
	Run             string            `yaml:"run"`
	Shell           string            `yaml:"shell"`
	Env             map[string]string `yaml:"env"`
	ContinueOnError bool              `yaml:"continue-on-error"`
}

func (s ghStep) label() string {
	switch {
	case s.Name != "":
		return s.Name
	case s.Uses != "":
		return s.Uses
	}
	return strings.SplitN(s.Run, "\n", 2)[0]
}

// ghEvent is what triggers a workflow run.
type ghEvent struct {
	name     string // pull_request, push, workflow_dispatch
	ref      string // refs/pull/7/merge, refs/heads/mlgit, refs/tags/...
	sha      string
	baseRef  string // pull requests
	headRef  string
	prNumber int
	inputs   map[string]string
}

// triggers reports whether the workflow's on: runs for ev, with GitHub's
// rules: a push filter with only tags ignores branch pushes and the other
// way round; patterns are globs where * does not match /.
func (w *ghWorkflow) triggers(t *testing.T, ev ghEvent) bool {
	t.Helper()
	match := func(patterns []string, name string) bool {
		for _, p := range patterns {
			if strings.Contains(p, "**") || strings.HasPrefix(p, "!") {
				t.Fatalf("filter pattern %q: not emulated", p)
			}
			if ok, err := path.Match(p, name); err != nil {
				t.Fatalf("filter pattern %q: %v", p, err)
			} else if ok {
				return true
			}
		}
		return false
	}
	switch ev.name {
	case "pull_request":
		f := w.On.PullRequest
		return f != nil && (f.Branches == nil || match(f.Branches, ev.baseRef))
	case "push":
		f := w.On.Push
		if f == nil {
			return false
		}
		if b, ok := strings.CutPrefix(ev.ref, "refs/heads/"); ok {
			return (f.Branches == nil && f.Tags == nil) || match(f.Branches, b)
		}
		tag := strings.TrimPrefix(ev.ref, "refs/tags/")
		return (f.Branches == nil && f.Tags == nil) || match(f.Tags, tag)
	case "workflow_dispatch":
		return w.On.WorkflowDispatch != nil
	}
	t.Fatalf("event %s not emulated", ev.name)
	return false
}

type ghResult struct {
	failed        string // the step that failed the job, "" when it succeeded
	out           string // transcript
	summary       string // $GITHUB_STEP_SUMMARY
	workspace     string
	tagAtCheckout string // a tag event's tag right after checkout: "tag" (annotated) or "commit" (lightweight)
	runner        *ciRunner
}

var ghExprRe = regexp.MustCompile(`\$\{\{\s*(.*?)\s*\}\}`)

// runGitHub runs the workflow's only job for ev on a fresh runner.
// checkoutWith, when not nil, replaces actions/checkout's with: (to show
// what its defaults do).
func runGitHub(t *testing.T, fx *ciFixture, file string, ev ghEvent, checkoutWith map[string]string) *ghResult {
	t.Helper()
	var wf ghWorkflow
	ciDecode(t, []byte(ciRead(t, filepath.Join(ciRecipes, "github", file))), &wf)
	if !wf.triggers(t, ev) {
		t.Fatalf("%s does not run for %s %s", file, ev.name, ev.ref)
	}
	if len(wf.Jobs) != 1 {
		t.Fatalf("%s: want one job, have %d", file, len(wf.Jobs))
	}
	var job *ghJob
	for _, j := range wf.Jobs {
		job = j
	}
	perms := wf.Permissions
	if job.Permissions != nil {
		perms = job.Permissions
	}
	if perms == nil {
		perms = map[string]string{"contents": "read"}
	}
	// The token carries its permissions, so that the gh stub and git can
	// refuse what GitHub would refuse.
	token := "ghs_test"
	for _, k := range cli.SortedKeys(perms) {
		token += "," + k + ":" + perms[k]
	}
	gitconfig := fmt.Sprintf("[url \"file://%s\"]\n\tinsteadOf = https://github.com/%s\n", fx.bare, ciGitHubRepo)
	if perms["contents"] != "write" {
		gitconfig += fmt.Sprintf("[url \"file://%s/contents-read-only\"]\n\tpushInsteadOf = https://github.com/%s\n", fx.root, ciGitHubRepo)
	}
	name := fmt.Sprintf("gh-%s-%d", strings.TrimSuffix(file, ".yml"), time.Now().UnixNano())
	r := newCIRunner(t, fx, name, gitconfig)
	res := &ghResult{workspace: filepath.Join(r.work, "models"), runner: r}

	refName := strings.TrimPrefix(strings.TrimPrefix(strings.TrimPrefix(ev.ref, "refs/heads/"), "refs/tags/"), "refs/pull/")
	ctx := map[string]string{
		"github.base_ref": ev.baseRef, "github.head_ref": ev.headRef, "github.ref": ev.ref, "github.ref_name": refName,
		"github.sha": ev.sha, "github.repository": ciGitHubRepo, "github.token": token, "github.event_name": ev.name,
		"github.actor": "ada", "github.actor_id": "1234",
		"github.event.pull_request.number": "",
		"vars.MLGIT_BLOB_REMOTE":           fx.blobs,
	}
	if ev.prNumber != 0 {
		ctx["github.event.pull_request.number"] = fmt.Sprint(ev.prNumber)
	}
	for k, v := range ev.inputs {
		ctx["inputs."+k] = v
	}
	eval := func(s string) string {
		return ghExprRe.ReplaceAllStringFunc(s, func(m string) string {
			expr := ghExprRe.FindStringSubmatch(m)[1]
			for _, alt := range strings.Split(expr, "||") {
				alt = strings.TrimSpace(alt)
				v, ok := ctx[alt]
				switch {
				case ok:
				case strings.HasPrefix(alt, "'") && strings.HasSuffix(alt, "'"):
					v = strings.Trim(alt, "'")
				case strings.HasPrefix(alt, "secrets.") || strings.HasPrefix(alt, "vars.") || strings.HasPrefix(alt, "inputs.") || strings.HasPrefix(alt, "steps."):
					v = "" // unset: GitHub gives an empty string
				default:
					t.Fatalf("%s: expression %q not emulated", file, alt)
				}
				if v != "" {
					return v
				}
			}
			return ""
		})
	}

	summary := filepath.Join(r.tmp, "step-summary.md")
	base := map[string]string{
		"GITHUB_ACTIONS": "true", "GITHUB_EVENT_NAME": ev.name, "GITHUB_REF": ev.ref, "GITHUB_REF_NAME": refName,
		"GITHUB_SHA": ev.sha, "GITHUB_BASE_REF": ev.baseRef, "GITHUB_HEAD_REF": ev.headRef,
		"GITHUB_REPOSITORY": ciGitHubRepo, "GITHUB_WORKSPACE": res.workspace, "GITHUB_STEP_SUMMARY": summary,
		"RUNNER_TEMP": r.tmp,
	}
	for k, v := range wf.Env {
		base[k] = eval(v)
	}
	for k, v := range job.Env {
		base[k] = eval(v)
	}
	for i, s := range job.Steps {
		label := s.label()
		var err error
		switch {
		case s.Uses != "" && s.Run != "":
			t.Fatalf("%s: step %q has both uses and run", file, label)
		case strings.HasPrefix(s.Uses, "actions/checkout@"):
			with := s.With
			if checkoutWith != nil {
				with = checkoutWith
			}
			res.tagAtCheckout = ghCheckout(t, r, fx, ev, with, res.workspace)
			continue
		case strings.HasPrefix(s.Uses, "actions/setup-go@"):
			continue // the go stub stands in for the toolchain
		case s.Uses != "":
			t.Fatalf("%s: action %s is not emulated", file, s.Uses)
		}
		if strings.Contains(s.Run, "${{") {
			t.Fatalf("%s: step %q has ${{ }} in run:; pass values through env: instead", file, label)
		}
		shell := s.Shell
		if shell == "" {
			shell = wf.Defaults.Run.Shell
		}
		if shell != "bash" {
			t.Fatalf("%s: step %q: shell %q (want bash, for pipefail)", file, label, shell)
		}
		env := map[string]string{}
		for k, v := range base {
			env[k] = v
		}
		for k, v := range s.Env {
			env[k] = eval(v)
		}
		outFile := filepath.Join(r.tmp, fmt.Sprintf("output-%d", i))
		envFile := filepath.Join(r.tmp, fmt.Sprintf("env-%d", i))
		ciWrite(t, outFile, "")
		ciWrite(t, envFile, "")
		env["GITHUB_OUTPUT"], env["GITHUB_ENV"] = outFile, envFile
		// GitHub's `shell: bash` is bash --noprofile --norc -eo pipefail {0}.
		err = r.bash(label, res.workspace, s.Run, []string{"-eo", "pipefail"}, r.env(env))
		if s.ID != "" {
			for k, v := range parseRunnerFile(ciRead(t, outFile)) {
				ctx["steps."+s.ID+".outputs."+k] = v
			}
		}
		for k, v := range parseRunnerFile(ciRead(t, envFile)) {
			base[k] = v
		}
		if err != nil && !s.ContinueOnError {
			res.failed = label
			break
		}
	}
	res.out = r.transcript()
	if b, err := os.ReadFile(summary); err == nil {
		res.summary = string(b)
	}
	return res
}

// ghCheckout does what actions/checkout@v4 does for ev, and returns, for a
// tag event, the type of the tag's object after it ("commit" when the
// checkout made it lightweight).
func ghCheckout(t *testing.T, r *ciRunner, fx *ciFixture, ev ghEvent, with map[string]string, ws string) string {
	t.Helper()
	for k := range with {
		switch k {
		case "fetch-depth", "fetch-tags", "filter", "sparse-checkout":
		default:
			t.Fatalf("actions/checkout with %s: not emulated", k)
		}
	}
	// filter: every fetch asks for a partial clone (git then records the
	// remote as the promisor); sparse-checkout: cone-mode patterns set
	// before the checkout, as the action does.
	var filter []string
	if f := with["filter"]; f != "" {
		filter = []string{"--filter=" + f}
	}
	depth := with["fetch-depth"]
	if depth == "" {
		depth = "1"
	}
	if err := os.MkdirAll(ws, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git(ws, "init", "-q")
	r.git(ws, "remote", "add", "origin", "https://github.com/"+ciGitHubRepo)
	var target string // the ref the commit is fetched into
	switch {
	case ev.prNumber != 0:
		target = fmt.Sprintf("refs/remotes/pull/%d/merge", ev.prNumber)
	case strings.HasPrefix(ev.ref, "refs/heads/"):
		target = "refs/remotes/origin/" + strings.TrimPrefix(ev.ref, "refs/heads/")
	default:
		target = ev.ref
	}
	if depth == "0" {
		// All history, all branches and all tags (annotated as they are);
		// the event's commit when no ref has it (a pull request's merge).
		r.git(ws, append(append([]string{"fetch", "-q", "--prune"}, filter...), "origin", "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")...)
		if ev.prNumber != 0 {
			r.git(ws, append(append([]string{"fetch", "-q"}, filter...), "origin", "+"+ev.sha+":"+target)...)
		}
	} else {
		// One commit fetched by its id into the ref: for a tag event that
		// makes the tag lightweight (actions/checkout#290, #882).
		args := append([]string{"fetch", "-q", "--prune", "--depth=" + depth}, filter...)
		if with["fetch-tags"] != "true" {
			args = append(args, "--no-tags")
		}
		r.git(ws, append(args, "origin", "+"+ev.sha+":"+target)...)
	}
	if sc := strings.Fields(with["sparse-checkout"]); len(sc) > 0 {
		r.git(ws, append([]string{"sparse-checkout", "set"}, sc...)...)
	}
	switch {
	case strings.HasPrefix(ev.ref, "refs/heads/"):
		r.git(ws, "checkout", "-q", "--force", "-B", strings.TrimPrefix(ev.ref, "refs/heads/"), target)
		return ""
	case strings.HasPrefix(ev.ref, "refs/tags/"):
		r.git(ws, "checkout", "-q", "--force", "--detach", target)
		return r.git(ws, "cat-file", "-t", ev.ref)
	default:
		r.git(ws, "checkout", "-q", "--force", "--detach", target)
		return ""
	}
}

// parseKV reads $GITHUB_OUTPUT / $GITHUB_ENV: name=value lines and
// name<<DELIMITER blocks.
func parseRunnerFile(s string) map[string]string {
	kv := map[string]string{}
	lines := strings.Split(s, "\n")
	for i := 0; i < len(lines); i++ {
		if k, v, ok := strings.Cut(lines[i], "="); ok && !strings.Contains(k, "<<") {
			kv[k] = v
		} else if k, delim, ok := strings.Cut(lines[i], "<<"); ok {
			var val []string
			for i++; i < len(lines) && lines[i] != delim; i++ {
				val = append(val, lines[i])
			}
			kv[k] = strings.Join(val, "\n")
		}
	}
	return kv
}

func testGitHubRecipes(t *testing.T, exe string) {
	files := []string{"mlgit-check.yml", "mlgit-tags-sync.yml", "deploy-on-stage-tag.yml"}
	tracked := map[string]string{}
	for _, f := range files {
		tracked[".github/workflows/"+f] = ciRead(t, filepath.Join(ciRecipes, "github", f))
	}
	fx := newCIFixture(t, exe, tracked)
	// GitHub takes a run's workflow from the event's commit: the recipes
	// must be on the tracking branch (docs/ci/README.md).
	workflowAt := func(sha, file string) {
		t.Helper()
		if got := gittest.Git(t, fx.bare, "show", sha+":.github/workflows/"+file) + "\n"; got != tracked[".github/workflows/"+file] {
			t.Errorf("commit %s has another %s than docs/ci/github", sha[:8], file)
		}
	}

	// Pull requests into mlgit, good and bad: the evidence is posted either
	// way, and mlgit check decides.
	pr := func(n int, branch string) ghEvent {
		sha := fx.merge(t, branch, fmt.Sprintf("refs/pull/%d/merge", n))
		workflowAt(sha, "mlgit-check.yml")
		return ghEvent{name: "pull_request", ref: fmt.Sprintf("refs/pull/%d/merge", n), sha: sha, baseRef: "mlgit", headRef: branch, prNumber: n}
	}
	good := runGitHub(t, fx, "mlgit-check.yml", pr(7, ciGood), nil)
	if good.failed != "" {
		t.Fatalf("check of the good proposal failed at %q:\n%s", good.failed, good.out)
	}
	if !strings.Contains(good.out, ": no problems") {
		t.Errorf("mlgit check did not report its result:\n%s", good.out)
	}
	t.Logf("mlgit-check.yml: the clone lacks %d objects of the history", ciPartial(t, good.runner, good.workspace, "mlgit-check.yml"))
	if _, err := os.Stat(filepath.Join(good.workspace, ".github", "workflows", "mlgit-check.yml")); err != nil {
		t.Errorf("the sparse checkout lacks .github: %v", err)
	}
	goodComment := ghComment(t, good, 7)
	for _, want := range []string{
		"<!-- mlgit review -->",
		"| `churn` | 2 | Staging | Production |", // the change set: stage changes
		"| `churn` | 1 | Production | Archived |",
		"| **Version** | 1 | 2 |", // candidate vs the current production
		"| acc | 0.91 | 0.95 | +0.04 |",
	} {
		if !strings.Contains(goodComment, want) {
			t.Errorf("the pull request comment lacks %q:\n%s", want, goodComment)
		}
	}
	if strings.Count(goodComment, "## Model `churn`") != 1 {
		t.Errorf("want one model comparison (Archived is not compared):\n%s", goodComment)
	}
	if !strings.Contains(good.summary, goodComment) {
		t.Errorf("the job summary lacks the comment:\n%s", good.summary)
	}
	if calls := good.runner.recorded("go"); len(calls) != 1 || strings.Join(calls[0].args, " ") != "install github.com/mlgit/mlgit/cmd/mlgit@latest" {
		t.Errorf("go calls: %+v", calls)
	}

	bad := runGitHub(t, fx, "mlgit-check.yml", pr(8, ciBad), nil)
	if bad.failed != "mlgit check" {
		t.Fatalf("check of the hand edit: want a failure at step \"mlgit check\", have %q:\n%s", bad.failed, bad.out)
	}
	for _, want := range []string{
		"churn v3 None -> Production: policy for production: a version may enter Production only from Staging",
		"churn v3 None -> Production: policy for production: metrics.acc >= 0.9 not met",
	} {
		if !strings.Contains(bad.out, want) {
			t.Errorf("mlgit check output lacks %q:\n%s", want, bad.out)
		}
	}
	if c := ghComment(t, bad, 8); !strings.Contains(c, "| acc | 0.91 | 0.5 |") || !strings.Contains(c, "| `churn` | 3 | None | Production |") {
		t.Errorf("the comment on the refused pull request lacks the evidence:\n%s", c)
	}

	// Which workflow runs for what.
	var tagsWF, deployWF ghWorkflow
	ciDecode(t, []byte(tracked[".github/workflows/mlgit-tags-sync.yml"]), &tagsWF)
	ciDecode(t, []byte(tracked[".github/workflows/deploy-on-stage-tag.yml"]), &deployWF)
	for _, c := range []struct {
		wf   *ghWorkflow
		ref  string
		want bool
	}{
		{&tagsWF, "refs/heads/mlgit", true},
		{&tagsWF, "refs/heads/" + ciGood, false},
		{&tagsWF, "refs/tags/churn#production#9", false},
		{&deployWF, "refs/tags/churn#production#9", true},
		{&deployWF, "refs/tags/churn#archived#9", false},
		{&deployWF, "refs/tags/churn@v9", false},
		{&deployWF, "refs/heads/mlgit", false},
	} {
		if got := c.wf.triggers(t, ghEvent{name: "push", ref: c.ref}); got != c.want {
			t.Errorf("%s on push of %s: runs %v, want %v", c.wf.Name, c.ref, got, c.want)
		}
	}

	// The merge: tags sync creates the stage tags, pushes them with the
	// workflow's token, and starts the deploy for the production tag.
	before := fx.remoteTags(t)
	tip := fx.merge(t, ciGood, "")
	workflowAt(tip, "mlgit-tags-sync.yml")
	sync := runGitHub(t, fx, "mlgit-tags-sync.yml", ghEvent{name: "push", ref: "refs/heads/mlgit", sha: tip}, nil)
	if sync.failed != "" {
		t.Fatalf("tags sync failed at %q:\n%s", sync.failed, sync.out)
	}
	ciPartial(t, sync.runner, sync.workspace, "mlgit-tags-sync.yml")
	after := fx.remoteTags(t)
	prod := ciNewTag(t, before, after, "churn#production#*")
	ciNewTag(t, before, after, "churn#archived#*")
	if after[prod] != after["churn@v2"] {
		t.Errorf("%s is on %s, churn@v2 on %s", prod, after[prod], after["churn@v2"])
	}
	if after["churn@v4"] != fx.v4Commit {
		t.Errorf("churn@v4 on the remote: %q, want the registration commit %s", after["churn@v4"], fx.v4Commit)
	}
	if tagger := gittest.Git(t, fx.bare, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/"+prod); tagger != "ada <1234+ada@users.noreply.github.com>" {
		t.Errorf("tagger of %s: %q", prod, tagger)
	}
	dispatch := sync.runner.recorded("gh")
	if len(dispatch) != 1 || strings.Join(dispatch[0].args, " ") != "workflow run deploy-on-stage-tag.yml --ref mlgit -f tag="+prod {
		t.Fatalf("want the deploy workflow started for %s, have %+v", prod, dispatch)
	}
	again := runGitHub(t, fx, "mlgit-tags-sync.yml", ghEvent{name: "push", ref: "refs/heads/mlgit", sha: tip}, nil)
	if again.failed != "" || len(fx.remoteTags(t)) != len(after) || len(again.runner.recorded("gh")) != 0 {
		t.Errorf("a second tags sync changed something (failed %q):\n%s", again.failed, again.out)
	}

	// Deploy: on the tag push (as mlgit push would make it), on the dispatch
	// that tags sync started, and with checkout's defaults (one commit, the
	// tag turned lightweight), which the recipe's own fetch repairs.
	tagSHA := gittest.Git(t, fx.bare, "rev-parse", prod+"^{commit}")
	workflowAt(tagSHA, "deploy-on-stage-tag.yml")
	for _, c := range []struct {
		name     string
		ev       ghEvent
		with     map[string]string
		lightTag bool
	}{
		{"tag push", ghEvent{name: "push", ref: "refs/tags/" + prod, sha: tagSHA}, nil, false},
		{"dispatch", ghEvent{name: "workflow_dispatch", ref: "refs/heads/mlgit", sha: tip, inputs: map[string]string{"tag": strings.TrimPrefix(dispatch[0].args[len(dispatch[0].args)-1], "tag=")}}, nil, false},
		{"checkout defaults", ghEvent{name: "push", ref: "refs/tags/" + prod, sha: tagSHA}, map[string]string{}, true},
	} {
		d := runGitHub(t, fx, "deploy-on-stage-tag.yml", c.ev, c.with)
		if d.failed != "" {
			t.Errorf("deploy (%s) failed at %q:\n%s", c.name, d.failed, d.out)
			continue
		}
		if got := ciRead(t, filepath.Join(d.workspace, "model", "model.bin")); got != fx.weights[2] {
			t.Errorf("deploy (%s) downloaded %q, want %q", c.name, got, fx.weights[2])
		}
		if !strings.Contains(d.out, "deploying churn v2 (sha256:") {
			t.Errorf("deploy (%s) did not say what it deploys:\n%s", c.name, d.out)
		}
		if c.with == nil {
			ciPartial(t, d.runner, d.workspace, "deploy-on-stage-tag.yml ("+c.name+")")
		}
		if c.lightTag && d.tagAtCheckout != "commit" {
			t.Errorf("the emulated checkout left %s as %q, want a lightweight tag", prod, d.tagAtCheckout)
		}
		if c.ev.name == "push" {
			if typ := d.runner.git(d.workspace, "cat-file", "-t", prod); typ != "tag" {
				t.Errorf("deploy (%s): %s is %s after the recipe's fetch, want an annotated tag", c.name, prod, typ)
			}
		}
	}
}

// ghComment returns the body of the one comment the run posted on pull
// request n.
func ghComment(t *testing.T, res *ghResult, n int) string {
	t.Helper()
	calls := res.runner.recorded("gh")
	if len(calls) != 1 || strings.Join(calls[0].args, " ") != fmt.Sprintf("pr comment %d --body-file review.md", n) {
		t.Fatalf("want one gh pr comment %d, have %+v", n, calls)
	}
	return calls[0].body
}

// --- GitLab CI

type glJob struct {
	Stage         string            `yaml:"stage"`
	Image         string            `yaml:"image"`
	Rules         []glRule          `yaml:"rules"`
	BeforeScript  []string          `yaml:"before_script"`
	Script        []string          `yaml:"script"`
	Variables     map[string]string `yaml:"variables"`
	ResourceGroup string            `yaml:"resource_group"`
	Environment   string            `yaml:"environment"`
	Artifacts     struct {
		When    string   `yaml:"when"`
		Paths   []string `yaml:"paths"`
		Reports struct {
			Dotenv string `yaml:"dotenv"`
		} `yaml:"reports"`
	} `yaml:"artifacts"`
}

type glRule struct {
	If   string `yaml:"if"`
	When string `yaml:"when"`
}

type glConfig struct {
	Workflow struct {
		Rules []glRule `yaml:"rules"`
	} `yaml:"workflow"`
	Variables map[string]string `yaml:"variables"`
	Stages    []string          `yaml:"stages"`
	Default   struct {
		Image        string   `yaml:"image"`
		BeforeScript []string `yaml:"before_script"`
	} `yaml:"default"`
	Jobs map[string]*glJob `yaml:"-"`
}

func parseGitLab(t *testing.T, data []byte) *glConfig {
	t.Helper()
	var top map[string]yaml.Node
	if err := yaml.Unmarshal(data, &top); err != nil {
		t.Fatal(err)
	}
	cfg := &glConfig{Jobs: map[string]*glJob{}}
	global := map[string]yaml.Node{}
	for k, n := range top {
		switch k {
		case "workflow", "variables", "stages", "default":
			global[k] = n
			continue
		}
		if strings.HasPrefix(k, ".") {
			t.Fatalf(".gitlab-ci.yml: hidden job %s (extends) is not emulated", k)
		}
		b, err := yaml.Marshal(&n)
		if err != nil {
			t.Fatal(err)
		}
		var j glJob
		ciDecode(t, b, &j)
		cfg.Jobs[k] = &j
	}
	b, err := yaml.Marshal(global)
	if err != nil {
		t.Fatal(err)
	}
	ciDecode(t, b, cfg)
	return cfg
}

var (
	glCompareRe = regexp.MustCompile(`^\$(\w+)\s*(==|!=|=~|!~)\s*(.+)$`)
	glVarRe     = regexp.MustCompile(`^\$(\w+)$`)
)

// glIf evaluates a rules:if expression: clauses joined by && and || (no
// parentheses), each $VAR, or $VAR compared with "text", 'text', $OTHER or
// a /regexp/.
func glIf(t *testing.T, expr string, vars map[string]string) bool {
	t.Helper()
	for _, or := range strings.Split(expr, "||") {
		all := true
		for _, c := range strings.Split(or, "&&") {
			c = strings.TrimSpace(c)
			if m := glVarRe.FindStringSubmatch(c); m != nil {
				all = all && vars[m[1]] != ""
				continue
			}
			m := glCompareRe.FindStringSubmatch(c)
			if m == nil {
				t.Fatalf("rules:if clause %q is not emulated", c)
			}
			left, op, right := vars[m[1]], m[2], strings.TrimSpace(m[3])
			var ok bool
			switch {
			case (op == "=~" || op == "!~") && strings.HasPrefix(right, "/") && strings.HasSuffix(right, "/"):
				ok = regexp.MustCompile(right[1:len(right)-1]).MatchString(left) == (op == "=~")
			case op == "=~" || op == "!~":
				t.Fatalf("rules:if clause %q: want a /regexp/", c)
			default:
				var val string
				if v := glVarRe.FindStringSubmatch(right); v != nil {
					val = vars[v[1]]
				} else if len(right) >= 2 && (right[0] == '"' || right[0] == '\'') && right[len(right)-1] == right[0] {
					val = right[1 : len(right)-1]
				} else {
					t.Fatalf("rules:if clause %q is not emulated", c)
				}
				ok = (left == val) == (op == "==")
			}
			all = all && ok
		}
		if all {
			return true
		}
	}
	return false
}

func glRulesMatch(t *testing.T, rules []glRule, vars map[string]string) bool {
	for _, r := range rules {
		if r.If == "" || glIf(t, r.If, vars) {
			return r.When != "never"
		}
	}
	return false
}

// glPipeline is a pipeline's predefined variables.
type glPipeline struct {
	id   int
	sha  string
	vars map[string]string
}

const (
	glJobToken  = "glcbt-jobtoken"
	glPushToken = "glpat-pushtoken"
	glAPIToken  = "glpat-apitoken"
)

func newGLPipeline(t *testing.T, fx *ciFixture, id int, sha string, vars map[string]string) glPipeline {
	t.Helper()
	gittest.Git(t, fx.bare, "update-ref", fmt.Sprintf("refs/pipelines/%d", id), sha)
	p := glPipeline{id: id, sha: sha, vars: map[string]string{
		"CI": "true", "GITLAB_CI": "true", "CI_PIPELINE_ID": fmt.Sprint(id), "CI_COMMIT_SHA": sha,
		"CI_PROJECT_ID": "42", "CI_PROJECT_PATH": "acme/models", "CI_SERVER_PROTOCOL": "https",
		"CI_SERVER_HOST": "gitlab.example.com", "CI_SERVER_PORT": "443", "CI_SERVER_URL": "https://gitlab.example.com",
		"CI_API_V4_URL": "https://gitlab.example.com/api/v4", "CI_JOB_TOKEN": glJobToken,
		"GITLAB_USER_NAME": "Grace Hopper", "GITLAB_USER_EMAIL": "grace@example.com",
	}}
	for k, v := range vars {
		p.vars[k] = v
	}
	return p
}

// jobs returns the jobs the pipeline runs, by name.
func (p glPipeline) jobs(t *testing.T, cfg *glConfig) []string {
	t.Helper()
	vars := map[string]string{}
	for k, v := range cfg.Variables {
		vars[k] = v
	}
	for k, v := range p.vars {
		vars[k] = v
	}
	if !glRulesMatch(t, cfg.Workflow.Rules, vars) {
		return nil
	}
	var names []string
	for _, name := range cli.SortedKeys(cfg.Jobs) {
		if glRulesMatch(t, cfg.Jobs[name].Rules, vars) {
			names = append(names, name)
		}
	}
	return names
}

type glResult struct {
	err    error
	out    string
	dir    string // CI_PROJECT_DIR
	runner *ciRunner
}

// runGitLab runs one job of the pipeline on a fresh runner: the runner's
// fetch (GIT_DEPTH, the pipeline's refspecs, a detached HEAD), then
// before_script and script as one bash script with set -eo pipefail.
func runGitLab(t *testing.T, fx *ciFixture, cfg *glConfig, p glPipeline, name string) *glResult {
	t.Helper()
	job := cfg.Jobs[name]
	remote := "https://gitlab-ci-token:" + glJobToken + "@gitlab.example.com/acme/models.git"
	// The job token can fetch, not push; a project access token can push.
	gitconfig := fmt.Sprintf("[url \"file://%s\"]\n\tinsteadOf = %s\n\tinsteadOf = https://oauth2:%s@gitlab.example.com:443/acme/models.git\n"+
		"[url \"file://%s/job-token-cannot-push\"]\n\tpushInsteadOf = %s\n", fx.bare, remote, glPushToken, fx.root, remote)
	r := newCIRunner(t, fx, fmt.Sprintf("gl-%d-%s", p.id, name), gitconfig)
	res := &glResult{dir: filepath.Join(r.work, "acme", "models"), runner: r}

	env := map[string]string{
		// Project CI/CD variables (docs/ci/gitlab/.gitlab-ci.yml's header).
		"MLGIT_BLOB_REMOTE": fx.blobs, "MLGIT_PUSH_TOKEN": glPushToken, "MLGIT_GITLAB_TOKEN": glAPIToken,
		"CI_PROJECT_DIR": res.dir,
	}
	for k, v := range p.vars {
		env[k] = v
	}
	for _, vars := range []map[string]string{cfg.Variables, job.Variables} {
		for _, k := range cli.SortedKeys(vars) {
			env[k] = os.Expand(vars[k], func(k string) string { return env[k] })
		}
	}

	depth := env["GIT_DEPTH"]
	if depth == "" {
		depth = "20" // GitLab's default for new projects
	}
	if err := os.MkdirAll(res.dir, 0o755); err != nil {
		t.Fatal(err)
	}
	r.git(res.dir, "init", "-q")
	r.git(res.dir, "remote", "add", "origin", remote)
	// GIT_FETCH_EXTRA_FLAGS replaces the runner's default flags.
	extra, ok := env["GIT_FETCH_EXTRA_FLAGS"]
	if !ok {
		extra = "--prune --quiet"
	}
	args := append([]string{"fetch"}, strings.Fields(extra)...)
	if depth != "0" {
		args = append(args, "--depth", depth)
	}
	// The refspecs GitLab hands the runner (Ci::BuildRunnerPresenter#refspecs):
	// the pipeline's ref, and all branches and tags at depth 0, else only
	// the pipeline's own branch or tag.
	specs := []string{fmt.Sprintf("+refs/pipelines/%d:refs/pipelines/%d", p.id, p.id)}
	switch b, tag := p.vars["CI_COMMIT_BRANCH"], p.vars["CI_COMMIT_TAG"]; {
	case depth == "0":
		specs = append(specs, "+refs/heads/*:refs/remotes/origin/*", "+refs/tags/*:refs/tags/*")
	case b != "":
		specs = append(specs, "+refs/heads/"+b+":refs/remotes/origin/"+b)
	case tag != "":
		specs = append(specs, "+refs/tags/"+tag+":refs/tags/"+tag)
	}
	r.git(res.dir, append(append(args, "origin"), specs...)...)
	switch env["GIT_CHECKOUT"] {
	case "", "true":
		r.git(res.dir, "checkout", "-q", "-f", p.sha)
	case "false":
	default:
		t.Fatalf("GIT_CHECKOUT %q: not emulated", env["GIT_CHECKOUT"])
	}

	before := job.BeforeScript
	if before == nil {
		before = cfg.Default.BeforeScript
	}
	script := "set -eo pipefail\n" + strings.Join(before, "\n") + "\n" + strings.Join(job.Script, "\n") + "\n"
	res.err = r.bash(name, res.dir, script, nil, r.env(env))
	res.out = r.transcript()
	if dotenv := job.Artifacts.Reports.Dotenv; dotenv != "" && res.err == nil {
		for _, l := range strings.Split(strings.TrimSpace(ciRead(t, filepath.Join(res.dir, dotenv))), "\n") {
			if !regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*=`).MatchString(l) {
				t.Errorf("%s: dotenv report %s: bad line %q", name, dotenv, l)
			}
		}
	}
	return res
}

func testGitLabRecipes(t *testing.T, exe string) {
	ciFile := ciRead(t, filepath.Join(ciRecipes, "gitlab", ".gitlab-ci.yml"))
	cfg := parseGitLab(t, []byte(ciFile))
	fx := newCIFixture(t, exe, map[string]string{".gitlab-ci.yml": ciFile})
	tip := gittest.Git(t, fx.bare, "rev-parse", "mlgit")
	if got := gittest.Git(t, fx.bare, "show", tip+":.gitlab-ci.yml") + "\n"; got != ciFile {
		t.Errorf("the tracking branch has another .gitlab-ci.yml than docs/ci/gitlab")
	}

	mr := func(id, iid int, source, target string) glPipeline {
		return newGLPipeline(t, fx, id, gittest.Git(t, fx.bare, "rev-parse", "refs/heads/"+source), map[string]string{
			"CI_PIPELINE_SOURCE": "merge_request_event", "CI_MERGE_REQUEST_IID": fmt.Sprint(iid),
			"CI_MERGE_REQUEST_SOURCE_BRANCH_NAME": source, "CI_MERGE_REQUEST_TARGET_BRANCH_NAME": target,
			"CI_COMMIT_REF_NAME": source})
	}
	branch := func(id int, b string) glPipeline {
		return newGLPipeline(t, fx, id, gittest.Git(t, fx.bare, "rev-parse", "refs/heads/"+b), map[string]string{
			"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_BRANCH": b, "CI_COMMIT_REF_NAME": b})
	}
	tag := func(id int, tag string) glPipeline {
		return newGLPipeline(t, fx, id, gittest.Git(t, fx.bare, "rev-parse", tag+"^{commit}"), map[string]string{
			"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": tag, "CI_COMMIT_REF_NAME": tag})
	}
	wantJobs := func(p glPipeline, want ...string) {
		t.Helper()
		if got := p.jobs(t, cfg); strings.Join(got, " ") != strings.Join(want, " ") {
			t.Errorf("pipeline %d (%s): jobs %v, want %v", p.id, p.vars["CI_COMMIT_REF_NAME"], got, want)
		}
	}

	// Merge requests into mlgit: the note is posted either way, mlgit check
	// decides.
	good := mr(101, 3, ciGood, "mlgit")
	wantJobs(good, "mlgit-check")
	wantJobs(mr(102, 4, ciGood, "main"))
	res := runGitLab(t, fx, cfg, good, "mlgit-check")
	if res.err != nil {
		t.Fatalf("mlgit-check on the good proposal: %v\n%s", res.err, res.out)
	}
	note := glNote(t, res, 3)
	for _, want := range []string{"<!-- mlgit review -->", "| `churn` | 2 | Staging | Production |", "| acc | 0.91 | 0.95 | +0.04 |"} {
		if !strings.Contains(note, want) {
			t.Errorf("the merge request note lacks %q:\n%s", want, note)
		}
	}
	if ciRead(t, filepath.Join(res.dir, "review.md")) != note {
		t.Errorf("the review.md artifact is not the note")
	}
	ciPartial(t, res.runner, res.dir, "mlgit-check")
	res = runGitLab(t, fx, cfg, mr(103, 5, ciBad, "mlgit"), "mlgit-check")
	if res.err == nil || !strings.Contains(res.out, "churn v3 None -> Production: policy for production: metrics.acc >= 0.9 not met") {
		t.Errorf("mlgit-check on the hand edit: want the policy failure, have %v:\n%s", res.err, res.out)
	}
	if !strings.Contains(glNote(t, res, 5), "| acc | 0.91 | 0.5 |") {
		t.Errorf("the note on the refused merge request lacks the evidence")
	}

	// The merge: a branch pipeline on mlgit syncs the tags, pushing with the
	// project access token (the job token cannot push).
	wantJobs(branch(104, ciGood))
	before := fx.remoteTags(t)
	fx.merge(t, ciGood, "")
	p := branch(105, "mlgit")
	wantJobs(p, "mlgit-tags-sync")
	if res := runGitLab(t, fx, cfg, p, "mlgit-tags-sync"); res.err != nil {
		t.Fatalf("mlgit-tags-sync: %v\n%s", res.err, res.out)
	} else {
		ciPartial(t, res.runner, res.dir, "mlgit-tags-sync")
	}
	after := fx.remoteTags(t)
	prod := ciNewTag(t, before, after, "churn#production#*")
	archived := ciNewTag(t, before, after, "churn#archived#*")
	if after[prod] != after["churn@v2"] || after[archived] != after["churn@v1"] || after["churn@v4"] != fx.v4Commit {
		t.Errorf("the new stage tags are on the wrong versions: %v", after)
	}
	if tagger := gittest.Git(t, fx.bare, "for-each-ref", "--format=%(taggername) %(taggeremail)", "refs/tags/"+prod); tagger != "Grace Hopper <grace@example.com>" {
		t.Errorf("tagger of %s: %q", prod, tagger)
	}

	// The tag pipeline deploys; other tags start nothing.
	wantJobs(tag(106, archived))
	wantJobs(tag(107, "churn@v2"))
	p = tag(108, prod)
	wantJobs(p, "mlgit-deploy")
	res = runGitLab(t, fx, cfg, p, "mlgit-deploy")
	if res.err != nil {
		t.Fatalf("mlgit-deploy: %v\n%s", res.err, res.out)
	}
	if got := ciRead(t, filepath.Join(res.dir, "model", "model.bin")); got != fx.weights[2] {
		t.Errorf("deploy downloaded %q, want %q", got, fx.weights[2])
	}
	ciPartial(t, res.runner, res.dir, "mlgit-deploy")
	if env := ciRead(t, filepath.Join(res.dir, "registry.env")); !strings.Contains(env, "\nversion=2\n") || !strings.Contains(env, "tag="+prod+"\n") {
		t.Errorf("registry.env:\n%s", env)
	}
}

// glNote returns the body of the one note the job posted on merge request
// iid.
func glNote(t *testing.T, res *glResult, iid int) string {
	t.Helper()
	calls := res.runner.recorded("curl")
	if len(calls) != 1 {
		t.Fatalf("want one curl call, have %+v", calls)
	}
	args := strings.Join(calls[0].args, " ")
	for _, want := range []string{"PRIVATE-TOKEN: " + glAPIToken, fmt.Sprintf("https://gitlab.example.com/api/v4/projects/42/merge_requests/%d/notes", iid), "--request POST"} {
		if !strings.Contains(args, want) {
			t.Errorf("curl %s: lacks %q", args, want)
		}
	}
	return calls[0].body
}
