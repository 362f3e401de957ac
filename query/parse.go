package query

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"
)

// ErrInvalid is wrapped by every *Error: errors.Is(err, query.ErrInvalid)
// tells a bad filter or order_by clause (INVALID_PARAMETER_VALUE on the
// server, exit code 2 in the CLI) from other failures.
var ErrInvalid = errors.New("invalid search expression")

// Error is a filter or order_by clause that does not parse or does not fit
// the kind's schema.
type Error struct {
	// Input is the text that was parsed.
	Input string
	// Pos is the byte offset in Input of the offending token, or -1 when the
	// error is not about one place (a duplicate order_by field).
	Pos int
	// Token is the offending token as written, "" at the end of the input.
	Token string
	// Msg says what is wrong in MLflow's words where MLflow has them, e.g.
	// "Invalid attribute key 'foo' specified. Valid keys are: ...".
	Msg string
}

// Error returns Msg followed by the position, e.g.
// "Invalid comparator '>' for param 'optimizer': only =, !=, LIKE, ILIKE,
// IS NULL, IS NOT NULL are allowed (at position 17)".
func (e *Error) Error() string {
	if e.Pos < 0 {
		return e.Msg
	}
	return fmt.Sprintf("%s (at position %d)", e.Msg, e.Pos)
}

// Unwrap returns ErrInvalid.
func (e *Error) Unwrap() error { return ErrInvalid }

// ParseFilter parses a search filter for kind: comparisons joined by AND.
// An empty or blank string yields a filter that matches everything. Errors
// are of type *Error.
func ParseFilter(kind Kind, s string) (*Filter, error) {
	p, err := newParser(kind, s)
	if err != nil {
		return nil, err
	}
	f := &Filter{kind: kind}
	p.skipSpace()
	for !p.eof() {
		c, err := p.clause()
		if err != nil {
			return nil, err
		}
		f.Clauses = append(f.Clauses, c)
		p.skipSpace()
		if p.eof() {
			break
		}
		start := p.pos
		word := p.word()
		switch keyword(word) {
		case "AND":
			p.skipSpace()
			if p.eof() {
				return nil, p.errAt(p.pos, "Expected a comparison after AND, found end of input")
			}
		case "OR":
			return nil, p.errAt(start, "Invalid clause(s) in filter string: '%s'. OR is not supported: a filter is comparisons joined by AND", word)
		default:
			p.pos = start
			if p.peek() == ';' {
				return nil, p.errAt(start, "Search filter contained multiple expressions. Provide an AND-ed expression list")
			}
			return nil, p.errAt(start, "Expected AND or the end of the filter after '%s', found %s", c.String(), p.describe(start))
		}
	}
	f.compile()
	return f, nil
}

type parser struct {
	src string
	pos int
	sch *schema
}

func newParser(kind Kind, s string) (*parser, error) {
	sch := schemaOf(kind)
	if sch == nil {
		return nil, &Error{Input: s, Pos: -1, Msg: fmt.Sprintf("unknown search kind %d", int(kind))}
	}
	return &parser{src: s, sch: sch}, nil
}

