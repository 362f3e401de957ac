package server

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"reflect"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// Int64 is an int64 request field: MLflow clients send int64 as a JSON
// number or as a decimal string. Set tells whether the field was present.
type Int64 struct {
	V   int64
	Set bool
}

// UnmarshalJSON accepts 12, "12" and null.
func (n *Int64) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok {
		return err
	}
	v, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil {
		// A float that is a whole number (1.7e12) is accepted too.
		f, ferr := strconv.ParseFloat(s, 64)
		if ferr != nil || f != math.Trunc(f) || math.Abs(f) > 1<<62 {
			return fmt.Errorf("%s is not an integer", abbrevJSON(b))
		}
		v = int64(f)
	}
	n.V, n.Set = v, true
	return nil
}

// Float is a double request field: a JSON number or "NaN", "Infinity",
// "-Infinity" (and numeric strings). Set tells whether it was present.
type Float struct {
	V   float64
	Set bool
}

// UnmarshalJSON accepts numbers, numeric strings and MLflow's special
// values; booleans are refused, as MLflow does.
func (f *Float) UnmarshalJSON(b []byte) error {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return nil
	}
	var v manifest.JSONFloat
	if err := v.UnmarshalJSON(b); err != nil {
		return fmt.Errorf("%s is not a number", abbrevJSON(b))
	}
	f.V, f.Set = float64(v), true
	return nil
}

// Bool is a bool request field that records presence.
type Bool struct {
	V   bool
	Set bool
}

// UnmarshalJSON accepts true, false, and their strings in any case.
func (x *Bool) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok {
		return err
	}
	switch strings.ToLower(s) {
	case "true":
		x.V, x.Set = true, true
	case "false":
		x.V, x.Set = false, true
	default:
		return fmt.Errorf("%s is not true or false", abbrevJSON(b))
	}
	return nil
}

// ViewType is MLflow's ViewType enum, by name or number.
type ViewType struct {
	V   int
	Set bool
}

// UnmarshalJSON accepts ACTIVE_ONLY, DELETED_ONLY, ALL or 1, 2, 3.
func (x *ViewType) UnmarshalJSON(b []byte) error {
	s, ok, err := jsonScalar(b)
	if !ok {
		return err
	}
	switch strings.ToUpper(s) {
	case "ACTIVE_ONLY", "1":
		x.V = 1
	case "DELETED_ONLY", "2":
		x.V = 2
	case "ALL", "3":
		x.V = 3
	default:
		return fmt.Errorf("%s is not one of ACTIVE_ONLY, DELETED_ONLY, ALL", abbrevJSON(b))
	}
	x.Set = true
	return nil
}

// jsonScalar returns the text of a JSON scalar: a string's contents, any
// other literal as it is; ok is false for null and on error.
func jsonScalar(b []byte) (s string, ok bool, err error) {
	b = bytes.TrimSpace(b)
	if string(b) == "null" {
		return "", false, nil
	}
	s = string(b)
	if len(b) > 0 && b[0] == '"' {
		if err := json.Unmarshal(b, &s); err != nil {
			return "", false, err
		}
	}
	return s, true, nil
}

func abbrevJSON(b []byte) string {
	if len(b) > 40 {
		return string(b[:40]) + "..."
	}
	return string(b)
}

var rawMessageType = reflect.TypeOf(json.RawMessage(nil))

// decode fills the request struct v (a pointer) as MLflow's server does: a
// GET from its query parameters (a repeated key fills a list field), every
// other method from its JSON body (missing body: {}; unknown fields
// ignored; a JSON string holding the JSON object is tolerated). JSON bodies
// are bounded by maxBody bytes.
func decode(r *http.Request, maxBody int64, v any) error {
	if r.Method == http.MethodGet || r.Method == http.MethodHead {
		return decodeQuery(r, v)
	}
	data, err := readBody(r, maxBody)
	if err != nil {
		return err
	}
	return decodeBytes(data, v)
}

// jsonHandler makes an endpoint's apiFunc from f, a function of its
// decoded request: the request is decoded into a Req by decodeRequest,
// fields tagged path:"name" get the path value name ({name} in the route's
// pattern), and f's result is the response (nil: {}) or the error turned
// into MLflow's error body by serveAPI.
func jsonHandler[Req any](f func(s *Server, ctx context.Context, req *Req) (any, error)) apiFunc {
	t := reflect.TypeFor[Req]()
	paths, hasBody := pathFields(t), hasJSONFields(t)
	return func(s *Server, r *http.Request) (any, error) {
		var req Req
		if hasBody {
			if err := decodeRequest(r, s.cfg.MaxJSONBody, &req); err != nil {
				return nil, err
			}
		}
		if len(paths) > 0 {
			v := reflect.ValueOf(&req).Elem()
			for _, p := range paths {
				v.FieldByIndex(p.index).SetString(r.PathValue(p.name))
			}
		}
		return f(s, r.Context(), &req)
	}
}

