package query

import (
	"errors"
	"reflect"
	"strings"
	"testing"
)

// kinds is the number of Kind values; fuzz inputs pick one modulo kinds.
const kinds = int(LoggedModels) + 1

// checkError checks the invariants of a parse error.
func checkError(t *testing.T, s string, err error) {
	t.Helper()
	var qe *Error
	if !errors.As(err, &qe) || !errors.Is(err, ErrInvalid) {
		t.Fatalf("%q: error %T %v is not a *Error wrapping ErrInvalid", s, err, err)
	}
	if qe.Input != s || qe.Msg == "" {
		t.Fatalf("%q: bad error %+v", s, qe)
	}
	if qe.Pos < -1 || qe.Pos > len(s) {
		t.Fatalf("%q: position %d out of range", s, qe.Pos)
	}
	if qe.Pos >= 0 && !strings.HasPrefix(s[qe.Pos:], qe.Token) {
		t.Fatalf("%q: token %q is not at position %d", s, qe.Token, qe.Pos)
	}
}

// FuzzParseFilter checks that ParseFilter never panics, that its errors are
// well-formed, and that an accepted filter's String form parses back to an
// equal filter whose String form is the same (canonical).
func FuzzParseFilter(f *testing.F) {
	f.Add(uint8(Runs), "metrics.acc > 0.9 AND params.optimizer = 'adam'")
	f.Add(uint8(LoggedModels), "params.model_type IN ('xgb', 'lgbm')")
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := Kind(int(k) % kinds)
		flt, err := ParseFilter(kind, s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		out := flt.String()
		flt2, err := ParseFilter(kind, out)
		if err != nil {
			t.Fatalf("%v %q: String() = %q does not parse: %v", kind, s, out, err)
		}
		if !reflect.DeepEqual(flt.Clauses, flt2.Clauses) {
			t.Fatalf("%v %q: String() = %q parses to\n%#v, want\n%#v", kind, s, out, flt2.Clauses, flt.Clauses)
		}
		if out2 := flt2.String(); out2 != out {
			t.Fatalf("%v %q: String() not canonical: %q then %q", kind, s, out, out2)
		}
		// Evaluation must not panic either.
		flt.Match(runA)
		flt.Match(runB)
		flt.Match(&testRow{})
	})
}

// FuzzParseOrderBy checks that ParseOrderBy never panics and that an
// accepted clause's String form parses back to the same Order.
func FuzzParseOrderBy(f *testing.F) {
	f.Add(uint8(Runs), "metrics.acc DESC")
	f.Add(uint8(RegisteredModels), "timestamp desc")
	f.Fuzz(func(t *testing.T, k uint8, s string) {
		kind := Kind(int(k) % kinds)
		o, err := ParseOrderBy(kind, s)
		if err != nil {
			checkError(t, s, err)
			return
		}
		out := o.String()
		o2, err := ParseOrderBy(kind, out)
		if err != nil {
			t.Fatalf("%v %q: String() = %q does not parse: %v", kind, s, out, err)
		}
		if o2 != o {
			t.Fatalf("%v %q: String() = %q parses to %+v, want %+v", kind, s, out, o2, o)
		}
		Compare(runA, runB, []Order{o})
	})
}
