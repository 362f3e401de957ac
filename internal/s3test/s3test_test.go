package s3test

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/minio/minio-go/v7"
)

func TestStartServesBucket(t *testing.T) {
	s := StartServer(t)
	mc, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	ok, err := mc.BucketExists(ctx, s.Bucket)
	if err != nil || !ok {
		t.Fatalf("BucketExists(%s) = %v, %v; want true", s.Bucket, ok, err)
	}
	data := []byte("hello versitygw")
	if _, err := mc.PutObject(ctx, s.Bucket, "a/b", bytes.NewReader(data), int64(len(data)), minio.PutObjectOptions{}); err != nil {
		t.Fatal(err)
	}
	obj, err := mc.GetObject(ctx, s.Bucket, "a/b", minio.GetObjectOptions{})
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(obj)
	obj.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetObject = %q, %v; want %q", got, err, data)
	}
	// The posix backend keeps the object as a plain file.
	onDisk, err := os.ReadFile(filepath.Join(s.Dir, s.Bucket, "a", "b"))
	if err != nil || !bytes.Equal(onDisk, data) {
		t.Fatalf("object on disk = %q, %v; want %q", onDisk, err, data)
	}
}

func TestStartTwiceGivesSeparateServers(t *testing.T) {
	a, b := StartServer(t), StartServer(t)
	if a.Endpoint == b.Endpoint || a.Dir == b.Dir {
		t.Fatalf("two servers share endpoint or folder: %v %v", a, b)
	}
	endpoint, bucket, ak, sk := Start(t)
	if endpoint == "" || bucket != "mlgit-test" || ak == "" || sk == "" {
		t.Fatalf("Start = %q %q %q %q", endpoint, bucket, ak, sk)
	}
}
