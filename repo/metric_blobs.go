package repo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// Long metric histories out of Git. Once a run's history holds more points
// than mlgit.yaml's metrics.spillAbove (see manifest.Config.SpillThreshold),
// a checkpoint writes the run's new segment as a columnar blob
// (manifest.EncodeColumns) into the local blob cache, and the branch gets
// a small pointer, runs/<xx>/<id>/metric-blobs/<seq>.yaml, instead of
// metrics/<seq>.tsv. Readers take segment seq from whichever of the two
// exists. The blob is in the cache, fsynced, before the commit that
// points at it, and the journal keeps the points until that commit: a
// crash in between replays them into the same blob (the encoding is
// deterministic, and storing a blob twice is a no-op).
//
// A clone that lacks a blob fetches it from the blob remote (SetBlobRemote)
// into its cache on first read; mlgit push uploads the blobs like
// artifacts, and mlgit check, the pre-push hook and blob gc see the
// pointers as references (repo/internal/artifacts).

// blobRemote opens the blob remote for history blobs the cache lacks.
type blobRemote struct {
	mu   sync.Mutex
	open func(context.Context) (blob.Store, error)
	st   blob.Store
	err  error
}

// SetBlobRemote tells the store how to open the blob remote when a read
// needs a metric-history blob that the local cache lacks. open is called
// at most once, on first need; without it the store opens blobs.remote of
// mlgit.yaml, and without that such a read fails with an error that says
// how to get the blob.
func (r *Repo) SetBlobRemote(open func(context.Context) (blob.Store, error)) {
	r.remote.mu.Lock()
	r.remote.open, r.remote.st, r.remote.err = open, nil, nil
	r.remote.mu.Unlock()
}

func (r *Repo) openBlobRemote(ctx context.Context) (blob.Store, error) {
	r.remote.mu.Lock()
	defer r.remote.mu.Unlock()
	if r.remote.st == nil && r.remote.err == nil {
		open := r.remote.open
		if open == nil {
			open = r.configBlobRemote
		}
		r.remote.st, r.remote.err = open(ctx)
	}
	return r.remote.st, r.remote.err
}

// configBlobRemote opens blobs.remote of mlgit.yaml (a relative folder is
// relative to the repository's top folder): the blob remote of a store
// opened without SetBlobRemote. Without one it returns nil.
func (r *Repo) configBlobRemote(ctx context.Context) (blob.Store, error) {
	cfg, err := r.Config()
	if err != nil || cfg.Blobs.Remote == "" {
		return nil, err
	}
	return blob.OpenStore(ctx, r.BlobRemotePath(cfg.Blobs.Remote))
}

// BlobRemotePath resolves blobs.remote of mlgit.yaml: a relative folder is
// relative to the repository's top folder (the Git folder of a bare one);
// URLs and absolute paths are returned as they are.
func (r *Repo) BlobRemotePath(u string) string {
	if strings.Contains(u, "://") || filepath.IsAbs(u) {
		return u
	}
	base := r.WorkTree()
	if base == "" {
		base = r.GitDir()
	}
	return filepath.Join(base, u)
}

// spillThreshold reads metrics.spillAbove (and blobs.remote) from the
// mlgit.yaml a transaction sees: 0 means every segment stays in Git.
func spillThreshold(tx *Tx) (int64, error) {
	data, ok, err := tx.Read(layout.Config)
	if err != nil || !ok {
		return 0, err
	}
	cfg, err := manifest.DecodeConfig(data)
	if err != nil {
		// A broken mlgit.yaml must not stop checkpoints: history stays
		// in Git, and mlgit check reports the file.
		return 0, nil
	}
	return cfg.SpillThreshold(), nil
}

// historyPoints is the length of a run's history as its summaries count it.
func historyPoints(doc *manifest.Run) int64 {
	var n int64
	for _, m := range doc.Metrics {
		n += m.Count
	}
	return n
}

// writeSegmentBlob stores points as segment seq of run id in the blob
// cache and writes its pointer into tx.
func (r *Repo) writeSegmentBlob(tx *Tx, id string, seq int, points []manifest.MetricPoint) error {
	enc, keys := manifest.EncodeColumns(points)
	local, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		return fmt.Errorf("run %s: metric history: %w", id, err)
	}
	d, n, err := blob.Add(context.Background(), local, bytes.NewReader(enc))
	if err != nil {
		return fmt.Errorf("run %s: store metric history segment %d in the blob cache: %w", id, seq, err)
	}
	tx.Write(layout.SegmentBlob(id, seq), manifest.NewMetricBlob(id, seq, d.String(), n, keys).Encode())
	return nil
}

