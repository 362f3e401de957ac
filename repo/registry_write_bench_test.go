package repo

import (
	"strconv"
	"testing"
)

// BenchmarkRegistryWrites: what a registry write costs in process on a
// fresh store, durable (its commit's objects, its tag objects and refs
// fsynced before the ref that names them): a version registered and
// promoted per op.
//
//	TMPDIR=/var/tmp go test -run '^$' -bench RegistryWrites -benchtime 200x ./repo/
func BenchmarkRegistryWrites(b *testing.B) {
	r, _ := newTestRepo(b)
	if _, err := r.CreateModel(ModelSpec{Name: "churn"}); err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	for i := 1; i <= b.N; i++ {
		if _, err := r.RegisterVersion(VersionSpec{Name: "churn", Source: "file:///m" + strconv.Itoa(i)}); err != nil {
			b.Fatal(err)
		}
		if _, err := r.Promote(PromoteSpec{Name: "churn", Version: int64(i), Stage: "Staging"}); err != nil {
			b.Fatal(err)
		}
	}
}
