package manifest

import (
	"bytes"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// fastParse parses the block-style YAML that the canonical encoder writes
// into a yaml.Node tree, an order of magnitude faster than yaml.v3's
// general parser. It understands exactly the canonical subset (two-space
// indentation, "key: value" mappings, "- " sequences, plain, single- and
// double-quoted scalars, {} and []) and reports ok=false for anything else,
// so the caller falls back to yaml.v3 and gets identical results or
// yaml.v3's error. Typing is not done here: scalars keep their style, and
// yaml.v3's Node.Decode resolves them exactly as its own parser would.
func fastParse(data []byte) (*yaml.Node, bool) {
	if len(data) == 0 || data[len(data)-1] != '\n' || bytes.IndexByte(data, '\t') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return nil, false
	}
	// yaml.v3 rejects control characters and some special code points;
	// leave such input to it.
	for _, c := range string(data) {
		if (c < 0x20 && c != '\n') || (c >= 0x7f && c <= 0x9f) || c == 0xfeff || c == 0xfffe || c == 0xffff || c == utf8.RuneError {
			return nil, false
		}
	}
	p := &fastParser{lines: bytes.Split(data[:len(data)-1], []byte{'\n'})}
	root, ok := p.mapping(0)
	if !ok || p.i != len(p.lines) {
		return nil, false
	}
	return &yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{root}}, true
}

type fastParser struct {
	lines [][]byte
	i     int
}

func indentOf(l []byte) int {
	n := 0
	for n < len(l) && l[n] == ' ' {
		n++
	}
	return n
}

// mapping parses keys at exactly indent until a line with less indentation.
func (p *fastParser) mapping(indent int) (*yaml.Node, bool) {
	m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		ind := indentOf(l)
		if ind < indent {
			break
		}
		if ind > indent || len(l) == ind {
			return nil, false
		}
		k, v, ok := p.entry(l[ind:], indent)
		if !ok {
			return nil, false
		}
		m.Content = append(m.Content, k, v)
	}
	if len(m.Content) == 0 {
		return nil, false
	}
	return m, true
}

// entry parses "key: value" or "key:" followed by a nested block; text is
// the line without its indentation. It advances past what it consumed.
func (p *fastParser) entry(text []byte, indent int) (*yaml.Node, *yaml.Node, bool) {
	var key, rest []byte
	if bytes.HasSuffix(text, []byte{':'}) && !bytes.Contains(text, []byte(": ")) {
		key = text[:len(text)-1]
	} else {
		i := bytes.Index(text, []byte(": "))
		if i <= 0 {
			return nil, nil, false
		}
		key, rest = text[:i], text[i+2:]
	}
	if !plainKey(key) {
		return nil, nil, false
	}
	k := &yaml.Node{Kind: yaml.ScalarNode, Value: string(key)}
	p.i++
	if rest == nil {
		v, ok := p.block(indent)
		return k, v, ok
	}
	v, ok := scalar(rest)
	return k, v, ok
}

// block parses the nested value after "key:": a mapping indented two more,
// or a sequence whose "- " items are indented two more.
func (p *fastParser) block(indent int) (*yaml.Node, bool) {
	if p.i >= len(p.lines) {
		return nil, false
	}
	l := p.lines[p.i]
	ind := indentOf(l)
	if ind != indent+2 {
		return nil, false
	}
	if bytes.HasPrefix(l[ind:], []byte("- ")) {
		return p.sequence(ind)
	}
	return p.mapping(ind)
}

func (p *fastParser) sequence(indent int) (*yaml.Node, bool) {
	s := &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq"}
	for p.i < len(p.lines) {
		l := p.lines[p.i]
		ind := indentOf(l)
		if ind < indent {
			break
		}
		if ind != indent || !bytes.HasPrefix(l[ind:], []byte("- ")) {
			if ind == indent {
				break
			}
			return nil, false
		}
		item := l[ind+2:]
		if isMappingLine(item) {
			// A mapping item: its first key shares the "- " line, the
			// rest are indented to line up with it.
			m := &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map"}
			k, v, ok := p.entry(item, indent+2)
			if !ok {
				return nil, false
			}
			m.Content = append(m.Content, k, v)
			for p.i < len(p.lines) {
				l2 := p.lines[p.i]
				ind2 := indentOf(l2)
				if ind2 < indent+2 || (ind2 == indent && bytes.HasPrefix(l2[ind2:], []byte("- "))) {
					break
				}
				if ind2 != indent+2 {
					return nil, false
				}
				k, v, ok := p.entry(l2[ind2:], indent+2)
				if !ok {
					return nil, false
				}
				m.Content = append(m.Content, k, v)
			}
			s.Content = append(s.Content, m)
			continue
		}
		v, ok := scalar(item)
		if !ok {
			return nil, false
		}
		s.Content = append(s.Content, v)
		p.i++
	}
	return s, len(s.Content) > 0
}

func isMappingLine(b []byte) bool {
	if len(b) == 0 || b[0] == '"' || b[0] == '\'' {
		return false
	}
	return bytes.Contains(b, []byte(": ")) || bytes.HasSuffix(b, []byte{':'})
}

