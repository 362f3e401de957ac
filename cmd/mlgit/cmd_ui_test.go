package main

import (
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/servecmd"
	"github.com/mlgit/mlgit/internal/gittest"
)

func TestUIFlags(t *testing.T) {
	a, _, _ := clitest.NewApp(t, t.TempDir())
	var got *servecmd.UIOptions
	cmd := servecmd.NewUICmd(a, func(_ context.Context, o *servecmd.UIOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--port", "5050", "--no-open", "--read-only"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Port != 5050 || !got.NoOpen || !got.ReadOnly {
		t.Fatalf("options %+v", got)
	}
	if _, _, code := runCLI(t, t.TempDir(), "ui", "--port", "-1"); code != cli.ExitUsage {
		t.Fatalf("bad port: exit %d", code)
	}
}

// TestUIOpensAndServes runs mlgit ui on a free port: it prints the URL,
// asks the browser opener to open it, and serves the UI and the API.
func TestUIOpensAndServes(t *testing.T) {
	gittest.Setenv(t)
	t.Setenv("MLGIT_BLOB_REMOTE", "")
	dir := gittest.NewRepo(t)
	mustCLI(t, dir, "init")
	mustCLI(t, dir, "exp", "create", "vision")
	a, out, _ := clitest.NewApp(t, dir)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	opened := make(chan string, 1)
	ready := make(chan string, 1)
	done := make(chan error, 1)
	go func() {
		done <- servecmd.RunUI(ctx, a, &servecmd.UIOptions{Port: 0, Open: func(u string) error { opened <- u; return nil }, Ready: func(u string) { ready <- u }})
	}()
	var url string
	select {
	case url = <-ready:
	case err := <-done:
		t.Fatalf("ui exited: %v", err)
	case <-time.After(20 * time.Second):
		t.Fatal("ui did not start")
	}
	if got := <-opened; got != url || !strings.HasPrefix(url, "http://127.0.0.1:") {
		t.Fatalf("opened %q, url %q", got, url)
	}
	if !strings.Contains(out.String(), url) {
		t.Errorf("stdout %q does not print %s", out.String(), url)
	}
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), "vision") || !strings.Contains(res.Header.Get("Content-Security-Policy"), "default-src 'self'") {
		t.Fatalf("GET %s: %d %s", url, res.StatusCode, body)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
