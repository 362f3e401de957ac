package blob

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

func lockKeys(t *testing.T, st Store) []string {
	t.Helper()
	var keys []string
	if err := st.List(context.Background(), lockDir, func(k string, _ int64, _ time.Time) error {
		keys = append(keys, k)
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	return keys
}

// TestLockConflicts: shared locks coexist; an exclusive one excludes every
// other; a refused lock leaves nothing behind; Unlock removes the lock.
func TestLockConflicts(t *testing.T) {
	st, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s1, err := Lock(ctx, st, false, "push")
	if err != nil {
		t.Fatal(err)
	}
	s2, err := Lock(ctx, st, false, "push")
	if err != nil {
		t.Fatalf("two shared locks: %v", err)
	}
	if _, err := Lock(ctx, st, true, "gc"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "shared lock (push)") {
		t.Fatalf("exclusive over shared: %v", err)
	}
	if n := len(lockKeys(t, st)); n != 2 {
		t.Fatalf("%d lock objects after a refused lock, want 2", n)
	}
	s1.Unlock()
	s2.Unlock()
	if keys := lockKeys(t, st); len(keys) != 0 {
		t.Fatalf("after unlock: %v", keys)
	}
	x, err := Lock(ctx, st, true, "gc")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(ctx, st, false, "push"); !errors.Is(err, ErrLocked) || !strings.Contains(err.Error(), "exclusive lock (gc)") {
		t.Fatalf("shared over exclusive: %v", err)
	}
	x.Unlock()
	if l, err := Lock(ctx, st, false, "push"); err != nil {
		t.Fatal(err)
	} else {
		l.Unlock()
	}
}

// TestLockStaleAndRefresh: a lock its holder stopped refreshing is ignored
// and removed; a held lock is rewritten, one object at a time.
func TestLockStaleAndRefresh(t *testing.T) {
	oldR, oldS := LockRefresh, LockStale
	LockRefresh, LockStale = 20*time.Millisecond, 300*time.Millisecond
	defer func() { LockRefresh, LockStale = oldR, oldS }()
	st, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	dead := []byte(`{"exclusive":true,"what":"gc","host":"gone","pid":1}`)
	if err := st.Put(ctx, lockDir+"deadbeef-1", bytes.NewReader(dead), int64(len(dead))); err != nil {
		t.Fatal(err)
	}
	if _, err := Lock(ctx, st, false, "push"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a fresh exclusive lock did not block: %v", err)
	}
	time.Sleep(400 * time.Millisecond)
	l, err := Lock(ctx, st, false, "push")
	if err != nil {
		t.Fatalf("a stale lock blocked: %v", err)
	}
	first := lockKeys(t, st)
	if len(first) != 1 || strings.HasPrefix(first[0], lockDir+"deadbeef") {
		t.Fatalf("after taking over: %v", first)
	}
	time.Sleep(100 * time.Millisecond)
	again := lockKeys(t, st)
	if len(again) != 1 || again[0] == first[0] {
		t.Fatalf("not refreshed: %v then %v", first, again)
	}
	// Held past LockStale by refreshing, it still excludes gc.
	time.Sleep(400 * time.Millisecond)
	if _, err := Lock(ctx, st, true, "gc"); !errors.Is(err, ErrLocked) {
		t.Fatalf("a refreshed lock went stale: %v", err)
	}
	l.Unlock()
}

// skewedStore is a real store whose clock, as its listings report it, is
// off from this machine's by skew.
type skewedStore struct {
	Store
	skew time.Duration
}

func (s skewedStore) List(ctx context.Context, prefix string, fn func(key string, size int64, mod time.Time) error) error {
	return s.Store.List(ctx, prefix, func(key string, size int64, mod time.Time) error {
		return fn(key, size, mod.Add(s.skew))
	})
}

// TestLockAgesOnTheStoresClock: a lock's age is read on the store's clock,
// not this machine's. A store two hours behind does not make a live lock
// look stale (gc would then delete chunks a running push relies on), and
// a store two hours ahead does not keep a dead lock alive.
func TestLockAgesOnTheStoresClock(t *testing.T) {
	oldS := LockStale
	LockStale = 300 * time.Millisecond
	defer func() { LockStale = oldS }()
	ctx := context.Background()
	for _, skew := range []time.Duration{-2 * time.Hour, 2 * time.Hour} {
		local, err := NewLocal(t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		st := skewedStore{local, skew}
		push, err := Lock(ctx, st, false, "push")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := Lock(ctx, st, true, "gc"); !errors.Is(err, ErrLocked) {
			t.Fatalf("store clock off by %v: gc took the lock of a running push: %v", skew, err)
		}
		if n := len(lockKeys(t, st)); n != 1 {
			t.Fatalf("store clock off by %v: %d lock objects, want the push's alone", skew, n)
		}
		// The push dies: its lock is no longer refreshed.
		close(push.stop)
		<-push.done
		time.Sleep(400 * time.Millisecond)
		gc, err := Lock(ctx, st, true, "gc")
		if err != nil {
			t.Fatalf("store clock off by %v: a dead lock still blocks: %v", skew, err)
		}
		if keys := lockKeys(t, st); len(keys) != 1 || strings.HasPrefix(keys[0], lockDir+push.id) {
			t.Fatalf("store clock off by %v: the dead lock was not removed: %v", skew, keys)
		}
		gc.Unlock()
	}
}

// TestLockRace: of many clients that try at once, exclusive holders never
// overlap with any other holder.
func TestLockRace(t *testing.T) {
	st, err := NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var held, exclusive atomic.Int32
	var bad atomic.Bool
	var wg sync.WaitGroup
	for i := 0; i < 16; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < 5; j++ {
				ex := (i+j)%3 == 0
				l, err := Lock(context.Background(), st, ex, "race")
				if err != nil {
					continue
				}
				h := held.Add(1)
				if ex {
					exclusive.Add(1)
				}
				if exclusive.Load() > 0 && h > 1 {
					bad.Store(true)
				}
				time.Sleep(time.Millisecond)
				if ex {
					exclusive.Add(-1)
				}
				held.Add(-1)
				l.Unlock()
			}
		}(i)
	}
	wg.Wait()
	if bad.Load() {
		t.Fatal("an exclusive lock was held together with another")
	}
}
