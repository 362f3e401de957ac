package ui_test

// The test harness of the web UI: a real mlgit server over a temporary
// repository (httptest, real Git), and a real headless Chromium driven by
// chromedp. Pages are checked for console errors (CSP violations among
// them) and screenshotted at 1280x800 into one folder per test run.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

// fixedNow is the store's clock in tests.
var fixedNow = time.UnixMilli(1767323045000).UTC()

// env is a running server over a fresh repository.
type env struct {
	t   *testing.T
	dir string
	R   *repo.Repo
	S   *server.Server
	URL string // http://127.0.0.1:port
}

// newEnv starts a server (mutate adjusts its Config) over a new repository.
func newEnv(t *testing.T, mutate ...func(*server.Config)) *env {
	t.Helper()
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	r, _, err := repo.Init(dir, repo.Options{Now: func() time.Time { return fixedNow }}, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return serveRepo(t, dir, r, mutate...)
}

// serveRepo starts a server over an open repository.
func serveRepo(t *testing.T, dir string, r *repo.Repo, mutate ...func(*server.Config)) *env {
	t.Helper()
	cfg := server.Config{Repo: r, Version: "test"}
	for _, m := range mutate {
		m(&cfg)
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(s)
	t.Cleanup(func() {
		ts.Close()
		s.Close()
	})
	return &env{t: t, dir: dir, R: r, S: s, URL: ts.URL}
}

// get fetches a path and returns status, headers and body.
func (e *env) get(path string) (int, http.Header, string) {
	e.t.Helper()
	resp, err := http.Get(e.URL + path)
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

// apiPost posts a JSON body to /api/2.0/mlflow/<path> and decodes the answer
// into out (when not nil); it fails the test on an error status.
func (e *env) apiPost(path string, body any, out any) {
	e.t.Helper()
	b, _ := json.Marshal(body)
	resp, err := http.Post(e.URL+"/api/2.0/mlflow/"+path, "application/json", strings.NewReader(string(b)))
	if err != nil {
		e.t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		e.t.Fatalf("POST %s: %d %s", path, resp.StatusCode, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			e.t.Fatal(err)
		}
	}
}

// chromiumPath finds the browser: $MLGIT_CHROMIUM, else Debian's chromium.
func chromiumPath() string {
	if p := os.Getenv("MLGIT_CHROMIUM"); p != "" {
		return p
	}
	for _, n := range []string{"chromium", "chromium-browser", "headless_shell", "google-chrome"} {
		if p, err := exec.LookPath(n); err == nil {
			return p
		}
	}
	return ""
}

// needBrowser skips the test when no Chromium is installed (it says how to
// get one); under CI (CI=true) it fails instead, since .ci/run installs it.
func needBrowser(t testing.TB) string {
	t.Helper()
	p := chromiumPath()
	if p == "" {
		msg := "this test needs a headless Chromium: install the Debian package chromium (apt-get install chromium), or set MLGIT_CHROMIUM"
		if os.Getenv("CI") != "" {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return p
}

// browser is one headless Chromium for a test; tab opens pages in it.
type browser struct {
	t   testing.TB
	ctx context.Context
}

// newBrowser starts Chromium (closed when the test ends).
func newBrowser(t testing.TB) *browser {
	t.Helper()
	exe := needBrowser(t)
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.WindowSize(1280, 800),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-gpu", true),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("no-sandbox", true),
	)
	actx, cancelA := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	if err := chromedp.Do(ctx); err != nil {
		cancel()
		cancelA()
		t.Fatalf("start chromium %s: %v", exe, err)
	}
	t.Cleanup(func() {
		cancel()
		cancelA()
	})
	return &browser{t: t, ctx: ctx}
}

// tab is one page of the browser with its console collected.
type tab struct {
	t      testing.TB
	ctx    context.Context
	mu     sync.Mutex
	errors []string
}

// tab opens a new tab (closed with the test).
func (b *browser) tab() *tab {
	b.t.Helper()
	ctx, cancel := chromedp.NewContext(b.ctx)
	b.t.Cleanup(cancel)
	tb := &tab{t: b.t, ctx: ctx}
	if err := chromedp.Do(ctx); err != nil {
		b.t.Fatal(err)
	}
	go func() {
		for m := range chromedp.Console(ctx) {
			if m.Type == "error" || m.Type == "exception" || m.Type == "assert" {
				tb.mu.Lock()
				tb.errors = append(tb.errors, fmt.Sprintf("%s [%s] %s (%s:%d)", m.Type, m.Source, m.Text, m.URL, m.Line))
				tb.mu.Unlock()
			}
		}
	}()
	return tb
}

// run runs chromedp actions with a 30 s limit, failing the test on error.
func (tb *tab) run(actions ...chromedp.Action[chromedp.Void]) {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, actions...); err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
}

// value runs one chromedp action that returns a value (30 s limit).
func value[T any](tb *tab, a chromedp.Action[T]) T {
	tb.t.Helper()
	ctx, cancel := context.WithTimeout(tb.ctx, 30*time.Second)
	defer cancel()
	v, err := chromedp.Run(ctx, a)
	if err != nil {
		tb.t.Fatalf("browser: %v", err)
	}
	return v
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value.
func eval[T any](tb *tab, expr string) T {
	tb.t.Helper()
	return value(tb, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
}

// visit navigates to url and waits for the CSS selector sel to be visible.
func (tb *tab) visit(url, sel string) {
	tb.t.Helper()
	tb.run(chromedp.Navigate(url), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// navigateBy runs JavaScript that navigates (a click on a link, a form
// submit) and waits for the new page's sel to be visible.
func (tb *tab) navigateBy(js, sel string) {
	tb.t.Helper()
	tb.run(chromedp.Evaluate[chromedp.Void](`window.__mlgitOld = true; setTimeout(() => {` + js + `}, 0)`))
	tb.waitFor(`!window.__mlgitOld && document.readyState === 'complete'`)
	tb.run(chromedp.WaitVisible(chromedp.CSS(sel)))
}

// text returns the visible text of the first element matching sel.
func (tb *tab) text(sel string) string {
	tb.t.Helper()
	return value(tb, chromedp.Text(chromedp.CSS(sel)))
}

// count returns how many elements match the CSS selector.
func (tb *tab) count(sel string) int {
	tb.t.Helper()
	return eval[int](tb, fmt.Sprintf("document.querySelectorAll(%q).length", sel))
}

// waitFor polls a JavaScript expression until it is truthy (20 s). It
// survives navigations and reloads in between (the expression is
// evaluated in whatever page is current).
func (tb *tab) waitFor(expr string) {
	tb.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var lastErr error
	for time.Now().Before(deadline) {
		ctx, cancel := context.WithTimeout(tb.ctx, 2*time.Second)
		ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool]("!!("+expr+")"))
		cancel()
		if err == nil && ok {
			return
		}
		lastErr = err
		time.Sleep(20 * time.Millisecond)
	}
	tb.t.Fatalf("browser: waited 20 s for %s (last error: %v)", expr, lastErr)
}

// noConsoleErrors fails the test if the page logged an error so far (CSP
// violations and failed requests included).
func (tb *tab) noConsoleErrors() {
	tb.t.Helper()
	// Console events arrive asynchronously: let them land.
	time.Sleep(100 * time.Millisecond)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	if len(tb.errors) > 0 {
		tb.t.Fatalf("console errors:\n  %s", strings.Join(tb.errors, "\n  "))
	}
}

// consoleErrors returns and clears the errors logged so far.
func (tb *tab) consoleErrors() []string {
	time.Sleep(100 * time.Millisecond)
	tb.mu.Lock()
	defer tb.mu.Unlock()
	e := tb.errors
	tb.errors = nil
	return e
}

var (
	shotsOnce sync.Once
	shotsDir  string
)

// screenshotDir is where screenshots go: $MLGIT_SCREENSHOTS, else a folder
// under the system's temporary directory that the first test names in its
// log.
func screenshotDir(t testing.TB) string {
	shotsOnce.Do(func() {
		shotsDir = os.Getenv("MLGIT_SCREENSHOTS")
		if shotsDir == "" {
			shotsDir = filepath.Join(os.TempDir(), "mlgit-ui-screenshots")
		}
		os.MkdirAll(shotsDir, 0o755)
	})
	return shotsDir
}

// screenshot writes the visible 1280x800 viewport to <dir>/<name>.png.
func (tb *tab) screenshot(name string) string {
	tb.t.Helper()
	png := value(tb, chromedp.CaptureScreenshot())
	p := filepath.Join(screenshotDir(tb.t), name+".png")
	if err := os.WriteFile(p, png, 0o644); err != nil {
		tb.t.Fatal(err)
	}
	tb.t.Logf("screenshot %s", p)
	return p
}