// plainKey accepts keys that yaml.v3 reads as the same plain string.
func plainKey(b []byte) bool {
	// Callers have checked that the document is valid UTF-8.
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case '"', '\'', '-', '?', ':', ',', '[', ']', '{', '}', '#', '&', '*', '!', '|', '>', '%', '@', '`', ' ':
		return false
	}
	if b[len(b)-1] == ' ' {
		return false
	}
	for i, c := range b {
		switch c {
		case '{', '}', '[', ']', ',':
			return false
		case '#':
			if b[i-1] == ' ' {
				return false
			}
		}
	}
	return true
}

// scalarText is scalar without the node: the value, whether it is plain,
// and false for anything but a one-line plain, single- or double-quoted
// scalar.
func scalarText(b []byte) (string, bool, bool) {
	if len(b) == 0 {
		return "", false, false
	}
	switch b[0] {
	case '"':
		u, ok := unquoteDouble(b)
		return u, false, ok
	case '\'', '{', '[':
		n, ok := scalar(b)
		if !ok || n.Kind != yaml.ScalarNode {
			return "", false, false
		}
		return n.Value, false, true
	case '|', '>', '&', '*', '!', '%', '@', '`', '#', ' ', ',', ']', '}', '?':
		return "", false, false
	case '-', ':':
		if len(b) == 1 || b[1] == ' ' {
			return "", false, false
		}
	}
	if b[len(b)-1] == ' ' || b[len(b)-1] == ':' {
		return "", false, false
	}
	for i := 1; i < len(b); i++ {
		if (b[i] == '#' && b[i-1] == ' ') || (b[i] == ' ' && b[i-1] == ':') {
			return "", false, false
		}
	}
	return string(b), true, true
}

// scalar parses a value on one line.
func scalar(b []byte) (*yaml.Node, bool) {
	n := &yaml.Node{Kind: yaml.ScalarNode}
	if len(b) == 0 || !utf8.Valid(b) {
		return nil, false
	}
	switch b[0] {
	case '"':
		s, ok := unquoteDouble(b)
		if !ok {
			return nil, false
		}
		n.Style, n.Value, n.Tag = yaml.DoubleQuotedStyle, s, "!!str"
		return n, true
	case '\'':
		if len(b) < 2 || b[len(b)-1] != '\'' {
			return nil, false
		}
		inner := b[1 : len(b)-1]
		s := strings.ReplaceAll(string(inner), "''", "'")
		if strings.Count(string(inner), "'") != 2*strings.Count(s, "'") {
			return nil, false
		}
		n.Style, n.Value, n.Tag = yaml.SingleQuotedStyle, s, "!!str"
		return n, true
	case '{':
		if string(b) == "{}" {
			return &yaml.Node{Kind: yaml.MappingNode, Tag: "!!map", Style: yaml.FlowStyle}, true
		}
		return nil, false
	case '[':
		if string(b) == "[]" {
			return &yaml.Node{Kind: yaml.SequenceNode, Tag: "!!seq", Style: yaml.FlowStyle}, true
		}
		return nil, false
	case '|', '>', '&', '*', '!', '%', '@', '`', '#', ' ', ',', ']', '}', '?':
		return nil, false
	case '-', ':':
		if len(b) == 1 || b[1] == ' ' {
			return nil, false
		}
	}
	if b[len(b)-1] == ' ' || bytes.Contains(b, []byte(" #")) || bytes.Contains(b, []byte(": ")) || b[len(b)-1] == ':' {
		return nil, false
	}
	n.Value = string(b)
	return n, true
}

// unquoteDouble decodes a one-line YAML double-quoted scalar with the
// escapes yaml.v3 writes; anything unusual falls back.
func unquoteDouble(b []byte) (string, bool) {
	if len(b) < 2 || b[len(b)-1] != '"' {
		return "", false
	}
	in := b[1 : len(b)-1]
	if bytes.IndexByte(in, '\\') < 0 {
		if bytes.IndexByte(in, '"') >= 0 {
			return "", false
		}
		return string(in), true
	}
	var sb strings.Builder
	for i := 0; i < len(in); i++ {
		c := in[i]
		if c == '"' {
			return "", false
		}
		if c != '\\' {
			sb.WriteByte(c)
			continue
		}
		i++
		if i >= len(in) {
			return "", false
		}
		switch in[i] {
		case '0':
			sb.WriteByte(0)
		case 'a':
			sb.WriteByte('\a')
		case 'b':
			sb.WriteByte('\b')
		case 't':
			sb.WriteByte('\t')
		case 'n':
			sb.WriteByte('\n')
		case 'v':
			sb.WriteByte('\v')
		case 'f':
			sb.WriteByte('\f')
		case 'r':
			sb.WriteByte('\r')
		case 'e':
			sb.WriteByte(0x1b)
		case ' ', '"', '/', '\\':
			sb.WriteByte(in[i])
		case 'N':
			sb.WriteString("\u0085")
		case '_':
			sb.WriteString("\u00a0")
		case 'L':
			sb.WriteString("\u2028")
		case 'P':
			sb.WriteString("\u2029")
		case 'x', 'u', 'U':
			w := map[byte]int{'x': 2, 'u': 4, 'U': 8}[in[i]]
			if i+w >= len(in)+0 && i+w > len(in)-1+1 {
				return "", false
			}
			if i+1+w > len(in) {
				return "", false
			}
			v, err := strconv.ParseUint(string(in[i+1:i+1+w]), 16, 32)
			if err != nil {
				return "", false
			}
			if in[i] == 'x' {
				sb.WriteByte(byte(v))
			} else {
				if !utf8.ValidRune(rune(v)) {
					return "", false
				}
				sb.WriteRune(rune(v))
			}
			i += w
		default:
			return "", false
		}
	}
	return sb.String(), true
}

