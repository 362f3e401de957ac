package par

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
)

// TestDo: every index is called once when nothing fails.
func TestDo(t *testing.T) {
	for _, workers := range []int{0, 1, 3, 100} {
		var calls [50]atomic.Int32
		if err := Do(context.Background(), len(calls), workers, func(_ context.Context, i int) error {
			calls[i].Add(1)
			return nil
		}); err != nil {
			t.Fatalf("workers %d: %v", workers, err)
		}
		for i := range calls {
			if n := calls[i].Load(); n != 1 {
				t.Fatalf("workers %d: f(%d) called %d times", workers, i, n)
			}
		}
	}
	if err := Do(context.Background(), 0, 4, func(context.Context, int) error { t.Fatal("called"); return nil }); err != nil {
		t.Fatal(err)
	}
}

// TestDoFirstError: the first error is returned, the other calls see a
// cancelled context, and no more calls start.
func TestDoFirstError(t *testing.T) {
	boom := errors.New("boom")
	var started atomic.Int32
	err := Do(context.Background(), 1000, 1, func(ctx context.Context, i int) error {
		started.Add(1)
		if i == 3 {
			return boom
		}
		return nil
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err = %v, want boom", err)
	}
	if n := started.Load(); n != 4 {
		t.Fatalf("%d calls started after the error at the fourth, want 4", n)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := Do(ctx, 10, 2, func(context.Context, int) error { t.Error("called after cancel"); return nil }); !errors.Is(err, context.Canceled) {
		t.Fatalf("cancelled: %v", err)
	}
}
