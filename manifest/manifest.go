package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"unicode/utf8"

	"gopkg.in/yaml.v3"
)

// APIVersion is the only manifest version this code writes. Decoding accepts
// it and rejects anything else.
const APIVersion = "mlgit/v1"

// Kinds of manifest.
const (
	KindConfig          = "Config"
	KindExperiment      = "Experiment"
	KindRun             = "Run"
	KindRegisteredModel = "RegisteredModel"
	KindModelVersion    = "ModelVersion"
	KindLoggedModel     = "LoggedModel"
	KindMetricBlob      = "MetricBlob"
)

// Errors returned by decoding and validation. Callers test them with
// errors.Is; the wrapped message names the field and the rule.
var (
	// ErrInvalid marks a document or value that breaks a rule.
	ErrInvalid = errors.New("invalid")
	// ErrSyntax marks bytes that are not a well-formed manifest (bad YAML,
	// unknown field, wrong apiVersion or kind).
	ErrSyntax = errors.New("malformed manifest")
)

// Header is the part every manifest starts with.
type Header struct {
	APIVersion string `yaml:"apiVersion" json:"apiVersion"`
	Kind       string `yaml:"kind" json:"kind"`
}

// PeekKind returns the kind of a manifest without decoding the rest.
func PeekKind(data []byte) (string, error) {
	var h struct {
		APIVersion string `yaml:"apiVersion"`
		Kind       string `yaml:"kind"`
	}
	if err := yaml.Unmarshal(data, &h); err != nil {
		return "", fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	if h.APIVersion != APIVersion {
		return "", fmt.Errorf("%w: apiVersion %q is not %q", ErrSyntax, h.APIVersion, APIVersion)
	}
	return h.Kind, nil
}

// decodeStrict decodes exactly one YAML document into v, rejecting unknown
// fields, duplicate keys and trailing documents, then checks the header.
func decodeStrict(data []byte, kind string, v any, hdr *Header) error {
	// Fast paths for canonical input: decoded directly, or parsed by
	// fastParse and typed by yaml.v3; anything else goes to yaml.v3.
	if directDecode(data, v) {
		return checkDecodedHeader(*hdr, kind)
	}
	reflect.ValueOf(v).Elem().SetZero()
	if n, ok := fastParse(data); ok && knownFields(n, reflect.TypeOf(v)) {
		if err := n.Decode(v); err == nil {
			return checkDecodedHeader(*hdr, kind)
		}
		reflect.ValueOf(v).Elem().SetZero()
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
		// A manifest of another kind or version is reported as such
		// rather than as a list of unknown fields. (Checked only on
		// failure: parsing twice would double the cost of every read.)
		var h Header
		if yaml.Unmarshal(data, &h) == nil && h != (Header{}) {
			if herr := checkDecodedHeader(h, kind); herr != nil {
				return herr
			}
		}
		if errors.Is(err, io.EOF) {
			return fmt.Errorf("%w: empty document", ErrSyntax)
		}
		var te *yaml.TypeError
		if errors.As(err, &te) {
			return fmt.Errorf("%w: %s", ErrSyntax, strings.Join(nameFields(data, te.Errors), "; "))
		}
		return fmt.Errorf("%w: %v", ErrSyntax, err)
	}
	var extra yaml.Node
	if err := dec.Decode(&extra); !errors.Is(err, io.EOF) {
		return fmt.Errorf("%w: more than one YAML document", ErrSyntax)
	}
	return checkDecodedHeader(*hdr, kind)
}

func checkDecodedHeader(h Header, kind string) error {
	if h.APIVersion != APIVersion {
		return fmt.Errorf("%w: apiVersion %q is not %q", ErrSyntax, h.APIVersion, APIVersion)
	}
	if h.Kind != kind {
		return fmt.Errorf("%w: kind %q, want %q", ErrSyntax, h.Kind, kind)
	}
	return nil
}

// nameFields adds to each of yaml.v3's "line N: ..." messages the field
// path at that line ("line 8 (startTime): cannot unmarshal ..."), since
// yaml.v3 names only the line and the Go type.
func nameFields(data []byte, msgs []string) []string {
	var doc yaml.Node
	if yaml.Unmarshal(data, &doc) != nil {
		return msgs
	}
	at := map[int][]string{}
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i]
				p := k.Value
				if path != "" {
					p = path + "." + k.Value
				}
				at[k.Line] = append(at[k.Line], p)
				walk(n.Content[i+1], p)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				p := fmt.Sprintf("%s[%d]", path, i)
				at[c.Line] = append(at[c.Line], p)
				walk(c, p)
			}
		}
	}
	walk(&doc, "")
	out := make([]string, len(msgs))
	for i, m := range msgs {
		out[i] = m
		var line int
		if _, err := fmt.Sscanf(m, "line %d:", &line); err != nil || len(at[line]) == 0 {
			continue
		}
		prefix := fmt.Sprintf("line %d", line)
		out[i] = prefix + " (" + strings.Join(at[line], ", ") + ")" + strings.TrimPrefix(m, prefix)
	}
	return out
}

