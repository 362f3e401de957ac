package repo

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/format/packfile"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/registry"
)

// The registry benchmarks run on a repository with 100 models, 10 versions
// and 100 events each (model m000: 200 events), 11,100 annotated tags in
// all, plus MLGIT_BENCH_RUNS runs (default 100,000) on the tracking branch.
// The fixture is written with one `git fast-import` stream (objects in a
// pack, tag refs loose); the packed variant is a copy after
// `git pack-refs --all`. Whole-process figures exec the built binary.
//
//	go test -run '^$' -bench 'BenchmarkRegistry' -benchtime 20x ./repo/
//
// MLGIT_BIN=path uses that binary instead of building ./cmd/mlgit.
//
// docs/PERFORMANCE-registry.md records the figures.

const (
	benchModels   = 100
	benchVersions = 10
	benchEvents   = 100
	benchHotEvts  = 200 // events of m000, for the history benchmark
)

func benchRuns() int {
	if s := os.Getenv("MLGIT_BENCH_RUNS"); s != "" {
		if n, err := strconv.Atoi(s); err == nil {
			return n
		}
	}
	return 100000
}

var benchLabels = []string{"staging", "production", "champion", "archived", "production", "challenger", "none", "!challenger"}

type fixtureEvent struct {
	version int64
	label   string
}

// fixtureEvents is the deterministic event list of model i.
func fixtureEvents(i int) []fixtureEvent {
	n := benchEvents
	if i == 0 {
		n = benchHotEvts
	}
	out := make([]fixtureEvent, n)
	for e := range out {
		out[e] = fixtureEvent{version: int64(1 + (e*7+i)%benchVersions), label: benchLabels[(e+i)%len(benchLabels)]}
	}
	return out
}

// fastImport is a writer of a git fast-import stream.
type fastImport struct {
	w    *bufio.Writer
	mark int
}

func (f *fastImport) data(s string) {
	fmt.Fprintf(f.w, "data %d\n%s\n", len(s), s)
}

