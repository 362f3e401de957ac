package hooks

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
)

// Version is the version of the hook bodies this code installs. Raise it
// whenever a body changes; Install upgrades any older body in place.
const Version = 1

// Names are the hooks mlgit installs.
var Names = []string{"pre-commit", "pre-push"}

// ChainedSuffix is appended to a user's hook that mlgit chains to.
const ChainedSuffix = ".mlgit-chained"

// Errors of installation.
var (
	// ErrUserHook marks a hook mlgit did not write and will not chain to
	// without --force (or cannot chain to at all).
	ErrUserHook = errors.New("existing hook")
	// ErrNotRepo marks a folder that is not inside a Git repository.
	ErrNotRepo = errors.New("not a git repository")
)

// markerRe matches the marker line of every hook body mlgit has installed:
// "# mlgit-hook: v<version> <hook>".
var markerRe = regexp.MustCompile(`(?m)^# mlgit-hook: v([0-9]+)\b`)

// InstalledVersion returns the version of the mlgit hook body in data,
// and false when data is not a hook mlgit wrote.
func InstalledVersion(data []byte) (int, bool) {
	m := markerRe.FindSubmatch(data)
	if m == nil {
		return 0, false
	}
	v, err := strconv.Atoi(string(m[1]))
	return v, err == nil
}

// Body returns the script installed as hook name (pre-commit, pre-push).
//
// It calls the user's chained hook first (with the same arguments and,
// for pre-push, the same standard input), stops if that fails, then runs
// `mlgit hooks run <name>`. When mlgit is not on PATH it fails with a
// message that says how to fix it or bypass the hook.
func Body(name string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, `#!/bin/sh
# mlgit-hook: v%d %s
# Installed by "mlgit hooks install"; remove with "mlgit hooks uninstall".
# Later mlgit versions recognise the line above and upgrade this file in place.
hook_dir=$(dirname "$0")
`, Version, name)
	if name == "pre-push" {
		// Git writes the refs being pushed to stdin; both the chained hook
		// and mlgit need them.
		b.WriteString(`input=$(cat)
if [ -x "$hook_dir/pre-push` + ChainedSuffix + `" ]; then
	printf '%s\n' "$input" | "$hook_dir/pre-push` + ChainedSuffix + `" "$@" || exit $?
fi
`)
	} else {
		fmt.Fprintf(&b, `if [ -x "$hook_dir/%[1]s%[2]s" ]; then
	"$hook_dir/%[1]s%[2]s" "$@" || exit $?
fi
`, name, ChainedSuffix)
	}
	fmt.Fprintf(&b, `if ! command -v mlgit >/dev/null 2>&1; then
	echo >&2 "mlgit: this repository's %[1]s hook runs \"mlgit hooks run %[1]s\", but mlgit is not on PATH."
	echo >&2 "  Install it (go install github.com/mlgit/mlgit/cmd/mlgit@latest) or add it to PATH,"
	echo >&2 "  or remove the hooks with \"mlgit hooks uninstall\","
	echo >&2 "  or skip the hook this once with \"git %[2]s --no-verify\"."
	exit 1
fi
`, name, map[string]string{"pre-commit": "commit", "pre-push": "push"}[name])
	if name == "pre-push" {
		b.WriteString(`printf '%s\n' "$input" | exec mlgit hooks run pre-push "$@"
`)
	} else {
		fmt.Fprintf(&b, "exec mlgit hooks run %s \"$@\"\n", name)
	}
	return []byte(b.String())
}

// Action says what Install or Uninstall did to one hook.
type Action struct {
	Hook string `json:"hook"`
	Path string `json:"path"`
	// Did is one of: installed, chained, upgraded, reinstalled,
	// up-to-date, removed, restored, not-installed, skipped.
	Did string `json:"action"`
	// From is the previous version for an upgrade.
	From int `json:"from_version,omitempty"`
	// Note explains a chained or skipped hook.
	Note string `json:"note,omitempty"`
}

// HooksDir returns the folder Git runs dir's hooks from: core.hooksPath
// when set (relative to the top of the working tree), else the common Git
// directory's hooks/ (shared by all worktrees).
func HooksDir(ctx context.Context, dir string) (string, error) {
	top, err := git(ctx, dir, nil, "rev-parse", "--show-toplevel")
	topDir := strings.TrimSpace(string(top))
	if err != nil {
		// A bare repository has no top level; hooks run in the Git dir.
		gd, err2 := git(ctx, dir, nil, "rev-parse", "--absolute-git-dir")
		if err2 != nil {
			return "", fmt.Errorf("%w: %s", ErrNotRepo, dir)
		}
		topDir = strings.TrimSpace(string(gd))
	}
	vals, err := gitConfig(ctx, dir, "core.hooksPath", "--path")
	if err != nil {
		return "", err
	}
	if len(vals) > 0 && vals[len(vals)-1] != "" {
		p := vals[len(vals)-1]
		if !filepath.IsAbs(p) {
			p = filepath.Join(topDir, p)
		}
		return p, nil
	}
	common, err := git(ctx, dir, nil, "rev-parse", "--git-common-dir")
	if err != nil {
		return "", err
	}
	c := strings.TrimSpace(string(common))
	if !filepath.IsAbs(c) {
		c = filepath.Join(dir, c)
	}
	return filepath.Join(c, "hooks"), nil
}