// segmentSource is where segment seq of a run lives: a TSV file in Git, or
// a pointer to a columnar blob.
type segmentSource struct {
	tsv plumbing.Hash
	ptr *manifest.MetricBlob
}

// segmentSources finds segments 1..n of run id in tx's tree. A partial
// clone fetches the files it lacks in one request.
func (r *Repo) segmentSources(tx *Tx, id string, n int) ([]segmentSource, error) {
	if n == 0 {
		return nil, nil
	}
	if tx.Partial() {
		paths := make([]string, 0, 2*n)
		for seq := 1; seq <= n; seq++ {
			paths = append(paths, layout.Segment(id, seq), layout.SegmentBlob(id, seq))
		}
		if err := tx.Prefetch(paths); err != nil {
			return nil, err
		}
	}
	out := make([]segmentSource, n)
	for seq := 1; seq <= n; seq++ {
		e, ok, err := r.objects.Lookup(tx.Trees(), tx.BaseTree(), layout.Segment(id, seq))
		if err != nil {
			return nil, err
		}
		if ok && e.Mode != filemode.Dir {
			out[seq-1].tsv = e.Hash
			continue
		}
		p := layout.SegmentBlob(id, seq)
		data, ok, err := tx.Read(p)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("run %s: metric segment %d is missing from the branch", id, seq)
		}
		m, err := manifest.DecodeMetricBlob(data)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", p, err)
		}
		out[seq-1].ptr = m
	}
	return out, nil
}

// readSegmentBlob returns the columnar blob a pointer names, from the
// local cache, or else from the blob remote (copied into the cache, so the
// next read is local). Every byte is verified against the digest.
func (r *Repo) readSegmentBlob(m *manifest.MetricBlob) ([]byte, error) {
	ctx := context.Background()
	d, err := blob.ParseDigest(m.Digest)
	if err != nil {
		return nil, err
	}
	local, err := blob.NewLocal(r.BlobCacheDir())
	if err != nil {
		return nil, err
	}
	data, err := readWholeBlob(ctx, local, d, m.Size)
	if !errors.Is(err, blob.ErrNotFound) {
		return data, err
	}
	remote, rerr := r.openBlobRemote(ctx)
	switch {
	case rerr != nil:
		return nil, fmt.Errorf("run %s metric history segment %d (%s) is not in the local blob cache, and the blob remote does not open: %w", m.Run, m.Segment, m.Digest, rerr)
	case remote == nil:
		return nil, fmt.Errorf("run %s metric history segment %d (%s) is not in the local blob cache: set a blob remote (--remote, MLGIT_BLOB_REMOTE or blobs.remote in mlgit.yaml) or run mlgit blob pull", m.Run, m.Segment, m.Digest)
	}
	if _, err := blob.Copy(ctx, remote, local, []blob.Digest{d}, blob.CopyOptions{}); err != nil {
		return nil, fmt.Errorf("run %s metric history segment %d: fetch %s from %s: %w", m.Run, m.Segment, m.Digest, remote.Location(), err)
	}
	return readWholeBlob(ctx, local, d, m.Size)
}

// readWholeBlob reads blob d, which the pointer says has size bytes.
func readWholeBlob(ctx context.Context, st blob.Store, d blob.Digest, size int64) ([]byte, error) {
	rc, n, err := blob.Open(ctx, st, d)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	if n != size {
		return nil, fmt.Errorf("blob %s holds %d bytes, its pointer says %d", d, n, size)
	}
	buf := make([]byte, n)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return nil, err
	}
	// Reading to the end makes the reader check the whole file's digest.
	if _, err := rc.Read(make([]byte, 1)); !errors.Is(err, io.EOF) {
		if err == nil {
			err = fmt.Errorf("blob %s is longer than %d bytes", d, n)
		}
		return nil, err
	}
	return buf, nil
}

// parseBlobPart reads a spilled segment into columns per key.
func (r *Repo) parseBlobPart(m *manifest.MetricBlob, want func(string) bool) segmentPart {
	data, err := r.readSegmentBlob(m)
	if err != nil {
		return segmentPart{err: err}
	}
	part := segmentPart{cols: map[string]*MetricColumns{}}
	err = manifest.ScanColumns(data, func(k *manifest.ColumnKey) error {
		if !want(k.Key) {
			return nil
		}
		c := &MetricColumns{Steps: make([]int64, 0, k.Points), Timestamps: make([]int64, 0, k.Points), Values: make([]float64, 0, k.Points)}
		part.cols[k.Key] = c
		part.keys = append(part.keys, k.Key)
		return k.Decode(c)
	})
	if err != nil {
		return segmentPart{err: err}
	}
	return part
}
