package cli

import (
	"fmt"
	"io"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/mlgit/mlgit/internal/units"
)

// progressDelay is how long a transfer runs before its bar appears: quick
// commands stay quiet.
const progressDelay = time.Second

// progressInterval is how often the bar is redrawn.
const progressInterval = 200 * time.Millisecond

// ProgressBar shows a transfer on stderr, redrawn in place:
//
//	push  [=========>          ]  45%  450.0 MiB / 1.0 GiB  312.4 MiB/s  ETA 2s
//
// It draws only when stderr is a terminal and only once the transfer has
// run for over a second; otherwise it prints nothing at all. Counters are
// safe for concurrent use.
type ProgressBar struct {
	w     io.Writer // nil: never draw
	label string
	now   func() time.Time
	start time.Time
	total atomic.Int64
	done  atomic.Int64
	// noun, when set, counts items ("runs") rather than bytes; note is
	// shown after the counts.
	noun string
	note atomic.Pointer[string]

	mu    sync.Mutex
	drawn bool
	stop  chan struct{}
	wg    sync.WaitGroup
}

// StartProgress starts a bar for a transfer of total bytes (0 if not yet
// known). Call Finish when the transfer ends, successfully or not.
func (a *App) StartProgress(label string, total int64) *ProgressBar {
	var w io.Writer
	if a.ErrTTY {
		w = a.Err
	}
	return newProgressBar(w, label, total, a.Now)
}

// StartCountProgress starts a bar that counts items (noun: "runs").
func (a *App) StartCountProgress(label string, total int64, noun string) *ProgressBar {
	p := a.StartProgress(label, total)
	p.noun = noun
	return p
}

// SetNote sets a short text shown after the counts ("12,000 points").
func (p *ProgressBar) SetNote(s string) { p.note.Store(&s) }

func newProgressBar(w io.Writer, label string, total int64, now func() time.Time) *ProgressBar {
	if now == nil {
		now = time.Now
	}
	p := &ProgressBar{w: w, label: label, now: now, start: now()}
	p.total.Store(total)
	if w != nil {
		p.stop = make(chan struct{})
		p.wg.Go(func() {
			t := time.NewTicker(progressInterval)
			defer t.Stop()
			for {
				select {
				case <-p.stop:
					return
				case <-t.C:
					p.draw(false)
				}
			}
		})
	}
	return p
}

// SetTotal sets the number of bytes the transfer will move.
func (p *ProgressBar) SetTotal(n int64) { p.total.Store(n) }

// Add counts n more bytes done.
func (p *ProgressBar) Add(n int64) { p.done.Add(n) }

// Set sets the bytes done so far.
func (p *ProgressBar) Set(n int64) { p.done.Store(n) }

// Finish stops redrawing. If the bar was ever shown, it is drawn a last time
// and the line is ended, so later messages start on a fresh line.
func (p *ProgressBar) Finish() {
	if p.w == nil {
		return
	}
	close(p.stop)
	p.wg.Wait()
	p.mu.Lock()
	drawn := p.drawn
	p.mu.Unlock()
	if drawn {
		p.draw(true)
		fmt.Fprint(p.w, "\n")
	}
}

func (p *ProgressBar) draw(final bool) {
	line := p.render(p.now(), final)
	if line == "" {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	p.drawn = true
	fmt.Fprint(p.w, "\r"+line+"\x1b[K")
}

// render returns the bar's text at time now, or "" while the transfer is
// younger than progressDelay (unless final).
func (p *ProgressBar) render(now time.Time, final bool) string {
	elapsed := now.Sub(p.start)
	if elapsed < progressDelay && !final {
		return ""
	}
	done, total := p.done.Load(), p.total.Load()
	if total < done {
		total = done
	}
	var b strings.Builder
	b.WriteString(p.label)
	const width = 20
	frac := 1.0
	if total > 0 {
		frac = float64(done) / float64(total)
	}
	fill := int(frac * width)
	bar := strings.Repeat("=", fill)
	if fill < width {
		bar += ">" + strings.Repeat(" ", width-fill-1)
	}
	if p.noun != "" {
		fmt.Fprintf(&b, "  [%s] %3d%%  %d / %d %s", bar, int(frac*100), done, total, p.noun)
		if n := p.note.Load(); n != nil {
			b.WriteString("  " + *n)
		}
	} else {
		fmt.Fprintf(&b, "  [%s] %3d%%  %s / %s", bar, int(frac*100), units.Bytes(done), units.Bytes(total))
	}
	secs := elapsed.Seconds()
	if secs > 0 && p.noun != "" {
		switch {
		case final:
			fmt.Fprintf(&b, "  in %s", formatDuration(elapsed))
		case done > 0 && total > done:
			fmt.Fprintf(&b, "  ETA %s", formatDuration(time.Duration(float64(total-done)/float64(done)*float64(elapsed))))
		}
	} else if secs > 0 {
		rate := float64(done) / secs
		fmt.Fprintf(&b, "  %s/s", units.Bytes(int64(rate)))
		switch {
		case final:
			fmt.Fprintf(&b, "  in %s", formatDuration(elapsed))
		case rate > 0 && total > done:
			fmt.Fprintf(&b, "  ETA %s", formatDuration(time.Duration(float64(total-done)/rate*float64(time.Second))))
		}
	}
	return b.String()
}

// formatDuration formats an ETA or elapsed time: "850ms", "42s", "3m07s",
// "2h05m".
func formatDuration(d time.Duration) string {
	switch {
	case d < time.Second:
		return fmt.Sprintf("%dms", d.Milliseconds())
	case d < time.Minute:
		return fmt.Sprintf("%ds", int(d.Round(time.Second).Seconds()))
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", int(d/time.Minute), int(d%time.Minute/time.Second))
	}
	d = d.Round(time.Minute)
	return fmt.Sprintf("%dh%02dm", int(d/time.Hour), int(d%time.Hour/time.Minute))
}

// progressReader counts what passes through it on a progress bar.
type progressReader struct {
	r   io.Reader
	bar *ProgressBar
}

// NewProgressReader returns a reader of r that adds what it reads to bar.
func NewProgressReader(r io.Reader, bar *ProgressBar) io.Reader { return progressReader{r, bar} }

func (p progressReader) Read(b []byte) (int, error) {
	n, err := p.r.Read(b)
	p.bar.Add(int64(n))
	return n, err
}
