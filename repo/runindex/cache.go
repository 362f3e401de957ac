package runindex

import (
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Cache is a process's run index of the last commit it read, backed by
// the cache file at Path: At returns the index of a commit from memory or
// from the file when either is of that commit, else refreshes the newest
// it has (reading only what changed) and writes the file in the
// background.
type Cache struct {
	db   *gitobj.DB
	path string

	mu    sync.Mutex
	mem   *Index
	saves sync.WaitGroup // cache files being written
}

// NewCache returns the run index cache of the repository db whose cache
// file is path.
func NewCache(db *gitobj.DB, path string) *Cache { return &Cache{db: db, path: path} }

// Path is the cache file.
func (c *Cache) Path() string { return c.path }

// At returns the index of commit tip, from the cache when it matches,
// else refreshed from the cache's commit.
func (c *Cache) At(tip plumbing.Hash) (*Index, error) {
	c.mu.Lock()
	mem := c.mem
	c.mu.Unlock()
	if mem != nil && mem.Commit() == tip {
		return mem, nil
	}
	old := Load(c.path)
	if old != nil && old.Commit() == tip {
		c.set(old)
		return old, nil
	}
	if old == nil {
		old = mem
	}
	idx, err := Refresh(c.db, old, tip)
	if err != nil {
		return nil, err
	}
	// The cache is an optimization; a read-only .git must still work.
	// It is written while the caller searches (Wait waits for it).
	c.saves.Add(1)
	go func() {
		defer c.saves.Done()
		_ = idx.Save(c.path)
	}()
	c.set(idx)
	return idx, nil
}

func (c *Cache) set(idx *Index) {
	c.mu.Lock()
	c.mem = idx
	c.mu.Unlock()
}

// Wait waits for the cache files being written.
func (c *Cache) Wait() { c.saves.Wait() }
