package blob

import (
	"bytes"
	"context"
	"encoding/binary"
	"flag"
	"io"
	"math"
	"math/rand/v2"
	"os"
	"strconv"
	"testing"
)

// benchMiB is the data size of one benchmark operation. Scale it up for real
// measurements: go test -bench . -blob.size 1024 ./blob/ (or set
// MLGIT_BLOB_BENCH_MIB).
var benchMiB = flag.Int("blob.size", envInt("MLGIT_BLOB_BENCH_MIB", 64), "MiB of data per benchmark operation")

func envInt(name string, def int) int {
	if v, err := strconv.Atoi(os.Getenv(name)); err == nil && v > 0 {
		return v
	}
	return def
}

// float32Weights returns n bytes of float32 values from a normal
// distribution, like the tensors of a model checkpoint: mostly
// incompressible mantissas, somewhat compressible exponents.
func float32Weights(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 7))
	b := make([]byte, n)
	for i := 0; i+4 <= n; i += 4 {
		binary.LittleEndian.PutUint32(b[i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
	}
	return b
}

var benchData = map[string]func(seed uint64, n int) []byte{
	"Random":  randBytes,
	"Float32": float32Weights,
	"Text":    textLike,
}

func newLocalStore(b *testing.B) *Local {
	st, err := NewLocal(b.TempDir())
	if err != nil {
		b.Fatal(err)
	}
	return st
}

// BenchmarkAdd measures Add into an empty store (nothing deduplicates).
func BenchmarkAdd(b *testing.B) {
	n := *benchMiB << 20
	for _, kind := range []string{"Random", "Float32", "Text"} {
		data := benchData[kind](1, n)
		for _, storeKind := range []string{"Mem", "Local"} {
			b.Run(kind+"/"+storeKind, func(b *testing.B) {
				b.SetBytes(int64(n))
				var stored int64
				for b.Loop() {
					b.StopTimer()
					var st Store = NewMem("bench")
					if storeKind == "Local" {
						st = newLocalStore(b)
					}
					b.StartTimer()
					res, err := AddReader(context.Background(), st, bytes.NewReader(data), AddOptions{})
					if err != nil {
						b.Fatal(err)
					}
					stored = res.StoredBytes
				}
				b.ReportMetric(float64(stored)/float64(n), "stored/size")
			})
		}
	}
}

// BenchmarkAddUnchanged measures re-adding a file that is already stored:
// hashing and chunking only.
func BenchmarkAddUnchanged(b *testing.B) {
	n := *benchMiB << 20
	data := randBytes(2, n)
	st := newLocalStore(b)
	mustAdd(b, st, data)
	b.SetBytes(int64(n))
	for b.Loop() {
		if _, _, err := Add(context.Background(), st, bytes.NewReader(data)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkOpen measures reading a blob back from a Local store, with
// every hash verified.
func BenchmarkOpen(b *testing.B) {
	n := *benchMiB << 20
	for _, kind := range []string{"Random", "Float32", "Text"} {
		b.Run(kind+"/Local", func(b *testing.B) {
			st := newLocalStore(b)
			d := mustAdd(b, st, benchData[kind](3, n))
			b.SetBytes(int64(n))
			for b.Loop() {
				rc, _, err := Open(context.Background(), st, d)
				if err != nil {
					b.Fatal(err)
				}
				if _, err := io.Copy(io.Discard, rc); err != nil {
					b.Fatal(err)
				}
				rc.Close()
			}
		})
	}
}

// BenchmarkChunker measures content-defined chunking alone.
func BenchmarkChunker(b *testing.B) {
	n := *benchMiB << 20
	data := randBytes(4, n)
	b.SetBytes(int64(n))
	for b.Loop() {
		c := newChunker(context.Background(), bytes.NewReader(data), defaultParams, nil)
		for {
			_, seg, err := c.next()
			if err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
			seg.release()
		}
		c.release()
	}
}

// BenchmarkCopy measures copying a blob between two Local stores.
func BenchmarkCopy(b *testing.B) {
	n := *benchMiB << 20
	src := newLocalStore(b)
	d := mustAdd(b, src, randBytes(5, n))
	b.SetBytes(int64(n))
	for b.Loop() {
		b.StopTimer()
		dst := newLocalStore(b)
		b.StartTimer()
		if _, err := Copy(context.Background(), src, dst, []Digest{d}, CopyOptions{}); err != nil {
			b.Fatal(err)
		}
	}
}
