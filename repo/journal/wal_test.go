package journal

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/manifest"
)

func walNames(t *testing.T, dir string) []string {
	t.Helper()
	names, err := List(dir)
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(names)
	return names
}

// TestWALMarksAndRecovery: marks name the folded files of a log; the
// owner drops old generations and the marks it no longer needs; once the
// owner is gone its log is dead and lists every acknowledged file of its
// current generation, up to a torn tail, and what was folded.
func TestWALMarksAndRecovery(t *testing.T) {
	dir := t.TempDir()
	a := NewWriter(dir)
	if err := a.StartWAL(); err != nil {
		t.Fatal(err)
	}
	op := func(run string) []Op { return []Op{{Op: OpTag, Run: run, Key: "k", Value: "v"}} }
	if err := a.Append(op("r1")); err != nil {
		t.Fatal(err)
	}
	gen, err := a.RotateWAL()
	if err != nil {
		t.Fatal(err)
	}
	if err := a.Append(op("r2")); err != nil {
		t.Fatal(err)
	}
	all := walNames(t, dir)
	if len(all) != 2 || walID(all[0]) == "" || walID(all[0]) != walID(all[1]) {
		t.Fatalf("journal files %v", all)
	}
	b := NewWriter(dir)
	if dead, _ := b.DeadWALs(); len(dead) != 0 {
		t.Fatalf("a live owner's log listed as dead: %v", dead)
	}
	// A checkpoint (of any process) folds both and marks them; the owner
	// drops the first generation and the marks naming only it.
	if err := MarkFolded(dir, []string{all[0]}); err != nil {
		t.Fatal(err)
	}
	if err := MarkFolded(dir, []string{all[1], "00000000000000000001-abcd-r9.jnl"}); err != nil {
		t.Fatal(err)
	}
	if err := a.DropOldWALs(gen); err != nil {
		t.Fatal(err)
	}
	marks, _ := filepath.Glob(filepath.Join(dir, "wal", "*.folded.*"))
	if len(marks) != 1 {
		t.Fatalf("marks after the drop: %v (want the one naming a current file)", marks)
	}
	// The owner dies (its lock released, its log left).
	a.wal.lock.Close()
	dead, err := b.DeadWALs()
	if err != nil || len(dead) != 1 || len(dead[0].Paths) != 3 {
		t.Fatalf("dead logs %+v, %v", dead, err)
	}
	folded, err := dead[0].Folded()
	if err != nil || !folded[all[1]] || folded[all[0]] {
		t.Fatalf("folded %v, %v", folded, err)
	}
	frames, err := dead[0].Frames()
	if err != nil || len(frames) != 1 || frames[0].Name != all[1] {
		t.Fatalf("frames %+v, %v (the first generation was dropped)", frames, err)
	}
	want, _ := os.ReadFile(filepath.Join(dir, all[1]))
	if string(frames[0].Data) != string(want) {
		t.Fatal("frame differs from the journal file")
	}
	// A torn tail: every cut of the last frame leaves the frames before.
	p := dead[0].Paths[0]
	full, _ := os.ReadFile(p)
	for cut := 0; cut < len(full); cut++ {
		os.WriteFile(p, full[:cut], 0o644)
		frames, err := dead[0].Frames()
		if err != nil || len(frames) != 0 {
			t.Fatalf("cut at %d of %d: %d frames, %v", cut, len(full), len(frames), err)
		}
	}
	os.WriteFile(p, append(full, "W\tx.jnl\t99\nshort"...), 0o644)
	if frames, _ := dead[0].Frames(); len(frames) != 1 {
		t.Fatalf("a torn frame after a whole one: %d frames", len(frames))
	}
	if !strings.HasSuffix(dead[0].Paths[2], ".lock") {
		t.Fatalf("lock not last: %v", dead[0].Paths)
	}
}

// orderObserver records the journal files a Writer publishes, in order,
// and slows each publication down so that appends queue up behind it.
type orderObserver struct {
	mu    sync.Mutex
	names []string
}

func (o *orderObserver) Written(name string, size int64, reqs []*Request) {
	time.Sleep(200 * time.Microsecond)
	o.mu.Lock()
	o.names = append(o.names, name)
	o.mu.Unlock()
}

func (o *orderObserver) Unwritten(name string) {}