// buildRegistryFixture writes the fixture (nModels models) into a new
// repository at dir.
func buildRegistryFixture(tb testing.TB, dir string, nModels, runs int) {
	tb.Helper()
	gittest.Git(tb, dir, "init", "-q", "-b", "main")
	gittest.Git(tb, dir, "commit", "-q", "--allow-empty", "-m", "initial")
	cmd := exec.Command("git", "fast-import", "--quiet")
	cmd.Dir = dir
	in, err := cmd.StdinPipe()
	if err != nil {
		tb.Fatal(err)
	}
	cmd.Stderr = os.Stderr
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	f := &fastImport{w: bufio.NewWriterSize(in, 1<<20)}
	const who = "Bench <bench@example.com> 1767225600 +0000"
	now := int64(1767225600000)
	stages := NewStages()

	// Commit 1: configuration, the Default experiment, the runs and the
	// models' manifests in their final state.
	f.mark++
	base := f.mark
	fmt.Fprintf(f.w, "commit refs/heads/mlgit\nmark :%d\ncommitter %s\n", base, who)
	f.data("mlgit: benchmark fixture\n\nMlgit-Op: init")
	fmt.Fprintf(f.w, "M 100644 inline mlgit.yaml\n")
	f.data(string(manifest.NewConfig().Encode()))
	exp := &manifest.Experiment{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindExperiment},
		ID: "0", Name: "Default", LifecycleStage: manifest.LifecycleActive, CreationTime: now, LastUpdateTime: now}
	fmt.Fprintf(f.w, "M 100644 inline experiments/0/experiment.yaml\n")
	f.data(string(exp.Encode()))
	if runs > 0 {
		fmt.Fprintf(f.w, "M 040000 %s runs\n", writeRunsPack(tb, dir, runs, now))
	}
	type model struct {
		name   string
		events []fixtureEvent
		state  *TagState
	}
	models := make([]model, nModels)
	for i := range models {
		m := model{name: fmt.Sprintf("m%03d", i), events: fixtureEvents(i)}
		// The final state, computed as resolution will: fake commits.
		var refs []TagRef
		for v := 1; v <= benchVersions; v++ {
			refs = append(refs, TagRef{Name: fmt.Sprintf("%s@v%d", m.name, v), Commit: hx(v)})
		}
		for e, ev := range m.events {
			refs = append(refs, TagRef{Name: fmt.Sprintf("%s#%s#%d", m.name, ev.label, e+1), Commit: hx(int(ev.version))})
		}
		m.state = StateFromTags(m.name, refs, stages)
		rm := &manifest.RegisteredModel{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
			Name: m.name, CreationTimestamp: now, LastUpdatedTimestamp: now, LatestVersion: benchVersions}
		if len(m.state.Aliases) > 0 {
			rm.Aliases = m.state.Aliases
		}
		fmt.Fprintf(f.w, "M 100644 inline %s\n", layout.Model(m.name))
		f.data(string(rm.Encode()))
		for v := int64(1); v <= benchVersions; v++ {
			stage, _ := stages.Canonical(m.state.Versions[v].Stage)
			mv := &manifest.ModelVersion{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindModelVersion},
				Name: m.name, Version: v, Stage: stage, Status: "READY", Source: "runs:/" + fmt.Sprintf("%032x", v) + "/model",
				RunID: fmt.Sprintf("%032x", v), CreationTimestamp: now, LastUpdatedTimestamp: now,
				Artifacts: []manifest.Artifact{{Path: "model.pkl", Digest: "sha256:" + strings.Repeat("ab", 32), Size: 1 << 20, Mode: "0644"}}}
			fmt.Fprintf(f.w, "M 100644 inline %s\n", layout.Version(m.name, v))
			f.data(string(mv.Encode()))
		}
		models[i] = m
	}
	// One registration commit per version, then its tags.
	prev := base
	regCommit := map[string]int{}
	for _, m := range models {
		for v := 1; v <= benchVersions; v++ {
			f.mark++
			fmt.Fprintf(f.w, "commit refs/heads/mlgit\nmark :%d\ncommitter %s\n", f.mark, who)
			f.data(fmt.Sprintf("%s v%d registered\n\nMlgit-Op: model-register\nMlgit-Model: %s\nMlgit-Version: %d", m.name, v, m.name, v))
			fmt.Fprintf(f.w, "from :%d\n", prev)
			prev = f.mark
			regCommit[fmt.Sprintf("%s@v%d", m.name, v)] = f.mark
		}
	}
	for _, m := range models {
		for v := 1; v <= benchVersions; v++ {
			tag := fmt.Sprintf("%s@v%d", m.name, v)
			msg := &TagMessage{Model: m.name, Version: int64(v), Kind: TagRegistration, Actor: "Bench <bench@example.com>"}
			fmt.Fprintf(f.w, "tag %s\nfrom :%d\ntagger %s\n", tag, regCommit[tag], who)
			f.data(msg.Encode(registry.TagSubject(msg)))
		}
		for e, ev := range m.events {
			tag := fmt.Sprintf("%s#%s#%d", m.name, ev.label, e+1)
			kind := EventAlias
			if stages.IsStage(ev.label) {
				kind = EventStage
			} else if strings.HasPrefix(ev.label, "!") {
				kind = EventAliasRemoved
			}
			msg := &TagMessage{Model: m.name, Version: ev.version, Kind: kind, Label: strings.TrimPrefix(ev.label, "!"), Actor: "Bench <bench@example.com>", Reason: "benchmark"}
			fmt.Fprintf(f.w, "tag %s\nfrom :%d\ntagger %s\n", tag, regCommit[fmt.Sprintf("%s@v%d", m.name, ev.version)], who)
			f.data(msg.Encode(registry.TagSubject(msg)))
		}
	}
	if err := f.w.Flush(); err != nil {
		tb.Fatal(err)
	}
	in.Close()
	if err := cmd.Wait(); err != nil {
		tb.Fatalf("git fast-import: %v", err)
	}
}

