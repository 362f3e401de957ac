package par

import (
	"sync/atomic"
	"testing"
)

// TestEach: every index is called exactly once, whatever the workers.
func TestEach(t *testing.T) {
	for _, c := range []struct{ n, workers int }{{0, 4}, {1, 4}, {100, 1}, {1000, 8}, {5, 0}} {
		calls := make([]atomic.Int32, c.n)
		Each(c.n, c.workers, func(i int) { calls[i].Add(1) })
		for i := range calls {
			if got := calls[i].Load(); got != 1 {
				t.Fatalf("n %d workers %d: index %d called %d times", c.n, c.workers, i, got)
			}
		}
	}
}
