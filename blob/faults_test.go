package blob_test

import (
	"bytes"
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/minio/minio-go/v7"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/internal/s3test"
)

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
	key, cd := blobtest.ChunkKey(t, st, d, 1)
	p, _ := st.Path(key)
	b, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(p, 0o644)
	if err := os.WriteFile(p, blobtest.Flip(b, len(b)/3), 0o644); err != nil {
		t.Fatal(err)
	}
	blobtest.RequireCorrupt(t, st, d, cd)
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
		// Overwrite behind Put's back with the raw client.
		blobtest.FlippedChunkDetected(t, st, func(key string, bad []byte) error {
			_, err := st.Client().PutObject(ctx, st.Bucket(), st.ObjectName(key), bytes.NewReader(bad), int64(len(bad)), minio.PutObjectOptions{})
			return err
		})
	})

	t.Run("FlippedByteOnServerDisk", func(t *testing.T) {
		st := newS3(t, srv)
		d, _, err := blob.Add(ctx, st, bytes.NewReader(blobtest.Data(3, 3<<20)))
		if err != nil {
			t.Fatal(err)
		}
		key, cd := blobtest.ChunkKey(t, st, d, 2)
		file := filepath.Join(srv.Dir, srv.Bucket, filepath.FromSlash(st.ObjectName(key)))
		b, err := os.ReadFile(file)
		if err != nil {
			t.Fatalf("object not found on the server's disk: %v", err)
		}
		if err := os.WriteFile(file, blobtest.Flip(b, 1), 0o644); err != nil {
			t.Fatal(err)
		}
		blobtest.RequireCorrupt(t, st, d, cd)
	})

	t.Run("InterruptedUploadResumes", func(t *testing.T) {
		blobtest.InterruptedAddResumes(t, newS3(t, srv))
	})

	t.Run("CopyLocalToS3AndBack", func(t *testing.T) {
		blobtest.CopyRoundTrip(t, newS3(t, srv))
	})
}
