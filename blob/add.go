package blob

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
)

// AddOptions tune AddReader and AddFileWith. The zero value is fine.
type AddOptions struct {
	// Parallel is the number of chunks hashed, compressed and stored at
	// once (default GOMAXPROCS, at least 2). Memory use is about
	// (2*Parallel+6) * MaxChunkSize.
	Parallel int
	// Progress, if set, is called with the number of bytes read so far,
	// from one goroutine, after each chunk is read.
	Progress func(done int64)
}

// AddResult tells what AddReader stored.
type AddResult struct {
	// Digest is the SHA-256 of the bytes read, which are the bytes stored.
	Digest Digest
	// Size is the number of bytes read.
	Size int64
	// Chunks is the number of chunks of the file; NewChunks of them were
	// not in the store before.
	Chunks, NewChunks int
	// StoredBytes is what was written to the store: new chunks as stored
	// (compressed or not) plus the file object, if that was new.
	StoredBytes int64
}

// Add stores the bytes of r as a content-addressed file in st and returns
// their digest and size. See AddReader.
func Add(ctx context.Context, st Store, r io.Reader) (Digest, int64, error) {
	res, err := AddReader(ctx, st, r, AddOptions{})
	return res.Digest, res.Size, err
}

// AddReader stores the bytes of r in st: it cuts them into content-defined
// chunks, stores each chunk not yet in st (compressed with zstd where that
// helps), and then the file object listing the chunks. The file object is
// written last, so once it is visible every chunk it needs is there; a
// failure or cancellation part-way leaves at most some unreferenced chunks
// (which GC removes and a retry reuses) and never a file object. The digest
// returned is always that of the bytes that were stored.
//
// Chunks that already exist are trusted and not rewritten; Verify checks
// them.
func AddReader(ctx context.Context, st Store, r io.Reader, opts AddOptions) (AddResult, error) {
	return addStream(ctx, st, r, defaultParams, opts, nil)
}

// AddFile stores the file at path like Add and fails with an error wrapping
// ErrFileChanged, without writing a file object, if the file changed while it
// was read (different size, modification time or file identity afterwards,
// or a different number of bytes read than its size before).
func AddFile(ctx context.Context, st Store, path string) (Digest, int64, error) {
	res, err := AddFileWith(ctx, st, path, AddOptions{})
	return res.Digest, res.Size, err
}

// AddFileWith is AddFile with options and a detailed result.
func AddFileWith(ctx context.Context, st Store, path string, opts AddOptions) (AddResult, error) {
	return addFile(ctx, st, path, opts, nil)
}

// addFile is AddFileWith with a hook that tests call after the first chunk
// was read, to change the file under the reader.
func addFile(ctx context.Context, st Store, path string, opts AddOptions, afterFirstChunk func()) (AddResult, error) {
	f, err := os.Open(path)
	if err != nil {
		return AddResult{}, fmt.Errorf("add %s: %w", path, err)
	}
	defer f.Close()
	before, err := f.Stat()
	if err != nil {
		return AddResult{}, fmt.Errorf("add %s: %w", path, err)
	}
	if !before.Mode().IsRegular() {
		return AddResult{}, fmt.Errorf("add %s: not a regular file", path)
	}
	var r io.Reader = f
	if afterFirstChunk != nil {
		r = &hookReader{r: f, after: MinChunkSize, hook: afterFirstChunk}
	}
	precommit := func(n int64) error {
		now, err := f.Stat()
		if err != nil {
			return err
		}
		named, err := os.Stat(path)
		if err != nil {
			return fmt.Errorf("%w: %v", ErrFileChanged, err)
		}
		switch {
		case n != before.Size():
			return fmt.Errorf("%w: read %d bytes, but it had %d when the add started", ErrFileChanged, n, before.Size())
		case now.Size() != before.Size() || !now.ModTime().Equal(before.ModTime()):
			return fmt.Errorf("%w: size or modification time differs from when the add started", ErrFileChanged)
		case !os.SameFile(now, named):
			return fmt.Errorf("%w: the path now names another file", ErrFileChanged)
		}
		return nil
	}
	res, err := addStream(ctx, st, r, defaultParams, opts, precommit)
	if err != nil {
		return res, fmt.Errorf("add %s: %w", path, err)
	}
	return res, nil
}

// hookReader calls hook once, after `after` bytes were read.
type hookReader struct {
	r     io.Reader
	n     int64
	after int64
	hook  func()
}

func (h *hookReader) Read(p []byte) (int, error) {
	if h.hook != nil && h.n >= h.after {
		h.hook()
		h.hook = nil
	}
	if h.hook != nil {
		p = p[:min(int64(len(p)), h.after-h.n)]
	}
	n, err := h.r.Read(p)
	h.n += int64(n)
	return n, err
}

