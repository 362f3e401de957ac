// Package par runs the iterations of a loop on a bounded number of
// goroutines: the one worker pool of the CLI, the web UI and the importer.
package par

import (
	"sync"
	"sync/atomic"
)

// Each calls f(0), …, f(n-1) on at most workers goroutines (at least one)
// and returns when every call has returned.
func Each(n, workers int, f func(i int)) {
	workers = min(n, max(workers, 1))
	if workers <= 1 {
		for i := 0; i < n; i++ {
			f(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1) - 1); i < n; i = int(next.Add(1) - 1) {
				f(i)
			}
		}()
	}
	wg.Wait()
}
