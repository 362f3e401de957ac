package main

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// childSrc is a tiny MLflow client: it logs into MLFLOW_RUN_ID over the
// REST API the way mlflow.log_param / log_metric do.
const childSrc = `package main

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
)

func post(path, body string) {
	resp, err := http.Post(os.Getenv("MLFLOW_TRACKING_URI")+"/api/2.0/mlflow/"+path, "application/json", bytes.NewBufferString(body))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 {
		fmt.Fprintln(os.Stderr, path, resp.Status)
		os.Exit(1)
	}
}

func main() {
	id := os.Getenv("MLFLOW_RUN_ID")
	post("runs/log-parameter", fmt.Sprintf(` + "`" + `{"run_id":%q,"key":"alpha","value":"0.5"}` + "`" + `, id))
	for step := 0; step < 3; step++ {
		post("runs/log-metric", fmt.Sprintf(` + "`" + `{"run_id":%q,"key":"rmse","value":%d.5,"timestamp":1700000000000,"step":%d}` + "`" + `, id, 3-step, step))
	}
	fmt.Println("exp", os.Getenv("MLFLOW_EXPERIMENT_NAME"))
}
`

// TestRunExecMLflow: run exec --mlflow serves the MLflow API to the
// command, which logs into the exec's run; when it exits everything is
// committed and the run is FINISHED.
func TestRunExecMLflow(t *testing.T) {
	// Build the child before the hermetic HOME hides the Go build cache.
	child := filepath.Join(t.TempDir(), "child")
	src := filepath.Join(t.TempDir(), "main.go")
	if err := os.WriteFile(src, []byte(childSrc), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("go", "build", "-o", child, src).CombinedOutput(); err != nil {
		t.Fatalf("build child: %v\n%s", err, out)
	}
	gittest.Setenv(t)
	dir := gittest.NewRepo(t)
	var out, errb bytes.Buffer
	s := cli.Streams{In: strings.NewReader(""), Out: &out, Err: &errb}
	if code := run(context.Background(), []string{"-C", dir, "init"}, s); code != 0 {
		t.Fatalf("init: %d %s", code, errb.String())
	}
	code := run(context.Background(), []string{"-C", dir, "run", "exec", "--mlflow", "--exp", "wine", "--name", "via-mlflow", "--", child}, s)
	if code != 0 {
		t.Fatalf("run exec --mlflow: exit %d\n%s", code, errb.String())
	}
	if !strings.Contains(out.String(), "exp wine") {
		t.Fatalf("MLFLOW_EXPERIMENT_NAME not passed: %q", out.String())
	}
	r, err := repo.Open(dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	page, err := r.SearchRuns(repo.RunSearch{Filter: "run_name = 'via-mlflow'"})
	if err != nil || len(page.Runs) != 1 {
		t.Fatalf("search: %v %v", page.Runs, err)
	}
	got := page.Runs[0]
	if got.Status != "FINISHED" || got.Params["alpha"] != "0.5" {
		t.Fatalf("run: status %s params %v", got.Status, got.Params)
	}
	if m := got.Metrics["rmse"]; m.Count != 3 || m.Value != 1.5 || m.Step != 2 {
		t.Fatalf("rmse: %+v", m)
	}
	// Committed, and readable with plain git.
	show := gittest.Git(t, dir, "show", "mlgit:runs/"+got.ID[:2]+"/"+got.ID+"/run.yaml")
	if !strings.Contains(show, "alpha: \"0.5\"") || !strings.Contains(show, "status: FINISHED") {
		t.Fatalf("run.yaml:\n%s", show)
	}
	if p, _ := filepath.Glob(filepath.Join(dir, ".git", "mlgit", "journal", "*.jnl")); len(p) != 0 {
		t.Fatalf("journal not empty after exec: %v", p)
	}
}
