// Package durable is where mlgit makes data durable: fsync of a file, of a
// folder (making the names created, renamed or removed in it durable) and
// of a whole file system. Every write whose durability an acknowledgement
// or a crash recovery depends on calls one of these, so that a test can
// observe each durability point (Hook) and simulate a power loss at any
// of them: the state after the loss is what the calls so far made
// durable, nothing more (see package crashfs).
package durable

import (
	"os"
	"path/filepath"
	"sync/atomic"
)

// Kind says what a durability point made durable.
type Kind int

const (
	// File: one file's content and size (fsync or fdatasync).
	File Kind = iota
	// Dir: one folder's entries.
	Dir
	// FS: everything on the file system (syncfs).
	FS
)

// Hook, when set (tests), is called after each durability point with the
// kind and the absolute path of what was synced, possibly from several
// goroutines at once (a ref move fsyncs its objects in parallel). Code
// paths a test observes must not run concurrently with other writers of
// the tree.
var Hook func(kind Kind, path string)

func notify(k Kind, path string) {
	if h := Hook; h != nil {
		if abs, err := filepath.Abs(path); err == nil {
			path = abs
		}
		h(k, path)
	}
}

// off, set by DisableForBenchmark, turns every durability point into a
// no-op.
var off atomic.Bool

// DisableForBenchmark turns every durability point into a no-op until the
// returned function is called: for benchmarks that measure what a write
// costs beside the disk (nothing is durable meanwhile). No command or
// server calls it.
func DisableForBenchmark() (restore func()) {
	off.Store(true)
	return func() { off.Store(false) }
}

// Sync fsyncs f.
func Sync(f *os.File) error {
	if off.Load() {
		return nil
	}
	if err := f.Sync(); err != nil {
		return err
	}
	notify(File, f.Name())
	return nil
}

// Datasync fdatasyncs f: its content and size, not its other metadata.
func Datasync(f *os.File) error {
	if off.Load() {
		return nil
	}
	if err := datasync(f); err != nil {
		return err
	}
	notify(File, f.Name())
	return nil
}

// SyncDir fsyncs folder dir, making the entries created, renamed or
// removed in it durable.
func SyncDir(dir string) error {
	if off.Load() {
		return nil
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return err
	}
	notify(Dir, dir)
	return nil
}

// SyncFS makes everything written to the file system that holds path
// durable: syncfs(2) on Linux, one call however many files were written
// (a checkpoint's loose objects); sync(2) elsewhere.
func SyncFS(path string) error {
	if off.Load() {
		return nil
	}
	if err := syncFS(path); err != nil {
		return err
	}
	notify(FS, path)
	return nil
}
