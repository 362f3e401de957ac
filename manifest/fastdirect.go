package manifest

import (
	"bytes"
	"math"
	"reflect"
	"strconv"
	"unicode/utf8"
	"unsafe"
)

// directDecode decodes canonical block YAML straight into v (a pointer to
// a manifest struct) without building a node tree: the same line grammar
// as fastParse with yaml.v3's typing rules for unambiguous scalars, fused, so that a
// cold scan of 100,000 runs allocates little more than the values it
// keeps. It reports false for anything outside that subset, and the caller
// falls back (FuzzFastParse checks it against yaml.v3).
func directDecode(data []byte, v any) bool {
	if len(data) == 0 || data[len(data)-1] != '\n' || bytes.IndexByte(data, '\t') >= 0 || bytes.IndexByte(data, '\r') >= 0 {
		return false
	}
	for i := 0; i < len(data); {
		c := data[i]
		if c < utf8.RuneSelf {
			if c < 0x20 && c != '\n' || c == 0x7f {
				return false
			}
			i++
			continue
		}
		r, n := utf8.DecodeRune(data[i:])
		if (r >= 0x80 && r <= 0x9f) || r == 0xfeff || r == 0xfffe || r == 0xffff || r == utf8.RuneError {
			return false
		}
		i += n
	}
	d := &directDecoder{data: data[:len(data)-1]}
	rv := reflect.ValueOf(v)
	if rv.Kind() != reflect.Pointer || rv.IsNil() {
		return false
	}
	return d.mapping(0, rv.Elem()) && !d.more()
}

// directDecoder walks the lines of data (the document without its final
// newline) as bytes.Split(data, "\n") would give them, without the slice.
type directDecoder struct {
	data []byte
	pos  int // start of the current line; past len(data) at the end
	next int
	text []byte // the current line, when have
	have bool
}

func (d *directDecoder) more() bool { return d.pos <= len(d.data) }

// cur returns the current line (more must be true).
func (d *directDecoder) cur() []byte {
	if !d.have {
		e := bytes.IndexByte(d.data[d.pos:], '\n')
		if e < 0 {
			e = len(d.data) - d.pos
		}
		d.text, d.next, d.have = d.data[d.pos:d.pos+e], d.pos+e+1, true
	}
	return d.text
}

func (d *directDecoder) advance() {
	d.cur()
	d.pos, d.have = d.next, false
}

// mapping decodes the keys at exactly indent into v (struct or map).
func (d *directDecoder) mapping(indent int, v reflect.Value) bool {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	// The two maps that make up most of a run (params and tags, metric
	// summaries) are decoded without reflection.
	switch v.Type() {
	case stringMapType:
		return d.stringMap(indent, v)
	case metricMapType:
		return d.metricMap(indent, v)
	}
	var fields map[string]fieldInfo
	var seen uint64
	switch v.Kind() {
	case reflect.Struct:
		fields = structFieldInfo(v.Type())
		if len(fields) > 64 {
			return false
		}
	case reflect.Map:
		if v.Type().Key().Kind() != reflect.String {
			return false
		}
		if v.IsNil() {
			v.Set(reflect.MakeMap(v.Type()))
		}
	default:
		return false
	}
	n := 0
	for d.more() {
		l := d.cur()
		ind := indentOf(l)
		if ind < indent {
			break
		}
		if ind > indent || len(l) == ind {
			return false
		}
		if !d.entry(l[ind:], indent, v, fields, &seen) {
			return false
		}
		n++
	}
	return n > 0
}

