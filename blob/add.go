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
)

// AddOptions tune AddReader and AddFileWith. The zero value is fine.
type AddOptions struct {
	// Parallel is the number of chunks hashed, compressed and stored at
	// once (default GOMAXPROCS, at least 2). Memory use is about
	// (12+Parallel) * MaxChunkSize: three read buffers of four maximal
	// chunks, which chunks are hashed and written from without copies, and
	// one compression buffer per worker.
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
			return fmt.Errorf("%w: %w", ErrFileChanged, err)
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
// object is stored, after precommit (if set) agrees. Chunks are handed to
// the hasher and the workers as slices of the chunker's segments, not
// copies. Memory is bounded by addSegments segments of 4*MaxChunkSize and
// one compression buffer per worker.
//
// On a Local store the chunks' durability is batched (see localBatch): they
// are staged and made durable in the background, and the file object is
// written only after every chunk is synced, linked into place and its
// folder synced. On other stores each chunk is one Put.
func addStream(ctx context.Context, st Store, r io.Reader, p chunkParams, opts AddOptions,
	precommit func(n int64) error) (AddResult, error) {
	workers := opts.Parallel
	if workers <= 0 {
		workers = max(2, runtime.GOMAXPROCS(0))
	}
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var batch *localBatch
	if l, ok := st.(*Local); ok {
		batch = l.beginBatch()
		defer batch.abort() // no-op after commit
	}

	// Each chunk goes both to a worker and to the goroutine hashing the
	// whole stream in order; each releases its reference to the chunk's
	// segment when done with it.
	type job struct {
		idx  int
		data []byte
		seg  *segment
	}
	var (
		jobs    = make(chan job, workers)
		hashq   = make(chan job, 64)
		mu      sync.Mutex
		refs    []chunkRef
		seen    = map[ChunkID]bool{} // chunks this add stored or found
		res     AddResult
		wg      sync.WaitGroup
		errOnce sync.Once
		failErr error
	)
	fail := func(err error) {
		errOnce.Do(func() { failErr = err; cancel(err) })
	}
	whole := sha256.New()
	hashed := make(chan struct{})
	go func() {
		defer close(hashed)
		for j := range hashq {
			whole.Write(j.data)
			j.seg.release()
		}
	}()
	for range workers {
		wg.Go(func() {
			var enc, frame []byte
			for j := range jobs {
				if ctx.Err() == nil {
					ref, stored, isNew, err := storeChunk(ctx, st, batch, j.data, &enc, &frame, func(d ChunkID) bool {
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
				j.seg.release()
			}
		})
	}

	segs := newSegPool(p, addSegments)
	ch := newChunker(ctx, ctxReader{ctx, r}, p, segs)
	var n int64
	var readErr error
	for idx := 0; ; idx++ {
		chunk, seg, err := ch.next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			readErr = err
			break
		}
		n += int64(len(chunk))
		mu.Lock()
		refs = append(refs, chunkRef{})
		mu.Unlock()
		seg.retain() // one reference for the hasher, one for the worker
		j := job{idx: idx, data: chunk, seg: seg}
		hashq <- j
		jobs <- j
		if opts.Progress != nil {
			opts.Progress(n)
		}
	}
	ch.release()
	close(jobs)
	close(hashq)
	wg.Wait()
	<-hashed
	segs.recycle() // every chunk was released
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
	if batch != nil {
		if err := batch.commit(ctx); err != nil {
			return AddResult{}, err
		}
	}
	fi := fileIndex{Digest: res.Digest, Size: n, Chunks: refs}
	key := FileKey(res.Digest)
	if _, err := st.Stat(ctx, key); err == nil {
		if l, ok := st.(*Local); ok {
			// Another add may have linked it and not synced its folder yet;
			// this add is acknowledged only once the object would survive
			// a crash.
			if err := l.syncKeyDir(key); err != nil {
				return AddResult{}, fmt.Errorf("file %s: %w", res.Digest, err)
			}
		}
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

// addSegments is the number of chunker segments (4*MaxChunkSize each) an
// add may hold: the one being read, and chunks waiting for the hasher and
// the workers in up to two more (about 20 chunks of average size).
const addSegments = 3

// storeChunk stores one chunk unless st has it: through batch when it is
// set (Local stores), else with st.Put. enc and frame are the worker's
// reusable buffers for the compressed and the raw chunk object; dup reports
// (and records) whether this add already handles the chunk, as happens for
// repeated content.
func storeChunk(ctx context.Context, st Store, batch *localBatch, data []byte, enc, frame *[]byte, dup func(ChunkID) bool) (ref chunkRef, stored int64, isNew bool, err error) {
	ref = chunkRef{ID: chunkSum(data), Size: int64(len(data))}
	if dup(ref.ID) {
		return ref, 0, false, nil
	}
	key := ChunkKey(ref.ID)
	if batch != nil {
		if has, err := batch.has(key); err != nil {
			return ref, 0, false, fmt.Errorf("chunk %s: %w", ref.ID, err)
		} else if has {
			return ref, 0, false, nil
		}
	} else if _, err := st.Stat(ctx, key); err == nil {
		return ref, 0, false, nil
	} else if !errors.Is(err, ErrNotFound) {
		return ref, 0, false, fmt.Errorf("chunk %s: %w", ref.ID, err)
	}
	var hdr, body []byte
	if z, ok := compressChunk(*enc, data); ok {
		*enc, body = z, z
	} else {
		hdr, body = rawHeader[:], data
	}
	size := int64(len(hdr) + len(body))
	if batch != nil {
		err = batch.put(ctx, key, hdr, body)
	} else {
		obj := body
		if hdr != nil {
			// Other stores take one reader; the raw chunk is framed in
			// the worker's buffer.
			*frame = append(append((*frame)[:0], hdr...), body...)
			obj = *frame
		}
		err = st.Put(ctx, key, bytes.NewReader(obj), size)
	}
	if err != nil {
		return ref, 0, false, fmt.Errorf("chunk %s: %w", ref.ID, err)
	}
	return ref, size, true, nil
}

// rawHeader is the header of a chunk stored raw.
var rawHeader = [1]byte{chunkRaw}
