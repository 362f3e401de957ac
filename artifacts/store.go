package artifacts

import (
	"context"
	"fmt"
	"sync/atomic"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/manifest"
)

// Files at least this large are stored one at a time with parallel chunk
// workers; smaller ones several at once.
const (
	bigFile          = 16 << 20
	bigFileParallel  = 8
	smallFileWorkers = 8
)

// Store adds every file to st and returns their manifest entries, in the
// order of files, and the bytes newly stored. It stops at the first error;
// a file whose size changed since Collect listed it is blob.ErrFileChanged.
func Store(ctx context.Context, st blob.Store, files []File, progress Progress) ([]manifest.Artifact, int64, error) {
	arts := make([]manifest.Artifact, len(files))
	var stored atomic.Int64
	addOne := func(ctx context.Context, i int, parallel int) error {
		f := files[i]
		var last int64
		res, err := blob.AddFileWith(ctx, st, f.Src, blob.AddOptions{Parallel: parallel, Progress: func(done int64) {
			add(progress, done-last)
			last = done
		}})
		if err != nil {
			return err
		}
		if res.Size != f.Size {
			return fmt.Errorf("add %s: %w: it had %d bytes when listed and %d when stored", f.Src, blob.ErrFileChanged, f.Size, res.Size)
		}
		stored.Add(res.StoredBytes)
		arts[i] = manifest.Artifact{Path: f.Path, Digest: res.Digest.String(), Size: res.Size, Mode: f.Mode}
		return nil
	}
	var small []int
	for i, f := range files {
		if f.Size < bigFile {
			small = append(small, i)
			continue
		}
		if err := addOne(ctx, i, bigFileParallel); err != nil {
			return nil, 0, err
		}
	}
	err := par.Do(ctx, len(small), smallFileWorkers, func(ctx context.Context, k int) error {
		return addOne(ctx, small[k], 1)
	})
	if err != nil {
		return nil, 0, err
	}
	return arts, stored.Load(), nil
}