// entry decodes one "key: value" or "key:" + block into the struct field
// or map element named key.
func (d *directDecoder) entry(text []byte, indent int, v reflect.Value, fields map[string]fieldInfo, seen *uint64) bool {
	var key, rest []byte
	block := false
	if bytes.HasSuffix(text, []byte{':'}) && !bytes.Contains(text, []byte(": ")) {
		key, block = text[:len(text)-1], true
	} else {
		i := bytes.Index(text, []byte(": "))
		if i <= 0 {
			return false
		}
		key, rest = text[:i], text[i+2:]
	}
	if !plainKey(key) {
		return false
	}
	d.advance()
	if fields != nil {
		f, ok := fields[string(key)]
		if !ok || *seen&(1<<f.ord) != 0 {
			return false
		}
		*seen |= 1 << f.ord
		return d.value(block, rest, indent, v.FieldByIndex(f.index))
	}
	ks := string(key)
	kv := reflect.ValueOf(ks)
	if isNullWord(ks) || looksNonString(ks) || v.MapIndex(kv).IsValid() {
		return false
	}
	target := reflect.New(v.Type().Elem()).Elem()
	if !d.value(block, rest, indent, target) {
		return false
	}
	v.SetMapIndex(kv, target)
	return true
}

func (d *directDecoder) value(block bool, rest []byte, indent int, target reflect.Value) bool {
	if block {
		return d.block(indent, target)
	}
	switch string(rest) {
	case "{}", "[]":
		return setEmpty(target, rest[0] == '{')
	}
	return setScalar(target, rest)
}

// setEmpty decodes a flow "{}" or "[]" as yaml.v3 does: an empty map or
// slice, a zero struct, a new pointer.
func setEmpty(v reflect.Value, mapping bool) bool {
	for v.Kind() == reflect.Pointer {
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		v = v.Elem()
	}
	switch {
	case mapping && v.Kind() == reflect.Struct:
		return true
	case mapping && v.Kind() == reflect.Map:
		v.Set(reflect.MakeMap(v.Type()))
		return true
	case !mapping && v.Kind() == reflect.Slice:
		v.Set(reflect.MakeSlice(v.Type(), 0, 0))
		return true
	}
	return false
}

func (d *directDecoder) block(indent int, v reflect.Value) bool {
	if !d.more() {
		return false
	}
	l := d.cur()
	ind := indentOf(l)
	if ind != indent+2 {
		return false
	}
	if bytes.HasPrefix(l[ind:], []byte("- ")) {
		return d.sequence(ind, v)
	}
	return d.mapping(ind, v)
}

func (d *directDecoder) sequence(indent int, v reflect.Value) bool {
	if v.Kind() != reflect.Slice {
		return false
	}
	et := v.Type().Elem()
	out := reflect.MakeSlice(v.Type(), 0, 4)
	for d.more() {
		l := d.cur()
		ind := indentOf(l)
		if ind < indent {
			break
		}
		if ind != indent || !bytes.HasPrefix(l[ind:], []byte("- ")) {
			if ind == indent {
				break
			}
			return false
		}
		item := l[ind+2:]
		ev := reflect.New(et).Elem()
		if isMappingLine(item) {
			mv := ev
			for mv.Kind() == reflect.Pointer {
				if mv.IsNil() {
					mv.Set(reflect.New(mv.Type().Elem()))
				}
				mv = mv.Elem()
			}
			if mv.Kind() != reflect.Struct {
				return false
			}
			fields := structFieldInfo(mv.Type())
			var seen uint64
			if !d.entry(item, indent+2, mv, fields, &seen) {
				return false
			}
			for d.more() {
				l2 := d.cur()
				ind2 := indentOf(l2)
				if ind2 < indent+2 || (ind2 == indent && bytes.HasPrefix(l2[ind2:], []byte("- "))) {
					break
				}
				if ind2 != indent+2 || !d.entry(l2[ind2:], indent+2, mv, fields, &seen) {
					return false
				}
			}
		} else {
			if !setScalar(ev, item) {
				return false
			}
			d.advance()
		}
		out = reflect.Append(out, ev)
	}
	if out.Len() == 0 {
		return false
	}
	v.Set(out)
	return true
}

// setScalar sets v from a one-line scalar with yaml.v3's typing, or
// reports false when unsure.
func setScalar(v reflect.Value, b []byte) bool {
	// The document was checked for valid UTF-8 as a whole.
	if len(b) == 0 {
		return false
	}
	s, plain, ok := scalarText(b)
	if !ok {
		return false
	}
	return setTyped(v, s, plain)
}

