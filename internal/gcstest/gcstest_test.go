package gcstest

import (
	"bytes"
	"context"
	"errors"
	"testing"
)

func TestStartServesBucket(t *testing.T) {
	s := StartServer(t)
	ctx := context.Background()
	data := []byte("hello fake-gcs-server")
	if err := s.PutObject(ctx, "a/b c", data); err != nil {
		t.Fatal(err)
	}
	got, err := s.GetObject(ctx, "a/b c")
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("GetObject = %q, %v; want %q", got, err, data)
	}
	// PutObject replaces.
	if err := s.PutObject(ctx, "a/b c", []byte("other")); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.GetObject(ctx, "a/b c"); string(got) != "other" {
		t.Fatalf("after a second PutObject: %q", got)
	}
	if _, err := s.GetObject(ctx, "missing"); !errors.Is(err, ErrNoObject) {
		t.Fatalf("GetObject(missing) = %v, want ErrNoObject", err)
	}
	names, err := s.ObjectNames(ctx, "a/")
	if err != nil || len(names) != 1 || names[0] != "a/b c" {
		t.Fatalf("ObjectNames(a/) = %v, %v", names, err)
	}
	if got := s.URL("/p/q/"); got != "gs://mlgit-test/p/q?endpoint="+s.Endpoint {
		t.Fatalf("URL = %q", got)
	}
	if env := s.Env(); len(env) != 1 || env[0] != "STORAGE_EMULATOR_HOST="+s.Host {
		t.Fatalf("Env = %v", env)
	}
}

func TestStartTwiceGivesSeparateServers(t *testing.T) {
	a, b := StartServer(t), StartServer(t)
	if a.Endpoint == b.Endpoint || a.Dir == b.Dir {
		t.Fatalf("two servers share endpoint or folder: %v %v", a, b)
	}
	ctx := context.Background()
	if err := a.PutObject(ctx, "only-in-a", []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, err := b.GetObject(ctx, "only-in-a"); !errors.Is(err, ErrNoObject) {
		t.Fatalf("object of one server visible in the other: %v", err)
	}
}
