package mlflowimport

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/benchfix"

	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/server"
)

// serve starts mlgit server on r's repository, which an MLflow client
// treats as a tracking server; with a token, the API requires it.
func serve(t testing.TB, dir string, token string) *httptest.Server {
	t.Helper()
	r := openRepo(t, dir)
	cfg := server.Config{Repo: r}
	if token != "" {
		salt := "00112233"
		sb, _ := hex.DecodeString(salt)
		sum := sha256.Sum256(append(sb, token...))
		a, err := server.ParseAuth(strings.NewReader("token ci sha256$" + salt + "$" + hex.EncodeToString(sum[:]) + "\n"))
		if err != nil {
			t.Fatal(err)
		}
		cfg.Auth = a
	}
	s, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	ts := httptest.NewServer(s)
	t.Cleanup(ts.Close)
	return ts
}

// api calls the server's REST API as MLflow's client does.
func api(t *testing.T, base, token, method, path string, body any, out any) {
	t.Helper()
	var rd io.Reader
	if b, ok := body.([]byte); ok {
		rd = bytes.NewReader(b)
	} else if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, base+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode != 200 {
		t.Fatalf("%s %s: %s %s", method, path, res.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatalf("%s %s: %v: %s", method, path, err, data)
		}
	}
}

// TestImportFromServer: a tracking server holding the MLflow 3 fixture
// (imported into it) plus a run logged through its REST API is imported
// over REST into a fresh repository: everything matches, the file store and
// the server alike; a second import has nothing to do; a wrong token is a
// clear error.
func TestImportFromServer(t *testing.T) {
	srcRepo, st := newRepo(t)
	importFixture(t, srcRepo, st, fixtures[1].dir, Options{})
	dir := srcRepo.WorkTree()
	srcRepo.Close()
	const token = "s3cret-token"
	ts := serve(t, dir, token)

	// A run logged through the REST API, with an artifact uploaded through
	// the artifact proxy.
	var exp struct {
		ID string `json:"experiment_id"`
	}
	api(t, ts.URL, token, "POST", "/api/2.0/mlflow/experiments/create", map[string]any{"name": "rest-exp", "tags": []map[string]string{{"key": "k", "value": "v"}}}, &exp)
	var run struct {
		Run struct {
			Info struct {
				ID string `json:"run_id"`
			} `json:"info"`
		} `json:"run"`
	}
	api(t, ts.URL, token, "POST", "/api/2.0/mlflow/runs/create", map[string]any{"experiment_id": exp.ID, "run_name": "over-rest", "start_time": 1700000000000}, &run)
	id := run.Run.Info.ID
	api(t, ts.URL, token, "POST", "/api/2.0/mlflow/runs/log-batch", map[string]any{"run_id": id,
		"params":  []map[string]string{{"key": "lr", "value": "0.3"}},
		"tags":    []map[string]string{{"key": "team", "value": "rest"}},
		"metrics": []map[string]any{{"key": "loss", "value": 0.5, "timestamp": 1700000000001, "step": 0}, {"key": "loss", "value": "NaN", "timestamp": 1700000000002, "step": 1}}}, nil)
	api(t, ts.URL, token, "PUT", "/api/2.0/mlflow-artifacts/artifacts/"+exp.ID+"/"+id+"/artifacts/out/report.txt", []byte("report\n"), nil)
	api(t, ts.URL, token, "POST", "/api/2.0/mlflow/runs/update", map[string]any{"run_id": id, "status": "FINISHED", "end_time": 1700000000100}, nil)

	ctx := context.Background()
	if _, err := ReadServer(ctx, ts.URL, ServerOptions{Getenv: func(string) string { return "" }}); err == nil || !strings.Contains(err.Error(), "MLFLOW_TRACKING_TOKEN") {
		t.Fatalf("no token: %v", err)
	}
	if _, err := ReadServer(ctx, "http://127.0.0.1:1", ServerOptions{}); !errors.Is(err, ErrServer) {
		t.Fatalf("unreachable server: %v", err)
	}
	env := func(k string) string {
		if k == "MLFLOW_TRACKING_TOKEN" {
			return token
		}
		return ""
	}
	src, err := ReadServer(ctx, ts.URL, ServerOptions{Getenv: env})
	if err != nil {
		t.Fatal(err)
	}
	dst, dstBlobs := newRepo(t)
	sum, err := Import(ctx, dst, dstBlobs, src, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if len(sum.Skipped) > 0 || sum.Runs != 10 || sum.Versions != 3 || sum.LoggedModels != 3 {
		t.Errorf("summary %+v", sum)
	}
	for name, s := range map[string]*Store{"server": src, "file store": mustRead(t, fixtures[1].dir)} {
		diffs, err := Verify(ctx, dst, s, Options{})
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range diffs {
			if name == "file store" && strings.Contains(d.Item, "rest-exp") {
				continue
			}
			t.Errorf("against the %s: %s", name, d)
		}
	}
	got, err := dst.GetRun(id)
	if err != nil || got.Params["lr"] != "0.3" || got.Tags["team"] != "rest" || len(got.Artifacts) != 1 || got.Artifacts[0].Path != "out/report.txt" {
		t.Fatalf("the REST-logged run: %+v %v", got, err)
	}
	again, err := Import(ctx, dst, dstBlobs, src, Options{})
	if err != nil || !again.NothingToDo() {
		t.Errorf("second import: %+v %v", again, err)
	}

	// An MLflow client pointed at the new repository's server finds what
	// it found on the old one: the same search results.
	ts2 := serve(t, dst.WorkTree(), "")
	ids := func(base, tok, path string, body any, list, field string) string {
		var out map[string]any
		method := "POST"
		if body == nil {
			method = "GET"
		}
		api(t, base, tok, method, path, body, &out)
		var got []string
		items, _ := out[list].([]any)
		for _, it := range items {
			m := it.(map[string]any)
			if info, ok := m["info"].(map[string]any); ok {
				m = info
			}
			got = append(got, fmt.Sprint(m[field]))
		}
		return strings.Join(got, ",")
	}
	var expIDs []string
	for _, e := range src.Experiments {
		expIDs = append(expIDs, e.ID)
	}
	for _, f := range []string{"", "metrics.acc > 0.91", "params.lr = '0.1'", "tags.stage = 'sweep'", "attributes.status = 'FAILED'"} {
		body := map[string]any{"experiment_ids": expIDs, "filter": f, "run_view_type": "ALL", "order_by": []string{"attributes.start_time DESC"}}
		if a, b := ids(ts.URL, token, "/api/2.0/mlflow/runs/search", body, "runs", "run_id"), ids(ts2.URL, "", "/api/2.0/mlflow/runs/search", body, "runs", "run_id"); a != b || a == "" && f == "" {
			t.Errorf("runs/search %q: %s, before the import %s", f, b, a)
		}
	}
	for _, q := range []string{"/api/2.0/mlflow/registered-models/search", "/api/2.0/mlflow/model-versions/search?filter=" + url.QueryEscape("name = 'churn-model'")} {
		list, field := "registered_models", "name"
		if strings.Contains(q, "versions") {
			list, field = "model_versions", "version"
		}
		if a, b := ids(ts.URL, token, q, nil, list, field), ids(ts2.URL, "", q, nil, list, field); a != b || a == "" {
			t.Errorf("%s: %s, before the import %s", q, b, a)
		}
	}
}

func mustRead(t *testing.T, dir string) *Store {
	s, err := ReadFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func openRepo(t testing.TB, dir string) *repo.Repo {
	t.Helper()
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

// BenchmarkImportFromServer imports 1,000 runs × 10 metrics × 100 steps
// from mlgit server over REST (runs/s), next to what a plain loop of
// runs/search and one metrics/get-history per run and key over the same
// server takes (what a script with MLflow's client does; plain-runs/s).
func BenchmarkImportFromServer(b *testing.B) {
	const nruns = 1000
	store := filepath.Join(b.TempDir(), "mlruns")
	if err := benchfix.MLflowStore(store, nruns, 10, 100); err != nil {
		b.Fatal(err)
	}
	srcRepo, st := newRepo(b)
	src, err := ReadFileStore(store)
	if err != nil {
		b.Fatal(err)
	}
	if _, err := Import(context.Background(), srcRepo, st, src, Options{}); err != nil {
		b.Fatal(err)
	}
	dir := srcRepo.WorkTree()
	srcRepo.Close()
	ts := serve(b, dir, "")
	ctx := context.Background()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		// The plain loop, one request at a time.
		t0 := time.Now()
		rs := &restStore{base: ts.URL, hc: http.DefaultClient, header: http.Header{}}
		exps, err := rs.experiments(ctx)
		if err != nil {
			b.Fatal(err)
		}
		points := 0
		for _, e := range exps {
			if err := rs.readExperiment(ctx, &Store{}, e); err != nil {
				b.Fatal(err)
			}
			for _, r := range e.Runs {
				h, err := rs.history(ctx, r.ID, r.MetricKeys)
				if err != nil {
					b.Fatal(err)
				}
				for _, p := range h {
					points += len(p)
				}
			}
		}
		plain := time.Since(t0)
		if points != nruns*10*100 {
			b.Fatalf("plain loop read %d points", points)
		}
		b.StopTimer()
		dst, dstBlobs := newRepo(b)
		b.StartTimer()
		t1 := time.Now()
		s, err := ReadServer(ctx, ts.URL, ServerOptions{})
		if err != nil {
			b.Fatal(err)
		}
		sum, err := Import(ctx, dst, dstBlobs, s, Options{})
		if err != nil || sum.Runs != nruns || sum.Points != nruns*10*100 {
			b.Fatalf("%+v %v", sum, err)
		}
		imp := time.Since(t1)
		b.ReportMetric(nruns/plain.Seconds(), "plain-runs/s")
		b.ReportMetric(nruns/imp.Seconds(), "import-runs/s")
		dst.Close()
	}
}

// TestReadServerWithoutLoggedModels: an MLflow 2 server answers 404 to
// logged-models/search: no logged models. Another failure there is an
// error.
func TestReadServerWithoutLoggedModels(t *testing.T) {
	status := http.StatusNotFound
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/api/2.0/mlflow/experiments/search":
			io.WriteString(w, `{"experiments":[{"experiment_id":"0","name":"Default","lifecycle_stage":"active"}]}`)
		case "/api/2.0/mlflow/logged-models/search":
			w.WriteHeader(status)
			io.WriteString(w, `{"error_code":"ENDPOINT_NOT_FOUND","message":"no such endpoint"}`)
		default:
			io.WriteString(w, `{}`)
		}
	}))
	defer ts.Close()
	s, err := ReadServer(context.Background(), ts.URL, ServerOptions{})
	if err != nil || len(s.Experiments) != 1 || len(s.Experiments[0].LoggedModels) != 0 {
		t.Fatalf("MLflow 2 server: %+v %v", s, err)
	}
	status = http.StatusInternalServerError
	if _, err := ReadServer(context.Background(), ts.URL, ServerOptions{}); !errors.Is(err, ErrServer) || !strings.Contains(err.Error(), "500") {
		t.Fatalf("a failing logged-models/search: %v", err)
	}
}
