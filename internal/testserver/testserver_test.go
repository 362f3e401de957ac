package testserver

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"
)

// The test binary doubles as the server program: with TESTSERVER_MODE set
// it serves or exits instead of running the tests.
func TestMain(m *testing.M) {
	switch os.Getenv("TESTSERVER_MODE") {
	case "":
		os.Exit(m.Run())
	case "serve":
		time.Sleep(300 * time.Millisecond) // not ready at once
		http.HandleFunc("/env", func(w http.ResponseWriter, r *http.Request) {
			io.WriteString(w, strings.Join(os.Environ(), "\n"))
		})
		http.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
			w.WriteHeader(http.StatusTeapot)
		})
		fmt.Println("serving")
		err := http.ListenAndServe(os.Getenv("TESTSERVER_ADDR"), nil)
		fmt.Println(err)
		os.Exit(1)
	case "exit":
		fmt.Println("no configuration, giving up")
		os.Exit(3)
	}
}

func program(t *testing.T, mode string) (Program, string) {
	t.Helper()
	port, err := FreePort()
	if err != nil {
		t.Fatal(err)
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	t.Setenv("TESTSERVER_MODE", mode)
	t.Setenv("TESTSERVER_ADDR", addr)
	t.Setenv("TESTSERVER_DROPPED", "x")
	bin, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return Program{
		Name: "fake", Bin: bin, Dir: t.TempDir(), DropEnv: []string{"TESTSERVER_DROP"},
		ReadyURL: "http://" + addr + "/", Timeout: 20 * time.Second,
	}, addr
}

func TestStartWaitsAndStops(t *testing.T) {
	p, addr := program(t, "serve")
	p.ReadyStatus = http.StatusTeapot
	proc, err := Start(p)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.Get("http://" + addr + "/env")
	if err != nil {
		t.Fatalf("server not answering after Start: %v", err)
	}
	env, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(env), "TESTSERVER_MODE=serve") || strings.Contains(string(env), "TESTSERVER_DROPPED") {
		t.Fatalf("server environment:\n%s", env)
	}
	if tail := proc.LogTail(); !strings.Contains(tail, "serving") {
		t.Fatalf("LogTail = %q", tail)
	}
	proc.Stop()
	proc.Stop() // a second Stop returns at once
	if c, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		c.Close()
		t.Fatal("server still accepts connections after Stop")
	}
}

func TestStartReportsEarlyExit(t *testing.T) {
	p, _ := program(t, "exit")
	_, err := Start(p)
	if err == nil || !strings.Contains(err.Error(), "fake exited before serving") || !strings.Contains(err.Error(), "giving up") {
		t.Fatalf("Start of a program that exits = %v", err)
	}
}

func TestStartTimesOut(t *testing.T) {
	p, _ := program(t, "serve")
	p.ReadyStatus = http.StatusOK // never given
	p.Timeout = time.Second
	start := time.Now()
	_, err := Start(p)
	if err == nil || !strings.Contains(err.Error(), "did not answer on "+p.ReadyURL) {
		t.Fatalf("Start of a program that never gets ready = %v", err)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("timeout of 1s took %v", d)
	}
}

func TestRetry(t *testing.T) {
	n := 0
	v, err := Retry(func() (int, error) {
		n++
		if n < 3 {
			return 0, fmt.Errorf("attempt %d", n)
		}
		return n, nil
	})
	if v != 3 || err != nil {
		t.Fatalf("Retry = %d, %v; want success on the third attempt", v, err)
	}
	n = 0
	_, err = Retry(func() (int, error) { n++; return 0, fmt.Errorf("attempt %d", n) })
	if n != 3 || err == nil || err.Error() != "attempt 3" {
		t.Fatalf("Retry of a failing start: %d attempts, %v", n, err)
	}
}