func (p *parser) errAt(pos int, format string, args ...any) *Error {
	return &Error{Input: p.src, Pos: pos, Token: p.token(pos), Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) eof() bool { return p.pos >= len(p.src) }

func (p *parser) peek() byte {
	if p.eof() {
		return 0
	}
	return p.src[p.pos]
}

func (p *parser) peekRune() rune {
	if p.eof() {
		return utf8.RuneError
	}
	r, _ := utf8.DecodeRuneInString(p.src[p.pos:])
	return r
}

func (p *parser) skipSpace() {
	for !p.eof() {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if !unicode.IsSpace(r) {
			return
		}
		p.pos += w
	}
}

// word consumes a run of identifier characters (letters, digits, '_', '.').
func (p *parser) word() string {
	start := p.pos
	for !p.eof() {
		r, w := utf8.DecodeRuneInString(p.src[p.pos:])
		if (r == utf8.RuneError && w == 1) || !isIdentRune(r) {
			break
		}
		p.pos += w
	}
	return p.src[start:p.pos]
}

// token returns the token starting at pos, for error reports.
func (p *parser) token(pos int) string {
	if pos < 0 || pos >= len(p.src) {
		return ""
	}
	q := &parser{src: p.src, pos: pos}
	switch c := p.src[pos]; {
	case c == '\'' || c == '"' || c == '`':
		if _, err := q.quoted(); err != nil {
			return p.src[pos:]
		}
		return p.src[pos:q.pos]
	case c == '-' || c == '+' || c == '.' || ('0' <= c && c <= '9'):
		q.pos++
		q.word()
		return p.src[pos:q.pos]
	}
	if w := q.word(); w != "" {
		return w
	}
	for _, op := range []string{"!=", "<>", "<=", ">=", "=="} {
		if strings.HasPrefix(p.src[pos:], op) {
			return op
		}
	}
	_, w := utf8.DecodeRuneInString(p.src[pos:])
	return p.src[pos : pos+w]
}

// describe quotes the token at pos for "found ..." in messages.
func (p *parser) describe(pos int) string {
	t := p.token(pos)
	if t == "" {
		return "end of input"
	}
	if r, _ := utf8.DecodeRuneInString(t); unicode.IsSpace(r) {
		return "a space"
	}
	if c := t[0]; c == '\'' || c == '"' || c == '`' {
		return t // a quoted token speaks for itself
	}
	return "'" + t + "'"
}

// keyword returns w in upper case if it is made of ASCII letters only, so
// that keywords are matched case-insensitively but not through Unicode case
// mappings ("ın" is not IN), and "" otherwise.
func keyword(w string) string {
	for i := 0; i < len(w); i++ {
		if c := w[i] | 0x20; c < 'a' || c > 'z' {
			return ""
		}
	}
	return strings.ToUpper(w) // no allocation when w is upper case already
}

// quoted consumes a literal in ', " or ` quotes, where a doubled quote
// stands for itself, and returns its contents.
func (p *parser) quoted() (string, error) {
	start := p.pos
	q := p.src[p.pos]
	p.pos++
	// Fast path: no doubled quote, the contents are a substring of src.
	if i := strings.IndexByte(p.src[p.pos:], q); i >= 0 {
		if j := p.pos + i + 1; j >= len(p.src) || p.src[j] != q {
			s := p.src[p.pos : p.pos+i]
			p.pos = j
			return s, nil
		}
	}
	var b strings.Builder
	for {
		i := strings.IndexByte(p.src[p.pos:], q)
		if i < 0 {
			p.pos = start
			what := "string"
			if q == '`' {
				what = "identifier"
			}
			return "", &Error{Input: p.src, Pos: start, Token: p.src[start:],
				Msg: fmt.Sprintf("Unterminated quoted %s: missing closing %c", what, q)}
		}
		b.WriteString(p.src[p.pos : p.pos+i])
		p.pos += i + 1
		if p.peek() != q {
			return b.String(), nil
		}
		b.WriteByte(q)
		p.pos++
	}
}

// ident is a parsed left-hand side.
type ident struct {
	entity Entity
	key    string // canonical
	attr   attrSpec
}

// String returns the identifier as written by Filter.String.
func (id ident) String() string { return displayIdent(id.entity, id.key) }

// ident parses entity.key, `entity`.key, entity.`key`, entity."key", a bare
// attribute name or a quoted attribute name, and checks it against the
// schema (order selects the order_by rules).
func (p *parser) ident(order bool) (ident, error) {
	start := p.pos
	var entityWord, key string
	hasEntity := false
	entityPos, keyPos := start, start

	switch c := p.peek(); {
	case p.eof():
		return ident{}, p.errAt(start, "Expected an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute name, found end of input")
	case c == '`' || c == '"':
		s, err := p.quoted()
		if err != nil {
			return ident{}, err
		}
		if c == '`' && p.peek() == '.' {
			// `metrics`.key
			entityWord, hasEntity = s, true
			p.pos++
			keyPos = p.pos
			k, err := p.keyAfterDot(p.src[start:p.pos])
			if err != nil {
				return ident{}, err
			}
			key = k
		} else {
			key = s
		}
	case c == '(':
		return ident{}, p.errAt(start, "Parentheses are not supported: a filter is comparisons joined by AND")
	default:
		r := p.peekRune()
		if r != '_' && !unicode.IsLetter(r) {
			return ident{}, p.errAt(start, "Expected an identifier such as metrics.<key>, params.<key>, tags.<key> or an attribute name, found %s", p.describe(start))
		}
		w := p.word()
		if dot := strings.IndexByte(w, '.'); dot >= 0 {
			entityWord, hasEntity = w[:dot], true
			key = w[dot+1:]
			keyPos = start + dot + 1
			if key == "" {
				k, err := p.keyAfterDot(w)
				if err != nil {
					return ident{}, err
				}
				key = k
			}
		} else {
			switch keyword(w) {
			case "AND", "OR", "NOT", "IN", "LIKE", "ILIKE", "IS", "NULL":
				return ident{}, p.errAt(start, "Expected an identifier, found keyword '%s'", w)
			}
			key = w
		}
	}

	id := ident{entity: Attribute}
	if hasEntity {
		e, ok := entityWords[entityWord]
		if !ok {
			return ident{}, p.errAt(entityPos, "Invalid entity type '%s'. Valid values for %s are %s", entityWord, p.sch.name, p.sch.entityNames(order))
		}
		id.entity = e
	}
	if !p.sch.allows(id.entity, order) {
		what := "entity type"
		if order {
			what = "order_by entity"
		}
		return ident{}, p.errAt(entityPos, "Invalid %s '%s' for %s. Valid values are %s", what, id.entity, p.sch.name, p.sch.entityNames(order))
	}
	if key == "" {
		return ident{}, p.errAt(keyPos, "Invalid identifier '%s': the key is empty", p.src[start:p.pos])
	}
	switch id.entity {
	case Attribute:
		a, ok := p.sch.attr(key, order)
		if !ok {
			return ident{}, p.errAt(keyPos, "Invalid attribute key '%s' specified. Valid keys are: %s", key, p.sch.attrNames(order))
		}
		id.attr = a
		key = a.name
	case Dataset:
		valid := false
		for _, k := range datasetKeys {
			valid = valid || k == key
		}
		if !valid {
			return ident{}, p.errAt(keyPos, "Invalid dataset key '%s' specified. Valid keys are: %s", key, strings.Join(datasetKeys, ", "))
		}
	}
	id.key = key
	return id, nil
}

// keyAfterDot parses the key right after "entity." when it is quoted (with
// backticks, double or, as MLflow also strips them, single quotes) or, after
// a backticked entity, plain.
func (p *parser) keyAfterDot(prefix string) (string, error) {
	switch p.peek() {
	case '`', '"', '\'':
		return p.quoted()
	}
	if w := p.word(); w != "" {
		return w, nil
	}
	return "", p.errAt(p.pos, "Invalid identifier '%s': expected a key after the dot, found %s", prefix, p.describe(p.pos))
}

// comparator parses a comparison operator.
func (p *parser) comparator(id ident) (Op, error) {
	start := p.pos
	if p.eof() {
		return 0, p.errAt(start, "Expected a comparison operator after '%s', found end of input", displayIdent(id.entity, id.key))
	}
	rest := p.src[p.pos:]
	switch {
	case strings.HasPrefix(rest, "=="):
		return 0, p.errAt(start, "Invalid comparator '=='; use '='")
	case strings.HasPrefix(rest, "<>"):
		return 0, p.errAt(start, "Invalid comparator '<>'; use '!='")
	}
	for _, s := range []struct {
		text string
		op   Op
	}{{">=", Ge}, {"<=", Le}, {"!=", Ne}, {">", Gt}, {"<", Lt}} {
		if strings.HasPrefix(rest, s.text) {
			p.pos += len(s.text)
			return s.op, nil
		}
	}
	if strings.HasPrefix(rest, "=") {
		p.pos++
		return Eq, nil
	}
	w := p.word()
	switch keyword(w) {
	case "LIKE":
		return Like, nil
	case "ILIKE":
		return ILike, nil
	case "IN":
		return In, nil
	case "NOT":
		p.skipSpace()
		at := p.pos
		w2 := p.word()
		switch keyword(w2) {
		case "IN":
			return NotIn, nil
		case "LIKE", "ILIKE":
			return 0, p.errAt(start, "Invalid comparator 'NOT %s': NOT LIKE is not supported", keyword(w2))
		}
		return 0, p.errAt(at, "Expected IN after NOT, found %s", p.describe(at))
	case "IS":
		p.skipSpace()
		at := p.pos
		w2 := keyword(p.word())
		if w2 == "NULL" {
			return IsNull, nil
		}
		if w2 == "NOT" {
			p.skipSpace()
			at = p.pos
			if keyword(p.word()) == "NULL" {
				return IsNotNull, nil
			}
		}
		return 0, p.errAt(at, "Expected NULL or NOT NULL after IS, found %s", p.describe(at))
	}
	p.pos = start
	msg := fmt.Sprintf("Expected a comparison operator after '%s', found %s", displayIdent(id.entity, id.key), p.describe(start))
	if c := p.peek(); c == '-' || c == '/' || c == ':' || isIdentRune(p.peekRune()) {
		msg += "; quote keys with special characters in backticks, e.g. tags.`my-key`"
	}
	return 0, p.errAt(start, "%s", msg)
}

// clause parses one comparison of a filter.
func (p *parser) clause() (Clause, error) {
	id, err := p.ident(false)
	if err != nil {
		return Clause{}, err
	}
	p.skipSpace()
	opPos := p.pos
	op, err := p.comparator(id)
	if err != nil {
		return Clause{}, err
	}
	allowed := p.sch.ops(id.entity, id.attr)
	if !containsOp(allowed, op) {
		msg := fmt.Sprintf("Invalid comparator '%s' for %s '%s': only %s are allowed", op, id.entity.singular(), id.key, joinOps(allowed))
		if (op == In || op == NotIn) && id.entity == Attribute && !id.attr.numeric {
			msg += "; IN and NOT IN take a list for " + p.listAttrs()
		}
		return Clause{}, p.errAt(opPos, "%s", msg)
	}
	c := Clause{Entity: id.entity, Key: id.key, Op: op}
	name := id // formatted only if there is an error
	p.skipSpace()
	vpos := p.pos
	switch {
	case op == IsNull || op == IsNotNull:
	case op == In || op == NotIn:
		if p.peek() != '(' {
			return Clause{}, p.errAt(vpos, "Expected a list of quoted strings such as ('a', 'b') after %s %s, found %s", name, op, p.describe(vpos))
		}
		list, err := p.list(name)
		if err != nil {
			return Clause{}, err
		}
		c.List = list
	case c.numeric():
		n, err := p.number(name)
		if err != nil {
			return Clause{}, err
		}
		c.Num = n
	default:
		switch p.peek() {
		case '\'', '"':
			s, err := p.quoted()
			if err != nil {
				return Clause{}, err
			}
			c.Str = s
		case '(':
			return Clause{}, p.errAt(vpos, "Expected a quoted string value for %s, found a list; use IN or NOT IN to compare with a list", name)
		default:
			return Clause{}, p.errAt(vpos, "Expected a quoted string value for %s (e.g. 'my-value'), found %s", name, p.describe(vpos))
		}
	}
	return c, nil
}

func (p *parser) listAttrs() string {
	var names []string
	for _, a := range p.sch.attrs {
		if a.list && a.filter {
			names = append(names, a.name)
		}
	}
	if len(names) == 0 {
		return "no attribute of " + p.sch.name
	}
	return "attribute " + strings.Join(names, ", ") + " only"
}

// number parses a numeric literal: an optional sign, digits with an
// optional fraction, an optional exponent.
func (p *parser) number(name ident) (float64, error) {
	start := p.pos
	bad := func() error {
		p.pos = start
		return p.errAt(start, "Expected a numeric value for %s, found %s", name, p.describe(start))
	}
	if c := p.peek(); c == '+' || c == '-' {
		p.pos++
	}
	digits := p.digits()
	if p.peek() == '.' {
		p.pos++
		digits += p.digits()
	}
	if digits == 0 {
		return 0, bad()
	}
	if c := p.peek(); c == 'e' || c == 'E' {
		p.pos++
		if c := p.peek(); c == '+' || c == '-' {
			p.pos++
		}
		if p.digits() == 0 {
			return 0, bad()
		}
	}
	if !p.eof() {
		if r := p.peekRune(); isIdentRune(r) {
			return 0, bad()
		}
	}
	n, err := strconv.ParseFloat(p.src[start:p.pos], 64)
	if err != nil && !errors.Is(err, strconv.ErrRange) {
		return 0, bad()
	}
	// Out-of-range literals become ±Inf (or 0), as Python's float() does.
	return n, nil
}

func (p *parser) digits() int {
	n := 0
	for !p.eof() && '0' <= p.src[p.pos] && p.src[p.pos] <= '9' {
		p.pos++
		n++
	}
	return n
}

// list parses ('a', "b", ...): a non-empty list of quoted strings.
func (p *parser) list(name ident) ([]string, error) {
	open := p.pos
	p.pos++ // '('
	var out []string
	for {
		p.skipSpace()
		at := p.pos
		switch p.peek() {
		case '\'', '"':
			s, err := p.quoted()
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		case ')':
			if len(out) == 0 {
				return nil, p.errAt(open, "Expected a non-empty list of quoted strings for %s, found an empty list", name)
			}
			return nil, p.errAt(at, "Expected a quoted string after ',' in the list for %s, found ')'", name)
		default:
			if p.eof() {
				return nil, p.errAt(open, "Unterminated list for %s: missing ')'", name)
			}
			return nil, p.errAt(at, "Expected a quoted string in the list for %s, found %s", name, p.describe(at))
		}
		p.skipSpace()
		switch p.peek() {
		case ',':
			p.pos++
		case ')':
			p.pos++
			return out, nil
		default:
			if p.eof() {
				return nil, p.errAt(open, "Unterminated list for %s: missing ')'", name)
			}
			return nil, p.errAt(p.pos, "Expected ',' or ')' in the list for %s, found %s", name, p.describe(p.pos))
		}
	}
}

func containsOp(ops []Op, op Op) bool {
	for _, o := range ops {
		if o == op {
			return true
		}
	}
	return false
}

func joinOps(ops []Op) string {
	s := make([]string, len(ops))
	for i, o := range ops {
		s[i] = o.String()
	}
	return strings.Join(s, ", ")
}