// encode writes the canonical form of v (docs/spec/manifests.md): two-space
// indentation, struct fields in declaration order, empty optional fields
// left out, map keys sorted by byte order, no line wrapping.
//
// The YAML node tree is built here rather than by yaml.v3's reflection, for
// three reasons: yaml.v3 sorts map keys in a "natural" order (digit runs
// compared as numbers) that other YAML libraries do not reproduce; it writes
// negative zero as "-0", which reads back as the integer 0; and its emitter
// corrupts literal block scalars that start with a space or a line break
// ("  x\n  y" reads back as "x\ny", "\n" as ""), which are therefore
// written double-quoted.
func encode(v any) []byte {
	n := toNode(reflect.ValueOf(v))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(n); err != nil {
		// Every manifest type is plain data; encoding cannot fail.
		panic(fmt.Sprintf("manifest: encode %T: %v", v, err))
	}
	_ = enc.Close()
	return buf.Bytes()
}

// toNode converts the plain data types of this package (structs, string
// maps, slices, pointers, strings, bools, integers and floats) to a YAML
// node, honouring the yaml tags' names, omitempty and inline.
func toNode(v reflect.Value) *yaml.Node {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return &yaml.Node{Kind: yaml.ScalarNode, Value: "null"}
		}
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Struct:
		n := &yaml.Node{Kind: yaml.MappingNode}
		appendFields(n, v)
		return n
	case reflect.Map:
		n := &yaml.Node{Kind: yaml.MappingNode}
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
		for _, k := range keys {
			n.Content = append(n.Content, stringNode(k.String()), toNode(v.MapIndex(k)))
		}
		return n
	case reflect.Slice:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		for i := 0; i < v.Len(); i++ {
			n.Content = append(n.Content, toNode(v.Index(i)))
		}
		return n
	case reflect.String:
		return stringNode(v.String())
	case reflect.Bool:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatBool(v.Bool())}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: strconv.FormatInt(v.Int(), 10)}
	case reflect.Float32, reflect.Float64:
		return &yaml.Node{Kind: yaml.ScalarNode, Value: yamlFloat(v.Float())}
	}
	panic(fmt.Sprintf("manifest: cannot encode %s", v.Type()))
}

func appendFields(n *yaml.Node, v reflect.Value) {
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		fv := v.Field(i)
		if hasOpt(opts, "inline") {
			appendFields(n, fv)
			continue
		}
		if hasOpt(opts, "omitempty") && isEmpty(fv) {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		n.Content = append(n.Content, stringNode(name), toNode(fv))
	}
}

func hasOpt(opts, opt string) bool {
	for _, o := range strings.Split(opts, ",") {
		if o == opt {
			return true
		}
	}
	return false
}

