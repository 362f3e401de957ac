// Package goinstall finds or installs the Go-built programs the tests
// start (versitygw, fake-gcs-server): from PATH, from "go install"'s
// folder, or by running "go install pkg@version" once, serialized across
// test processes by a file lock.
package goinstall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// Binary returns the path of program name, installing it with
// "go install pkg@version" if neither PATH nor GOBIN (else GOPATH/bin)
// has it.
func Binary(name, pkg, version string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	gobin, err := goBinDir()
	if err != nil {
		return "", err
	}
	target := filepath.Join(gobin, name)
	if isExecutable(target) {
		return target, nil
	}
	lockDir, err := os.UserCacheDir()
	if err != nil {
		lockDir = os.TempDir()
	}
	lockDir = filepath.Join(lockDir, "mlgit-goinstall")
	if err := os.MkdirAll(lockDir, 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(filepath.Join(lockDir, name+".lock"), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN) //nolint:errcheck
	if isExecutable(target) {                            // another process installed it meanwhile
		return target, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "install", pkg+"@"+version)
	cmd.Dir = os.TempDir() // outside any module, so go.mod is not consulted
	cmd.Env = append(os.Environ(), "GOBIN="+gobin, "GOFLAGS=-buildvcs=false")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s is not installed and \"go install %s@%s\" failed: %w\n%s",
			name, pkg, version, err, Tail(out.String(), 2000))
	}
	if !isExecutable(target) {
		return "", fmt.Errorf("go install %s@%s did not produce %s", pkg, version, target)
	}
	return target, nil
}

// goBinDir is where "go install" puts binaries: GOBIN, else GOPATH/bin.
func goBinDir() (string, error) {
	out, err := exec.Command("go", "env", "GOBIN", "GOPATH").Output()
	if err != nil {
		return "", fmt.Errorf("go env: %w", err)
	}
	lines := strings.Split(strings.TrimRight(string(out), "\n"), "\n")
	if len(lines) >= 1 && strings.TrimSpace(lines[0]) != "" {
		return strings.TrimSpace(lines[0]), nil
	}
	if len(lines) >= 2 && strings.TrimSpace(lines[1]) != "" {
		gopath := strings.Split(strings.TrimSpace(lines[1]), string(os.PathListSeparator))[0]
		return filepath.Join(gopath, "bin"), nil
	}
	return "", errors.New("go env reports neither GOBIN nor GOPATH")
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// Tail returns the last n bytes of s (a program's output in an error).
func Tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}
