package hooks

import (
	"bytes"
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
)

var (
	buildOnce sync.Once
	binDir    string
	buildErr  error
)

// mlgitBin builds the mlgit binary once per test process and returns the
// folder it is in. The installed hooks call it through PATH.
func mlgitBin(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "mlgit-hooks-bin-")
		if err != nil {
			buildErr = err
			return
		}
		binDir = dir
		_, file, _, _ := runtime.Caller(0)
		root := filepath.Dir(filepath.Dir(file))
		cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "mlgit"), "./cmd/mlgit")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = errors.New(string(out))
		}
	})
	if buildErr != nil {
		t.Fatalf("go build ./cmd/mlgit: %v", buildErr)
	}
	return binDir
}

func TestMain(m *testing.M) {
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// setup makes a hermetic repository with mlgit on PATH.
func setup(t *testing.T) string {
	t.Helper()
	bin := mlgitBin(t)
	gittest.Setenv(t)
	t.Setenv("PATH", bin+string(os.PathListSeparator)+os.Getenv("PATH"))
	for _, k := range []string{"MLGIT_MAX_FILE_SIZE", "MLGIT_BRANCH", "MLGIT_BLOB_REMOTE", "MLGIT_REPO", "MLGIT_SKIP_BLOB_PUSH"} {
		t.Setenv(k, "")
		os.Unsetenv(k)
	}
	return gittest.NewRepo(t)
}

func write(t *testing.T, p string, data []byte, mode os.FileMode) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, data, mode); err != nil {
		t.Fatal(err)
	}
}

