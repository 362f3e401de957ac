package hooks

import (
	"context"
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/internal/gitexec"
)

// git runs the git command in dir and returns its standard output. A
// failure carries git's standard error.
func git(ctx context.Context, dir string, stdin []byte, args ...string) ([]byte, error) {
	return gitexec.In(dir).Run(ctx, stdin, args...)
}

// readBlobs reads objects (a blob id or <rev>:<path> each) with one
// git cat-file --batch; each must exist.
func readBlobs(ctx context.Context, dir string, names []string) ([][]byte, error) {
	res, err := gitexec.In(dir).CatFileBatch(ctx, names)
	if err != nil {
		return nil, err
	}
	for i, b := range res {
		if b == nil {
			return nil, fmt.Errorf("git cat-file --batch: %s: missing", names[i])
		}
	}
	return res, nil
}

// gitConfig returns the values of a multi-valued config key (none when
// it is unset).
func gitConfig(ctx context.Context, dir, key string, extra ...string) ([]string, error) {
	args := append([]string{"config"}, extra...)
	args = append(args, "--get-all", key)
	out, err := git(ctx, dir, nil, args...)
	if err != nil {
		if gitexec.ExitCode(err) == 1 {
			return nil, nil
		}
		return nil, err
	}
	return strings.Split(strings.TrimRight(string(out), "\n"), "\n"), nil
}

// splitZ splits NUL-terminated output.
func splitZ(b []byte) []string {
	s := strings.TrimSuffix(string(b), "\x00")
	if s == "" {
		return nil
	}
	return strings.Split(s, "\x00")
}
