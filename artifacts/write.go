package artifacts

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/manifest"
)

// writeWorkers is how many artifacts Write writes at once.
const writeWorkers = 4

// Write writes arts (whose blobs are digests, in the same order) below
// dir, creating it, a few files at a time. Every file is read verified
// from st, written to a temporary name in its folder and renamed into
// place only when its content matches, so a file either has its complete,
// verified content or is not changed. Nothing is written outside dir, nor
// through a symbolic link inside it; a path that would be is refused
// before anything is written.
func Write(ctx context.Context, st blob.Store, dir string, arts []manifest.Artifact, digests []blob.Digest, progress Progress) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	root, err := filepath.Abs(dir)
	if err != nil {
		return err
	}
	// Destinations first, so a bad path writes nothing at all.
	dests := make([]string, len(arts))
	for i, x := range arts {
		if dests[i], err = Dest(root, x.Path); err != nil {
			return err
		}
	}
	return par.Do(ctx, len(arts), writeWorkers, func(ctx context.Context, i int) error {
		if err := writeOne(ctx, st, root, dests[i], arts[i], digests[i], progress); err != nil {
			return fmt.Errorf("artifact %s (%s): %w", arts[i].Path, arts[i].Digest, err)
		}
		return nil
	})
}

// Dest returns where artifact path p goes below root, refusing anything
// that would land outside it (an error matching manifest.ErrInvalid).
func Dest(root, p string) (string, error) {
	if err := manifest.ValidateArtifactPath(p); err != nil {
		return "", fmt.Errorf("refusing to write artifact %q: %w", p, err)
	}
	dest := filepath.Join(root, filepath.FromSlash(p))
	rel, err := filepath.Rel(root, dest)
	if err != nil || rel == "." || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) || filepath.IsAbs(rel) {
		return "", fmt.Errorf("%w: refusing to write artifact %q outside %s", manifest.ErrInvalid, p, root)
	}
	return dest, nil
}

// mkdirsUnder creates the folders between root and dir, refusing to pass
// through a symbolic link or a file.
func mkdirsUnder(root, dir string) error {
	rel, err := filepath.Rel(root, dir)
	if err != nil {
		return err
	}
	cur := root
	if rel == "." {
		return nil
	}
	for _, part := range strings.Split(rel, string(filepath.Separator)) {
		cur = filepath.Join(cur, part)
		fi, err := os.Lstat(cur)
		switch {
		case err == nil && fi.Mode()&fs.ModeSymlink != 0:
			return fmt.Errorf("refusing to write through the symbolic link %s", cur)
		case err == nil && !fi.IsDir():
			return fmt.Errorf("%s exists and is not a folder", cur)
		case err == nil:
		case errors.Is(err, fs.ErrNotExist):
			if err := os.Mkdir(cur, 0o755); err != nil && !errors.Is(err, fs.ErrExist) {
				return err
			}
		default:
			return err
		}
	}
	return nil
}

// bufferSize is the size of the buffers artifacts are copied with.
const bufferSize = 4 << 20

var buffers = sync.Pool{New: func() any { b := make([]byte, bufferSize); return &b }}

// writeOne writes one artifact to dest through a temporary file.
func writeOne(ctx context.Context, st blob.Store, root, dest string, x manifest.Artifact, d blob.Digest, progress Progress) (err error) {
	dir := filepath.Dir(dest)
	if err := mkdirsUnder(root, dir); err != nil {
		return err
	}
	if fi, err := os.Lstat(dest); err == nil && fi.IsDir() {
		return fmt.Errorf("%s is a folder", dest)
	}
	// The whole-file hash is checked at the end and the file is renamed
	// into place only then, so the per-chunk hashes can be skipped.
	rc, size, err := blob.OpenWith(ctx, st, d, blob.OpenOptions{WholeFileCheck: true})
	if err != nil {
		return err
	}
	defer rc.Close()
	if size != x.Size {
		return fmt.Errorf("%w: the run records %d bytes, the blob has %d", blob.ErrCorrupt, x.Size, size)
	}
	tmp, err := os.CreateTemp(dir, ".mlgit-get-*")
	if err != nil {
		return err
	}
	defer func() {
		if err != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	n, err := copyPipelined(tmp, countingReader{rc, progress})
	if err != nil {
		return err
	}
	if n != x.Size {
		return fmt.Errorf("%w: read %d bytes, want %d", blob.ErrCorrupt, n, x.Size)
	}
	mode := os.FileMode(0o644)
	if x.Mode == "0755" {
		mode = 0o755
	}
	if err := tmp.Chmod(mode); err != nil {
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dest)
}

// copyPipelined copies r to w in 4 MiB blocks, reading the next block
// while the last one is written, so that hashing (in r) and writing to the
// page cache (in w) use two cores. It stops at the first error of either.
func copyPipelined(w io.Writer, r io.Reader) (int64, error) {
	const nbuf = 3
	type block struct {
		b *[]byte
		n int
	}
	free := make(chan *[]byte, nbuf)
	full := make(chan block, nbuf)
	stop := make(chan struct{})
	for range nbuf {
		free <- buffers.Get().(*[]byte)
	}
	var rerr error
	go func() {
		defer close(full)
		for {
			var b *[]byte
			select {
			case b = <-free:
			case <-stop:
				return
			}
			n, err := io.ReadFull(r, *b)
			if n > 0 {
				full <- block{b, n}
			} else {
				free <- b
			}
			if err == io.EOF || err == io.ErrUnexpectedEOF {
				return
			}
			if err != nil {
				rerr = err
				return
			}
		}
	}()
	var written int64
	var werr error
	for blk := range full {
		if werr == nil {
			m, err := w.Write((*blk.b)[:blk.n])
			written += int64(m)
			if err != nil {
				werr = err
				close(stop)
			}
		}
		free <- blk.b
	}
	for range nbuf {
		buffers.Put(<-free)
	}
	if rerr != nil {
		return written, rerr
	}
	return written, werr
}

// countingReader counts what passes through it.
type countingReader struct {
	r        io.Reader
	progress Progress
}

func (c countingReader) Read(b []byte) (int, error) {
	n, err := c.r.Read(b)
	add(c.progress, int64(n))
	return n, err
}