func read(t *testing.T, p string) string {
	t.Helper()
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// mustFail runs git and expects it to fail; it returns the output.
func mustFail(t *testing.T, dir string, args ...string) string {
	t.Helper()
	out, err := gittest.Run(dir, args...)
	if err == nil {
		t.Fatalf("git %s succeeded, want it refused:\n%s", strings.Join(args, " "), out)
	}
	return out
}

func install(t *testing.T, dir string, opt InstallOptions) []Action {
	t.Helper()
	acts, err := Install(context.Background(), dir, opt)
	if err != nil {
		t.Fatalf("Install: %v", err)
	}
	return acts
}

func did(acts []Action) string {
	var s []string
	for _, a := range acts {
		s = append(s, a.Hook+"="+a.Did)
	}
	return strings.Join(s, " ")
}

func TestInstallFreshAndIdempotent(t *testing.T) {
	dir := setup(t)
	if got := did(install(t, dir, InstallOptions{})); got != "pre-commit=installed pre-push=installed" {
		t.Fatalf("first install: %s", got)
	}
	for _, name := range Names {
		p := filepath.Join(dir, ".git", "hooks", name)
		fi, err := os.Stat(p)
		if err != nil || fi.Mode()&0o111 == 0 {
			t.Fatalf("%s: not an executable file: %v", p, err)
		}
		if read(t, p) != string(Body(name)) {
			t.Errorf("%s: body differs", name)
		}
		if v, ok := InstalledVersion([]byte(read(t, p))); !ok || v != Version {
			t.Errorf("%s: marker version %d %v", name, v, ok)
		}
	}
	if got := did(install(t, dir, InstallOptions{})); got != "pre-commit=up-to-date pre-push=up-to-date" {
		t.Errorf("second install: %s", got)
	}
	if got := did(install(t, dir, InstallOptions{Force: true})); got != "pre-commit=reinstalled pre-push=reinstalled" {
		t.Errorf("install --force: %s", got)
	}
	// A clean commit goes through the hook.
	write(t, filepath.Join(dir, "small.txt"), []byte("hello\n"), 0o644)
	gittest.Git(t, dir, "add", "small.txt")
	gittest.Git(t, dir, "commit", "-q", "-m", "small")
}

func TestCommitBlockedByLargeFile(t *testing.T) {
	dir := setup(t)
	install(t, dir, InstallOptions{})
	gittest.Git(t, dir, "config", "mlgit.maxFileSize", "1k")
	write(t, filepath.Join(dir, "data", "weights.bin"), bytes.Repeat([]byte{7}, 4096), 0o644)
	write(t, filepath.Join(dir, "ok.txt"), []byte("fine\n"), 0o644)
	gittest.Git(t, dir, "add", ".")
	out := mustFail(t, dir, "commit", "-q", "-m", "weights")
	for _, want := range []string{"data/weights.bin: file is 4.0 KiB, over the 1.0 KiB limit", "mlgit run artifact add", "git config --add mlgit.allowLargeFile", "--no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if strings.Contains(out, "ok.txt") {
		t.Errorf("small file reported:\n%s", out)
	}
	// The environment overrides git config.
	t.Setenv("MLGIT_MAX_FILE_SIZE", "1M")
	gittest.Git(t, dir, "commit", "-q", "-m", "allowed by env")
	os.Unsetenv("MLGIT_MAX_FILE_SIZE")
	// The allow-list exempts a path (or pattern).
	write(t, filepath.Join(dir, "data", "other.bin"), bytes.Repeat([]byte{8}, 4096), 0o644)
	gittest.Git(t, dir, "add", ".")
	mustFail(t, dir, "commit", "-q", "-m", "other")
	gittest.Git(t, dir, "config", "--add", "mlgit.allowLargeFile", "data/*.bin")
	gittest.Git(t, dir, "commit", "-q", "-m", "allowed by pattern")
}

// trackingWorktree checks out a new orphan tracking branch "mlgit" in a
// worktree, as someone editing the branch by hand would.
func trackingWorktree(t *testing.T, dir string) string {
	t.Helper()
	gittest.Git(t, dir, mlgitArgs("init")...)
	wt := filepath.Join(t.TempDir(), "wt")
	gittest.Git(t, dir, "worktree", "add", "-q", wt, "mlgit")
	return wt
}

// mlgitArgs lets gittest run mlgit through "git -c alias..."-free means:
// it returns args for running the mlgit binary via git's exec path.
func mlgitArgs(args ...string) []string {
	return append([]string{"-c", "alias.mlgit=!mlgit", "mlgit"}, args...)
}

const runID = "3f2a1b2c3d4e5f60718293a4b5c6d7e8"

func validRun() []byte {
	r := &manifest.Run{
		Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun},
		ID:     runID, ExperimentID: "0", Status: manifest.StatusFinished, LifecycleStage: manifest.LifecycleActive,
		StartTime: 1700000000000, Params: map[string]string{"lr": "0.1"},
	}
	return r.Encode()
}

func TestCommitBlockedByInvalidManifest(t *testing.T) {
	dir := setup(t)
	install(t, dir, InstallOptions{})
	wt := trackingWorktree(t, dir)
	runPath := "runs/3f/" + runID + "/run.yaml"

	// Valid and canonical: accepted.
	write(t, filepath.Join(wt, runPath), validRun(), 0o644)
	gittest.Git(t, wt, "add", ".")
	gittest.Git(t, wt, "commit", "-q", "-m", "good run")

	cases := []struct {
		name string
		data string
		want []string
	}{
		{"yaml syntax", strings.Replace(string(validRun()), "lr: \"0.1\"", "lr: [0.1", 1),
			[]string{runPath + ":", "malformed manifest", "line "}},
		{"unknown field", string(validRun()) + "colour: blue\n",
			[]string{runPath + ":", "line ", "colour"}},
		{"rule", strings.Replace(string(validRun()), "status: FINISHED", "status: DONE", 1),
			[]string{runPath + ":", "status \"DONE\" is not one of"}},
		{"not canonical", strings.Replace(string(validRun()), "experimentId: \"0\"", "experimentId: '0'", 1),
			[]string{runPath + ":", "canonical encoding", "experimentId: '0'"}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			write(t, filepath.Join(wt, runPath), []byte(tc.data), 0o644)
			gittest.Git(t, wt, "add", ".")
			out := mustFail(t, wt, "commit", "-q", "-m", tc.name)
			for _, w := range tc.want {
				if !strings.Contains(out, w) {
					t.Errorf("output lacks %q:\n%s", w, out)
				}
			}
			gittest.Git(t, wt, "checkout", "-q", "HEAD", "--", ".")
		})
	}
	// The line is the line of the problem.
	bad := strings.Replace(string(validRun()), "lifecycleStage: active", "lifecycleStage: active\nbogus: 1", 1)
	p := CheckManifest(runPath, []byte(bad))
	wantLine := strings.Count(bad[:strings.Index(bad, "bogus")], "\n") + 1
	if p == nil || p.Line != wantLine {
		t.Errorf("CheckManifest line: got %+v, want line %d", p, wantLine)
	}
}

