package mlflowimport

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/manifest"
)

// What a store's reader leaves for later, item by item: metric histories
// and artifact files. A file store reads them from its folders; a
// tracking server (ReadServer) over its REST API.

// File is one artifact file of a run or logged model.
type File struct {
	Path string // relative, with "/"
	Size int64
	Mode string // "0644" or "0755"
	// Open reads the file's bytes.
	Open func(ctx context.Context) (io.ReadCloser, error)
}

// remote is a store whose histories and files are read over the network.
type remote interface {
	history(ctx context.Context, runID string, keys []string) (map[string][]Point, error)
	runFiles(ctx context.Context, r *Run) ([]File, error)
	modelFiles(ctx context.Context, m *LoggedModel) ([]File, error)
}

// RunMetrics returns every point of the run's metrics, by key, in the
// order logged.
func (s *Store) RunMetrics(ctx context.Context, r *Run) (map[string][]Point, error) {
	if s.remote != nil {
		return s.remote.history(ctx, r.ID, r.MetricKeys)
	}
	return s.Metrics(r.metricsDir, r.MetricKeys)
}

// ModelMetrics returns the points of a logged model's metrics.
func (s *Store) ModelMetrics(_ context.Context, m *LoggedModel) (map[string][]Point, error) {
	if s.remote != nil {
		return m.points, nil
	}
	return s.Metrics(m.metricsDir, m.MetricKeys)
}

// RunFiles lists the run's artifact files, sorted by path: from S3 with
// the blob store's client when the run's artifact URI is s3:// (and the
// usual AWS environment), else from the store's folder or the server.
func (s *Store) RunFiles(ctx context.Context, r *Run) ([]File, error) {
	if strings.HasPrefix(r.ArtifactURI, "s3://") {
		return s3Files(ctx, r.ArtifactURI)
	}
	if strings.HasPrefix(r.ArtifactURI, "gs://") || blob.IsAzureURL(r.ArtifactURI) {
		// Google Cloud Storage and Azure Blob Storage
		// (wasbs://container@account.blob.core.windows.net/path, abfss://)
		// are listed the same way through the blob store's clients and
		// their usual environment (Application Default Credentials or
		// STORAGE_EMULATOR_HOST; AZURE_STORAGE_CONNECTION_STRING, ...).
		return s3Files(ctx, r.ArtifactURI)
	}
	if s.remote != nil {
		return s.remote.runFiles(ctx, r)
	}
	return folderFiles(r.ArtifactDir)
}

// s3Files lists the objects below an s3://bucket/prefix location.
func s3Files(ctx context.Context, uri string) ([]File, error) {
	st, err := blob.OpenStore(ctx, uri)
	if err != nil {
		return nil, err
	}
	var out []File
	err = st.List(ctx, "", func(key string, size int64, _ time.Time) error {
		if err := manifest.ValidateArtifactPath(key); err != nil {
			return fmt.Errorf("%s/%s: %w", uri, key, err)
		}
		out = append(out, File{Path: key, Size: size, Mode: "0644",
			Open: func(ctx context.Context) (io.ReadCloser, error) { return st.Get(ctx, key) }})
		return nil
	})
	if err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ModelFiles lists a logged model's artifact files, sorted by path.
func (s *Store) ModelFiles(ctx context.Context, m *LoggedModel) ([]File, error) {
	if s.remote != nil {
		return s.remote.modelFiles(ctx, m)
	}
	return folderFiles(m.ArtifactDir)
}

// folderFiles lists the regular files below dir ("" for none).
func folderFiles(dir string) ([]File, error) {
	if dir == "" {
		return nil, nil
	}
	var out []File
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		if !d.Type().IsRegular() {
			return fmt.Errorf("%s is not a regular file", p)
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		if err := manifest.ValidateArtifactPath(rel); err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		mode := "0644"
		if info.Mode().Perm()&0o111 != 0 {
			mode = "0755"
		}
		out = append(out, File{Path: rel, Size: info.Size(), Mode: mode,
			Open: func(context.Context) (io.ReadCloser, error) { return os.Open(p) }})
		return nil
	})
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("the artifact folder %s is missing", dir)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, err
}
