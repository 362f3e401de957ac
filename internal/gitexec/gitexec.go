// Package gitexec runs the system git: in a working folder or on a Git
// directory, with extra environment, a context for timeouts, and errors
// that carry git's standard error. It also reads objects with one
// git cat-file --batch. Package repo talks to Git through go-git; its few
// runs of git (the checkout's status, gc --auto, ls-refs against a local
// remote, git remote, and the network operations of fetch and push) go
// through here too, as does everything else that runs git (but the tests'
// internal/gittest).
package gitexec

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
)

// Git says where and how git runs. The zero value runs git in the
// current folder with the caller's environment.
type Git struct {
	// Dir is the folder git runs in (git -C).
	Dir string
	// GitDir, when set, is passed as --git-dir.
	GitDir string
	// Env is added to the caller's environment, e.g.
	// GIT_TERMINAL_PROMPT=0.
	Env []string
	// Stderr, when set, also receives git's standard error as git writes
	// it: progress for a terminal, or output read after a success.
	Stderr io.Writer
}

// In returns a Git that runs in dir.
func In(dir string) Git { return Git{Dir: dir} }

// OnGitDir returns a Git that runs on the Git directory gitDir.
func OnGitDir(gitDir string) Git { return Git{GitDir: gitDir} }

// NoPrompt returns g with GIT_TERMINAL_PROMPT=0: git fails rather than
// asking for credentials.
func (g Git) NoPrompt() Git {
	g.Env = append(append([]string(nil), g.Env...), "GIT_TERMINAL_PROMPT=0")
	return g
}

// Run runs git with args, stdin (when not nil) on its standard input,
// and returns its standard output. A failure is an *Error.
func (g Git) Run(ctx context.Context, stdin []byte, args ...string) ([]byte, error) {
	cmd := g.Command(ctx, args...)
	if stdin != nil {
		cmd.Stdin = bytes.NewReader(stdin)
	}
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if g.Stderr != nil {
		cmd.Stderr = io.MultiWriter(&errb, g.Stderr)
	}
	if err := cmd.Run(); err != nil {
		return out.Bytes(), &Error{Args: args, Stderr: strings.TrimSpace(errb.String()), Err: err}
	}
	return out.Bytes(), nil
}

// Command returns git with args, set up to run as g says, for a caller
// that starts it itself: one that talks to git through pipes, or leaves it
// running in the background.
func (g Git) Command(ctx context.Context, args ...string) *exec.Cmd {
	full := args
	if g.GitDir != "" {
		full = append([]string{"--git-dir=" + g.GitDir}, args...)
	}
	cmd := exec.CommandContext(ctx, "git", full...)
	cmd.Dir = g.Dir
	if len(g.Env) > 0 {
		cmd.Env = append(os.Environ(), g.Env...)
	}
	return cmd
}

// Output runs git like Run and returns its standard output as a string
// without surrounding white space.
func (g Git) Output(ctx context.Context, args ...string) (string, error) {
	out, err := g.Run(ctx, nil, args...)
	return strings.TrimSpace(string(out)), err
}

// Error is a failed git command.
type Error struct {
	Args   []string // git's arguments (without --git-dir)
	Stderr string   // git's standard error, trimmed
	Err    error    // how it failed: an *exec.ExitError, a context's error, ...
}

func (e *Error) Error() string {
	msg := e.Stderr
	if msg == "" {
		msg = e.Err.Error()
	}
	return fmt.Sprintf("git %s: %s", strings.Join(e.Args, " "), msg)
}

func (e *Error) Unwrap() error { return e.Err }

// ExitCode is git's exit status in err, or -1 when git did not run or
// was stopped.
func ExitCode(err error) int {
	var ee *exec.ExitError
	if errors.As(err, &ee) {
		return ee.ExitCode()
	}
	return -1
}

// CatFileBatch reads objects (a object id or <rev>:<path> each) with one
// git cat-file --batch. A missing object reads as nil.
func (g Git) CatFileBatch(ctx context.Context, names []string) ([][]byte, error) {
	if len(names) == 0 {
		return nil, nil
	}
	var in bytes.Buffer
	for _, n := range names {
		in.WriteString(n + "\n")
	}
	out, err := g.Run(ctx, in.Bytes(), "cat-file", "--batch")
	if err != nil {
		return nil, err
	}
	return parseBatch(out, names)
}

// parseBatch splits git cat-file --batch output: per object a header
// "<oid> <type> <size>\n" and the contents followed by "\n", or
// "<name> missing\n".
func parseBatch(out []byte, names []string) ([][]byte, error) {
	res := make([][]byte, 0, len(names))
	for _, n := range names {
		nl := bytes.IndexByte(out, '\n')
		if nl < 0 {
			return nil, fmt.Errorf("git cat-file --batch: truncated output at %s", n)
		}
		hdr := strings.Fields(string(out[:nl]))
		if len(hdr) >= 2 && hdr[len(hdr)-1] == "missing" {
			res = append(res, nil)
			out = out[nl+1:]
			continue
		}
		if len(hdr) != 3 {
			return nil, fmt.Errorf("git cat-file --batch: %s: %q", n, out[:nl])
		}
		size, err := strconv.Atoi(hdr[2])
		if err != nil || size < 0 || nl+1+size > len(out) {
			return nil, fmt.Errorf("git cat-file --batch: bad header %q", out[:nl])
		}
		res = append(res, out[nl+1:nl+1+size])
		out = bytes.TrimPrefix(out[nl+1+size:], []byte("\n"))
	}
	return res, nil
}
