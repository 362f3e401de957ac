package aztest

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/container"

	"github.com/mlgit/mlgit/internal/goinstall"
	"github.com/mlgit/mlgit/internal/testserver"
)

// Version is the npm package azurite that StartServer installs when no
// azurite-blob is found.
const Version = "3.37.0"

// The emulator's well-known development account (published with Azurite
// and the Azure SDKs; it opens nothing outside the emulator).
const (
	Account = "devstoreaccount1"
	Key     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// ContainerName is the container StartServer creates.
const ContainerName = "mlgit-test"

// Server is a running Azurite blob service.
type Server struct {
	// Endpoint is the blob service URL of the development account,
	// "http://127.0.0.1:<port>/devstoreaccount1".
	Endpoint string
	// Container is the container StartServer created.
	Container string
	// Account and Key are the development account's name and shared key.
	Account, Key string
	// Dir is the emulator's workspace folder.
	Dir string
}

// Home and cache folder of the user, read when the test binary starts:
// tests that make HOME hermetic later still find (and install into) the
// one cache.
var (
	startHome     = os.Getenv("HOME")
	startCache, _ = os.UserCacheDir()
)

// CacheDir is the folder Azurite is installed into with npm:
// <user cache>/mlgit/azurite-<Version> (~/.cache/mlgit/azurite-3.37.0).
func CacheDir() string {
	base := startCache
	if base == "" {
		base = os.TempDir()
	}
	return filepath.Join(base, "mlgit", "azurite-"+Version)
}

// StartServer starts Azurite's blob service on a free port of 127.0.0.1
// over a fresh temporary folder, waits until it answers, creates the
// container "mlgit-test" and registers its shutdown with t.Cleanup. If
// Azurite is not installed and cannot be, the test is skipped, or failed
// when the CI environment variable is set.
func StartServer(t testing.TB) *Server {
	t.Helper()
	bin := testserver.Binary(t, "aztest", "Azure Storage emulator", Binary)
	s, stop, err := startRetry(bin, t.TempDir())
	if err != nil {
		t.Fatalf("aztest: %v", err)
	}
	t.Cleanup(stop)
	return s
}

// startRetry starts a server over dir, trying other ports if the free
// port found is taken before the server binds it.
func startRetry(bin, dir string) (*Server, func(), error) {
	attempt := 0
	r, err := testserver.Retry(func() (*started, error) {
		sub := filepath.Join(dir, fmt.Sprint(attempt))
		attempt++
		if err := os.Mkdir(sub, 0o755); err != nil {
			return nil, err
		}
		return start(bin, sub)
	})
	if err != nil {
		return nil, nil, err
	}
	return r.s, r.stop, nil
}

var shared struct {
	mu   sync.Mutex
	s    *Server
	stop func()
	err  error
}

// Shared returns one server for the whole test process, started on first
// use: Azurite takes seconds to start, so a package whose tests each use
// their own prefix shares one. Call StopShared from TestMain (Main does);
// without it the server dies with the test process. Skipping and failing
// are as for StartServer.
func Shared(t testing.TB) *Server {
	t.Helper()
	bin := testserver.Binary(t, "aztest", "Azure Storage emulator", Binary)
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.s == nil && shared.err == nil {
		dir, err := os.MkdirTemp("", "mlgit-azurite-")
		if err != nil {
			t.Fatalf("aztest: %v", err)
		}
		s, stop, err := startRetry(bin, dir)
		if err != nil {
			os.RemoveAll(dir)
			shared.err = err
		} else {
			shared.s = s
			shared.stop = func() { stop(); os.RemoveAll(dir) }
		}
	}
	if shared.err != nil {
		t.Fatalf("aztest: %v", shared.err)
	}
	return shared.s
}

// StopShared stops the server Shared started, if any, and removes its
// folder.
func StopShared() {
	shared.mu.Lock()
	defer shared.mu.Unlock()
	if shared.stop != nil {
		shared.stop()
		shared.stop, shared.s = nil, nil
	}
}

// Main runs the tests of a package that uses Shared and then stops the
// shared server: func TestMain(m *testing.M) { os.Exit(aztest.Main(m)) }.
func Main(m *testing.M) int {
	code := m.Run()
	StopShared()
	return code
}

var binary = sync.OnceValues(findOrInstall)

// Binary returns the path of an azurite-blob executable: MLGIT_AZURITE if
// set, else one in PATH, else the one in CacheDir, installing it there with
// "npm install azurite@Version" if there is none. Concurrent test processes
// are serialized by a file lock, so only one of them installs it.
func Binary() (string, error) { return binary() }

func findOrInstall() (string, error) {
	if p := os.Getenv("MLGIT_AZURITE"); p != "" {
		if !isExecutable(p) {
			return "", fmt.Errorf("MLGIT_AZURITE=%s is not an executable", p)
		}
		return p, nil
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p, nil
	}
	dir := CacheDir()
	target := filepath.Join(dir, "node_modules", ".bin", "azurite-blob")
	if isExecutable(target) {
		return target, nil
	}
	npm, err := exec.LookPath("npm")
	if err != nil {
		return "", errors.New("azurite-blob is not installed and npm is not in PATH (Debian: apt-get install nodejs npm)")
	}
	if _, err := exec.LookPath("node"); err != nil {
		return "", errors.New("azurite-blob is not installed and node is not in PATH (Debian: apt-get install nodejs)")
	}
	if err := os.MkdirAll(filepath.Dir(dir), 0o755); err != nil {
		return "", err
	}
	lock, err := os.OpenFile(dir+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return "", err
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		return "", fmt.Errorf("lock %s: %w", lock.Name(), err)
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if isExecutable(target) { // another process installed it meanwhile
		return target, nil
	}
	// Install next to the final folder and rename it into place, so an
	// interrupted install is never taken for a finished one.
	tmp := dir + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return "", err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, npm, "install", "--prefix", tmp, "--no-audit", "--no-fund",
		"--no-save", "--loglevel=error", "azurite@"+Version)
	cmd.Dir = filepath.Dir(dir)
	cmd.Env = os.Environ()
	if startHome != "" {
		cmd.Env = append(cmd.Env, "HOME="+startHome) // the user's npm cache and configuration
	}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		os.RemoveAll(tmp)
		return "", fmt.Errorf("azurite-blob is not installed and \"npm install azurite@%s\" failed: %w\n%s",
			Version, err, goinstall.Tail(out.String(), 2000))
	}
	if !isExecutable(filepath.Join(tmp, "node_modules", ".bin", "azurite-blob")) {
		return "", fmt.Errorf("npm install azurite@%s did not produce node_modules/.bin/azurite-blob in %s", Version, tmp)
	}
	if err := os.RemoveAll(dir); err != nil {
		return "", err
	}
	if err := os.Rename(tmp, dir); err != nil {
		return "", err
	}
	return target, nil
}

