package gitexec

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
)

func TestParseBatch(t *testing.T) {
	out := []byte("aaa blob 5\nhello\nHEAD:nope missing\nbbb blob 0\n\n")
	got, err := parseBatch(out, []string{"aaa", "HEAD:nope", "bbb"})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || string(got[0]) != "hello" || got[1] != nil || got[2] == nil || len(got[2]) != 0 {
		t.Fatalf("got %q", got)
	}
	if _, err := parseBatch([]byte("aaa blob 50\nshort\n"), []string{"aaa"}); err == nil {
		t.Fatal("a short object was read")
	}
	if _, err := parseBatch(nil, []string{"aaa"}); err == nil || !strings.Contains(err.Error(), "truncated") {
		t.Fatalf("err = %v", err)
	}
}

func TestRunError(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	dir := t.TempDir()
	_, err := In(dir).NoPrompt().Run(context.Background(), nil, "rev-parse", "--verify", "-q", "refs/heads/none")
	var ge *Error
	if !errors.As(err, &ge) {
		t.Fatalf("err = %v", err)
	}
	if ExitCode(err) <= 0 || !strings.HasPrefix(err.Error(), "git rev-parse --verify -q refs/heads/none: ") {
		t.Fatalf("exit %d, %v", ExitCode(err), err)
	}
	if ExitCode(errors.New("x")) != -1 {
		t.Fatal("ExitCode of a non-exec error")
	}
}