// isEmpty is yaml.v3's omitempty rule: zero numbers, false, "", nil
// pointers, empty (not only nil) maps and slices, structs whose fields are
// all empty.
func isEmpty(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		return v.IsNil()
	case reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Struct:
		for i := 0; i < v.NumField(); i++ {
			if v.Type().Field(i).IsExported() && !isEmpty(v.Field(i)) {
				return false
			}
		}
		return true
	case reflect.Float32, reflect.Float64:
		return v.Float() == 0
	}
	return v.IsZero()
}

// yamlFloat writes f as yaml.v3 does (Go's shortest form, .inf, -.inf,
// .nan), except negative zero, written "-0.0" so that it reads back as a
// float with its sign.
func yamlFloat(f float64) string {
	switch {
	case math.IsNaN(f):
		return ".nan"
	case math.IsInf(f, 1):
		return ".inf"
	case math.IsInf(f, -1):
		return "-.inf"
	case f == 0 && math.Signbit(f):
		return "-0.0"
	}
	return strconv.FormatFloat(f, 'g', -1, 64)
}

// stringNode is a string scalar in the style yaml.v3 gives a Go string,
// except for the literal block scalars its emitter gets wrong.
func stringNode(s string) *yaml.Node {
	n := &yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: s}
	switch {
	case !utf8.ValidString(s):
		// yaml.v3 writes it as base64 under an explicit !!binary tag.
		n.Tag = ""
	case strings.Contains(s, "\n"):
		n.Style = yaml.LiteralStyle
		if s[0] == ' ' || s[0] == '\n' {
			n.Style = yaml.DoubleQuotedStyle
		}
	case isOldBool(s) || isBase60Float(s):
		// Strings YAML 1.1 would read as a bool or a sexagesimal number.
		n.Style = yaml.DoubleQuotedStyle
	}
	// Otherwise the emitter writes s plain if it reads back as the same
	// string, else single-quoted if it can, else double-quoted.
	return n
}

func isOldBool(s string) bool {
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "on", "On", "ON",
		"n", "N", "no", "No", "NO", "off", "Off", "OFF":
		return true
	}
	return false
}

var base60float = regexp.MustCompile(`^[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+(?:\.[0-9_]*)?$`)

func isBase60Float(s string) bool { return base60float.MatchString(s) }

// Canonical reports whether data is byte-for-byte the canonical encoding of
// the manifest it decodes to. It returns the decoding error, if any.
func Canonical(data []byte) (bool, error) {
	kind, err := PeekKind(data)
	if err != nil {
		return false, err
	}
	var out []byte
	switch kind {
	case KindConfig:
		v, err := DecodeConfig(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindExperiment:
		v, err := DecodeExperiment(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindRun:
		v, err := DecodeRun(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindRegisteredModel:
		v, err := DecodeRegisteredModel(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindModelVersion:
		v, err := DecodeModelVersion(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindLoggedModel:
		v, err := DecodeLoggedModel(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	case KindMetricBlob:
		v, err := DecodeMetricBlob(data)
		if err != nil {
			return false, err
		}
		out = v.Encode()
	default:
		return false, fmt.Errorf("%w: unknown kind %q", ErrSyntax, kind)
	}
	return bytes.Equal(out, data), nil
}

// Validate decodes data as whatever kind it declares and validates it.
func Validate(data []byte) error {
	kind, err := PeekKind(data)
	if err != nil {
		return err
	}
	switch kind {
	case KindConfig:
		_, err = DecodeConfig(data)
	case KindExperiment:
		_, err = DecodeExperiment(data)
	case KindRun:
		_, err = DecodeRun(data)
	case KindRegisteredModel:
		_, err = DecodeRegisteredModel(data)
	case KindModelVersion:
		_, err = DecodeModelVersion(data)
	case KindLoggedModel:
		_, err = DecodeLoggedModel(data)
	case KindMetricBlob:
		_, err = DecodeMetricBlob(data)
	default:
		err = fmt.Errorf("%w: unknown kind %q", ErrSyntax, kind)
	}
	return err
}
