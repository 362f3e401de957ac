package runindex

import (
	"fmt"
	"math"
	"math/rand"
	"testing"

	"github.com/mlgit/mlgit/query"
)

// TestTopRowsMatchesSort: the top-k selection returns the first k of a
// full sort, for random rows with ties, NaN and missing values.
func TestTopRowsMatchesSort(t *testing.T) {
	rng := rand.New(rand.NewSource(3))
	for iter := 0; iter < 200; iter++ {
		n := rng.Intn(300)
		rows := make([]*MemRow, n)
		for i := range rows {
			row := &MemRow{id: fmt.Sprintf("%032x", rng.Int63()), start: int64(rng.Intn(5)), end: int64(rng.Intn(3)),
				name: []string{"a", "b", ""}[rng.Intn(3)]}
			if rng.Intn(3) > 0 {
				row.params = []kv{{keyIDs.id("p"), []string{"x", "y", ""}[rng.Intn(3)]}}
			}
			if rng.Intn(3) > 0 {
				row.tags = []kv{{keyIDs.id("t"), []string{"x", "y"}[rng.Intn(2)]}}
			}
			if rng.Intn(4) > 0 {
				v := float64(rng.Intn(10))
				if rng.Intn(10) == 0 {
					v = math.NaN()
				}
				row.metrics = []mkv{{keyIDs.id("acc"), v}}
			}
			rows[i] = row
		}
		first := []query.Order{
			{Entity: query.Metric, Key: "acc"}, {Entity: query.Param, Key: "p"}, {Entity: query.Tag, Key: "t"},
			{Entity: query.Attribute, Key: "start_time"}, {Entity: query.Attribute, Key: "end_time"},
			{Entity: query.Attribute, Key: "run_name"}, {Entity: query.Dataset, Key: "name"},
		}[rng.Intn(7)]
		first.Desc = rng.Intn(2) == 0
		orders := query.WithTieBreak(query.Runs, []query.Order{first})
		k := rng.Intn(n + 1)
		got := TopRows(append([]*MemRow(nil), rows...), k, orders)
		all := append([]*MemRow(nil), rows...)
		sortRows(all, orders)
		for i := 0; i < k; i++ {
			if got[i] != all[i] {
				t.Fatalf("n=%d k=%d: row %d differs", n, k, i)
			}
		}
	}
}

func sortRows(rows []*MemRow, orders []query.Order) {
	for i := 1; i < len(rows); i++ {
		for j := i; j > 0 && query.Compare(rows[j], rows[j-1], orders) < 0; j-- {
			rows[j], rows[j-1] = rows[j-1], rows[j]
		}
	}
}
