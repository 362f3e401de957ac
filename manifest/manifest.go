package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"reflect"
	"sort"
	"strings"

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
	// Check the header first, so that a manifest of another kind or version
	// is reported as such rather than as a list of unknown fields.
	var h Header
	if yaml.Unmarshal(data, &h) == nil && h != (Header{}) {
		if err := checkDecodedHeader(h, kind); err != nil {
			return err
		}
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(v); err != nil {
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

// encode writes the canonical form of v: two-space indentation, struct
// fields in declaration order, map keys sorted by byte order, no line
// wrapping (docs/spec/manifests.md).
func encode(v any) []byte {
	var n yaml.Node
	if err := n.Encode(v); err != nil {
		// Every manifest type is plain data; encoding cannot fail.
		panic(fmt.Sprintf("manifest: encode %T: %v", v, err))
	}
	canonicalize(&n, reflect.TypeOf(v))
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(&n); err != nil {
		panic(fmt.Sprintf("manifest: encode %T: %v", v, err))
	}
	_ = enc.Close()
	return buf.Bytes()
}

// canonicalize fixes the two places where yaml.v3's own output is not the
// canonical form, walking the node tree alongside the Go type it encodes:
//
//   - yaml.v3 sorts map keys in a "natural" order (digit runs compared as
//     numbers, letters before punctuation) that no other YAML library
//     reproduces; the spec sorts them by byte order instead.
//   - yaml.v3 writes negative zero as "-0", which reads back as the integer
//     0 and so loses its sign; it is written as "-0.0".
func canonicalize(n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Float32, reflect.Float64:
		if n.Kind == yaml.ScalarNode && n.Value == "-0" {
			n.Value, n.Tag = "-0.0", "!!float"
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			canonicalize(c, t.Elem())
		}
	case reflect.Map:
		if n.Kind != yaml.MappingNode {
			return
		}
		type pair struct {
			key  string
			k, v *yaml.Node
		}
		pairs := make([]pair, 0, len(n.Content)/2)
		for i := 0; i+1 < len(n.Content); i += 2 {
			var key string
			_ = n.Content[i].Decode(&key) // Go map keys are strings.
			pairs = append(pairs, pair{key, n.Content[i], n.Content[i+1]})
		}
		sort.Slice(pairs, func(i, j int) bool { return pairs[i].key < pairs[j].key })
		n.Content = n.Content[:0]
		for _, p := range pairs {
			canonicalize(p.v, t.Elem())
			n.Content = append(n.Content, p.k, p.v)
		}
	case reflect.Struct:
		if n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		for i := 0; i+1 < len(n.Content); i += 2 {
			if ft, ok := fields[n.Content[i].Value]; ok {
				canonicalize(n.Content[i+1], ft)
			}
		}
	}
}

// yamlFields maps the YAML names of t's fields, inlined ones included, to
// their types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	out := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, opts, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if strings.Contains(","+opts+",", ",inline,") {
			for k, v := range yamlFields(f.Type) {
				out[k] = v
			}
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		out[name] = f.Type
	}
	return out
}

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
	default:
		err = fmt.Errorf("%w: unknown kind %q", ErrSyntax, kind)
	}
	return err
}
