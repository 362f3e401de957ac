package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// tempPrefix starts the names of temporary files that Local.Put writes
// before renaming them into place. ValidateKey rejects segments starting
// with ".", so no key can name one, and List skips them.
const tempPrefix = ".tmp-"

// Local is a Store in a folder of the local file system. Key "a/b/c" is the
// file <root>/a/b/c, so unlike S3 a Local store cannot hold both "a" and
// "a/b" (Put of the second fails); the blob layout never needs that.
// Objects are written to a temporary file in the target folder, fsynced,
// linked into place (never replacing an existing object) and the folder is
// fsynced, so a crash leaves either the whole object or none (plus perhaps
// a stale temporary file, which List ignores and GC removes). Adds write
// their chunks through a batch instead (local_batch.go): the same steps,
// with the fsyncs done in the background and the folder fsyncs once per
// add.
type Local struct {
	root string
	// cleanStage runs once per Local: the first batch removes abandoned
	// staging files (see local_batch.go).
	cleanStage sync.Once
	// anonOnce decides once whether batches stage unnamed files (anonOK);
	// noAnon (tests only) makes them stage named files.
	anonOnce sync.Once
	anonOK   bool
	noAnon   bool
	// batchHook, if set (tests only), is called at each step of a batch
	// ("staged", "synced", "linked", "committed"); an error fails the step.
	batchHook func(event, key string) error
}

var _ Store = (*Local)(nil)

// NewLocal returns a Local store rooted at dir, creating dir if needed.
// dir is made absolute.
func NewLocal(dir string) (*Local, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("local store %s: %w", dir, err)
	}
	if err := os.MkdirAll(abs, 0o755); err != nil {
		return nil, fmt.Errorf("local store: %w", err)
	}
	return &Local{root: abs}, nil
}

// Root returns the absolute folder the store lives in.
func (l *Local) Root() string { return l.root }

// Location returns the store's folder.
func (l *Local) Location() string { return l.root }

// Path returns the file that holds key, after validating key. Tests use it
// to damage objects on purpose.
func (l *Local) Path(key string) (string, error) {
	if err := ValidateKey(key); err != nil {
		return "", err
	}
	return filepath.Join(l.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (l *Local) Put(ctx context.Context, key string, r io.Reader, size int64) (err error) {
	path, err := l.Path(key)
	if err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if fi, err := os.Lstat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("put %s: %w: a local store cannot hold both a key and keys below it", key, ErrInvalidKey)
		}
		// Exists; never rewritten. A concurrent Put may have linked it and
		// not synced the folder yet: the caller relies on it once Put
		// returns, so sync it.
		return syncDirOf(key, filepath.Dir(path))
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	f, err := os.CreateTemp(dir, tempPrefix+filepath.Base(path)+"-*")
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	tmp := f.Name()
	defer func() {
		if f != nil {
			_ = f.Close()
		}
		_ = os.Remove(tmp) // after a successful link, the object keeps its own name
	}()
	if br, ok := r.(*bytes.Reader); ok && int64(br.Len()) == size {
		// The common case (chunks, file objects): one write, no copy.
		if _, err := br.WriteTo(f); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	} else if _, err := io.Copy(f, newExactReader(ctxReader{ctx, r}, size)); err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	if err := f.Sync(); err != nil {
		return fmt.Errorf("put %s: sync: %w", key, err)
	}
	if err := f.Close(); err != nil {
		f = nil
		return fmt.Errorf("put %s: %w", key, err)
	}
	f = nil
	_ = os.Chmod(tmp, 0o444)
	// A hard link never replaces an existing file, so a concurrent Put of
	// the same key cannot rewrite what another one stored.
	if err := os.Link(tmp, path); err != nil {
		if errors.Is(err, fs.ErrExist) {
			return syncDirOf(key, dir) // stored by another Put; see above
		}
		// File systems without hard links: rename, having checked again
		// that the object is not there yet.
		if _, serr := os.Lstat(path); serr == nil {
			return syncDirOf(key, dir)
		}
		if err := os.Rename(tmp, path); err != nil {
			return fmt.Errorf("put %s: %w", key, err)
		}
	}
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: sync folder: %w", key, err)
	}
	return nil
}