// knownFields reports whether every mapping key in n names a field of t
// (recursively), as yaml.v3's KnownFields(true) requires.
func knownFields(n *yaml.Node, t reflect.Type) bool {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch n.Kind {
	case yaml.DocumentNode:
		return len(n.Content) == 1 && knownFields(n.Content[0], t)
	case yaml.MappingNode:
		switch t.Kind() {
		case reflect.Struct:
			fields := structFields(t)
			for i := 0; i+1 < len(n.Content); i += 2 {
				ft, ok := fields[n.Content[i].Value]
				if !ok || !knownFields(n.Content[i+1], ft) {
					return false
				}
			}
			return true
		case reflect.Map:
			for i := 1; i < len(n.Content); i += 2 {
				if !knownFields(n.Content[i], t.Elem()) {
					return false
				}
			}
			return true
		case reflect.Interface:
			return true
		}
		return false
	case yaml.SequenceNode:
		if t.Kind() != reflect.Slice {
			return false
		}
		for _, c := range n.Content {
			if !knownFields(c, t.Elem()) {
				return false
			}
		}
	}
	return true
}

type fieldInfo struct {
	typ   reflect.Type
	index []int
	ord   int // position among the struct's keys, for duplicate checks
}

var fieldCache sync.Map // reflect.Type -> map[string]fieldInfo

func structFieldInfo(t reflect.Type) map[string]fieldInfo {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]fieldInfo)
	}
	m := map[string]fieldInfo{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		tag := f.Tag.Get("yaml")
		name, opts, _ := strings.Cut(tag, ",")
		if strings.Contains(opts, "inline") {
			for k, v := range structFieldInfo(f.Type) {
				m[k] = fieldInfo{typ: v.typ, index: append([]int{i}, v.index...)}
			}
			continue
		}
		if name == "-" || !f.IsExported() {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = fieldInfo{typ: f.Type, index: []int{i}}
	}
	ord := 0
	for _, k := range sortedFieldNames(m) {
		f := m[k]
		f.ord = ord
		m[k] = f
		ord++
	}
	fieldCache.Store(t, m)
	return m
}

func sortedFieldNames(m map[string]fieldInfo) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func structFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for k, v := range structFieldInfo(t) {
		out[k] = v.typ
	}
	return out
}

func isNullWord(s string) bool {
	return s == "" || s == "~" || s == "null" || s == "Null" || s == "NULL"
}

// looksNonString is true for plain scalars yaml.v3 might resolve to
// something other than a string (numbers, booleans, nulls, timestamps,
// merge keys). It errs on the side of true: the caller then falls back.
func looksNonString(s string) bool {
	if s == "" {
		return true
	}
	switch s {
	case "true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL", "~", "<<",
		".nan", ".NaN", ".NAN", ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF", "-.inf", "-.Inf", "-.INF":
		return true
	}
	c := s[0]
	if !(c >= '0' && c <= '9') && c != '+' && c != '-' && c != '.' {
		return false
	}
	plain := strings.ReplaceAll(s, "_", "")
	if _, err := strconv.ParseInt(plain, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseUint(plain, 0, 64); err == nil {
		return true
	}
	if _, err := strconv.ParseFloat(plain, 64); err == nil {
		return true
	}
	for _, p := range []string{"0b", "-0b", "0o", "-0o", "0x", "-0x", "+0"} {
		if strings.HasPrefix(plain, p) {
			return true
		}
	}
	// Timestamps start with a four-digit year and a dash.
	if len(s) >= 5 && s[4] == '-' {
		return true
	}
	return false
}

func isDecimalInt(s string) bool {
	if s == "" {
		return false
	}
	i := 0
	if s[0] == '-' {
		i = 1
	}
	if i == len(s) || (s[i] == '0' && len(s) > i+1) {
		return false
	}
	for ; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return true
}

func isDecimalFloat(s string) bool {
	if s == "" {
		return false
	}
	digits := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= '0' && c <= '9':
			digits = true
		case c == '.' || c == 'e' || c == 'E' || c == '-' || c == '+':
		default:
			return false
		}
	}
	return digits && (s[0] != '0' || len(s) == 1 || s[1] == '.' || s[1] == 'e' || s[1] == 'E')
}
