package query

import (
	"maps"
	"math"
	"slices"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Row is one searched object (a run, an experiment, a model version, ...)
// as seen by Filter.Match and Compare. Implementations are typically thin
// adapters over a manifest; they must be safe to call repeatedly and should
// not allocate more than needed, as a search calls them once per clause and
// object.
type Row interface {
	// Metric returns the latest value of the metric key and whether the
	// object has that metric. The value may be NaN or ±Inf.
	Metric(key string) (float64, bool)
	// Param returns the value of the param key and whether it is set.
	Param(key string) (string, bool)
	// Tag returns the value of the tag key and whether it is set.
	Tag(key string) (string, bool)
	// Attr returns the attribute with the given canonical name (see
	// FilterAttributes and OrderAttributes; aliases are already resolved)
	// and false if the object has no value for it, e.g. end_time of a
	// running run. Numeric attributes should be returned with IsNum set;
	// a numeric string is accepted too.
	Attr(name string) (Value, bool)
	// Datasets returns the object's dataset inputs, or nil.
	Datasets() []DatasetInput
}

// Value is an attribute value: a number when IsNum is set, else the string
// Str.
type Value struct {
	Str   string
	Num   float64
	IsNum bool
}

// StrValue returns a string Value.
func StrValue(s string) Value { return Value{Str: s} }

// NumValue returns a numeric Value.
func NumValue(n float64) Value { return Value{Num: n, IsNum: true} }

// num returns the value as a number, parsing Str if needed.
func (v Value) num() (float64, bool) {
	if v.IsNum {
		return v.Num, true
	}
	n, err := strconv.ParseFloat(strings.TrimSpace(v.Str), 64)
	if err != nil {
		return 0, false
	}
	return n, true
}

// str returns the value as a string, formatting Num if needed.
func (v Value) str() string {
	if v.IsNum {
		return formatNum(v.Num)
	}
	return v.Str
}

// DatasetInput is a dataset a run used. Context is the value of the
// mlflow.data.context tag ("training", "eval", ...); empty means the input
// has no context, and such inputs never match a datasets.context clause.
type DatasetInput struct {
	Name    string
	Digest  string
	Context string
}

// Clause is one comparison of a filter: Entity.Key Op value. The value is
// Num for metrics and numeric attributes, Str for string comparisons and
// LIKE/ILIKE patterns, List for IN and NOT IN, and nothing for IS NULL and
// IS NOT NULL. Key is canonical: attribute aliases are resolved ("created"
// is "start_time").
type Clause struct {
	Entity Entity
	Key    string
	Op     Op
	Str    string
	Num    float64
	List   []string
}

// numeric reports whether the clause compares numbers.
func (c *Clause) numeric() bool {
	return c.Entity == Metric || (c.Entity == Attribute && isNumericAttr(c.Key))
}

// String returns the clause in canonical form, e.g. "metrics.acc > 0.9" or
// "tags.`my-key` LIKE 'ml%'". The result parses back to the same clause.
func (c Clause) String() string {
	var b strings.Builder
	c.write(&b)
	return b.String()
}

func (c *Clause) write(b *strings.Builder) {
	writeIdent(b, c.Entity, c.Key)
	b.WriteByte(' ')
	b.WriteString(c.Op.String())
	switch c.Op {
	case IsNull, IsNotNull:
		return
	case In, NotIn:
		b.WriteString(" (")
		for i, s := range c.List {
			if i > 0 {
				b.WriteString(", ")
			}
			writeString(b, s)
		}
		b.WriteByte(')')
		return
	}
	b.WriteByte(' ')
	if c.numeric() {
		b.WriteString(formatNum(c.Num))
	} else {
		writeString(b, c.Str)
	}
}

// Filter is a conjunction of clauses. The zero Filter (and a nil *Filter)
// matches everything. A Filter is safe for concurrent use by multiple
// goroutines once built.
type Filter struct {
	Clauses []Clause
	// kind is what the filter searches (ParseFilter's kind).
	kind Kind

	// pats caches compiled LIKE patterns, parallel to Clauses. Entries are
	// only used while they still match the clause, so editing Clauses after
	// parsing stays correct.
	pats []*likePattern
}

// String returns the filter in canonical form: clauses in order, joined by
// " AND ", with canonical prefixes (metrics., params., tags., attributes.,
// datasets.), keys quoted with backticks when they are not plain, strings in
// single quotes, and canonical attribute names. An empty filter is "".
// ParseFilter(kind, f.String()) returns an equal filter.
func (f *Filter) String() string {
	if f == nil {
		return ""
	}
	var b strings.Builder
	for i := range f.Clauses {
		if i > 0 {
			b.WriteString(" AND ")
		}
		f.Clauses[i].write(&b)
	}
	return b.String()
}

// PromptTag marks a registered model that is an MLflow prompt. MLflow 3's
// clients add tags.`mlflow.prompt.is_prompt` != 'true' to every search of
// registered models and model versions, and MLflow's servers read it as
// "is not a prompt": true for a model without the tag.
const PromptTag = "mlflow.prompt.is_prompt"

// Match reports whether r satisfies every clause of f.
//
// A comparison on a metric, param, tag or attribute r lacks is false, with
// any comparator including != and NOT IN (MLflow's SQL store joins these
// tables), but for tags.`mlflow.prompt.is_prompt` != ... in a search of
// registered models or model versions, which is true without the tag
// (PromptTag). IS NULL is true exactly when the value is missing. NaN metrics
// follow IEEE 754: = < <= > >= are false and != is true. A dataset clause
// holds if any of r's dataset inputs satisfies it.
func (f *Filter) Match(r Row) bool {
	if f == nil {
		return true
	}
	for i := range f.Clauses {
		if !f.matchClause(i, r) {
			return false
		}
	}
	return true
}

func (f *Filter) matchClause(i int, r Row) bool {
	c := &f.Clauses[i]
	switch c.Entity {
	case Metric:
		v, ok := r.Metric(c.Key)
		return matchNum(c, v, ok, ok)
	case Param:
		v, ok := r.Param(c.Key)
		return f.matchStr(i, v, ok)
	case Tag:
		v, ok := r.Tag(c.Key)
		if !ok && c.Op == Ne && c.Key == PromptTag && (f.kind == RegisteredModels || f.kind == ModelVersions) {
			// "Not a prompt": a model without the tag is not one.
			return true
		}
		return f.matchStr(i, v, ok)
	case Attribute:
		v, ok := r.Attr(c.Key)
		if isNumericAttr(c.Key) {
			n, isNum := v.num()
			return matchNum(c, n, ok, ok && isNum)
		}
		return f.matchStr(i, v.str(), ok)
	case Dataset:
		for _, d := range r.Datasets() {
			var s string
			switch c.Key {
			case "name":
				s = d.Name
			case "digest":
				s = d.Digest
			case "context":
				if d.Context == "" {
					continue
				}
				s = d.Context
			default:
				return false
			}
			if f.matchStr(i, s, true) {
				return true
			}
		}
	}
	return false
}

// matchNum evaluates a numeric clause. present says whether the row has the
// value at all (for IS NULL); usable says whether v is a number.
func matchNum(c *Clause, v float64, present, usable bool) bool {
	switch c.Op {
	case IsNull:
		return !present
	case IsNotNull:
		return present
	}
	if !usable {
		return false
	}
	switch c.Op {
	case Eq:
		return v == c.Num
	case Ne:
		return v != c.Num
	case Gt:
		return v > c.Num
	case Ge:
		return v >= c.Num
	case Lt:
		return v < c.Num
	case Le:
		return v <= c.Num
	}
	return false
}

func (f *Filter) matchStr(i int, v string, ok bool) bool {
	c := &f.Clauses[i]
	switch c.Op {
	case IsNull:
		return !ok
	case IsNotNull:
		return ok
	}
	if !ok {
		return false
	}
	switch c.Op {
	case Eq:
		return v == c.Str
	case Ne:
		return v != c.Str
	case Gt:
		return v > c.Str
	case Ge:
		return v >= c.Str
	case Lt:
		return v < c.Str
	case Le:
		return v <= c.Str
	case Like, ILike:
		return f.pattern(i).match(v)
	case In:
		return slices.Contains(c.List, v)
	case NotIn:
		return !slices.Contains(c.List, v)
	}
	return false
}

// pattern returns the compiled pattern of clause i, from the cache when it
// is still valid.
func (f *Filter) pattern(i int) *likePattern {
	c := &f.Clauses[i]
	fold := c.Op == ILike
	if i < len(f.pats) {
		if p := f.pats[i]; p != nil && p.fold == fold && p.src == c.Str {
			return p
		}
	}
	return compileLike(c.Str, fold)
}

// compile fills the pattern cache.
func (f *Filter) compile() {
	for i, c := range f.Clauses {
		if c.Op == Like || c.Op == ILike {
			if f.pats == nil {
				f.pats = make([]*likePattern, len(f.Clauses))
			}
			f.pats[i] = compileLike(c.Str, c.Op == ILike)
		}
	}
}

// isIdentRune reports whether r may appear in an unquoted identifier.
func isIdentRune(r rune) bool {
	return r == '_' || r == '.' || unicode.IsLetter(r) || unicode.IsDigit(r)
}

// plainKey reports whether key can be written after "entity." unquoted.
func plainKey(key string) bool {
	if key == "" {
		return false
	}
	for i := 0; i < len(key); {
		r, w := utf8.DecodeRuneInString(key[i:])
		if (r == utf8.RuneError && w == 1) || !isIdentRune(r) {
			return false
		}
		i += w
	}
	return true
}

func writeIdent(b *strings.Builder, e Entity, key string) {
	b.WriteString(e.String())
	b.WriteByte('.')
	if plainKey(key) {
		b.WriteString(key)
		return
	}
	writeQuoted(b, key, '`')
}

// writeString writes s as a single-quoted literal.
func writeString(b *strings.Builder, s string) { writeQuoted(b, s, '\'') }

func writeQuoted(b *strings.Builder, s string, q byte) {
	b.WriteByte(q)
	for i := 0; i < len(s); i++ {
		if s[i] == q {
			b.WriteByte(q)
		}
		b.WriteByte(s[i])
	}
	b.WriteByte(q)
}

// displayIdent is the identifier as shown in error messages.
func displayIdent(e Entity, key string) string {
	var b strings.Builder
	writeIdent(&b, e, key)
	return b.String()
}

// formatNum writes a number so that it parses back to the same value:
// integers below 1e15 in plain digits (timestamps stay readable), infinities
// as ±1e999, others in the shortest 'g' form.
func formatNum(n float64) string {
	switch {
	case math.IsInf(n, 1):
		return "1e999"
	case math.IsInf(n, -1):
		return "-1e999"
	case n == math.Trunc(n) && math.Abs(n) < 1e15:
		return strconv.FormatFloat(n, 'f', -1, 64)
	}
	return strconv.FormatFloat(n, 'g', -1, 64)
}

func itoa(i int) string { return strconv.Itoa(i) }

func sortedKeys(m map[string]string) []string {
	return slices.Sorted(maps.Keys(m))
}
