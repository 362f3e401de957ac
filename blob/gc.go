package blob

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"
)

// GCStats tell what GC removed (or, in a dry run, would remove) and kept.
type GCStats struct {
	// FilesDeleted and ChunksDeleted count removed objects, BytesDeleted
	// their stored size.
	FilesDeleted, ChunksDeleted int
	BytesDeleted                int64
	// FilesKept and ChunksKept count objects left in place.
	FilesKept, ChunksKept int
	// Young counts unreferenced objects kept only because they were
	// modified after olderThan.
	Young int
	// TempDeleted counts temporary files that crashed writers left in a
	// Local store (staging files of adds, Put's temporary files) older
	// than olderThan, and TempBytesDeleted their size; they are not
	// objects and are not in BytesDeleted.
	TempDeleted      int
	TempBytesDeleted int64
}

// GC deletes from st the file objects whose digest is not in keep and the
// chunks that no remaining file object references, skipping anything
// modified after olderThan. Unreferenced file objects newer than olderThan
// are kept together with their chunks, so an Add that finished recently is
// safe; pick olderThan well before any Add still running began (an hour
// ago, say). Keys outside files/ and chunks/ are left alone.
//
// GC deletes file objects before chunks, so an interrupted GC never leaves
// a file object whose chunks are gone. A kept or young file object that
// cannot be read or parsed stops GC before it deletes any chunk.
//
// GC must not run while another process adds files that reuse chunks GC is
// about to delete (an Add that found a chunk present does not rewrite it);
// callers serialize GC with adds to the same store. With dryRun, GC deletes
// nothing and reports what it would delete.
//
// On a Local store GC also removes the temporary files that writers killed
// mid-way left behind, if they were last modified before olderThan.
func GC(ctx context.Context, st Store, keep map[Digest]bool, olderThan time.Time, dryRun bool) (GCStats, error) {
	var stats GCStats
	type obj struct {
		key  string
		size int64
	}
	var (
		live     []Digest // file objects that stay
		doomed   []obj
		refChunk = map[ChunkID]bool{}
	)
	err := st.List(ctx, fileDir, func(key string, size int64, mod time.Time) error {
		h, ok := parseShardedKey(fileDir, key)
		d := Digest(h)
		if !ok {
			return nil // not ours
		}
		switch {
		case keep[d]:
			live = append(live, d)
		case mod.After(olderThan):
			live = append(live, d)
			stats.Young++
		default:
			doomed = append(doomed, obj{key, size})
		}
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("gc %s: %w", st.Location(), err)
	}
	stats.FilesKept = len(live)
	for _, d := range live {
		fi, err := readFileIndex(ctx, st, d)
		if err != nil {
			if errors.Is(err, ErrNotFound) {
				continue // deleted meanwhile
			}
			return stats, fmt.Errorf("gc %s: %w", st.Location(), err)
		}
		for _, c := range fi.Chunks {
			refChunk[c.ID] = true
		}
	}
	var doomedChunks []obj
	err = st.List(ctx, chunkDir, func(key string, size int64, mod time.Time) error {
		id, ok := parseShardedKey(chunkDir, key)
		switch {
		case !ok:
			return nil
		case refChunk[ChunkID(id)]:
			stats.ChunksKept++
		case mod.After(olderThan):
			stats.ChunksKept++
			stats.Young++
		default:
			doomedChunks = append(doomedChunks, obj{key, size})
		}
		return nil
	})
	if err != nil {
		return stats, fmt.Errorf("gc %s: %w", st.Location(), err)
	}
	var mu sync.Mutex
	del := func(objs []obj, count *int) error {
		return forEach(ctx, len(objs), 8, func(ctx context.Context, i int) error {
			if !dryRun {
				if err := st.Delete(ctx, objs[i].key); err != nil {
					return fmt.Errorf("gc %s: %w", st.Location(), err)
				}
			}
			mu.Lock()
			*count++
			stats.BytesDeleted += objs[i].size
			mu.Unlock()
			return nil
		})
	}
	if err := del(doomed, &stats.FilesDeleted); err != nil {
		return stats, err
	}
	if err := del(doomedChunks, &stats.ChunksDeleted); err != nil {
		return stats, err
	}
	if l, ok := st.(*Local); ok {
		n, size, err := l.removeStaleTemps(ctx, olderThan, dryRun)
		stats.TempDeleted, stats.TempBytesDeleted = n, size
		if err != nil {
			return stats, fmt.Errorf("gc %s: %w", st.Location(), err)
		}
	}
	return stats, nil
}
