package blob

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"
)

// Store is a raw object store: a flat namespace of immutable objects named by
// keys. Keys are clean relative slash paths such as "chunks/ab/abcd…" (see
// ValidateKey); a backend rejects any other key with an error wrapping
// ErrInvalidKey before touching storage.
//
// Stores hold content-addressed data, so an object, once written, is never
// changed: a second Put of the same key is a no-op. Every method is safe for
// concurrent use, and every method honours ctx cancellation.
//
// New backends are tested with blobtest.Run, which checks this contract.
type Store interface {
	// Put stores exactly size bytes read from r under key. The write is
	// atomic: readers see either no object or the whole object, never a
	// part of it, also when r fails or the process dies mid-way.
	//
	// If r delivers fewer or more than size bytes, Put fails with an error
	// wrapping ErrSizeMismatch and stores nothing. If r fails, Put returns
	// that error (wrapped) and stores nothing.
	//
	// Put is idempotent: if key already exists, Put returns nil without
	// rewriting it (it may return without reading r at all). Concurrent
	// Puts of the same key are safe; one of them wins.
	Put(ctx context.Context, key string, r io.Reader, size int64) error

	// Get opens the object stored under key for reading. It fails with an
	// error wrapping ErrNotFound if there is none. The caller closes the
	// reader. Get does not verify content; the content layer does.
	Get(ctx context.Context, key string) (io.ReadCloser, error)

	// Stat returns the size in bytes of the object under key, or an error
	// wrapping ErrNotFound.
	Stat(ctx context.Context, key string) (int64, error)

	// Exists reports which of keys exist. The result has an entry for every
	// key given (true or false). Backends answer with few requests: S3
	// lists a shard prefix when many keys share it and sends parallel HEAD
	// requests otherwise. An invalid key fails the whole call.
	Exists(ctx context.Context, keys []string) (map[string]bool, error)

	// List calls fn for every object whose key starts with prefix (a plain
	// string prefix, "" for all), with its size and modification time.
	// The order is unspecified. If fn returns an error, List stops and
	// returns it. Objects being written concurrently may or may not be
	// listed; partially written objects never are.
	List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error

	// Delete removes the object under key. Deleting a missing key is not an
	// error.
	Delete(ctx context.Context, key string) error

	// Location describes where the store lives (a folder, s3://bucket/prefix)
	// for messages. It is not guaranteed to be a URL OpenStore accepts.
	Location() string
}

// maxKeyLen bounds key length; S3 allows 1024 bytes including a prefix.
const maxKeyLen = 512

// ValidateKey checks that key is a clean relative slash path: non-empty, at
// most 512 bytes, not absolute, segments separated by single "/", no segment
// empty or starting with "." (so no "." or ".." and no hidden or temporary
// names, which backends reserve), and no backslash, NUL or other control
// character. The error wraps ErrInvalidKey.
func ValidateKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w: empty key", ErrInvalidKey)
	}
	if len(key) > maxKeyLen {
		return fmt.Errorf("%w: key of %d bytes is longer than %d", ErrInvalidKey, len(key), maxKeyLen)
	}
	if err := checkKeyChars(key); err != nil {
		return err
	}
	if key[0] == '/' {
		return fmt.Errorf("%w: %q is absolute", ErrInvalidKey, key)
	}
	for seg := range strings.SplitSeq(key, "/") {
		switch {
		case seg == "":
			return fmt.Errorf("%w: %q has an empty path segment", ErrInvalidKey, key)
		case seg == "..":
			return fmt.Errorf("%w: %q contains \"..\"", ErrInvalidKey, key)
		case seg[0] == '.':
			return fmt.Errorf("%w: %q has a segment starting with \".\"", ErrInvalidKey, key)
		}
	}
	return nil
}

// validatePrefix checks a List prefix: "" or the start of a valid key.
func validatePrefix(prefix string) error {
	if prefix == "" {
		return nil
	}
	if len(prefix) > maxKeyLen {
		return fmt.Errorf("%w: prefix of %d bytes is longer than %d", ErrInvalidKey, len(prefix), maxKeyLen)
	}
	if err := checkKeyChars(prefix); err != nil {
		return err
	}
	if prefix[0] == '/' {
		return fmt.Errorf("%w: prefix %q is absolute", ErrInvalidKey, prefix)
	}
	segs := strings.Split(prefix, "/")
	for i, seg := range segs {
		last := i == len(segs)-1
		if seg == "" && !last {
			return fmt.Errorf("%w: prefix %q has an empty path segment", ErrInvalidKey, prefix)
		}
		if seg == ".." || (seg != "" && seg[0] == '.' && !last) {
			return fmt.Errorf("%w: prefix %q has a segment starting with \".\"", ErrInvalidKey, prefix)
		}
	}
	return nil
}

func checkKeyChars(key string) error {
	for i := 0; i < len(key); i++ {
		c := key[i]
		switch {
		case c == 0:
			return fmt.Errorf("%w: %q contains a NUL byte", ErrInvalidKey, key)
		case c == '\\':
			return fmt.Errorf("%w: %q contains a backslash", ErrInvalidKey, key)
		case c < 0x20 || c == 0x7f:
			return fmt.Errorf("%w: %q contains a control character", ErrInvalidKey, key)
		}
	}
	return nil
}

// exactReader delivers exactly n bytes of r and fails if r holds fewer or
// more. The check for "more" happens before the last byte is handed out, so
// a consumer that stops at n bytes (an HTTP body of known length) still sees
// the error and aborts.
type exactReader struct {
	r    io.Reader
	left int64
	size int64
	err  error
}

func newExactReader(r io.Reader, size int64) *exactReader {
	return &exactReader{r: r, left: size, size: size}
}

func (e *exactReader) Read(p []byte) (int, error) {
	if e.err != nil {
		return 0, e.err
	}
	if e.left == 0 {
		if err := e.probe(); err != nil {
			return 0, err
		}
		return 0, io.EOF
	}
	if int64(len(p)) > e.left {
		p = p[:e.left]
	}
	n, err := e.r.Read(p)
	e.left -= int64(n)
	switch {
	case err == io.EOF && e.left > 0:
		e.err = fmt.Errorf("%w: reader ended after %d of %d bytes", ErrSizeMismatch, e.size-e.left, e.size)
		return n, e.err
	case err != nil && err != io.EOF:
		e.err = err
		return n, err
	}
	if e.left == 0 {
		if err := e.probe(); err != nil {
			return 0, err
		}
	}
	return n, nil
}

// probe checks that r is at its end; it sets e.err for good either way.
func (e *exactReader) probe() error {
	var b [1]byte
	for range 100 {
		n, err := e.r.Read(b[:])
		if n > 0 {
			e.err = fmt.Errorf("%w: reader has more than the announced %d bytes", ErrSizeMismatch, e.size)
			return e.err
		}
		if err == io.EOF {
			e.err = io.EOF
			return nil
		}
		if err != nil {
			e.err = err
			return err
		}
	}
	e.err = io.ErrNoProgress
	return e.err
}

// ctxReader fails reads once ctx is done, so long copies stop on cancel.
type ctxReader struct {
	ctx context.Context
	r   io.Reader
}

func (c ctxReader) Read(p []byte) (int, error) {
	if err := c.ctx.Err(); err != nil {
		return 0, err
	}
	return c.r.Read(p)
}
