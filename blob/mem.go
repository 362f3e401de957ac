package blob

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"sort"
	"strings"
	"sync"
	"time"
)

// Mem is a Store in memory, for tests. Its zero value is not usable; call
// NewMem.
type Mem struct {
	name string
	mu   sync.RWMutex
	objs map[string]memObject
	now  func() time.Time
}

type memObject struct {
	data    []byte
	modTime time.Time
}

var _ Store = (*Mem)(nil)

// NewMem returns an empty in-memory store. name appears in Location.
func NewMem(name string) *Mem {
	return &Mem{name: name, objs: map[string]memObject{}, now: time.Now}
}

// SetClock replaces the clock that stamps modification times (tests of
// GC's age cut-off use it).
func (m *Mem) SetClock(now func() time.Time) {
	m.mu.Lock()
	m.now = now
	m.mu.Unlock()
}

// Location returns "mem://<name>".
func (m *Mem) Location() string { return "mem://" + m.name }

// Put implements Store.
func (m *Mem) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.RLock()
	_, ok := m.objs[key]
	m.mu.RUnlock()
	if ok {
		return nil
	}
	var buf bytes.Buffer
	buf.Grow(int(min(size, 64<<20)))
	if _, err := io.Copy(&buf, newExactReader(ctxReader{ctx, r}, size)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.objs[key]; !ok {
		m.objs[key] = memObject{data: buf.Bytes(), modTime: m.now()}
	}
	return nil
}

// Get implements Store.
func (m *Mem) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m.mu.RLock()
	o, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return io.NopCloser(bytes.NewReader(o.data)), nil
}

// Stat implements Store.
func (m *Mem) Stat(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	m.mu.RLock()
	o, ok := m.objs[key]
	m.mu.RUnlock()
	if !ok {
		return 0, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return int64(len(o.data)), nil
}

// Exists implements Store.
func (m *Mem) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	out := make(map[string]bool, len(keys))
	m.mu.RLock()
	defer m.mu.RUnlock()
	for _, k := range keys {
		_, out[k] = m.objs[k]
	}
	return out, nil
}

// List implements Store, in lexical key order.
func (m *Mem) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	type entry struct {
		key string
		o   memObject
	}
	var entries []entry
	m.mu.RLock()
	for k, o := range m.objs {
		if strings.HasPrefix(k, prefix) {
			entries = append(entries, entry{k, o})
		}
	}
	m.mu.RUnlock()
	sort.Slice(entries, func(i, j int) bool { return entries[i].key < entries[j].key })
	for _, e := range entries {
		if err := ctx.Err(); err != nil {
			return err
		}
		if err := fn(e.key, int64(len(e.o.data)), e.o.modTime); err != nil {
			return err
		}
	}
	return nil
}

// Delete implements Store.
func (m *Mem) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	m.mu.Lock()
	delete(m.objs, key)
	m.mu.Unlock()
	return nil
}

// Overwrite replaces the bytes of an existing object, bypassing the
// never-rewrite rule. It exists so tests can simulate storage corruption.
func (m *Mem) Overwrite(key string, data []byte) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	o, ok := m.objs[key]
	if !ok {
		return fmt.Errorf("overwrite %s: %w", key, ErrNotFound)
	}
	o.data = bytes.Clone(data)
	m.objs[key] = o
	return nil
}
