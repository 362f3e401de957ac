package repo

import (
	"os"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

func BenchmarkFixtureGetRun(b *testing.B) {
	dir := os.Getenv("MLGIT_FIXTURE")
	if dir == "" {
		b.Skip("MLGIT_FIXTURE not set")
	}
	id, _ := os.ReadFile(dir + ".id")
	for i := 0; i < b.N; i++ {
		r, err := Open(dir, Options{})
		if err != nil {
			b.Fatal(err)
		}
		if _, err := r.LogBatch(string(id[:32]), Batch{Metrics: []manifest.MetricPoint{{Key: "x", Value: 1}}}); err != nil {
			b.Fatal(err)
		}
		r.Close()
	}
}
