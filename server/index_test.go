package server

import (
	"encoding/json"
	"fmt"
	"math/rand"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/repo"
)

// buildMLGit builds the mlgit binary for tests that need another process.
func buildMLGit(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "mlgit")
	if out, err := exec.Command("go", "build", "-o", bin, "../cmd/mlgit").CombinedOutput(); err != nil {
		t.Fatalf("go build mlgit: %v\n%s", err, out)
	}
	return bin
}

// TestSearchIndexWithCLI: runs/search answers from the server's in-memory
// index exactly what repo.SearchRuns reads from disk, on random filters and
// orders, while the server and `mlgit run ...` in other processes write,
// end runs and checkpoint in turn.
func TestSearchIndexWithCLI(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs mlgit")
	}
	bin := buildMLGit(t)
	e := newEnv(t)
	t.Cleanup(func() { e.s.Close() })
	mlgit := func(args ...string) string {
		t.Helper()
		out, err := exec.Command(bin, append([]string{"-C", e.dir}, args...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("mlgit %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return strings.TrimSpace(string(out))
	}
	disk, err := repo.Open(e.dir, repo.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer disk.Close()
	rng := rand.New(rand.NewSource(11))
	filters := []string{"", "metrics.acc > 0.5", "metrics.acc > 0.2 AND params.opt = 'adam'", "params.opt = 'sgd'",
		"attributes.status = 'FINISHED'", "metrics.loss < 0.5", "tags.src = 'cli'", "metrics.acc IS NULL"}
	orders := [][]string{nil, {"metrics.acc DESC"}, {"metrics.loss ASC", "params.opt DESC"}, {"attributes.start_time"}, {"attributes.run_name DESC"}}
	check := func(when string) {
		t.Helper()
		for i := 0; i < 20; i++ {
			f, o, max := filters[rng.Intn(len(filters))], orders[rng.Intn(len(orders))], 1+rng.Intn(30)
			body, _ := json.Marshal(map[string]any{"experiment_ids": []string{"0"}, "filter": f, "order_by": o, "max_results": max})
			got := e.ok("POST", "/runs/search", string(body))
			var ids []string
			if runs, ok := got["runs"].([]any); ok {
				for _, r := range runs {
					ids = append(ids, r.(map[string]any)["info"].(map[string]any)["run_id"].(string))
				}
			}
			want, err := disk.SearchRuns(repo.RunSearch{ExperimentIDs: []string{"0"}, Filter: f, OrderBy: o, MaxResults: max})
			if err != nil {
				t.Fatal(err)
			}
			var wantIDs []string
			for _, r := range want.Runs {
				wantIDs = append(wantIDs, r.ID)
			}
			tok, _ := got["next_page_token"].(string)
			if strings.Join(ids, ",") != strings.Join(wantIDs, ",") || tok != want.NextPageToken {
				t.Fatalf("%s: filter %q order %v max %d:\nserver %v (next %q)\ndisk   %v (next %q)", when, f, o, max, ids, tok, wantIDs, want.NextPageToken)
			}
		}
	}
	opts := []string{"adam", "sgd"}
	var serverRuns, cliRuns []string
	for round := 0; round < 4; round++ {
		// Through the server.
		for i := 0; i < 8; i++ {
			id := e.createRun("0")
			serverRuns = append(serverRuns, id)
			e.ok("POST", "/runs/log-batch", fmt.Sprintf(`{"run_id":"%s","metrics":[{"key":"acc","value":%g,"timestamp":1,"step":1},{"key":"loss","value":%g,"timestamp":1,"step":1}],"params":[{"key":"opt","value":"%s"}]}`,
				id, rng.Float64(), rng.Float64(), opts[rng.Intn(2)]))
		}
		check(fmt.Sprintf("round %d, server writes", round))
		// Through the CLI, in other processes: new runs, and points on
		// runs the server created.
		for i := 0; i < 3; i++ {
			id := mlgit("run", "start", "--name", fmt.Sprintf("cli-%d-%d", round, i), "--param", "opt="+opts[rng.Intn(2)], "--tag", "src=cli")
			cliRuns = append(cliRuns, id)
			mlgit("run", "log", "--run", id, "--metric", fmt.Sprintf("acc=%g@1", rng.Float64()))
		}
		target := serverRuns[rng.Intn(len(serverRuns))]
		mlgit("run", "log", "--run", target, "--metric", fmt.Sprintf("acc=%g@9", rng.Float64()), "--tag", "src=cli")
		check(fmt.Sprintf("round %d, CLI writes", round))
		// Run ends commit (the CLI's checkpoint, then the server's).
		mlgit("run", "end", "--run", cliRuns[len(cliRuns)-1])
		check(fmt.Sprintf("round %d, CLI end", round))
		e.ok("POST", "/runs/update", fmt.Sprintf(`{"run_id":"%s","status":"FINISHED","end_time":%d}`, serverRuns[len(serverRuns)-1], time.Now().UnixMilli()))
		check(fmt.Sprintf("round %d, server end", round))
		if round%2 == 1 {
			mlgit("run", "flush")
			check(fmt.Sprintf("round %d, CLI flush", round))
		}
	}
	// The CLI reads what the server journaled, too.
	out := mlgit("run", "list", "--json", "--filter", "tags.src = 'cli'")
	for _, id := range cliRuns {
		if !strings.Contains(out, id) {
			t.Fatalf("mlgit run list does not show %s", id)
		}
	}
}

// TestRunsPageJSON: the search response built from cached run encodings is
// byte for byte what encoding/json gives for the response struct.
func TestRunsPageJSON(t *testing.T) {
	e := newEnv(t)
	var ids []string
	for i := 0; i < 5; i++ {
		id := e.createRun("0")
		ids = append(ids, id)
		e.ok("POST", "/runs/log-batch", fmt.Sprintf(`{"run_id":"%s","metrics":[{"key":"acc","value":%d.5,"timestamp":1,"step":1}],"params":[{"key":"p","value":"<a&b>"}],"tags":[{"key":"t","value":"\u2028"}]}`, id, i))
	}
	e.ok("POST", "/runs/log-metric", fmt.Sprintf(`{"run_id":"%s","key":"nan","value":"NaN","timestamp":1}`, ids[0]))
	for _, max := range []int{1, 2, 5, 10} {
		for _, next := range []string{"", "eyJvZmZzZXQiOiAyfQ=="} {
			page, err := e.r.SearchRuns(repo.RunSearch{MaxResults: max})
			if err != nil {
				t.Fatal(err)
			}
			want := struct {
				Runs          []runJSON `json:"runs,omitempty"`
				NextPageToken string    `json:"next_page_token,omitempty"`
			}{NextPageToken: next}
			for _, d := range page.Runs {
				want.Runs = append(want.Runs, toRun(d))
			}
			wb, _ := json.Marshal(want)
			for pass := 0; pass < 2; pass++ { // cold, then cached
				got, err := e.s.runsPageJSON(page.Runs, next)
				if err != nil {
					t.Fatal(err)
				}
				if string(got) != string(wb) {
					t.Fatalf("max %d next %q pass %d:\n got %s\nwant %s", max, next, pass, got, wb)
				}
			}
		}
	}
	got, _ := e.s.runsPageJSON(nil, "")
	if string(got) != "{}" {
		t.Fatalf("empty page: %s", got)
	}
}
