package blob

import (
	"context"
	"errors"
	"fmt"
)

// RepairStats tell what Repair did.
type RepairStats struct {
	// Removed is the number of damaged or missing objects of dst (file
	// objects and chunks) found; Copy then fetched them again from src.
	Removed int
	// Copy is what the re-fetch transferred.
	Copy CopyStats
}

// Repair makes dst (typically the local cache) hold intact copies of the
// files ds, taking what is damaged or missing from src (the blob remote):
// it reads each file's object from src, checks each of dst's objects for
// the file (its file object and every chunk, decoded and hashed), deletes
// the damaged ones (the file object first, so dst never holds a file object
// whose chunks are not all there), and copies the file from src again,
// verified, which transfers only the objects deleted or missing. Objects
// of dst that are intact are kept. A file that src lacks fails with
// ErrNotFound naming it, before dst is changed.
func Repair(ctx context.Context, dst, src Store, ds []Digest) (RepairStats, error) {
	var st RepairStats
	indexes := make([]*fileIndex, len(ds))
	for i, d := range ds {
		fi, err := readFileIndex(ctx, src, d)
		if err != nil {
			return st, fmt.Errorf("repair from %s: %w", src.Location(), err)
		}
		indexes[i] = fi
	}
	bufs := &chunkBufs{}
	for i, d := range ds {
		fi := indexes[i]
		var bad []string
		seen := map[ChunkID]bool{}
		for _, c := range fi.Chunks {
			if seen[c.ID] {
				continue
			}
			seen[c.ID] = true
			ok, err := chunkIntact(ctx, dst, c, bufs)
			if err != nil {
				return st, err
			}
			if !ok {
				bad = append(bad, ChunkKey(c.ID))
			}
		}
		mine, err := readFileIndex(ctx, dst, d)
		switch {
		case err == nil && len(bad) == 0 && mine.Size == fi.Size && len(mine.Chunks) == len(fi.Chunks):
			continue // intact
		case err != nil && !errors.Is(err, ErrNotFound) && !errors.Is(err, ErrCorrupt):
			return st, err
		}
		// Damaged or missing objects; an intact file object goes too (it is
		// copied again last, after its chunks) but is not counted.
		st.Removed += len(bad)
		if err == nil || errors.Is(err, ErrCorrupt) {
			if err != nil || mine.Size != fi.Size || len(mine.Chunks) != len(fi.Chunks) {
				st.Removed++
			}
			bad = append([]string{FileKey(d)}, bad...)
		} else {
			st.Removed++ // the file object is missing
		}
		for _, k := range bad {
			if err := dst.Delete(ctx, k); err != nil {
				return st, fmt.Errorf("repair %s: remove damaged %s: %w", dst.Location(), k, err)
			}
		}
	}
	cs, err := Copy(ctx, src, dst, ds, CopyOptions{})
	st.Copy = cs
	return st, err
}

// chunkIntact reports whether st holds chunk c intact (false: missing or
// damaged); an error only when st itself fails.
func chunkIntact(ctx context.Context, st Store, c chunkRef, bufs *chunkBufs) (bool, error) {
	rc, err := st.Get(ctx, ChunkKey(c.ID))
	if errors.Is(err, ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	obj, err := readAllLimit(rc, c.Size+1, bufs.obj)
	rc.Close()
	bufs.obj = obj
	if errors.Is(err, errTooLarge) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	out, err := decodeChunk(bufs.out, obj, c)
	if err != nil {
		return false, nil
	}
	if keepsDecodeBuffer(obj) {
		bufs.out = out
	}
	return true, nil
}