func TestCodeBranchFilesAtManifestPathsIgnored(t *testing.T) {
	dir := setup(t)
	install(t, dir, InstallOptions{})
	// A project's own models/x/model.yaml that is not an mlgit manifest.
	write(t, filepath.Join(dir, "models", "resnet", "model.yaml"), []byte("layers: [1, 2\n"), 0o644)
	gittest.Git(t, dir, "add", ".")
	gittest.Git(t, dir, "commit", "-q", "-m", "own yaml")
	// One that claims to be an mlgit manifest is checked on any branch.
	write(t, filepath.Join(dir, "mlgit.yaml"), []byte("apiVersion: mlgit/v1\nkind: Config\nstages: [x\n"), 0o644)
	gittest.Git(t, dir, "add", ".")
	out := mustFail(t, dir, "commit", "-q", "-m", "config")
	if !strings.Contains(out, "mlgit.yaml:") {
		t.Errorf("output:\n%s", out)
	}
}

func TestChainUserHookAndRestore(t *testing.T) {
	dir := setup(t)
	hooksDir := filepath.Join(dir, ".git", "hooks")
	user := "#!/bin/sh\necho \"user hook $*\" >> \"$(git rev-parse --git-dir)/user-hook.log\"\nexit ${USER_HOOK_EXIT:-0}\n"
	write(t, filepath.Join(hooksDir, "pre-commit"), []byte(user), 0o755)
	acts := install(t, dir, InstallOptions{})
	if got := did(acts); got != "pre-commit=chained pre-push=installed" {
		t.Fatalf("install: %s", got)
	}
	if read(t, filepath.Join(hooksDir, "pre-commit"+ChainedSuffix)) != user {
		t.Fatal("user hook not kept as chained")
	}
	// Both run: the user's first, then mlgit's (which refuses this file).
	gittest.Git(t, dir, "config", "mlgit.maxFileSize", "10")
	write(t, filepath.Join(dir, "a.txt"), []byte("more than ten bytes\n"), 0o644)
	gittest.Git(t, dir, "add", "a.txt")
	out := mustFail(t, dir, "commit", "-q", "-m", "a")
	if !strings.Contains(out, "a.txt: file is") {
		t.Errorf("mlgit check did not run:\n%s", out)
	}
	if log := read(t, filepath.Join(dir, ".git", "user-hook.log")); !strings.Contains(log, "user hook") {
		t.Errorf("user hook did not run: %q", log)
	}
	// A failing user hook stops the commit before mlgit runs.
	gittest.Git(t, dir, "config", "mlgit.maxFileSize", "10M")
	t.Setenv("USER_HOOK_EXIT", "3")
	mustFail(t, dir, "commit", "-q", "-m", "a")
	os.Unsetenv("USER_HOOK_EXIT")
	gittest.Git(t, dir, "commit", "-q", "-m", "a")
	// Installing again keeps the chain; a second user hook cannot be chained.
	if got := did(install(t, dir, InstallOptions{})); got != "pre-commit=up-to-date pre-push=up-to-date" {
		t.Errorf("reinstall: %s", got)
	}
	// Uninstall restores the user's hook byte for byte.
	acts, err := Uninstall(context.Background(), dir)
	if err != nil {
		t.Fatal(err)
	}
	if got := did(acts); got != "pre-commit=restored pre-push=removed" {
		t.Errorf("uninstall: %s", got)
	}
	if read(t, filepath.Join(hooksDir, "pre-commit")) != user {
		t.Error("user hook not restored")
	}
	if _, err := os.Stat(filepath.Join(hooksDir, "pre-push")); !os.IsNotExist(err) {
		t.Error("pre-push left behind")
	}
	if _, err := os.Stat(filepath.Join(hooksDir, "pre-commit"+ChainedSuffix)); !os.IsNotExist(err) {
		t.Error("chained copy left behind")
	}
}