// syncDirOf fsyncs dir, the folder of key, with Put's error message.
func syncDirOf(key, dir string) error {
	if err := syncDir(dir); err != nil {
		return fmt.Errorf("put %s: sync folder: %w", key, err)
	}
	return nil
}

// syncKeyDir fsyncs the folder that holds key.
func (l *Local) syncKeyDir(key string) error {
	path, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return fmt.Errorf("sync folder of %s: %w", key, err)
	}
	return nil
}

// syncDir fsyncs a folder so a new entry in it survives a crash.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return err
	}
	return nil
}

// Get implements Store.
func (l *Local) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	path, err := l.Path(key)
	if err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
		}
		return nil, fmt.Errorf("get %s: %w", key, err)
	}
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		f.Close()
		return nil, fmt.Errorf("get %s: %w", key, ErrNotFound)
	}
	return f, nil
}

// Stat implements Store.
func (l *Local) Stat(ctx context.Context, key string) (int64, error) {
	path, err := l.Path(key)
	if err != nil {
		return 0, err
	}
	if err := ctx.Err(); err != nil {
		return 0, err
	}
	fi, err := os.Lstat(path)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || isNotDir(err) {
			return 0, fmt.Errorf("stat %s: %w", key, ErrNotFound)
		}
		return 0, fmt.Errorf("stat %s: %w", key, err)
	}
	if !fi.Mode().IsRegular() {
		return 0, fmt.Errorf("stat %s: %w", key, ErrNotFound)
	}
	return fi.Size(), nil
}

// isNotDir reports ENOTDIR: a key below an existing object, "a/b" when "a"
// is a file. Such a key does not exist.
func isNotDir(err error) bool { return errors.Is(err, syscall.ENOTDIR) }

// Exists implements Store with a stat per key, a few in parallel.
func (l *Local) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
	}
	out := make(map[string]bool, len(keys))
	var mu sync.Mutex
	err := forEach(ctx, len(keys), 8, func(ctx context.Context, i int) error {
		_, err := l.Stat(ctx, keys[i])
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		mu.Lock()
		out[keys[i]] = err == nil
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// List implements Store. It walks only the folder that holds prefix.
func (l *Local) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	start := l.root
	if i := strings.LastIndexByte(prefix, '/'); i >= 0 {
		start = filepath.Join(l.root, filepath.FromSlash(prefix[:i]))
	}
	var fnErr error
	err := filepath.WalkDir(start, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && path == start {
				return fs.SkipAll
			}
			return err
		}
		if cerr := ctx.Err(); cerr != nil {
			return cerr
		}
		name := d.Name()
		if path != start && strings.HasPrefix(name, ".") {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil // temporary or foreign file
		}
		rel, err := filepath.Rel(l.root, path)
		if err != nil {
			return err
		}
		key := filepath.ToSlash(rel)
		if d.IsDir() {
			if path != start && !strings.HasPrefix(key+"/", prefix) && !strings.HasPrefix(prefix, key+"/") {
				return fs.SkipDir
			}
			return nil
		}
		if !d.Type().IsRegular() || !strings.HasPrefix(key, prefix) {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) {
				return nil // deleted meanwhile
			}
			return err
		}
		if err := fn(key, fi.Size(), fi.ModTime()); err != nil {
			fnErr = err
			return err
		}
		return nil
	})
	if fnErr != nil {
		return fnErr
	}
	if err != nil {
		return fmt.Errorf("list %s: %w", l.root, err)
	}
	return nil
}

// Delete implements Store.
func (l *Local) Delete(ctx context.Context, key string) error {
	path, err := l.Path(key)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) && !isNotDir(err) {
		return fmt.Errorf("delete %s: %w", key, err)
	}
	return nil
}
