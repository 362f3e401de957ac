package blob

import (
	"context"
	"io"
	"math/rand/v2"
	"runtime"
	"sync/atomic"
	"testing"
	"time"
)

// nullStore accepts every Put and forgets it.
type nullStore struct{ *Mem }

func (n *nullStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	_, err := io.Copy(io.Discard, io.LimitReader(r, size))
	return err
}

// TestAddMemoryIsFlat adds a 384 MiB stream that is never held in memory
// and checks that the heap stays far below the file size.
func TestAddMemoryIsFlat(t *testing.T) {
	if testing.Short() {
		t.Skip("384 MiB stream")
	}
	const size = 384 << 20
	st := &nullStore{Mem: NewMem("null")}
	src := io.LimitReader(rand.NewChaCha8([32]byte{9}), size)
	runtime.GC()
	var peak atomic.Uint64
	stop := make(chan struct{})
	done := make(chan struct{})
	go func() {
		defer close(done)
		var ms runtime.MemStats
		for {
			runtime.ReadMemStats(&ms)
			if ms.HeapInuse > peak.Load() {
				peak.Store(ms.HeapInuse)
			}
			select {
			case <-stop:
				return
			case <-time.After(20 * time.Millisecond):
			}
		}
	}()
	res, err := AddReader(context.Background(), st, src, AddOptions{})
	close(stop)
	<-done
	if err != nil || res.Size != size {
		t.Fatalf("AddReader = %+v, %v", res, err)
	}
	t.Logf("peak heap in use while adding %d MiB: %d MiB", size>>20, peak.Load()>>20)
	if peak.Load() > 128<<20 {
		t.Fatalf("peak heap %d MiB while adding a %d MiB stream: memory grows with file size", peak.Load()>>20, size>>20)
	}
}