func TestRefusals(t *testing.T) {
	dir := setup(t)
	hooksDir := filepath.Join(dir, ".git", "hooks")
	framework := "#!/usr/bin/env bash\n# File generated by pre-commit: https://pre-commit.com\nexit 0\n"
	write(t, filepath.Join(hooksDir, "pre-commit"), []byte(framework), 0o755)
	_, err := Install(context.Background(), dir, InstallOptions{})
	if !errors.Is(err, ErrUserHook) || !strings.Contains(err.Error(), ".pre-commit-config.yaml") {
		t.Fatalf("framework hook: %v", err)
	}
	// Nothing changed, not even the other hook.
	if _, err := os.Stat(filepath.Join(hooksDir, "pre-push")); !os.IsNotExist(err) {
		t.Error("a refused install wrote pre-push")
	}
	if got := did(install(t, dir, InstallOptions{Force: true})); got != "pre-commit=chained pre-push=installed" {
		t.Errorf("--force: %s", got)
	}
	// A user hook when a chained one already exists cannot be chained.
	write(t, filepath.Join(hooksDir, "pre-push"), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	write(t, filepath.Join(hooksDir, "pre-push"+ChainedSuffix), []byte("#!/bin/sh\nexit 0\n"), 0o755)
	if _, err := Install(context.Background(), dir, InstallOptions{Force: true}); !errors.Is(err, ErrUserHook) || !strings.Contains(err.Error(), "merge the two by hand") {
		t.Errorf("double chain: %v", err)
	}
}

func TestHooksPathHonoured(t *testing.T) {
	dir := setup(t)
	gittest.Git(t, dir, "config", "core.hooksPath", ".githooks")
	sub := filepath.Join(dir, "sub")
	if err := os.MkdirAll(sub, 0o755); err != nil {
		t.Fatal(err)
	}
	install(t, sub, InstallOptions{}) // from a subfolder: relative to the top
	if _, err := os.Stat(filepath.Join(dir, ".githooks", "pre-commit")); err != nil {
		t.Fatalf("hook not in core.hooksPath: %v", err)
	}
	if _, err := os.Stat(filepath.Join(dir, ".git", "hooks", "pre-commit")); !os.IsNotExist(err) {
		t.Error("hook written to .git/hooks despite core.hooksPath")
	}
	gittest.Git(t, dir, "config", "mlgit.maxFileSize", "10")
	write(t, filepath.Join(dir, "b.txt"), []byte("more than ten bytes\n"), 0o644)
	gittest.Git(t, dir, "add", "b.txt")
	if out := mustFail(t, dir, "commit", "-q", "-m", "b"); !strings.Contains(out, "b.txt: file is") {
		t.Errorf("hook in core.hooksPath did not run:\n%s", out)
	}
}

func TestUpgradeOlderBody(t *testing.T) {
	dir := setup(t)
	hooksDir := filepath.Join(dir, ".git", "hooks")
	old := "#!/bin/sh\n# mlgit-hook: v0 pre-commit\nexec mlgit hooks run pre-commit\n"
	write(t, filepath.Join(hooksDir, "pre-commit"), []byte(old), 0o755)
	edited := string(Body("pre-push")) + "# a local edit\n"
	write(t, filepath.Join(hooksDir, "pre-push"), []byte(edited), 0o755)
	acts := install(t, dir, InstallOptions{})
	if got := did(acts); got != "pre-commit=upgraded pre-push=upgraded" || acts[0].From != 0 || acts[1].From != Version {
		t.Fatalf("install: %s %+v", got, acts)
	}
	for _, name := range Names {
		if read(t, filepath.Join(hooksDir, name)) != string(Body(name)) {
			t.Errorf("%s not upgraded to the current body", name)
		}
		if _, err := os.Stat(filepath.Join(hooksDir, name+ChainedSuffix)); !os.IsNotExist(err) {
			t.Errorf("%s: an mlgit body was chained instead of upgraded", name)
		}
	}
	// A newer mlgit's hook is left alone.
	newer := "#!/bin/sh\n# mlgit-hook: v99 pre-commit\nexit 0\n"
	write(t, filepath.Join(hooksDir, "pre-commit"), []byte(newer), 0o755)
	install(t, dir, InstallOptions{})
	if read(t, filepath.Join(hooksDir, "pre-commit")) != newer {
		t.Error("a newer hook was downgraded")
	}
}

func TestMissingBinary(t *testing.T) {
	dir := setup(t)
	install(t, dir, InstallOptions{})
	gitPath, err := exec.LookPath("git")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Dir(gitPath) + string(os.PathListSeparator) + "/bin"
	t.Setenv("PATH", path)
	if p, err := exec.LookPath("mlgit"); err == nil {
		t.Skipf("mlgit is installed system-wide at %s", p)
	}
	write(t, filepath.Join(dir, "c.txt"), []byte("c\n"), 0o644)
	gittest.Git(t, dir, "add", "c.txt")
	out := mustFail(t, dir, "commit", "-q", "-m", "c")
	for _, want := range []string{"mlgit is not on PATH", "go install github.com/mlgit/mlgit/cmd/mlgit", "mlgit hooks uninstall", "git commit --no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	gittest.Git(t, dir, "commit", "-q", "--no-verify", "-m", "c")
}

func TestPrePushRealPush(t *testing.T) {
	dir := setup(t)
	remote := filepath.Join(t.TempDir(), "remote.git")
	gittest.Git(t, dir, "init", "-q", "--bare", remote)
	gittest.Git(t, dir, "remote", "add", "origin", remote)
	// A user's pre-push hook is chained and sees Git's input too.
	user := "#!/bin/sh\ncat >> \"$(git rev-parse --git-dir)/push-input.log\"\n"
	write(t, filepath.Join(dir, ".git", "hooks", "pre-push"), []byte(user), 0o755)
	if got := did(install(t, dir, InstallOptions{})); got != "pre-commit=installed pre-push=chained" {
		t.Fatalf("install: %s", got)
	}

	gittest.Git(t, dir, "push", "-q", "origin", "main")
	wt := trackingWorktree(t, dir)
	gittest.Git(t, dir, "push", "-q", "origin", "mlgit")
	if log := read(t, filepath.Join(dir, ".git", "push-input.log")); !strings.Contains(log, "refs/heads/mlgit") {
		t.Errorf("chained pre-push did not get the input: %q", log)
	}
	pushed := gittest.Git(t, remote, "rev-parse", "refs/heads/mlgit")

	// A bad manifest committed with --no-verify is caught by pre-push.
	runPath := "runs/3f/" + runID + "/run.yaml"
	write(t, filepath.Join(wt, runPath), append(validRun(), []byte("extra: field\n")...), 0o644)
	gittest.Git(t, wt, "add", ".")
	gittest.Git(t, wt, "commit", "-q", "--no-verify", "-m", "bad")
	out := mustFail(t, dir, "push", "origin", "mlgit")
	for _, want := range []string{"mlgit pre-push", runPath + ":", "extra"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	if got := gittest.Git(t, remote, "rev-parse", "refs/heads/mlgit"); got != pushed {
		t.Errorf("remote branch moved to %s despite the refusal", got)
	}
	// Fixing it lets the push through.
	write(t, filepath.Join(wt, runPath), validRun(), 0o644)
	gittest.Git(t, wt, "add", ".")
	gittest.Git(t, wt, "commit", "-q", "-m", "fixed")
	gittest.Git(t, dir, "push", "-q", "origin", "mlgit")

	// A lightweight registry tag is refused; an annotated one goes.
	gittest.Git(t, dir, "tag", "churn@v1", "mlgit")
	out = mustFail(t, dir, "push", "origin", "churn@v1")
	if !strings.Contains(out, "lightweight") {
		t.Errorf("lightweight tag output:\n%s", out)
	}
	gittest.Git(t, dir, "tag", "-d", "churn@v1")
	gittest.Git(t, dir, "tag", "-a", "-m", "v1", "churn@v1", "mlgit")
	gittest.Git(t, dir, "push", "-q", "origin", "churn@v1")

	// Other branches are not looked at.
	write(t, filepath.Join(dir, "runs", "xx", "junk", "run.yaml"), []byte("apiVersion: mlgit/v1\nkind: Run\n: bad\n"), 0o644)
	gittest.Git(t, dir, "add", ".")
	gittest.Git(t, dir, "commit", "-q", "--no-verify", "-m", "junk on main")
	gittest.Git(t, dir, "push", "-q", "origin", "main")
}

func TestPrePushUploadsBlobs(t *testing.T) {
	dir := setup(t)
	remote := filepath.Join(t.TempDir(), "remote.git")
	blobs := filepath.Join(t.TempDir(), "blobs")
	gittest.Git(t, dir, "init", "-q", "--bare", remote)
	gittest.Git(t, dir, "remote", "add", "origin", remote)
	install(t, dir, InstallOptions{})
	gittest.Git(t, dir, mlgitArgs("init")...)
	gittest.Git(t, dir, "push", "-q", "origin", "mlgit")

	id := gittest.Git(t, dir, mlgitArgs("run", "start", "--name", "r1")...)
	write(t, filepath.Join(dir, "model.bin"), bytes.Repeat([]byte("weights "), 1000), 0o644)
	gittest.Git(t, dir, mlgitArgs("run", "artifact", "add", "--run", id, "model.bin")...)
	gittest.Git(t, dir, mlgitArgs("run", "end", "--run", id)...)

	// No blob remote: the push is refused with advice.
	out := mustFail(t, dir, "push", "origin", "mlgit")
	if !strings.Contains(out, "no blob remote") || !strings.Contains(out, "MLGIT_SKIP_BLOB_PUSH") {
		t.Errorf("output:\n%s", out)
	}
	// With one, the blobs go first, then the branch.
	t.Setenv("MLGIT_BLOB_REMOTE", blobs)
	gittest.Git(t, dir, "push", "-q", "origin", "mlgit")
	n := 0
	filepath.WalkDir(blobs, func(p string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			n++
		}
		return nil
	})
	if n == 0 {
		t.Errorf("no blobs uploaded to %s", blobs)
	}
}

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1024": 1024, "500k": 500 << 10, "10M": 10 << 20, "10MiB": 10 << 20, "1.5G": 3 << 29, "2GB": 2 << 30, " 7 ": 7} {
		if got, err := ParseSize(in); err != nil || got != want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, bad := range []string{"", "ten", "-1", "5X"} {
		if _, err := ParseSize(bad); err == nil {
			t.Errorf("ParseSize(%q) succeeded", bad)
		}
	}
}

func TestIsManifestPath(t *testing.T) {
	yes := []string{"mlgit.yaml", "experiments/0/experiment.yaml", "runs/3f/" + runID + "/run.yaml", "models/churn/model.yaml", "models/churn/versions/4.yaml", "logged-models/ab/m-1/model.yaml"}
	no := []string{"sub/mlgit.yaml", "runs/3f/x/metrics/1.tsv", "models/churn/versions/4.yml", "models/a/b/model.yaml", "README.md"}
	for _, p := range yes {
		if !IsManifestPath(p) {
			t.Errorf("IsManifestPath(%q) = false", p)
		}
	}
	for _, p := range no {
		if IsManifestPath(p) {
			t.Errorf("IsManifestPath(%q) = true", p)
		}
	}
}

func TestParsePushInputAndTags(t *testing.T) {
	in := "refs/heads/mlgit 1111111111111111111111111111111111111111 refs/heads/mlgit 0000000000000000000000000000000000000000\n\n"
	refs, err := ParsePushInput(strings.NewReader(in))
	if err != nil || len(refs) != 1 || refs[0].RemoteRef != "refs/heads/mlgit" || !isZero(refs[0].RemoteSHA) {
		t.Fatalf("ParsePushInput: %+v %v", refs, err)
	}
	if _, err := ParsePushInput(strings.NewReader("just three fields\n")); err == nil {
		t.Error("bad line accepted")
	}
	for ref, want := range map[string]bool{"refs/tags/churn@v3": true, "refs/tags/churn#production#4": true, "refs/tags/v1.0": false, "refs/heads/a@v1": false} {
		if IsRegistryTag(ref) != want {
			t.Errorf("IsRegistryTag(%q) != %v", ref, want)
		}
	}
}

func TestBodies(t *testing.T) {
	for _, name := range Names {
		b := string(Body(name))
		if !strings.HasPrefix(b, "#!/bin/sh\n# mlgit-hook: v") || !strings.Contains(b, "mlgit hooks run "+name) || !strings.Contains(b, name+ChainedSuffix) {
			t.Errorf("%s body:\n%s", name, b)
		}
		if out, err := exec.Command("sh", "-n", "-c", b).CombinedOutput(); err != nil {
			t.Errorf("%s body is not valid sh: %v\n%s", name, err, out)
		}
	}
}

func TestPushRefsFromEnv(t *testing.T) {
	env := map[string]string{}
	get := func(k string) string { return env[k] }
	if PushRefsFromEnv(get) != nil {
		t.Error("refs without the variables")
	}
	env["PRE_COMMIT_TO_REF"] = strings.Repeat("b", 40)
	env["PRE_COMMIT_REMOTE_BRANCH"] = "refs/heads/mlgit"
	env["PRE_COMMIT_LOCAL_BRANCH"] = "refs/heads/mlgit"
	refs := PushRefsFromEnv(get)
	if len(refs) != 1 || refs[0].RemoteRef != "refs/heads/mlgit" || !isZero(refs[0].RemoteSHA) || refs[0].LocalSHA != env["PRE_COMMIT_TO_REF"] {
		t.Errorf("refs: %+v", refs)
	}
}

// TestReportWrite: the report lists every problem; the advice on large
// files follows the problems of kind size only, whatever their message.
func TestReportWrite(t *testing.T) {
	var b strings.Builder
	(&Report{Problems: []Problem{
		{Path: "data/w.bin", Kind: ProblemSize, Message: "file is 4.0 KiB, over the 1.0 KiB limit"},
		{Path: "runs/3f/x/run.yaml", Line: 3, Kind: ProblemManifest, Message: "unknown field"},
	}}).Write(&b, "pre-commit")
	out := b.String()
	for _, want := range []string{"mlgit pre-commit: 2 problems:", "  data/w.bin: file is 4.0 KiB", "  runs/3f/x/run.yaml:3: unknown field", "mlgit run artifact add", "--no-verify"} {
		if !strings.Contains(out, want) {
			t.Errorf("output lacks %q:\n%s", want, out)
		}
	}
	b.Reset()
	(&Report{Problems: []Problem{{Path: "notes.txt", Kind: ProblemManifest, Message: "file is not a manifest"}}}).Write(&b, "pre-push")
	if out := b.String(); strings.Contains(out, "blob store") || !strings.Contains(out, "mlgit pre-push: 1 problem:") {
		t.Errorf("manifest problem:\n%s", out)
	}
	if p := CheckManifest("runs/3f/x/run.yaml", []byte("apiVersion: mlgit/v1\nkind: Run\n: bad\n")); p == nil || p.Kind != ProblemManifest {
		t.Errorf("CheckManifest: %+v, want a problem of kind %s", p, ProblemManifest)
	}
}
