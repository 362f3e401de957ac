package blob

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"time"
)

// This file exports what the stores of package blob/cloud (Google Cloud
// Storage, Azure Blob Storage) share with the stores of this package.

// ValidatePrefix checks a List prefix: "" or the start of a valid key (see
// ValidateKey). The error wraps ErrInvalidKey.
func ValidatePrefix(prefix string) error { return validatePrefix(prefix) }

// ExactReader delivers exactly the announced number of bytes of a reader
// and fails with an error wrapping ErrSizeMismatch if it holds fewer or
// more; the check for "more" happens before the last byte is handed out,
// so a consumer that stops at the announced size (an HTTP body of known
// length) still sees the error. Reads fail once ctx is done.
type ExactReader struct{ e *exactReader }

// NewExactReader returns an ExactReader of size bytes of r.
func NewExactReader(ctx context.Context, r io.Reader, size int64) *ExactReader {
	return &ExactReader{newExactReader(ctxReader{ctx, r}, size)}
}

// Read implements io.Reader.
func (x *ExactReader) Read(p []byte) (int, error) { return x.e.Read(p) }

// Err returns the first error the reader met (io.EOF once it delivered
// everything), or nil while it has not met one. An error other than
// io.EOF is the underlying reader's, the context's, or a size mismatch.
func (x *ExactReader) Err() error { return x.e.err }

// ReaderFailed reports whether the reader met an error other than io.EOF:
// the caller's data failed, not the store.
func (x *ExactReader) ReaderFailed() bool {
	return x.e.err != nil && !errors.Is(x.e.err, io.EOF)
}

// ExistsByShard answers Store.Exists for a bucket store from its Stat and
// List: keys grouped by folder ("chunks/ab/"), a folder holding at least 8
// of more than 16 keys listed once, the others stat'ed 16 at a time. An
// invalid key fails the whole call.
func ExistsByShard(ctx context.Context, keys []string,
	stat func(context.Context, string) (int64, error),
	list func(context.Context, string, func(string, int64, time.Time) error) error,
) (map[string]bool, error) {
	out := make(map[string]bool, len(keys))
	groups := map[string][]string{}
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
		out[k] = false
		dir := ""
		if i := strings.LastIndexByte(k, '/'); i >= 0 {
			dir = k[:i+1]
		}
		groups[dir] = append(groups[dir], k)
	}
	var stats, lists []string
	for dir, ks := range groups {
		if len(keys) > s3HeadLimit && len(ks) >= 8 && dir != "" { // never list the whole store
			lists = append(lists, dir)
		} else {
			stats = append(stats, ks...)
		}
	}
	var mu sync.Mutex
	err := forEach(ctx, len(lists), 4, func(ctx context.Context, i int) error {
		want := map[string]bool{}
		for _, k := range groups[lists[i]] {
			want[k] = true
		}
		return list(ctx, lists[i], func(key string, _ int64, _ time.Time) error {
			if want[key] {
				mu.Lock()
				out[key] = true
				mu.Unlock()
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	err = forEach(ctx, len(stats), 16, func(ctx context.Context, i int) error {
		_, err := stat(ctx, stats[i])
		if err != nil && !errors.Is(err, ErrNotFound) {
			return err
		}
		mu.Lock()
		out[stats[i]] = err == nil
		mu.Unlock()
		return nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// MapErrReader returns rc whose read errors other than io.EOF go through
// wrap: a store's streaming GET reports a failure mid-body in its own
// terms (ErrUnavailable, ErrNotFound, the key), not the SDK's.
func MapErrReader(rc io.ReadCloser, wrap func(error) error) io.ReadCloser {
	return &mapErrReader{rc: rc, wrap: wrap}
}

type mapErrReader struct {
	rc   io.ReadCloser
	wrap func(error) error
}

func (r *mapErrReader) Read(p []byte) (int, error) {
	n, err := r.rc.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		err = r.wrap(err)
	}
	return n, err
}

func (r *mapErrReader) Close() error { return r.rc.Close() }
