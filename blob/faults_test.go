package blob_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/minio/minio-go/v7"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/internal/s3test"
)

// chunkKeyOf returns a chunk key of blob d in st and the chunk's ID.
func chunkKeyOf(t *testing.T, st blob.Store, d blob.Digest, i int) (string, blob.ChunkID) {
	t.Helper()
	keys, err := blob.Keys(context.Background(), st, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) < 2+i {
		t.Fatalf("blob has %d keys", len(keys))
	}
	key := keys[1+i]
	cd, err := blob.ParseChunkID("blake3:" + path.Base(key))
	if err != nil {
		t.Fatal(err)
	}
	return key, cd
}

func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x10
	return b
}

func requireCorrupt(t *testing.T, st blob.Store, d blob.Digest, named blob.ChunkID) {
	t.Helper()
	ctx := context.Background()
	err := blob.Verify(ctx, st, d)
	if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), named.String()) {
		t.Fatalf("Verify = %v, want ErrCorrupt naming %s", err, named)
	}
	rc, _, err := blob.Open(ctx, st, d)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	_, err = io.Copy(io.Discard, rc)
	if !errors.Is(err, blob.ErrCorrupt) {
		t.Fatalf("reading to the end = %v, want ErrCorrupt", err)
	}
}

func TestLocalFlippedByteDetected(t *testing.T) {
	ctx := context.Background()
	st, err := blob.NewLocal(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	d, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(1, 3<<20)))
	if err != nil {
		t.Fatal(err)
	}
	if err := blob.Verify(ctx, st, d); err != nil {
		t.Fatal(err)
	}
	key, cd := chunkKeyOf(t, st, d, 1)
	p, _ := st.Path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, flip(b, len(b)/3), 0o644); err != nil {
		t.Fatal(err)
	}
	requireCorrupt(t, st, d, cd)
	// Deleting the chunk: a clear error naming the chunk and "missing".
	os.Remove(p)
	err = blob.Verify(ctx, st, d)
	if !errors.Is(err, blob.ErrCorrupt) || !strings.Contains(err.Error(), cd.String()) || !strings.Contains(err.Error(), "missing") {
		t.Fatalf("Verify with missing chunk = %v", err)
	}
}

func TestS3Faults(t *testing.T) {
	srv := s3test.StartServer(t)
	ctx := context.Background()

	t.Run("FlippedByteViaRawPut", func(t *testing.T) {
		st := newS3(t, srv)
		d, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(2, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		if err := blob.Verify(ctx, st, d); err != nil {
			t.Fatal(err)
		}
		key, cd := chunkKeyOf(t, st, d, 0)
		rc, err := st.Get(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(rc)
		rc.Close()
		bad := flip(b, len(b)-1)
		// Overwrite behind Put's back with the raw client.
		if _, err := st.Client().PutObject(ctx, st.Bucket(), st.ObjectName(key), bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{}); err != nil {
			t.Fatal(err)
		}
		requireCorrupt(t, st, d, cd)
	})

	t.Run("FlippedByteOnServerDisk", func(t *testing.T) {
		st := newS3(t, srv)
		d, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(3, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		key, cd := chunkKeyOf(t, st, d, 2)
		file := filepath.Join(srv.Dir, srv.Bucket, filepath.FromSlash(st.ObjectName(key)))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("object not found on the server's disk: %v", err)
		}
		if err := os.WriteFile(file, flip(b, 1), 0o644); err != nil {
			t.Fatal(err)
		}
		requireCorrupt(t, st, d, cd)
	})

	t.Run("InterruptedUploadResumes", func(t *testing.T) {
		st := newS3(t, srv)
		data := blobtest.Data(4, 9<<20)
		boom := errors.New("killed")
		_, _, err := blob.Add(ctx, st, io.MultiReader(bytes.NewReader(data[:6<<20]), &errAfter{boom}))
		if !errors.Is(err, boom) {
			t.Fatalf("Add = %v, want %v", err, boom)
		}
		d := blob.Sum(data)
		if has, err := blob.Has(ctx, st, []blob.Digest{d}); err != nil || has[d] {
			t.Fatalf("Has after killed upload = %v, %v", has, err)
		}
		res, err := blob.AddReader(ctx, st, bytes.NewReader(data), blob.AddOptions{})
		if err != nil || res.Digest != d || res.NewChunks == res.Chunks {
			t.Fatalf("re-run = %+v, %v; want it to reuse chunks", res, err)
		}
		if err := blob.Verify(ctx, st, d); err != nil {
			t.Fatal(err)
		}
	})

	t.Run("CopyLocalToS3AndBack", func(t *testing.T) {
		local, _ := blob.NewLocal(t.TempDir())
		remote := newS3(t, srv)
		var ds []blob.Digest
		for i := range 3 {
			d, _, err := blob.Add(ctx, local, bytes.NewReader(blobtest.Data(uint64(10+i), (i+1)<<20)))
			if err != nil {
				t.Fatal(err)
			}
			ds = append(ds, d)
		}
		stats, err := blob.Copy(ctx, local, remote, ds, blob.CopyOptions{Parallel: 4})
		if err != nil || stats.Files != 3 {
			t.Fatalf("push = %+v, %v", stats, err)
		}
		back, _ := blob.NewLocal(t.TempDir())
		stats, err = blob.Copy(ctx, remote, back, ds, blob.CopyOptions{})
		if err != nil || stats.Files != 3 {
			t.Fatalf("pull = %+v, %v", stats, err)
		}
		for i, d := range ds {
			rc, n, err := blob.Open(ctx, back, d)
			if err != nil {
				t.Fatal(err)
			}
			got, err := io.ReadAll(rc)
			rc.Close()
			if err != nil || n != int64((i+1)<<20) || !bytes.Equal(got, blobtest.Data(uint64(10+i), (i+1)<<20)) {
				t.Fatalf("blob %d after round trip through S3: %v", i, err)
			}
		}
		// GC on S3: keep one, collect the rest.
		gs, err := blob.GC(ctx, remote, map[blob.Digest]bool{ds[0]: true}, time.Now().Add(time.Minute), false)
		if err != nil || gs.FilesDeleted != 2 || gs.FilesKept != 1 {
			t.Fatalf("GC on S3 = %+v, %v", gs, err)
		}
		if err := blob.Verify(ctx, remote, ds[0]); err != nil {
			t.Fatal(err)
		}
	})
}

type errAfter struct{ err error }

func (e *errAfter) Read([]byte) (int, error) { return 0, e.err }