type pathField struct {
	index []int
	name  string
}

// pathFields lists the string fields of struct type t (embedded structs'
// included) tagged path:"name".
func pathFields(t reflect.Type) []pathField {
	var out []pathField
	for _, f := range reflect.VisibleFields(t) {
		if name := f.Tag.Get("path"); name != "" {
			if f.Type.Kind() != reflect.String {
				panic("server: path field " + t.String() + "." + f.Name + " is not a string")
			}
			out = append(out, pathField{f.Index, name})
		}
	}
	return out
}

// hasJSONFields tells whether struct type t has a field a request's query
// or body can set. A request of path values alone (GET or DELETE
// /logged-models/{model_id}) leaves its body unread.
func hasJSONFields(t reflect.Type) bool {
	for _, f := range reflect.VisibleFields(t) {
		if !f.Anonymous && f.IsExported() && f.Tag.Get("json") != "-" {
			return true
		}
	}
	return false
}

// fastDecoder is a request type with a hand-written parser of the POST
// bodies it expects (fastjson.go): log-metric and log-batch, the hot write
// path, where encoding/json's reflection costs more than the rest of the
// request. parseFast returns false to leave the body to decode's rules.
type fastDecoder interface {
	parseFast(body []byte) bool
}

// decodeRequest is decode, except that a POST body of a fastDecoder is
// offered to its parser first.
func decodeRequest(r *http.Request, maxBody int64, v any) error {
	fd, ok := v.(fastDecoder)
	if !ok || r.Method != http.MethodPost {
		return decode(r, maxBody, v)
	}
	data, err := readBody(r, maxBody)
	if err != nil {
		return err
	}
	if fd.parseFast(data) {
		return nil
	}
	return decodeBytes(data, v)
}

// readBody reads a JSON request body of at most maxBody bytes, trimmed.
func readBody(r *http.Request, maxBody int64) ([]byte, error) {
	if n := r.ContentLength; n >= 0 && n <= maxBody && n <= 64<<10 {
		// A small body of known length (every MLflow client's) is read
		// in one buffer of its size; net/http ends the body at n bytes.
		data := make([]byte, n)
		if _, err := io.ReadFull(r.Body, data); err != nil {
			return nil, invalidf("could not read the request body: %v", err)
		}
		return bytes.TrimSpace(data), nil
	}
	body := http.MaxBytesReader(nil, r.Body, maxBody)
	data, err := io.ReadAll(body)
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return nil, err
		}
		return nil, invalidf("could not read the request body: %v", err)
	}
	return bytes.TrimSpace(data), nil
}

// decodeBytes decodes a JSON body read by readBody into v.
func decodeBytes(data []byte, v any) error {
	if len(data) == 0 {
		return nil
	}
	if data[0] == '"' {
		var inner string
		if err := json.Unmarshal(data, &inner); err == nil {
			data = []byte(inner)
		}
	}
	if err := json.Unmarshal(data, v); err != nil {
		return jsonError(err)
	}
	return nil
}

func jsonError(err error) error {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		return invalidf("Invalid value for parameter '%s': expected %s, got JSON %s", te.Field, te.Type, te.Value)
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return invalidf("the request body is not valid JSON: %v", err)
	}
	return invalidf("invalid request: %v", err)
}

// decodeQuery turns the query parameters into a JSON object shaped by the
// struct's json tags and decodes that, so GET and POST share the field
// types and their rules.
func decodeQuery(r *http.Request, v any) error {
	q := r.URL.Query()
	if len(q) == 0 {
		return nil
	}
	t := reflect.TypeOf(v).Elem()
	obj := map[string]any{}
	for _, f := range reflect.VisibleFields(t) {
		if f.Anonymous || !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		if name == "" || name == "-" {
			continue
		}
		vals, ok := q[name]
		if !ok {
			continue
		}
		switch {
		case f.Type.Kind() == reflect.Slice && f.Type != rawMessageType:
			obj[name] = vals
		default:
			obj[name] = vals[0]
		}
	}
	data, err := json.Marshal(obj)
	if err != nil {
		return invalidf("invalid query: %v", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return jsonError(err)
	}
	return nil
}
