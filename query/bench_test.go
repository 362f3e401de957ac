package query

import (
	"strings"
	"testing"
)

const benchFilter = "metrics.acc > 0.9 AND params.optimizer = 'adam' AND tags.`team-x` LIKE 'ml%'"

func BenchmarkMatch(b *testing.B) {
	f := mustFilter(b, Runs, benchFilter)
	b.ReportAllocs()
	for b.Loop() {
		if !f.Match(runA) {
			b.Fatal("no match")
		}
	}
}

func BenchmarkParseFilter(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseFilter(Runs, benchFilter); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseOrderBy(b *testing.B) {
	b.ReportAllocs()
	for b.Loop() {
		if _, err := ParseOrderBy(Runs, "metrics.`val acc` DESC"); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkLikePathological(b *testing.B) {
	f := mustFilter(b, Runs, "tags.t ILIKE '%a%a%a%a%a%a%a%a%b%'")
	r := &testRow{tags: map[string]string{"t": strings.Repeat("a", 8000)}}
	b.ReportAllocs()
	for b.Loop() {
		if f.Match(r) {
			b.Fatal("match")
		}
	}
}
