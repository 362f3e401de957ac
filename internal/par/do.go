package par

import (
	"context"
	"sync"
	"sync/atomic"
)

// Do calls f(ctx, 0), …, f(ctx, n-1) on at most workers goroutines (at
// least one) and returns the first error, cancelling the context of the
// calls still running and starting no more. It returns ctx's error when
// ctx ends first.
func Do(ctx context.Context, n, workers int, f func(ctx context.Context, i int) error) error {
	if n == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	var (
		next     atomic.Int64
		once     sync.Once
		firstErr error
		wg       sync.WaitGroup
	)
	for range min(max(workers, 1), n) {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				if err := f(ctx, i); err != nil {
					once.Do(func() { firstErr = err; cancel() })
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return firstErr
	}
	return ctx.Err()
}