// TestWALPublishesInFrameOrder: under concurrent appends, journal files
// are published in the order of their frames, and when RotateWAL returns
// every file with a frame in an earlier generation is in the folder.
func TestWALPublishesInFrameOrder(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	obs := &orderObserver{}
	w.SetObserver(obs)
	if err := w.StartWAL(); err != nil {
		t.Fatal(err)
	}
	defer w.StopWAL()
	var wg sync.WaitGroup
	for c := 0; c < 8; c++ {
		wg.Add(1)
		go func(c int) {
			defer wg.Done()
			run := strings.Repeat(string(rune('a'+c)), 32)
			for i := 0; i < 40; i++ {
				if err := w.AppendPoints(nil, run, []manifest.MetricPoint{{Key: "m", Value: float64(i), Step: int64(i), Timestamp: 1}}); err != nil {
					t.Error(err)
					return
				}
			}
		}(c)
	}
	var frames []string
	for r := 0; r < 5; r++ {
		time.Sleep(5 * time.Millisecond)
		if _, err := w.RotateWAL(); err != nil {
			t.Fatal(err)
		}
		// The generation just closed: every frame's file is published.
		old := filepath.Join(dir, "wal", fmt.Sprintf("%s.%d.wal", w.wal.id, w.wal.gen-1))
		fs, err := DeadWAL{Paths: []string{old}}.Frames()
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fs {
			if _, err := os.Stat(filepath.Join(dir, f.Name)); err != nil {
				t.Fatalf("RotateWAL returned before %s, framed in the generation it closed, was published: %v", f.Name, err)
			}
			frames = append(frames, f.Name)
		}
	}
	wg.Wait()
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if !sort.StringsAreSorted(obs.names) {
		t.Fatalf("files published out of order: %v", obs.names)
	}
	for i, n := range frames {
		if obs.names[i] != n {
			t.Fatalf("publication %d is %s, frame %d is %s", i, obs.names[i], i, n)
		}
	}
	if got := len(walNames(t, dir)); got != len(obs.names) || got == 0 {
		t.Fatalf("%d journal files, %d published", got, len(obs.names))
	}
	if a, f := w.Counts(); a != 320 || f != int64(len(obs.names)) {
		t.Fatalf("counts: %d appends in %d files, want 320 in %d", a, f, len(obs.names))
	}
}

// TestWALHeaderNamesItsFile: a log file whose header names another file
// (a reused inode showing a deleted generation's content after a power
// loss) holds no frames; a file without a header is read from its start.
func TestWALHeaderNamesItsFile(t *testing.T) {
	dir := t.TempDir()
	w := NewWriter(dir)
	if err := w.StartWAL(); err != nil {
		t.Fatal(err)
	}
	if err := w.Append([]Op{{Op: OpTag, Run: "r1", Key: "k", Value: "v"}}); err != nil {
		t.Fatal(err)
	}
	gen1 := filepath.Join(dir, "wal", w.wal.id+".1.wal")
	data, err := os.ReadFile(gen1)
	if err != nil {
		t.Fatal(err)
	}
	if want := walMagic + w.wal.id + ".1\n"; !strings.HasPrefix(string(data), want) {
		t.Fatalf("log starts %q, want %q", data[:min(len(data), 40)], want)
	}
	frames, err := DeadWAL{Paths: []string{gen1}}.Frames()
	if err != nil || len(frames) != 1 {
		t.Fatalf("own file: %d frames, %v", len(frames), err)
	}
	// The same bytes under generation 2's name: another file's content.
	gen2 := filepath.Join(dir, "wal", w.wal.id+".2.wal")
	if err := os.WriteFile(gen2, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if frames, err := (DeadWAL{Paths: []string{gen2}}).Frames(); err != nil || len(frames) != 0 {
		t.Fatalf("a file naming another: %d frames, %v; want none", len(frames), err)
	}
	// Without a header: frames from the start.
	legacy := filepath.Join(dir, "wal", w.wal.id+".3.wal")
	if err := os.WriteFile(legacy, data[len(walMagic+w.wal.id+".1\n"):], 0o644); err != nil {
		t.Fatal(err)
	}
	if got, err := (DeadWAL{Paths: []string{legacy}}).Frames(); err != nil || len(got) != 1 || got[0].Name != frames[0].Name {
		t.Fatalf("a file without a header: %d frames, %v", len(got), err)
	}
	if err := w.StopWAL(); err != nil {
		t.Fatal(err)
	}
}
