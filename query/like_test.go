package query

import (
	"math/rand/v2"
	"strings"
	"testing"
	"time"
	"unicode"
)

func TestLike(t *testing.T) {
	tests := []struct {
		pattern, s  string
		like, ilike bool
	}{
		{"", "", true, true},
		{"", "a", false, false},
		{"%", "", true, true},
		{"%", "anything", true, true},
		{"%%", "", true, true},
		{"_", "", false, false},
		{"_", "a", true, true},
		{"_", "ab", false, false},
		{"_", "é", true, true}, // one character, two bytes
		{"__", "é", false, false},
		{"a", "a", true, true},
		{"a", "A", false, true},
		{"abc", "abcd", false, false},
		{"abc", "xabc", false, false},
		{"a%", "abc", true, true},
		{"a%", "ba", false, false},
		{"%c", "abc", true, true},
		{"%c", "cb", false, false},
		{"%b%", "abc", true, true},
		{"%b%", "ac", false, false},
		{"a%c", "ac", true, true},
		{"a%c", "abbbc", true, true},
		{"a%c", "abcb", false, false},
		{"a%a", "a", false, false}, // prefix and suffix must not overlap
		{"a%a", "aa", true, true},
		{"%a%a%", "a", false, false},
		{"%a%a%", "aba", true, true},
		{"a_c", "abc", true, true},
		{"a_c", "ac", false, false},
		{"%_%", "", false, false},
		{"%_%", "x", true, true},
		{"%a_c%", "xxabcxx", true, true},
		{"%a_c%", "xxacxx", false, false},
		{"%a%a%a%a%b", strings.Repeat("a", 50), false, false},
		{"%a%a%a%a%b", strings.Repeat("a", 50) + "b", true, true},
		// Regular-expression metacharacters and backslashes are literal.
		{".*", "abc", false, false},
		{".*", ".*", true, true},
		{"a+b", "aab", false, false},
		{"a+b", "a+b", true, true},
		{"(x)|[y]^$", "(x)|[y]^$", true, true},
		{`\%`, `\anything`, true, true},
		{`\_`, `\x`, true, true},
		{`a\b`, `a\b`, true, true},
		// Case folding.
		{"ML%", "ml-platform", false, true},
		{"%ПРИВЕТ%", "ну привет!", false, true},
		{"straße", "STRASSE", false, false}, // simple folding only: ß is not SS
		{"k", "\u212a", false, true},        // KELVIN SIGN folds to k
		{"%σ", "ΟΔΟΣ", false, true},         // final sigma folds with Σ
		{"Ǆ_", "ǆx", false, true},
	}
	for _, tt := range tests {
		if got := compileLike(tt.pattern, false).match(tt.s); got != tt.like {
			t.Errorf("%q LIKE %q = %v, want %v", tt.s, tt.pattern, got, tt.like)
		}
		if got := compileLike(tt.pattern, true).match(tt.s); got != tt.ilike {
			t.Errorf("%q ILIKE %q = %v, want %v", tt.s, tt.pattern, got, tt.ilike)
		}
	}
}

// refLike is an obviously correct dynamic-programming LIKE over runes.
func refLike(pattern, s string, fold bool) bool {
	p, r := []rune(pattern), []rune(s)
	// m[j] reports whether p[:i] matches r[:j].
	m := make([]bool, len(r)+1)
	m[0] = true
	for i := range p {
		next := make([]bool, len(r)+1)
		for j := 0; j <= len(r); j++ {
			switch {
			case p[i] == '%':
				next[j] = m[j] || (j > 0 && next[j-1])
			case j == 0:
			case p[i] == '_':
				next[j] = m[j-1]
			default:
				a, b := p[i], r[j-1]
				eq := a == b || (fold && (unicode.ToLower(a) == unicode.ToLower(b) || unicode.ToUpper(a) == unicode.ToUpper(b)))
				next[j] = m[j-1] && eq
			}
		}
		m = next
	}
	return m[len(r)]
}

// TestLikeAgainstReference compares the segment matcher with the DP
// reference on random patterns and strings over a small alphabet, where
// overlaps and repetitions are common.
func TestLikeAgainstReference(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	patAlphabet := []rune("ab%_Aé")
	strAlphabet := []rune("abAÉé")
	gen := func(alpha []rune, n int) string {
		var b strings.Builder
		for range rng.IntN(n + 1) {
			b.WriteRune(alpha[rng.IntN(len(alpha))])
		}
		return b.String()
	}
	for range 20000 {
		p, s := gen(patAlphabet, 7), gen(strAlphabet, 9)
		for _, fold := range []bool{false, true} {
			if got, want := compileLike(p, fold).match(s), refLike(p, s, fold); got != want {
				t.Fatalf("%q LIKE %q (fold %v) = %v, reference says %v", s, p, fold, got, want)
			}
		}
	}
}

// TestLikeNoBacktracking matches patterns that make backtracking matchers
// exponential against long inputs; the matcher must stay fast.
func TestLikeNoBacktracking(t *testing.T) {
	s := strings.Repeat("a", 100_000)
	pats := []string{
		"%a%a%a%a%a%a%a%a%a%a%b",
		"%_a%_a%_a%_a%_a%_a%_b",
		strings.Repeat("%a", 200) + "%b",
	}
	start := time.Now()
	for _, p := range pats {
		for _, fold := range []bool{false, true} {
			if compileLike(p, fold).match(s) {
				t.Errorf("%q matched a string without b", p)
			}
			if !compileLike(p, fold).match(s + "b") {
				t.Errorf("%q did not match a string ending in b", p)
			}
		}
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("pathological patterns took %v", d)
	}
}