// setTyped sets v from scalar text s (plain or quoted) with yaml.v3's
// typing rules for the unambiguous cases; it reports false otherwise.
func setTyped(v reflect.Value, s string, plain bool) bool {
	switch v.Kind() {
	case reflect.Pointer:
		if plain && isNullWord(s) {
			return false
		}
		if v.IsNil() {
			v.Set(reflect.New(v.Type().Elem()))
		}
		return setTyped(v.Elem(), s, plain)
	case reflect.String:
		if plain && (isNullWord(s) || looksNonString(s)) {
			return false
		}
		v.SetString(s)
		return true
	case reflect.Int, reflect.Int64, reflect.Int32:
		if !plain || !isDecimalInt(s) {
			return false
		}
		x, err := strconv.ParseInt(s, 10, 64)
		if err != nil || v.OverflowInt(x) {
			return false
		}
		v.SetInt(x)
		return true
	case reflect.Float64:
		if !plain {
			return false
		}
		switch s {
		case ".nan", ".NaN", ".NAN":
			v.SetFloat(math.NaN())
			return true
		case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
			v.SetFloat(math.Inf(1))
			return true
		case "-.inf", "-.Inf", "-.INF":
			v.SetFloat(math.Inf(-1))
			return true
		}
		if !isDecimalFloat(s) {
			return false
		}
		x, err := strconv.ParseFloat(s, 64)
		if err != nil {
			return false
		}
		v.SetFloat(x)
		return true
	case reflect.Bool:
		if !plain {
			return false
		}
		switch s {
		case "true":
			v.SetBool(true)
			return true
		case "false":
			v.SetBool(false)
			return true
		}
	}
	return false
}

var (
	stringMapType = reflect.TypeOf(map[string]string(nil))
	metricMapType = reflect.TypeOf(map[string]MetricSummary(nil))
)

// line splits the current line at indent into key and rest ("key: rest"
// or "key:" with block true). ok is false at the end of the mapping.
func (d *directDecoder) line(indent int) (key, rest []byte, block, more, ok bool) {
	if !d.more() {
		return nil, nil, false, false, true
	}
	l := d.cur()
	ind := indentOf(l)
	if ind < indent {
		return nil, nil, false, false, true
	}
	if ind > indent || len(l) == ind {
		return nil, nil, false, false, false
	}
	text := l[ind:]
	switch i := bytes.Index(text, []byte(": ")); {
	case i < 0 && text[len(text)-1] == ':':
		key, block = text[:len(text)-1], true
	case i <= 0:
		return nil, nil, false, false, false
	default:
		key, rest = text[:i], text[i+2:]
	}
	if !plainKey(key) {
		return nil, nil, false, false, false
	}
	d.advance()
	return key, rest, block, true, true
}

// mapKey accepts a map key only where yaml.v3 surely reads a string.
func mapKey(k []byte) (string, bool) {
	ks := string(k)
	return ks, !isNullWord(ks) && !looksNonString(ks)
}

// entries counts the lines at exactly indent from the current line up to
// the end of the block (a size hint for maps; deeper lines are skipped).
func (d *directDecoder) entries(indent int) int {
	n := 0
	for pos := d.pos; pos <= len(d.data); {
		e := bytes.IndexByte(d.data[pos:], '\n')
		if e < 0 {
			e = len(d.data) - pos
		}
		ind := indentOf(d.data[pos : pos+e])
		if ind < indent {
			break
		}
		if ind == indent {
			n++
		}
		pos += e + 1
	}
	return n
}

// newKey reports whether key ks is not yet in a map whose keys so far
// were added in increasing order up to *last (a canonical document's),
// looking the map up only when they were not.
func newKey[V any](m map[string]V, ks string, last *string, sorted *bool) bool {
	if *sorted && (len(m) == 0 || ks > *last) {
		*last = ks
		return true
	}
	*sorted = false
	_, dup := m[ks]
	return !dup
}