// addStream is the add pipeline: this goroutine chunks r; another hashes the
// whole stream; workers hash, compress and store chunks; then the file
// object is stored, after precommit (if set) agrees. Memory is bounded by
// the chunker's buffer, Parallel+4 chunk buffers and one compression buffer
// per worker.
func addStream(ctx context.Context, st Store, r io.Reader, p chunkParams, opts AddOptions,
	precommit func(n int64) error) (AddResult, error) {
	workers := opts.Parallel
	if workers <= 0 {
		workers = max(2, runtime.GOMAXPROCS(0))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	// Each chunk is copied into a buffer that goes both to a worker and to
	// the goroutine hashing the whole stream in order; the second one done
	// with it returns it to the free list. The buffer starts with the raw
	// chunk header, so a chunk stored raw is written without another copy.
	type job struct {
		idx    int
		data   []byte // the chunk: framed[1:]
		framed []byte // chunkRaw, then the chunk
		refs   *atomic.Int32
	}
	nbuf := workers + 4
	var (
		free    = make(chan []byte, nbuf)
		jobs    = make(chan job, workers)
		hashq   = make(chan job, nbuf)
		mu      sync.Mutex
		refs    []chunkRef
		seen    = map[Digest]bool{} // chunks this add stored or found
		res     AddResult
		wg      sync.WaitGroup
		errOnce sync.Once
		failErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { failErr = err; cancel(err) })
	}
	release := func(j job) {
		if j.refs.Add(-1) == 0 {
			free <- j.framed
		}
	}
	for range nbuf {
		free <- nil // buffers are allocated on first use
	}
	whole := sha256.New()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for j := range hashq {
			whole.Write(j.data)
			release(j)
		}
	}()
	for range workers {
		wg.Go(func() {
			var enc []byte
			for j := range jobs {
				if ctx.Err() == nil {
					ref, stored, isNew, err := storeChunk(ctx, st, j.framed, &enc, func(d Digest) bool {
						mu.Lock()
						defer mu.Unlock()
						dup := seen[d]
						seen[d] = true
						return dup
					})
					if err != nil {
						fail(err)
					} else {
						mu.Lock()
						refs[j.idx] = ref
						res.Chunks++
						if isNew {
							res.NewChunks++
							res.StoredBytes += stored
						}
						mu.Unlock()
					}
				}
				release(j)
			}
		})
	}

	ch := newChunker(ctxReader{ctx, r}, p)
	var n int64
	var readErr error
	for idx := 0; ; idx++ {
		chunk, err := ch.next()
		if err == io.EOF {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		n += int64(len(chunk))
		var buf []byte
		select {
		case buf = <-free:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		buf = append(append(buf[:0], chunkRaw), chunk...)
		mu.Lock()
		refs = append(refs, chunkRef{})
		mu.Unlock()
		j := job{idx: idx, data: buf[1:], framed: buf, refs: new(atomic.Int32)}
		j.refs.Store(2)
		hashq <- j
		jobs <- j
		if opts.Progress != nil {
			opts.Progress(n)
		}
	}
	ch.release() // chunks were copied into job buffers
	close(jobs)
	close(hashq)
	wg.Wait()
	<-hashed
	if failErr != nil {
		return AddResult{}, failErr
	}
	if readErr != nil {
		return AddResult{}, fmt.Errorf("read: %w", readErr)
	}
	if err := ctx.Err(); err != nil {
		return AddResult{}, err
	}
	res.Digest = sumOf(whole)
	res.Size = n
	if precommit != nil {
		if err := precommit(n); err != nil {
			return AddResult{}, err
		}
	}
	fi := fileIndex{Digest: res.Digest, Size: n, Chunks: refs}
	key := FileKey(res.Digest)
	if _, err := st.Stat(ctx, key); err == nil {
		return res, nil
	} else if !errors.Is(err, ErrNotFound) {
		return AddResult{}, fmt.Errorf("file %s: %w", res.Digest, err)
	}
	obj := fi.encode()
	if err := st.Put(ctx, key, bytes.NewReader(obj), int64(len(obj))); err != nil {
		return AddResult{}, fmt.Errorf("file %s: %w", res.Digest, err)
	}
	res.StoredBytes += int64(len(obj))
	return res, nil
}

// storeChunk stores one chunk unless st has it; framed is the raw chunk
// object (the chunkRaw header, then the chunk); enc is the worker's
// reusable compression buffer; dup reports (and records) whether this add
// already handles the chunk, as happens for repeated content.
func storeChunk(ctx context.Context, st Store, framed []byte, enc *[]byte, dup func(Digest) bool) (ref chunkRef, stored int64, isNew bool, err error) {
	data := framed[1:]
	ref = chunkRef{Digest: Sum(data), Size: int64(len(data))}
	if dup(ref.Digest) {
		return ref, 0, false, nil
	}
	key := ChunkKey(ref.Digest)
	if _, err := st.Stat(ctx, key); err == nil {
		return ref, 0, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return ref, 0, false, fmt.Errorf("chunk %s: %w", ref.Digest, err)
	}
	obj := framed
	if z, ok := compressChunk(*enc, data); ok {
		*enc, obj = z, z
	}
	if err := st.Put(ctx, key, bytes.NewReader(obj), int64(len(obj))); err != nil {
		return ref, 0, false, fmt.Errorf("chunk %s: %w", ref.Digest, err)
	}
	return ref, int64(len(obj)), true, nil
}
