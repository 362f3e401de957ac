package blob_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
)

func TestMemConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store { return blob.NewMem(t.Name()) })
}

func TestLocalConformance(t *testing.T) {
	blobtest.Run(t, func(t *testing.T) blob.Store {
		st, err := blob.NewLocal(filepath.Join(t.TempDir(), "store"))
		if err != nil {
			t.Fatal(err)
		}
		return st
	})
}

func TestLocalLeavesNoTempFiles(t *testing.T) {
	dir := t.TempDir()
	st, err := blob.NewLocal(dir)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := st.Put(ctx, "a/b", strings.NewReader("ok"), 2); err != nil {
		t.Fatal(err)
	}
	_ = st.Put(ctx, "a/c", strings.NewReader("short"), 99) // fails
	var names []string
	filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if !d.IsDir() {
			rel, _ := filepath.Rel(dir, p)
			names = append(names, rel)
		}
		return nil
	})
	if len(names) != 1 || names[0] != filepath.Join("a", "b") {
		t.Fatalf("files in store folder = %v, want only a/b", names)
	}
	// A stale temporary file from a crash is not listed.
	if err := os.WriteFile(filepath.Join(dir, "a", ".tmp-b-123"), []byte("junk"), 0o644); err != nil {
		t.Fatal(err)
	}
	var keys []string
	st.List(ctx, "", func(k string, _ int64, _ time.Time) error { keys = append(keys, k); return nil })
	if len(keys) != 1 || keys[0] != "a/b" {
		t.Fatalf("List = %v, want [a/b]", keys)
	}
}

func TestOpenStore(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	for _, u := range []string{dir, "file://" + dir} {
		st, err := blob.OpenStore(ctx, u)
		if err != nil {
			t.Fatalf("OpenStore(%q): %v", u, err)
		}
		if l, ok := st.(*blob.Local); !ok || l.Root() != dir {
			t.Fatalf("OpenStore(%q) = %T %v", u, st, st.Location())
		}
	}
	a, err := blob.OpenStore(ctx, "mem://shared")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := blob.OpenStore(ctx, "mem://shared")
	if a != b || a.Location() != "mem://shared" {
		t.Fatalf("mem://shared opened twice gives different stores")
	}
	for _, u := range []string{"", "ftp://x/y", "file://host/abs", "file://rel", "mem://", "mem://a/b", "s3://", "s3:///prefix",
		"s3://bucket/p?nonsense=1", "s3://bucket/p?path-style=maybe", "s3://bucket/../x"} {
		if _, err := blob.OpenStore(ctx, u); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("OpenStore(%q) = %v, want ErrInvalidURL", u, err)
		}
	}
}

func TestParseS3URLAndEnv(t *testing.T) {
	t.Setenv("HOME", t.TempDir())
	t.Setenv("AWS_CONFIG_FILE", "")
	t.Setenv("AWS_ENDPOINT_URL", "http://generic:1")
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "eu-west-3")
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("MLGIT_S3_PATH_STYLE", "1")
	cfg, err := blob.ParseS3URL("s3://bucket/some/prefix/")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Bucket != "bucket" || cfg.Prefix != "some/prefix" || cfg.Endpoint != "http://generic:1" ||
		cfg.Region != "eu-west-3" || !cfg.PathStyle {
		t.Fatalf("config from env = %+v", cfg)
	}
	t.Setenv("AWS_ENDPOINT_URL_S3", "http://s3specific:2")
	t.Setenv("AWS_REGION", "us-west-2")
	t.Setenv("MLGIT_S3_PATH_STYLE", "")
	cfg, _ = blob.ParseS3URL("s3://bucket")
	if cfg.Endpoint != "http://s3specific:2" || cfg.Region != "us-west-2" || cfg.PathStyle || cfg.Prefix != "" {
		t.Fatalf("AWS_ENDPOINT_URL_S3 and AWS_REGION should win: %+v", cfg)
	}
	cfg, _ = blob.ParseS3URL("s3://bucket/p?endpoint=http://127.0.0.1:9000&path-style=true&region=r1")
	if cfg.Endpoint != "http://127.0.0.1:9000" || cfg.Region != "r1" || !cfg.PathStyle {
		t.Fatalf("query should win: %+v", cfg)
	}
	// Profile sections of ~/.aws/config supply region and endpoint.
	home := t.TempDir()
	t.Setenv("HOME", home)
	os.MkdirAll(filepath.Join(home, ".aws"), 0o755)
	os.WriteFile(filepath.Join(home, ".aws", "config"), []byte(
		"[default]\nregion = d-region\n\n[profile team]\nregion = team-region\nendpoint_url = http://team:3\n"), 0o644)
	t.Setenv("AWS_ENDPOINT_URL_S3", "")
	t.Setenv("AWS_ENDPOINT_URL", "")
	t.Setenv("AWS_REGION", "")
	t.Setenv("AWS_DEFAULT_REGION", "")
	cfg, _ = blob.ParseS3URL("s3://bucket")
	if cfg.Region != "d-region" || cfg.Endpoint != "" {
		t.Fatalf("default profile: %+v", cfg)
	}
	t.Setenv("AWS_PROFILE", "team")
	cfg, _ = blob.ParseS3URL("s3://bucket")
	if cfg.Region != "team-region" || cfg.Endpoint != "http://team:3" || cfg.Profile != "team" {
		t.Fatalf("AWS_PROFILE=team: %+v", cfg)
	}
}
