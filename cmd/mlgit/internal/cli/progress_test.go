package cli

import (
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/units"
)

func TestProgressBar(t *testing.T) {
	now := time.Unix(1000, 0)
	clock := func() time.Time { return now }
	var mu sync.Mutex
	var out strings.Builder
	w := writerFunc(func(p []byte) (int, error) { mu.Lock(); defer mu.Unlock(); return out.Write(p) })
	p := newProgressBar(nil, "push", 1<<30, clock)
	p.Set(512 << 20)
	now = now.Add(500 * time.Millisecond)
	if s := p.render(now, false); s != "" {
		t.Fatalf("drawn before a second: %q", s)
	}
	now = now.Add(1500 * time.Millisecond)
	want := "push  [==========>         ]  50%  512.0 MiB / 1.0 GiB  256.0 MiB/s  ETA 2s"
	if s := p.render(now, false); s != want {
		t.Fatalf("render:\n got %q\nwant %q", s, want)
	}
	p.Finish() // no writer: nothing happens
	if out.Len() != 0 {
		t.Fatal("wrote without a terminal")
	}

	// On a terminal: nothing for a quick transfer, a bar and a newline
	// for a slow one.
	quick := newProgressBar(w, "get", 100, time.Now)
	quick.Add(100)
	quick.Finish()
	mu.Lock()
	if out.Len() != 0 {
		t.Fatalf("quick transfer drew %q", out.String())
	}
	mu.Unlock()
	start := time.Now()
	slow := newProgressBar(w, "get", 100, func() time.Time { return time.Now().Add(2 * time.Second) })
	slow.start = start
	slow.Add(40)
	time.Sleep(3 * progressInterval)
	slow.Add(60)
	slow.Finish()
	mu.Lock()
	s := out.String()
	mu.Unlock()
	if !strings.HasPrefix(s, "\rget  [") || !strings.Contains(s, " 40%") || !strings.Contains(s, "100%  100 B / 100 B") || !strings.HasSuffix(s, "\n") || !strings.Contains(s, "  in ") {
		t.Fatalf("slow transfer drew %q", s)
	}
	for _, tc := range []struct {
		n    int64
		want string
	}{{0, "0 B"}, {1023, "1023 B"}, {1536, "1.5 KiB"}, {5 << 30, "5.0 GiB"}} {
		if got := units.Bytes(tc.n); got != tc.want {
			t.Errorf("units.Bytes(%d) = %q, want %q", tc.n, got, tc.want)
		}
	}
	for _, tc := range []struct {
		d    time.Duration
		want string
	}{{850 * time.Millisecond, "850ms"}, {42 * time.Second, "42s"}, {187 * time.Second, "3m07s"}, {125 * time.Minute, "2h05m"}} {
		if got := formatDuration(tc.d); got != tc.want {
			t.Errorf("formatDuration(%v) = %q, want %q", tc.d, got, tc.want)
		}
	}
}

type writerFunc func([]byte) (int, error)

func (f writerFunc) Write(p []byte) (int, error) { return f(p) }

// TestProgressBarCounts: a bar of items (an import's runs) shows counts,
// the note, and an ETA from the rate so far.
func TestProgressBarCounts(t *testing.T) {
	now := time.Unix(1000, 0)
	p := newProgressBar(nil, "import", 0, func() time.Time { return now })
	p.noun = "runs"
	p.SetTotal(10000)
	p.Set(2500)
	p.SetNote("250000 points, 1.5 MiB")
	now = now.Add(10 * time.Second)
	want := "import  [=====>              ]  25%  2500 / 10000 runs  250000 points, 1.5 MiB  ETA 30s"
	if s := p.render(now, false); s != want {
		t.Fatalf("render:\n got %q\nwant %q", s, want)
	}
	p.Set(10000)
	if s := p.render(now, true); !strings.HasSuffix(s, "10000 / 10000 runs  250000 points, 1.5 MiB  in 10s") {
		t.Fatalf("final: %q", s)
	}
}