// writeRunsPack writes the runs/ tree of n runs (a run.yaml each, sharded
// as the store shards them) as one pack, indexed with git index-pack, and
// returns the tree's id. (git fast-import inserts tree entries by linear
// search, which makes 100,000 runs take over a minute.)
func writeRunsPack(tb testing.TB, dir string, n int, now int64) plumbing.Hash {
	tb.Helper()
	mem := memory.NewStorage()
	var all []plumbing.Hash
	put := func(o interface {
		Encode(plumbing.EncodedObject) error
	}) plumbing.Hash {
		obj := mem.NewEncodedObject()
		if err := o.Encode(obj); err != nil {
			tb.Fatal(err)
		}
		h, err := mem.SetEncodedObject(obj)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, h)
		return h
	}
	putBlob := func(data string) plumbing.Hash {
		obj := mem.NewEncodedObject()
		obj.SetType(plumbing.BlobObject)
		w, _ := obj.Writer()
		io.WriteString(w, data)
		w.Close()
		h, err := mem.SetEncodedObject(obj)
		if err != nil {
			tb.Fatal(err)
		}
		all = append(all, h)
		return h
	}
	tmplID := strings.Repeat("0", 32)
	tmpl := string((&manifest.Run{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRun},
		ID: tmplID, ExperimentID: "0", Name: "bench", Status: manifest.StatusFinished, LifecycleStage: manifest.LifecycleActive,
		StartTime: now, EndTime: now + 1000, Params: map[string]string{"lr": "0.1", "depth": "6"},
		Metrics: map[string]manifest.MetricSummary{"auc": {Value: 0.9, Step: 10, Timestamp: now, Min: 0.5, Max: 0.9, Count: 10}}}).Encode())
	shards := map[string][]object.TreeEntry{}
	for i := 0; i < n; i++ {
		id := fmt.Sprintf("%032x", uint64(i+1)*0x9e3779b97f4a7c15)
		b := putBlob(strings.Replace(tmpl, tmplID, id, 1))
		t := put(&object.Tree{Entries: []object.TreeEntry{{Name: "run.yaml", Mode: filemode.Regular, Hash: b}}})
		shards[id[:2]] = append(shards[id[:2]], object.TreeEntry{Name: id, Mode: filemode.Dir, Hash: t})
	}
	var top []object.TreeEntry
	for name, es := range shards {
		sort.Slice(es, func(i, j int) bool { return es[i].Name < es[j].Name })
		top = append(top, object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: put(&object.Tree{Entries: es})})
	}
	sort.Slice(top, func(i, j int) bool { return top[i].Name < top[j].Name })
	root := put(&object.Tree{Entries: top})
	packDir := filepath.Join(dir, ".git", "objects", "pack")
	f, err := os.CreateTemp(packDir, "runs-*.pack")
	if err != nil {
		tb.Fatal(err)
	}
	if _, err := packfile.NewEncoder(f, mem, false).Encode(all, 0); err != nil {
		tb.Fatal(err)
	}
	f.Close()
	out := gittest.Git(tb, dir, "index-pack", f.Name())
	final := filepath.Join(packDir, "pack-"+strings.TrimSpace(out))
	if err := os.Rename(f.Name(), final+".pack"); err != nil {
		tb.Fatal(err)
	}
	os.Rename(strings.TrimSuffix(f.Name(), ".pack")+".idx", final+".idx")
	return root
}

// benchFixture holds the fixture variants, built once per process.
type benchFixture struct {
	loose, packed, remote string
	bin                   string
	buildTime             time.Duration
	runs, tags            int
}

var fixtureCache *benchFixture

