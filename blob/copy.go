package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"runtime"
	"sync"
)

// CopyOptions tune Copy. The zero value is fine.
type CopyOptions struct {
	// Parallel is the number of objects transferred at once (default 8).
	// Memory use is about Parallel * 2 * MaxChunkSize.
	Parallel int
	// Progress, if set, is called with the content bytes of chunks copied
	// so far and the total to copy (chunks dst already has are not
	// counted). Calls are serialized and done never decreases; the first
	// call has done == 0 and, if Copy succeeds, the last done == total.
	Progress func(done, total int64)
}

// CopyStats tell what Copy did.
type CopyStats struct {
	// Files is the number of file objects copied; FilesSkipped were in dst
	// already (with all their chunks, by the write-order rule).
	Files, FilesSkipped int
	// Chunks is the number of chunks copied; ChunksSkipped were in dst.
	Chunks, ChunksSkipped int
	// Bytes is the content (uncompressed) size of the chunks copied, the
	// unit of Progress; StoredBytes is what was written to dst.
	Bytes, StoredBytes int64
}

// Copy makes dst hold the files with the given digests, transferring from src
// whatever dst lacks. It first asks dst which file objects it has (batch
// Exists) and skips those; reads the other file objects from src; asks dst
// which of their chunks it has; copies the missing chunks in parallel,
// verifying each against its digest (a corrupt chunk in src fails the copy
// with ErrCorrupt rather than spreading); and only then writes the file
// objects. So dst never holds a file object without its chunks, and running
// Copy again after an interruption finishes the job, re-sending at most the
// chunks that were in flight. Memory stays bounded whatever the file sizes.
//
// A digest that src does not have fails the copy with an error wrapping
// ErrNotFound that names it, before anything is written.
func Copy(ctx context.Context, src, dst Store, digests []Digest, opts CopyOptions) (CopyStats, error) {
	var stats CopyStats
	par := opts.Parallel
	if par <= 0 {
		par = 8
	}
	// Which files does dst lack?
	uniq := make([]Digest, 0, len(digests))
	seen := make(map[Digest]bool, len(digests))
	for _, d := range digests {
		if !seen[d] {
			seen[d] = true
			uniq = append(uniq, d)
		}
	}
	have, err := Has(ctx, dst, uniq)
	if err != nil {
		return stats, fmt.Errorf("copy to %s: %w", dst.Location(), err)
	}
	var todo []Digest
	for _, d := range uniq {
		if have[d] {
			stats.FilesSkipped++
		} else {
			todo = append(todo, d)
		}
	}
	// Read their file objects from src.
	indexes := make([]*fileIndex, len(todo))
	err = forEach(ctx, len(todo), par, func(ctx context.Context, i int) error {
		fi, err := readFileIndex(ctx, src, todo[i])
		if err != nil {
			return fmt.Errorf("copy from %s: %w", src.Location(), err)
		}
		indexes[i] = fi
		return nil
	})
	if err != nil {
		return stats, err
	}
	// Which of their chunks does dst lack?
	var refs []chunkRef
	seenChunk := map[ChunkID]bool{}
	for _, fi := range indexes {
		for _, c := range fi.Chunks {
			if !seenChunk[c.ID] {
				seenChunk[c.ID] = true
				refs = append(refs, c)
			}
		}
	}
	keys := make([]string, len(refs))
	for i, c := range refs {
		keys[i] = ChunkKey(c.ID)
	}
	haveChunk, err := dst.Exists(ctx, keys)
	if err != nil {
		return stats, fmt.Errorf("copy to %s: %w", dst.Location(), err)
	}
	var missing []chunkRef
	var total int64
	for i, c := range refs {
		if haveChunk[keys[i]] {
			stats.ChunksSkipped++
		} else {
			missing = append(missing, c)
			total += c.Size
		}
	}
	// Copy the missing chunks.
	var mu sync.Mutex
	report := func(add int64, stored int64) {
		mu.Lock()
		defer mu.Unlock()
		if add >= 0 {
			stats.Chunks++
			stats.Bytes += add
			stats.StoredBytes += stored
		}
		if opts.Progress != nil {
			opts.Progress(stats.Bytes, total)
		}
	}
	report(-1, 0)
	bufPool := make(chan *chunkBufs, par)
	for range min(par, runtime.GOMAXPROCS(0)*4) {
		bufPool <- &chunkBufs{}
	}
	err = forEach(ctx, len(missing), par, func(ctx context.Context, i int) error {
		c := missing[i]
		var bufs *chunkBufs
		select {
		case bufs = <-bufPool:
		case <-ctx.Done():
			return ctx.Err()
		}
		defer func() { bufPool <- bufs }()
		n, err := copyChunk(ctx, src, dst, c, bufs)
		if err != nil {
			return err
		}
		report(c.Size, n)
		return nil
	})
	if err != nil {
		return stats, err
	}
	// Then the file objects.
	err = forEach(ctx, len(indexes), par, func(ctx context.Context, i int) error {
		obj := indexes[i].encode()
		if err := dst.Put(ctx, FileKey(indexes[i].Digest), bytes.NewReader(obj), int64(len(obj))); err != nil {
			return fmt.Errorf("copy blob %s to %s: %w", indexes[i].Digest, dst.Location(), err)
		}
		mu.Lock()
		stats.Files++
		stats.StoredBytes += int64(len(obj))
		mu.Unlock()
		return nil
	})
	return stats, err
}

// copyChunk copies one chunk object, verified, and returns its stored size.
func copyChunk(ctx context.Context, src, dst Store, c chunkRef, bufs *chunkBufs) (int64, error) {
	key := ChunkKey(c.ID)
	rc, err := src.Get(ctx, key)
	if err != nil {
		return 0, fmt.Errorf("copy chunk %s from %s: %w", c.ID, src.Location(), err)
	}
	obj, err := readAllLimit(rc, c.Size+1, bufs.obj)
	rc.Close()
	bufs.obj = obj
	if err != nil {
		if errors.Is(err, errTooLarge) {
			return 0, fmt.Errorf("copy chunk %s from %s: %w: stored object is larger than %d bytes", c.ID, src.Location(), ErrCorrupt, c.Size+1)
		}
		return 0, fmt.Errorf("copy chunk %s from %s: %w", c.ID, src.Location(), err)
	}
	out, err := decodeChunk(bufs.out, obj, c)
	if err != nil {
		return 0, fmt.Errorf("copy from %s: %w", src.Location(), err)
	}
	if keepsDecodeBuffer(obj) {
		bufs.out = out
	}
	if err := dst.Put(ctx, key, bytes.NewReader(obj), int64(len(obj))); err != nil {
		return 0, fmt.Errorf("copy chunk %s to %s: %w", c.ID, dst.Location(), err)
	}
	return int64(len(obj)), nil
}
