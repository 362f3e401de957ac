package blob

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"hash"
	"io"
)

// readWindow is how many chunks Open fetches and verifies ahead of the
// reader.
const readWindow = 4

// readFileIndex fetches and decodes the file object of d.
func readFileIndex(ctx context.Context, st Store, d Digest) (*fileIndex, error) {
	key := FileKey(d)
	rc, err := st.Get(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("blob %s: %w", d, ErrNotFound)
		}
		return nil, fmt.Errorf("blob %s: %w", d, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, maxFileObject+1))
	if err != nil {
		return nil, fmt.Errorf("blob %s: read file object: %w", d, err)
	}
	fi, err := decodeFileIndex(b)
	if err != nil {
		return nil, fmt.Errorf("blob %s: %w: file object %s: %v", d, ErrCorrupt, key, err)
	}
	if fi.Digest != d {
		return nil, fmt.Errorf("blob %s: %w: file object %s describes %s", d, ErrCorrupt, key, fi.Digest)
	}
	return fi, nil
}

// fetchChunk gets a chunk object and returns its content, reusing buf,
// verified against the chunk's digest unless noHash. A missing chunk is
// reported as ErrCorrupt (the file is damaged).
func fetchChunk(ctx context.Context, st Store, ref chunkRef, bufs *chunkBufs, noHash bool) ([]byte, error) {
	key := ChunkKey(ref.ID)
	rc, err := st.Get(ctx, key)
	if err != nil {
		if errors.Is(err, ErrNotFound) {
			return nil, fmt.Errorf("chunk %s is missing (%s): %w", ref.ID, key, ErrCorrupt)
		}
		return nil, err
	}
	defer rc.Close()
	// A stored chunk is at most one header byte larger than its content.
	obj, err := readAllLimit(rc, ref.Size+1, bufs.obj)
	bufs.obj = obj
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return nil, fmt.Errorf("chunk %s: %w: stored object is larger than %d bytes", ref.ID, ErrCorrupt, ref.Size+1)
		}
		return nil, fmt.Errorf("chunk %s: %w", ref.ID, err)
	}
	decode := decodeChunk
	if noHash {
		decode = decodeChunkData
	}
	out, err := decode(bufs.out, obj, ref)
	if out != nil && keepsDecodeBuffer(obj) {
		bufs.out = out
	}
	return out, err
}

// chunkBufs are the reusable buffers of one chunk fetch.
type chunkBufs struct{ obj, out []byte }

var errTooLarge = errors.New("object too large")

// readAllLimit reads r to the end into buf (grown as needed), failing with
// errTooLarge past limit bytes.
func readAllLimit(r io.Reader, limit int64, buf []byte) ([]byte, error) {
	if int64(cap(buf)) < limit+1 {
		buf = make([]byte, 0, limit+1)
	}
	b := buf[:limit+1]
	n := 0
	for n < len(b) {
		m, err := r.Read(b[n:])
		n += m
		if err == io.EOF {
			return b[:n], nil
		}
		if err != nil {
			return b[:n], err
		}
	}
	return b[:n], errTooLarge
}

// Open returns a reader of the file with digest d and its size. The reader
// fetches chunks a few ahead, verifies each chunk's hash before handing out
// any of its bytes, and checks the whole file's hash at the end: if anything
// does not match, Read returns an error wrapping ErrCorrupt that names the
// digest, and never io.EOF. So a reader that reached io.EOF delivered exactly
// the bytes of d. Close the reader to release its resources.
//
// Open fails with an error wrapping ErrNotFound if st has no file object
// for d.
func Open(ctx context.Context, st Store, d Digest) (io.ReadCloser, int64, error) {
	return OpenWith(ctx, st, d, OpenOptions{})
}

// OpenOptions tune OpenWith. The zero value is what Open does.
type OpenOptions struct {
	// WholeFileCheck skips the hash of each chunk and relies on the hash
	// of the whole file alone, checked when the reader reaches the end:
	// half the hashing work, and the same guarantee that a reader that
	// reached io.EOF got exactly the bytes of the digest. But bytes are
	// handed out before they are known to be right, so use it only where
	// everything read is discarded on an error (a temporary file that is
	// renamed into place after io.EOF). When the whole-file hash does not
	// match, the reader reads the chunks again, verifying each, to name the
	// damaged one in its error.
	WholeFileCheck bool
}

// OpenWith is Open with options.
func OpenWith(ctx context.Context, st Store, d Digest, opts OpenOptions) (io.ReadCloser, int64, error) {
	fi, err := readFileIndex(ctx, st, d)
	if err != nil {
		return nil, 0, err
	}
	ctx, cancel := context.WithCancel(ctx)
	return &fileReader{ctx: ctx, cancel: cancel, st: st, fi: fi, whole: sha256.New(), noHash: opts.WholeFileCheck}, fi.Size, nil
}