func registryFixture(b *testing.B) *benchFixture {
	b.Helper()
	if fixtureCache != nil {
		return fixtureCache
	}
	root, err := os.MkdirTemp("", "mlgit-bench-")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { os.RemoveAll(root); fixtureCache = nil })
	// Build the binary first, with the caller's Go environment (the
	// hermetic Git environment below moves HOME). MLGIT_BIN skips it.
	bin := os.Getenv("MLGIT_BIN")
	if bin == "" {
		bin = filepath.Join(root, "mlgit")
		build := exec.Command("go", "build", "-o", bin, "./cmd/mlgit")
		build.Dir = ".."
		if out, err := build.CombinedOutput(); err != nil {
			b.Fatalf("go build: %v\n%s", err, out)
		}
	}
	gittest.Setenv(b)
	fx := &benchFixture{loose: filepath.Join(root, "loose"), packed: filepath.Join(root, "packed"), remote: filepath.Join(root, "remote.git"), runs: benchRuns()}
	start := time.Now()
	os.MkdirAll(fx.loose, 0o755)
	buildRegistryFixture(b, fx.loose, benchModels, fx.runs)
	fx.buildTime = time.Since(start)
	if out, err := exec.Command("cp", "-a", fx.loose, fx.packed).CombinedOutput(); err != nil {
		b.Fatalf("cp: %v %s", err, out)
	}
	gittest.Git(b, fx.packed, "pack-refs", "--all")
	gittest.Git(b, fx.packed, "clone", "-q", "--bare", fx.packed, fx.remote)
	b.Logf("fast-import %s, copies and clone %s", fx.buildTime.Round(time.Millisecond), (time.Since(start) - fx.buildTime).Round(time.Millisecond))
	fx.tags = len(strings.Fields(gittest.Git(b, fx.packed, "tag", "-l")))
	fx.bin = bin
	b.Logf("fixture: %d runs, %d tags, built in %s (%s)", fx.runs, fx.tags, fx.buildTime.Round(time.Millisecond), root)
	fixtureCache = fx
	return fx
}

// execTimes runs the binary b.N times and reports the median and p90 of
// the wall-clock time of one whole process.
func execTimes(b *testing.B, dir string, argv func(i int) []string, env ...string) {
	b.Helper()
	execTimesPrep(b, dir, nil, argv, env...)
}

// execTimesPrep is execTimes with an untimed preparation before each run.
func execTimesPrep(b *testing.B, dir string, prep func(i int), argv func(i int) []string, env ...string) {
	b.Helper()
	times := make([]time.Duration, 0, b.N)
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if prep != nil {
			b.StopTimer()
			prep(i)
			b.StartTimer()
		}
		args := argv(i)
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Dir = dir
		cmd.Env = append(os.Environ(), env...)
		start := time.Now()
		out, err := cmd.CombinedOutput()
		times = append(times, time.Since(start))
		if err != nil {
			b.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	b.StopTimer()
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
	b.ReportMetric(ms(times[len(times)/2]), "ms-median")
	b.ReportMetric(ms(times[len(times)*9/10]), "ms-p90")
}

// BenchmarkRegistry measures the registry at scale; see the top of file.
func BenchmarkRegistry(b *testing.B) {
	if runtime.GOOS == "windows" {
		b.Skip("needs a POSIX shell toolchain")
	}
	fx := registryFixture(b)
	ref := "m042@production"
	for _, v := range []struct{ name, dir string }{{"packed", fx.packed}, {"loose", fx.loose}} {
		b.Run("process/resolve/"+v.name, func(b *testing.B) {
			execTimes(b, v.dir, func(int) []string { return []string{fx.bin, "model", "resolve", ref} })
		})
		b.Run("inprocess/resolve/"+v.name, func(b *testing.B) {
			for i := 0; i < b.N; i++ {
				r, err := Open(v.dir, Options{})
				if err != nil {
					b.Fatal(err)
				}
				res, err := r.Resolve(ref)
				if err != nil || len(res.Warnings) > 0 {
					b.Fatal(err, res.Warnings)
				}
				r.Close()
			}
		})
	}
	b.Run("process/history-200/packed", func(b *testing.B) {
		execTimes(b, fx.packed, func(int) []string { return []string{fx.bin, "model", "history", "m000"} })
	})
	b.Run("process/history-200/loose", func(b *testing.B) {
		execTimes(b, fx.loose, func(int) []string { return []string{fx.bin, "model", "history", "m000"} })
	})
	b.Run("process/resolve-remote/bare", func(b *testing.B) {
		execTimes(b, b.TempDir(), func(int) []string {
			return []string{fx.bin, "model", "resolve", ref, "--remote", fx.remote, "--field", "version"}
		})
	})
	b.Run("process/git-ls-remote-tags/bare", func(b *testing.B) {
		execTimes(b, b.TempDir(), func(int) []string { return []string{"git", "ls-remote", "--tags", fx.remote} })
	})
	b.Run("process/git-tag-l/packed", func(b *testing.B) {
		execTimes(b, fx.packed, func(int) []string { return []string{"git", "tag", "-l"} })
	})
	model := b.TempDir()
	os.WriteFile(filepath.Join(model, "model.pkl"), []byte("weights"), 0o644)
	b.Run("process/register/packed", func(b *testing.B) {
		execTimes(b, fx.packed, func(int) []string { return []string{fx.bin, "model", "register", "m007", "--from", model} }, "MLGIT_NO_AUTO_GC=1")
	})
	b.Run("process/promote/packed", func(b *testing.B) {
		// Every timed promotion changes a stage: archive m008's versions
		// first, then move them to Staging, then Production, and so on.
		r, err := Open(fx.packed, Options{})
		if err != nil {
			b.Fatal(err)
		}
		for v := int64(1); v <= benchVersions; v++ {
			if _, err := r.Promote(PromoteSpec{Name: "m008", Version: v, Stage: "Archived"}); err != nil {
				b.Fatal(err)
			}
		}
		r.Close()
		execTimes(b, fx.packed, func(i int) []string {
			return []string{fx.bin, "model", "promote", "m008", strconv.Itoa(1 + i%benchVersions), []string{"Staging", "Production"}[(i/benchVersions)%2]}
		}, "MLGIT_NO_AUTO_GC=1")
	})
	b.Run("process/fsck/packed", func(b *testing.B) {
		execTimes(b, fx.packed, func(int) []string { return []string{fx.bin, "fsck"} })
	})
	b.Run("process/tags-sync-noop/packed", func(b *testing.B) {
		execTimes(b, fx.packed, func(int) []string { return []string{fx.bin, "tags", "sync"} })
	})
	b.Run("process/tags-sync-10-missing/packed", func(b *testing.B) {
		// Ten registration tags (of ten models) go missing before each
		// run, as after a merge of versions registered elsewhere.
		var missing []string
		for m := 0; m < 10; m++ {
			missing = append(missing, fmt.Sprintf("m%03d@v%d", 10+m*7, 1+m%benchVersions))
		}
		execTimesPrep(b, fx.packed, func(int) {
			gittest.Git(b, fx.packed, append([]string{"tag", "-d"}, missing...)...)
		}, func(int) []string { return []string{fx.bin, "tags", "sync"} })
		out := gittest.Git(b, fx.packed, "tag", "-l", "m0*@v*")
		for _, m := range missing {
			if !strings.Contains(out, m+"\n") && !strings.HasSuffix(out, m) {
				b.Fatalf("tags sync did not re-create %s", m)
			}
		}
	})
	b.Run("inprocess/history-200/packed", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			r, err := Open(fx.packed, Options{})
			if err != nil {
				b.Fatal(err)
			}
			h, _, err := r.ModelHistory("m000")
			if err != nil || len(h) != benchVersions+benchHotEvts {
				b.Fatal(len(h), err)
			}
			r.Close()
		}
	})
}

