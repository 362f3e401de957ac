package blob_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
)

func TestParseGCSURL(t *testing.T) {
	good := []struct {
		url  string
		want blob.GCSConfig
	}{
		{"gs://bucket", blob.GCSConfig{Bucket: "bucket"}},
		{"gs://bucket/", blob.GCSConfig{Bucket: "bucket"}},
		{"gs://my-bucket_1.example.com/some/prefix/", blob.GCSConfig{Bucket: "my-bucket_1.example.com", Prefix: "some/prefix"}},
		{"GS://bucket/p", blob.GCSConfig{Bucket: "bucket", Prefix: "p"}},
		{"gs://bucket/p?endpoint=http://127.0.0.1:4443", blob.GCSConfig{Bucket: "bucket", Prefix: "p", Endpoint: "http://127.0.0.1:4443"}},
		{"gs://bucket?endpoint=https://storage.example.com/", blob.GCSConfig{Bucket: "bucket", Endpoint: "https://storage.example.com/"}},
	}
	for _, tc := range good {
		got, err := blob.ParseGCSURL(tc.url)
		if err != nil || got != tc.want {
			t.Errorf("ParseGCSURL(%q) = %+v, %v; want %+v", tc.url, got, err, tc.want)
		}
	}
	bad := []struct{ url, says string }{
		{"gs://", "want gs://bucket"},
		{"gs:///prefix", "want gs://bucket"},
		{"gs://user@bucket/p", "want gs://bucket"},
		{"gs://bucket/p#frag", "want gs://bucket"},
		{"s3://bucket/p", "want gs://bucket"},
		{"gs://Bucket/p", "lower-case"},
		{"gs://bu/p", "3 to 222"},
		{"gs://bucket:80/p", "lower-case"},
		{"gs://-bucket/p", "start and end"},
		{"gs://bucket-/p", "start and end"},
		{"gs://a..b/p", "dot-separated"},
		{"gs://" + strings.Repeat("a", 64) + ".b/p", "dot-separated"},
		{"gs://bucket/a/../b", "prefix"},
		{"gs://bucket/a//b", "prefix"},
		{"gs://bucket/.hidden", "prefix"},
		{"gs://bucket/p?region=x", `unknown option "region"`},
		{"gs://bucket/p?endpoint=ftp://host", "endpoint"},
		{"gs://bucket/p?endpoint=http://host/path", "endpoint"},
		{"gs://bucket/p?endpoint=host:4443", "endpoint"},
		{"gs://bucket/p%00x", ""},
		{"gs://bucket/p\x7f", ""},
	}
	for _, tc := range bad {
		_, err := blob.ParseGCSURL(tc.url)
		if !errors.Is(err, blob.ErrInvalidURL) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("ParseGCSURL(%q) = %v; want ErrInvalidURL saying %q", tc.url, err, tc.says)
		}
		// OpenStore refuses it the same way, before any network access.
		if !strings.HasPrefix(tc.url, "gs:") {
			continue
		}
		if _, err := blob.OpenStore(context.Background(), tc.url); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("OpenStore(%q) = %v; want ErrInvalidURL", tc.url, err)
		}
	}
}

// FuzzParseGCSURL checks that whatever ParseGCSURL accepts is a usable
// config: a valid bucket, a prefix that is a valid key, and the same config
// when parsed again from its canonical form.
func FuzzParseGCSURL(f *testing.F) {
	for _, s := range []string{"gs://bucket", "gs://b-1.c/p/q?endpoint=http://127.0.0.1:1", "gs://x/../y", "gs://UP/p", "gs://a.b/%2e%2e"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		cfg, err := blob.ParseGCSURL(in)
		if err != nil {
			if !errors.Is(err, blob.ErrInvalidURL) {
				t.Fatalf("ParseGCSURL(%q) = %v, not ErrInvalidURL", in, err)
			}
			return
		}
		if cfg.Bucket == "" || strings.ContainsAny(cfg.Bucket, "/:@?#%") || strings.ToLower(cfg.Bucket) != cfg.Bucket {
			t.Fatalf("ParseGCSURL(%q) accepted bucket %q", in, cfg.Bucket)
		}
		if cfg.Prefix != "" {
			if err := blob.ValidateKey(cfg.Prefix); err != nil {
				t.Fatalf("ParseGCSURL(%q) accepted prefix %q: %v", in, cfg.Prefix, err)
			}
		}
		if cfg.Endpoint != "" && !strings.HasPrefix(cfg.Endpoint, "http://") && !strings.HasPrefix(cfg.Endpoint, "https://") {
			t.Fatalf("ParseGCSURL(%q) accepted endpoint %q", in, cfg.Endpoint)
		}
		canon := "gs://" + cfg.Bucket + "/" + cfg.Prefix
		again, err := blob.ParseGCSURL(canon)
		if err != nil || again.Bucket != cfg.Bucket || again.Prefix != cfg.Prefix {
			t.Fatalf("ParseGCSURL(%q) = %+v, but its canonical form %q gives %+v, %v", in, cfg, canon, again, err)
		}
	})
}
