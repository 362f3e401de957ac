package cloud_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"path"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/mlgit/mlgit/blob"
)

// prefixSeq numbers the bucket prefixes of the tests, so no two share one.
var prefixSeq atomic.Int64

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

// flip returns a copy of b with one bit of byte i changed.
func flip(b []byte, i int) []byte {
	b = bytes.Clone(b)
	b[i] ^= 0x10
	return b
}

// requireCorrupt checks that Verify and a full read of d fail with
// ErrCorrupt, Verify naming the digest named.
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

// errAfter is a reader that fails with err.
type errAfter struct{ err error }

func (e *errAfter) Read([]byte) (int, error) { return 0, e.err }