func (d *directDecoder) stringMap(indent int, v reflect.Value) bool {
	m := make(map[string]string, d.entries(indent))
	last, sorted := "", true
	for {
		key, rest, block, more, ok := d.line(indent)
		if !ok {
			return false
		}
		if !more {
			break
		}
		ks, ok := mapKey(key)
		if !ok || block || !newKey(m, ks, &last, &sorted) {
			return false
		}
		val, plain, ok := scalarText(rest)
		if !ok || (plain && (isNullWord(val) || looksNonString(val))) {
			return false
		}
		m[ks] = val
	}
	if len(m) == 0 {
		return false
	}
	v.Set(reflect.ValueOf(m))
	return true
}

func (d *directDecoder) metricMap(indent int, v reflect.Value) bool {
	m := make(map[string]MetricSummary, d.entries(indent))
	last, sorted := "", true
	for {
		key, _, block, more, ok := d.line(indent)
		if !ok {
			return false
		}
		if !more {
			break
		}
		ks, ok := mapKey(key)
		if !ok || !block || !newKey(m, ks, &last, &sorted) {
			return false
		}
		var ms MetricSummary
		var seen uint8
		var valueText []byte // min and max often repeat the value
		n := 0
		for {
			fk, rest, fblock, fmore, ok := d.line(indent + 2)
			if !ok || fblock {
				return false
			}
			if !fmore {
				break
			}
			// Numbers: a plain scalar, read in place (no string kept).
			if !plainScalar(rest) {
				return false
			}
			s := unsafe.String(unsafe.SliceData(rest), len(rest))
			var bit uint8
			switch string(fk) {
			case "value":
				bit, ok = 1, plainFloat(s, &ms.Value)
				valueText = rest
			case "step":
				bit, ok = 2, plainInt(s, &ms.Step)
			case "timestamp":
				bit, ok = 4, plainInt(s, &ms.Timestamp)
			case "min":
				bit = 8
				if seen&1 != 0 && bytes.Equal(rest, valueText) {
					ms.Min = ms.Value
				} else {
					ok = plainFloat(s, &ms.Min)
				}
			case "max":
				bit = 16
				if seen&1 != 0 && bytes.Equal(rest, valueText) {
					ms.Max = ms.Value
				} else {
					ok = plainFloat(s, &ms.Max)
				}
			case "count":
				bit, ok = 32, plainInt(s, &ms.Count)
			default:
				return false
			}
			if !ok || seen&bit != 0 {
				return false
			}
			seen |= bit
			n++
		}
		if n == 0 {
			return false
		}
		m[ks] = ms
	}
	if len(m) == 0 {
		return false
	}
	v.Set(reflect.ValueOf(m))
	return true
}

// plainScalar reports whether scalarText reads b as a plain scalar,
// without converting it.
func plainScalar(b []byte) bool {
	if len(b) == 0 {
		return false
	}
	switch b[0] {
	case '"', '\'', '{', '[', '|', '>', '&', '*', '!', '%', '@', '`', '#', ' ', ',', ']', '}', '?':
		return false
	case '-', ':':
		if len(b) == 1 || b[1] == ' ' {
			return false
		}
	}
	if b[len(b)-1] == ' ' || b[len(b)-1] == ':' {
		return false
	}
	for i := 1; i < len(b); i++ {
		if (b[i] == '#' && b[i-1] == ' ') || (b[i] == ' ' && b[i-1] == ':') {
			return false
		}
	}
	return true
}

// plainInt and plainFloat parse s without keeping it (s may alias the
// document).
func plainInt(s string, out *int64) bool {
	if !isDecimalInt(s) {
		return false
	}
	x, err := strconv.ParseInt(s, 10, 64)
	*out = x
	return err == nil
}

func plainFloat(s string, out *float64) bool {
	switch s {
	case ".nan", ".NaN", ".NAN":
		*out = math.NaN()
		return true
	case ".inf", ".Inf", ".INF", "+.inf", "+.Inf", "+.INF":
		*out = math.Inf(1)
		return true
	case "-.inf", "-.Inf", "-.INF":
		*out = math.Inf(-1)
		return true
	}
	if !isDecimalFloat(s) {
		return false
	}
	x, err := strconv.ParseFloat(s, 64)
	*out = x
	return err == nil
}