// TestRegistryFixtureIsConsistent builds a small fixture and checks that it
// is what the benchmarks assume: fsck clean, resolution without warnings,
// loose and packed alike.
func TestRegistryFixtureIsConsistent(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a fixture")
	}
	gittest.Setenv(t)
	dir := t.TempDir()
	const models = 12
	buildRegistryFixture(t, dir, models, 50)
	r, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := r.Fsck()
	if err != nil || len(rep.Problems) > 0 || rep.Models != models || rep.Tags != models*(benchVersions+benchEvents)+benchHotEvts-benchEvents {
		t.Fatalf("fsck: %+v %v", rep, err)
	}
	res, err := r.Resolve("m011@production")
	if err != nil || len(res.Warnings) > 0 {
		t.Fatalf("resolve: %+v %v", res, err)
	}
	gittest.Git(t, dir, "pack-refs", "--all")
	res2, err := r.Resolve("m011@production")
	if err != nil || res2.Version != res.Version {
		t.Fatalf("packed resolve: %+v %v", res2, err)
	}
	h, _, err := r.ModelHistory("m000")
	if err != nil || len(h) != benchVersions+benchHotEvts {
		t.Fatalf("history: %d %v", len(h), err)
	}
	runs, err := r.AllRuns()
	if err != nil || len(runs) != 50 || runs[0].Name != "bench" {
		t.Fatalf("runs: %d %v", len(runs), err)
	}
	gittest.Git(t, dir, "fsck", "--strict", "--no-progress")
}