// findDamagedChunk reads the chunks of fi one by one, verified, and returns
// the first error: which chunk is damaged, when the whole-file hash said
// that one is.
func findDamagedChunk(ctx context.Context, st Store, fi *fileIndex) error {
	bufs := &chunkBufs{}
	for _, ref := range fi.Chunks {
		if _, err := fetchChunk(ctx, st, ref, bufs, false); err != nil {
			return err
		}
	}
	return nil
}

type fetch struct {
	done chan struct{}
	bufs *chunkBufs
	data []byte
	err  error
}

type fileReader struct {
	ctx    context.Context
	cancel context.CancelFunc
	st     Store
	fi     *fileIndex
	whole  hash.Hash

	queue     []*fetch     // in-flight fetches, in chunk order
	scheduled int          // chunks scheduled so far
	cur       []byte       // unread part of the current chunk
	curBufs   *chunkBufs   // buffers of the current chunk, for reuse
	free      []*chunkBufs // buffers not in use
	err       error
	noHash    bool // OpenOptions.WholeFileCheck
}

func (r *fileReader) schedule() {
	for len(r.queue) < readWindow && r.scheduled < len(r.fi.Chunks) {
		ref := r.fi.Chunks[r.scheduled]
		r.scheduled++
		f := &fetch{done: make(chan struct{}), bufs: &chunkBufs{}}
		if n := len(r.free); n > 0 {
			f.bufs = r.free[n-1]
			r.free = r.free[:n-1]
		}
		r.queue = append(r.queue, f)
		go func() {
			defer close(f.done)
			f.data, f.err = fetchChunk(r.ctx, r.st, ref, f.bufs, r.noHash)
			if f.err != nil {
				f.err = fmt.Errorf("blob %s: %w", r.fi.Digest, f.err)
			}
		}()
	}
}

func (r *fileReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	for len(r.cur) == 0 {
		if r.curBufs != nil {
			r.free = append(r.free, r.curBufs)
			r.curBufs = nil
		}
		r.schedule()
		if len(r.queue) == 0 {
			if got := sumOf(r.whole); got != r.fi.Digest {
				r.err = fmt.Errorf("blob %s: %w: content hash is %s", r.fi.Digest, ErrCorrupt, got)
				if r.noHash {
					if cerr := findDamagedChunk(r.ctx, r.st, r.fi); cerr != nil {
						r.err = fmt.Errorf("blob %s: %w", r.fi.Digest, cerr)
					}
				}
				return 0, r.err
			}
			r.err = io.EOF
			return 0, io.EOF
		}
		f := r.queue[0]
		select {
		case <-f.done:
		case <-r.ctx.Done():
			r.err = r.ctx.Err()
			return 0, r.err
		}
		r.queue = r.queue[1:]
		if f.err != nil {
			r.err = f.err
			r.cancel()
			return 0, r.err
		}
		r.whole.Write(f.data)
		r.cur, r.curBufs = f.data, f.bufs
		r.schedule()
	}
	n := copy(p, r.cur)
	r.cur = r.cur[n:]
	return n, nil
}

// Close stops fetching. It always returns nil.
func (r *fileReader) Close() error {
	r.cancel()
	if r.err == nil {
		r.err = errors.New("read of closed blob reader")
	}
	return nil
}

// Verify reads the file with digest d and everything it references and
// checks every hash. It returns nil only if Open would deliver exactly the
// bytes of d; otherwise an error wrapping ErrNotFound (no file object) or
// ErrCorrupt (damage, naming the digest).
func Verify(ctx context.Context, st Store, d Digest) error {
	rc, _, err := Open(ctx, st, d)
	if err != nil {
		return err
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	return err
}

// Has reports which of ds have a file object in st, with few requests
// (Store.Exists). Since file objects are written after their chunks, a
// present file object means the file was completely added; use Verify to
// check that its bytes are intact.
func Has(ctx context.Context, st Store, ds []Digest) (map[Digest]bool, error) {
	keys := make([]string, len(ds))
	for i, d := range ds {
		keys[i] = FileKey(d)
	}
	ex, err := st.Exists(ctx, keys)
	if err != nil {
		return nil, err
	}
	out := make(map[Digest]bool, len(ds))
	for i, d := range ds {
		out[d] = ex[keys[i]]
	}
	return out, nil
}

// Keys returns the store keys the file with digest d consists of: its file
// object first, then each chunk once, in file order. Transfers and garbage
// collection use it. It fails with ErrNotFound if there is no file object.
func Keys(ctx context.Context, st Store, d Digest) ([]string, error) {
	fi, err := readFileIndex(ctx, st, d)
	if err != nil {
		return nil, err
	}
	keys := []string{FileKey(d)}
	seen := make(map[ChunkID]bool, len(fi.Chunks))
	for _, c := range fi.Chunks {
		if !seen[c.ID] {
			seen[c.ID] = true
			keys = append(keys, ChunkKey(c.ID))
		}
	}
	return keys, nil
}
