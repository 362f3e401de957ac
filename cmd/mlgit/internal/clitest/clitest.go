// Package clitest has what tests of the command packages share.
package clitest

import (
	"bytes"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
)

// NewApp returns an App on dir, with its output and errors in buffers, for
// calling a command's run function directly; the store it opens is closed
// when the test ends.
func NewApp(t *testing.T, dir string) (*cli.App, *bytes.Buffer, *bytes.Buffer) {
	var out, errb bytes.Buffer
	a := &cli.App{Streams: cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}, RepoPath: dir, Now: time.Now, Getenv: os.Getenv}
	t.Cleanup(func() {
		a.Close()
	})
	return a, &out, &errb
}