// InstallOptions configure Install.
type InstallOptions struct {
	// Force chains to a hook that looks managed by another tool (the
	// pre-commit framework), and rewrites an up-to-date mlgit hook.
	Force bool
}

// Install installs the hooks for the repository containing dir. A hook the
// user wrote is renamed to <hook>.mlgit-chained and called first; a hook
// mlgit wrote is upgraded in place. It refuses (ErrUserHook) to chain
// when a chained hook already exists, and, without Force, to chain to a
// hook written by the pre-commit framework.
func Install(ctx context.Context, dir string, opt InstallOptions) ([]Action, error) {
	hd, err := HooksDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(hd, 0o755); err != nil {
		return nil, err
	}
	// Check every hook before changing any, so a refusal changes nothing.
	plans := make([]Action, 0, len(Names))
	for _, name := range Names {
		a, err := plan(hd, name, opt)
		if err != nil {
			return nil, err
		}
		plans = append(plans, a)
	}
	for i, a := range plans {
		switch a.Did {
		case "up-to-date":
			continue
		case "chained":
			if err := os.Rename(a.Path, a.Path+ChainedSuffix); err != nil {
				return plans[:i], err
			}
		}
		if err := writeHook(a.Path, Body(a.Hook)); err != nil {
			return plans[:i], err
		}
	}
	return plans, nil
}

func plan(hd, name string, opt InstallOptions) (Action, error) {
	path := filepath.Join(hd, name)
	a := Action{Hook: name, Path: path}
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		a.Did = "installed"
		if _, err := os.Lstat(path + ChainedSuffix); err == nil {
			a.Note = "will call the existing " + name + ChainedSuffix
		}
		return a, nil
	}
	if err != nil {
		return a, err
	}
	if fi.IsDir() {
		return a, fmt.Errorf("%w: %s is a folder, not a hook script", ErrUserHook, path)
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return a, err
	}
	if v, ok := InstalledVersion(data); ok {
		switch {
		case bytes.Equal(data, Body(name)) && !opt.Force:
			a.Did = "up-to-date"
		case bytes.Equal(data, Body(name)):
			a.Did = "reinstalled"
		case v > Version:
			a.Did = "up-to-date"
			a.Note = fmt.Sprintf("installed by a newer mlgit (v%d); left alone", v)
		default:
			a.Did, a.From = "upgraded", v
		}
		return a, nil
	}
	// The user's own hook.
	if _, err := os.Lstat(path + ChainedSuffix); err == nil {
		return a, fmt.Errorf("%w: %s is not mlgit's, and %s already exists, so it cannot be chained; merge the two by hand (or move one away) and run mlgit hooks install again", ErrUserHook, path, path+ChainedSuffix)
	}
	if isPreCommitFramework(data) && !opt.Force {
		return a, fmt.Errorf("%w: %s was written by the pre-commit framework; add mlgit to .pre-commit-config.yaml instead (see docs/hooks.md), or run mlgit hooks install --force to chain to it", ErrUserHook, path)
	}
	a.Did = "chained"
	a.Note = "your hook was kept as " + name + ChainedSuffix + " and runs first"
	return a, nil
}

func isPreCommitFramework(data []byte) bool {
	return bytes.Contains(data, []byte("File generated by pre-commit")) || bytes.Contains(data, []byte("pre-commit.com"))
}

// writeHook writes an executable script atomically (temporary file and
// rename), so Git never runs half a hook.
func writeHook(path string, body []byte) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	tmp := f.Name()
	_, err = f.Write(body)
	if err == nil {
		err = f.Chmod(0o755)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp, path)
	}
	if err != nil {
		os.Remove(tmp)
		return fmt.Errorf("write hook %s: %w", path, err)
	}
	return nil
}

// Uninstall removes the hooks mlgit installed and puts back the user's
// hooks it chained to. Hooks mlgit did not write are left alone.
func Uninstall(ctx context.Context, dir string) ([]Action, error) {
	hd, err := HooksDir(ctx, dir)
	if err != nil {
		return nil, err
	}
	var out []Action
	for _, name := range Names {
		path := filepath.Join(hd, name)
		a := Action{Hook: name, Path: path, Did: "not-installed"}
		data, err := os.ReadFile(path)
		switch {
		case errors.Is(err, os.ErrNotExist):
		case err != nil:
			return out, err
		default:
			if _, ok := InstalledVersion(data); !ok {
				a.Did, a.Note = "skipped", "not written by mlgit; left alone"
				out = append(out, a)
				continue
			}
			if err := os.Remove(path); err != nil {
				return out, err
			}
			a.Did = "removed"
		}
		if _, err := os.Lstat(path + ChainedSuffix); err == nil {
			if err := os.Rename(path+ChainedSuffix, path); err != nil {
				return out, err
			}
			a.Did, a.Note = "restored", "your original hook is back"
		}
		out = append(out, a)
	}
	return out, nil
}
