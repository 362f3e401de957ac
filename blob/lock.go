package blob

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Locks on a shared store, as restic keeps them: objects under locks/ that
// any client sees. Adding to a store (a push) holds a shared lock; GC holds
// an exclusive one, so it never deletes a chunk that a running push found
// present and did not upload again. A client writes its lock first and
// then lists the others: of two clients that start together, at least one
// sees the other's lock (the stores are read-after-write consistent) and
// backs off. A lock is kept fresh by rewriting it every LockRefresh; one
// the store last saw written more than LockStale ago belongs to a client
// that died, and is ignored and removed. Ages are read on the store's
// clock: the modification time the store gives this client's own lock
// object, written just before, is its "now", so a client whose clock is
// off by more than LockStale neither takes a live lock for dead nor
// waits forever for a dead one.

const lockDir = "locks/"

// LockRefresh is how often a held lock is written again; LockStale how
// long a lock may go without that before it counts as abandoned.
var (
	LockRefresh = 5 * time.Minute
	LockStale   = 30 * time.Minute
)

// ErrLocked is returned when another client holds a conflicting lock.
var ErrLocked = errors.New("the blob store is locked by another client")

// lockInfo is what a lock object holds.
type lockInfo struct {
	Exclusive bool      `json:"exclusive"`
	What      string    `json:"what"`
	Host      string    `json:"host"`
	PID       int       `json:"pid"`
	Time      time.Time `json:"time"`
}

// StoreLock is a held lock on a store. Unlock releases it.
type StoreLock struct {
	st   Store
	id   string
	info lockInfo

	mu   sync.Mutex
	key  string // the current lock object
	stop chan struct{}
	done chan struct{}
}

// Lock takes a shared (exclusive false) or exclusive lock on st; what says
// what for ("push", "gc"), for the message another client gets. It fails
// with an error wrapping ErrLocked, naming the holder, when a conflicting
// lock is held: any other lock for an exclusive one, an exclusive one for
// a shared one.
func Lock(ctx context.Context, st Store, exclusive bool, what string) (*StoreLock, error) {
	var b [8]byte
	if _, err := rand.Read(b[:]); err != nil {
		return nil, err
	}
	host, _ := os.Hostname()
	l := &StoreLock{st: st, id: hex.EncodeToString(b[:]),
		info: lockInfo{Exclusive: exclusive, What: what, Host: host, PID: os.Getpid(), Time: time.Now().UTC()}}
	if err := l.write(ctx); err != nil {
		return nil, fmt.Errorf("lock %s: %w", st.Location(), err)
	}
	holders, err := l.conflicts(ctx)
	if err == nil && len(holders) > 0 {
		err = fmt.Errorf("%w: %s; run the command again when it is done (a lock not refreshed for %s is ignored)",
			ErrLocked, strings.Join(holders, "; "), LockStale)
	}
	if err != nil {
		l.remove(context.WithoutCancel(ctx))
		return nil, err
	}
	l.stop, l.done = make(chan struct{}), make(chan struct{})
	go l.refresher()
	return l, nil
}

// write stores a new lock object and removes the previous one.
func (l *StoreLock) write(ctx context.Context) error {
	data, err := json.Marshal(l.info)
	if err != nil {
		return err
	}
	key := lockDir + l.id + "-" + strconv.FormatInt(time.Now().UnixNano(), 10)
	if err := l.st.Put(ctx, key, bytes.NewReader(data), int64(len(data))); err != nil {
		return err
	}
	l.mu.Lock()
	old := l.key
	l.key = key
	l.mu.Unlock()
	if old != "" {
		if err := l.st.Delete(ctx, old); err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
	}
	return nil
}

// conflicts lists the holders of locks that conflict with l; stale locks
// are removed on the way.
func (l *StoreLock) conflicts(ctx context.Context) ([]string, error) {
	type entry struct {
		key string
		mod time.Time
	}
	newest := map[string]entry{}
	var stale []string
	l.mu.Lock()
	own := l.key
	l.mu.Unlock()
	var storeNow time.Time // the store's time of own, if listed
	err := l.st.List(ctx, lockDir, func(key string, _ int64, mod time.Time) error {
		name := strings.TrimPrefix(key, lockDir)
		id, _, ok := strings.Cut(name, "-")
		if key == own {
			storeNow = mod
		}
		if !ok || id == l.id {
			return nil
		}
		if e, ok := newest[id]; !ok || mod.After(e.mod) {
			if ok {
				stale = append(stale, e.key)
			}
			newest[id] = entry{key, mod}
		} else {
			stale = append(stale, key)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	age := time.Since
	if !storeNow.IsZero() {
		// Listed a moment after it was written: the store's clock now,
		// give or take the listing's time.
		age = func(t time.Time) time.Duration { return storeNow.Sub(t) }
	}
	var holders []string
	for _, e := range newest {
		if age(e.mod) > LockStale {
			stale = append(stale, e.key)
			continue
		}
		info, err := readLock(ctx, l.st, e.key)
		if errors.Is(err, ErrNotFound) {
			continue // released meanwhile
		}
		if err != nil {
			return nil, err
		}
		if l.info.Exclusive || info.Exclusive {
			kind := "shared"
			if info.Exclusive {
				kind = "exclusive"
			}
			holders = append(holders, fmt.Sprintf("%s lock (%s) of %s pid %d since %s", kind, info.What, info.Host, info.PID, info.Time.Local().Format(time.DateTime)))
		}
	}
	for _, k := range stale {
		_ = l.st.Delete(ctx, k) // abandoned; best effort
	}
	sort.Strings(holders)
	return holders, nil
}

func readLock(ctx context.Context, st Store, key string) (lockInfo, error) {
	var info lockInfo
	rc, err := st.Get(ctx, key)
	if err != nil {
		return info, err
	}
	defer rc.Close()
	data, err := io.ReadAll(io.LimitReader(rc, 64<<10))
	if err != nil {
		return info, err
	}
	if err := json.Unmarshal(data, &info); err != nil {
		return info, fmt.Errorf("lock %s: %w", key, err)
	}
	return info, nil
}

// refresher rewrites the lock every LockRefresh until Unlock.
func (l *StoreLock) refresher() {
	defer close(l.done)
	t := time.NewTicker(LockRefresh)
	defer t.Stop()
	for {
		select {
		case <-l.stop:
			return
		case <-t.C:
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			_ = l.write(ctx) // a missed refresh is retried at the next tick
			cancel()
		}
	}
}

func (l *StoreLock) remove(ctx context.Context) {
	l.mu.Lock()
	key := l.key
	l.mu.Unlock()
	if key != "" {
		_ = l.st.Delete(ctx, key) // a lock left behind goes stale
	}
}

// Unlock releases the lock.
func (l *StoreLock) Unlock() {
	if l.stop != nil {
		close(l.stop)
		<-l.done
		l.stop = nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	l.remove(ctx)
}