func isExecutable(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// started is a server with the function that stops it.
type started struct {
	s    *Server
	stop func()
}

// start starts a server over dir.
func start(bin, dir string) (*started, error) {
	data, port, err := testserver.Prepare(dir, "data")
	if err != nil {
		return nil, err
	}
	s := &Server{
		Endpoint:  fmt.Sprintf("http://127.0.0.1:%d/%s", port, Account),
		Container: ContainerName,
		Account:   Account,
		Key:       Key,
		Dir:       data,
	}
	proc, err := testserver.Start(testserver.Program{
		Name: "azurite-blob",
		Bin:  bin,
		Args: []string{
			"--blobHost", "127.0.0.1",
			"--blobPort", fmt.Sprint(port),
			"--location", data,
			"--skipApiVersionCheck", // the Go SDK may speak a newer API version
			"--loose",
			"--disableTelemetry", // no traffic beyond this machine
			"--silent",
		},
		Dir: dir,
		// Custom accounts, OAuth, certificates.
		DropEnv:  []string{"AZURITE_"},
		ReadyURL: s.Endpoint + "?comp=list", // any answer (403 without credentials) means it serves
		Timeout:  60 * time.Second,          // node loads slowly on a busy machine
	})
	if err != nil {
		return nil, err
	}
	cc, err := s.Client()
	if err != nil {
		proc.Stop()
		return nil, err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := cc.Create(ctx, nil); err != nil {
		proc.Stop()
		return nil, fmt.Errorf("create container %s at %s: %v\n%s", s.Container, s.Endpoint, err, proc.LogTail())
	}
	return &started{s, proc.Stop}, nil
}

// ConnectionString is the development account's connection string for
// this server, the way Azurite documents it.
func (s *Server) ConnectionString() string {
	return "DefaultEndpointsProtocol=http;AccountName=" + s.Account + ";AccountKey=" + s.Key +
		";BlobEndpoint=" + s.Endpoint + ";"
}

// Client returns a container client for the server's container with the
// development account's key, for setting up or damaging blobs directly.
func (s *Server) Client() (*container.Client, error) {
	return s.ContainerClient(s.Container)
}

// ContainerClient returns a client for another container of the server.
func (s *Server) ContainerClient(name string) (*container.Client, error) {
	cred, err := container.NewSharedKeyCredential(s.Account, s.Key)
	if err != nil {
		return nil, err
	}
	return container.NewClientWithSharedKeyCredential(s.Endpoint+"/"+name, cred, nil)
}

// URL returns the mlgit store URL of prefix in the server's container,
// "az://<container>/<prefix>". Credentials and the endpoint are not part
// of it: set Env (the connection string) in the environment.
func (s *Server) URL(prefix string) string {
	return "az://" + s.Container + "/" + strings.Trim(prefix, "/")
}

// Env returns the environment a process needs to reach the server through
// an az:// URL: AZURE_STORAGE_CONNECTION_STRING, with the account and key
// variables emptied so they do not pick another account.
func (s *Server) Env() []string {
	return []string{
		"AZURE_STORAGE_CONNECTION_STRING=" + s.ConnectionString(),
		"AZURE_STORAGE_ACCOUNT=",
		"AZURE_STORAGE_KEY=",
	}
}

// SetEnv sets Env in this process for the rest of the test (t.Setenv).
func (s *Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}
