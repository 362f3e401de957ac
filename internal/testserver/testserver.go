package testserver

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/goinstall"
)

// Binary returns the program that binary finds or installs. If there is
// none, the test is skipped, or failed when the CI environment variable is
// set; prefix names the calling package and missing what is missing, in
// the message.
func Binary(t testing.TB, prefix, missing string, binary func() (string, error)) string {
	t.Helper()
	bin, err := binary()
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatalf("%s: %v", prefix, err)
		}
		t.Skipf("%s: skipping, no %s: %v (set CI=1 to make this a failure)", prefix, missing, err)
	}
	return bin
}

// Retry calls start up to three times and returns its first success, or
// its last error: the free port a start was given may be taken by another
// process before the server binds it.
func Retry[T any](start func() (T, error)) (T, error) {
	var (
		v   T
		err error
	)
	for range 3 {
		if v, err = start(); err == nil {
			return v, nil
		}
	}
	return v, err
}

// Prepare makes the folder dir/name for a server's data and finds a free
// port for it to listen on.
func Prepare(dir, name string) (data string, port int, err error) {
	data = filepath.Join(dir, name)
	if err := os.Mkdir(data, 0o755); err != nil {
		return "", 0, err
	}
	port, err = FreePort()
	if err != nil {
		return "", 0, err
	}
	return data, port, nil
}

// FreePort returns a TCP port of 127.0.0.1 that nothing listens on.
func FreePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// Program describes a server to start.
type Program struct {
	// Name names the program in errors and its log file, Dir/<Name>.log.
	Name string
	// Bin and Args are the command.
	Bin  string
	Args []string
	// Dir is the working folder.
	Dir string
	// DropEnv lists the prefixes of environment variables that would
	// configure the program behind its flags' back; they are not passed on.
	DropEnv []string
	// ReadyURL is fetched until it answers with ReadyStatus, or with
	// anything if ReadyStatus is 0, within Timeout.
	ReadyURL    string
	ReadyStatus int
	Timeout     time.Duration
}

// Process is a running server.
type Process struct {
	cmd      *exec.Cmd
	logPath  string
	exited   chan struct{}
	exitErr  error // set before exited is closed
	stopOnce sync.Once
}

// Start runs p and waits until it answers. If it exits or does not answer
// in time, Start stops it and returns an error with the end of its log.
//
// The server gets its own process group, which Stop kills whole (launcher
// scripts may fork), and on Linux it is killed with the test process
// should that end without stopping it: the kernel sends that signal when
// the thread that started the process ends, so the start and the wait
// happen on one locked thread, which lives as long as the server.
func Start(p Program) (*Process, error) {
	logPath := filepath.Join(p.Dir, p.Name+".log")
	logFile, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(p.Bin, p.Args...)
	cmd.Dir = p.Dir
	cmd.Stdout, cmd.Stderr = logFile, logFile
	cmd.Env = cleanEnv(p.DropEnv)
	cmd.SysProcAttr = sysProcAttr()
	proc := &Process{cmd: cmd, logPath: logPath, exited: make(chan struct{})}
	startErr := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // never unlocked: the thread ends with this goroutine
		defer close(proc.exited)
		defer logFile.Close()
		if err := cmd.Start(); err != nil {
			proc.exitErr = err
			startErr <- err
			return
		}
		startErr <- nil
		proc.exitErr = cmd.Wait()
	}()
	if err := <-startErr; err != nil {
		return nil, fmt.Errorf("start %s: %w", p.Bin, err)
	}
	if err := proc.waitReady(p); err != nil {
		proc.Stop()
		return nil, err
	}
	return proc, nil
}

func (proc *Process) waitReady(p Program) error {
	deadline := time.Now().Add(p.Timeout)
	client := &http.Client{Timeout: time.Second}
	for {
		resp, err := client.Get(p.ReadyURL)
		if err == nil {
			resp.Body.Close()
			if p.ReadyStatus == 0 || resp.StatusCode == p.ReadyStatus {
				return nil
			}
		}
		select {
		case <-proc.exited:
			return fmt.Errorf("%s exited before serving: %w\n%s", p.Name, proc.exitErr, proc.LogTail())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within %v\n%s", p.Name, p.ReadyURL, p.Timeout, proc.LogTail())
		}
	}
}

// Stop kills the server's process group and waits until the server has
// exited. It may be called more than once.
func (proc *Process) Stop() {
	proc.stopOnce.Do(func() { _ = syscall.Kill(-proc.cmd.Process.Pid, syscall.SIGKILL) })
	<-proc.exited
}

// LogTail returns the last 2000 bytes of the server's output.
func (proc *Process) LogTail() string {
	b, _ := os.ReadFile(proc.logPath)
	return goinstall.Tail(string(b), 2000)
}

// cleanEnv is this process's environment without the variables that
// start with one of drop.
func cleanEnv(drop []string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !hasAnyPrefix(kv, drop) {
			env = append(env, kv)
		}
	}
	return env
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}
