package main

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/clitest"
	"github.com/mlgit/mlgit/cmd/mlgit/internal/servecmd"
	"github.com/mlgit/mlgit/internal/gittest"
)

func TestServerFlags(t *testing.T) {
	a, _, _ := clitest.NewApp(t, t.TempDir())
	var got *cli.ServerOptions
	cmd := servecmd.NewServerCmd(a, func(_ context.Context, o *cli.ServerOptions) error { got = o; return nil })
	cmd.SetArgs([]string{"--port", "5001", "--read-only", "--allowed-hosts", "a.example,b.example:80", "--auth-file", "f", "--host", "::1"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	if got.Port != 5001 || !got.ReadOnly || got.Host != "::1" || got.AuthFile != "f" || strings.Join(got.AllowedHosts, " ") != "a.example b.example:80" || got.CheckpointInterval != 30*time.Second {
		t.Fatalf("options %+v", got)
	}
	cmd = servecmd.NewServerCmd(a, func(context.Context, *cli.ServerOptions) error { return nil })
	cmd.SetArgs([]string{"--port", "70000"})
	cmd.SilenceErrors, cmd.SilenceUsage = true, true
	if err := cmd.Execute(); cli.ExitCode(err) != cli.ExitUsage {
		t.Fatalf("bad port: %v", err)
	}
	if _, _, code := runCLI(t, t.TempDir(), "server", "--auth-file"); code != cli.ExitUsage {
		t.Fatalf("missing flag value: exit %d", code)
	}
}

// TestServerServesAndCommitsOnShutdown runs the real command on a free
// port, logs over HTTP, stops it as SIGTERM would (context cancelled) and
// checks with plain Git that everything acknowledged was committed.
func TestServerServesAndCommitsOnShutdown(t *testing.T) {
	gittest.Setenv(t)
	t.Setenv("MLGIT_BLOB_REMOTE", "")
	dir := gittest.NewRepo(t)
	mustCLI(t, dir, "init")
	a, _, errb := clitest.NewApp(t, dir)
	addr, stop := startTestServer(t, a, &cli.ServerOptions{Host: "127.0.0.1", Port: 0})
	base := "http://" + addr
	post := func(path, body string) map[string]any {
		t.Helper()
		res, err := http.Post(base+"/api/2.0/mlflow"+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		data, _ := io.ReadAll(res.Body)
		if res.StatusCode != 200 {
			t.Fatalf("%s: %d %s", path, res.StatusCode, data)
		}
		var v map[string]any
		json.Unmarshal(data, &v)
		return v
	}
	id := post("/runs/create", `{"experiment_id":"0","run_name":"served"}`)["run"].(map[string]any)["info"].(map[string]any)["run_id"].(string)
	post("/runs/log-metric", `{"run_id":"`+id+`","key":"loss","value":0.25,"timestamp":1,"step":3}`)
	res, err := http.Get(base + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health: %v %v", res, err)
	}
	res.Body.Close()

	if err := stop(); err != nil {
		t.Fatalf("server: %v", err)
	}
	show := gittest.Git(t, dir, "show", "mlgit:runs/"+id[:2]+"/"+id+"/run.yaml")
	if !strings.Contains(show, "name: served") || !strings.Contains(show, "loss") {
		t.Fatalf("run.yaml after shutdown:\n%s", show)
	}
	if log := errb.String(); !strings.Contains(log, "everything acknowledged is committed") || !strings.Contains(log, "path=/api/2.0/mlflow/runs/create") {
		t.Fatalf("server log:\n%s", log)
	}
}

// TestServerAllInterfacesSaysHowToReachIt: on 0.0.0.0 the start message
// gives a URL that opens and says that other hosts need --allowed-hosts;
// a request by IP is then refused, as it says.
func TestServerAllInterfacesSaysHowToReachIt(t *testing.T) {
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	mustCLI(t, dir, "init")
	a, _, errb := clitest.NewApp(t, dir)
	addr, stop := startTestServer(t, a, &cli.ServerOptions{Host: "0.0.0.0", Port: 0})
	_, port, _ := net.SplitHostPort(addr)
	msg := errb.String()
	if !strings.Contains(msg, "http://127.0.0.1:"+port+" on this machine") || !strings.Contains(msg, "--allowed-hosts") || strings.Contains(msg, "http://0.0.0.0") {
		t.Errorf("start message:\n%s", msg)
	}
	res, err := http.Get("http://127.0.0.1:" + port + "/health")
	if err != nil || res.StatusCode != 200 {
		t.Fatalf("health by loopback: %v %v", res, err)
	}
	res.Body.Close()
	// Another name for this machine is refused until listed.
	req, _ := http.NewRequest("GET", "http://127.0.0.1:"+port+"/health", nil)
	req.Host = "trainbox.internal:" + port
	res, err = http.DefaultClient.Do(req)
	if err != nil || res.StatusCode == 200 {
		t.Fatalf("health by another host name: %v %v", res, err)
	}
	res.Body.Close()
	stop()
}

// startTestServer runs servecmd.RunServer with o until stop is called (or the test
// ends) and returns the address it listens on.
func startTestServer(t *testing.T, a *cli.App, o *cli.ServerOptions) (addr string, stop func() error) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	ready := make(chan string, 1)
	done := make(chan error, 1)
	o.Ready = func(addr string) { ready <- addr }
	go func() { done <- servecmd.RunServer(ctx, a, o) }()
	select {
	case addr = <-ready:
	case err := <-done:
		cancel()
		t.Fatalf("server exited: %v", err)
	case <-time.After(20 * time.Second):
		cancel()
		t.Fatal("server did not start")
	}
	stopped := false
	var err error
	stop = func() error {
		if stopped {
			return err
		}
		stopped = true
		cancel()
		select {
		case err = <-done:
		case <-time.After(30 * time.Second):
			err = errors.New("server did not stop")
		}
		return err
	}
	t.Cleanup(func() { stop() })
	return addr, stop
}
