package server

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"unicode/utf8"
	"unsafe"
)

// Fast decoding of the two hot write requests, log-metric and log-batch:
// encoding/json with a custom unmarshaller per number costs more than the
// rest of a 1,000-point log-batch. The fast parser reads the shape MLflow
// clients send (an object of known keys, numbers as JSON numbers) without
// reflection. It answers only when it is sure to give what decode gives;
// on anything else (a string or null where a number goes, a key that
// differs from a known one only in case, a repeated key, trailing data, a
// body that is a JSON string, ...) it says no and the request goes through
// decode, with its rules and error messages.

// logMetricReq is the body of runs/log-metric.
type logMetricReq struct {
	runIDReq
	metricReq
}

// logBatchReq is the body of runs/log-batch.
type logBatchReq struct {
	runIDReq
	Metrics []metricReq `json:"metrics"`
	Params  tagsReq     `json:"params"`
	Tags    tagsReq     `json:"tags"`
}

func (q *logMetricReq) parseFast(b []byte) bool { return parseLogMetric(b, q) }

func (q *logBatchReq) parseFast(b []byte) bool { return parseLogBatch(b, q) }

type jscan struct {
	b []byte
	i int
	// keys interns short strings: a batch repeats a few metric keys.
	keys map[string]string
}

func (s *jscan) ws() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n', '\r':
			s.i++
		default:
			return
		}
	}
}

// next skips white space and consumes c.
func (s *jscan) next(c byte) bool {
	s.ws()
	if s.i < len(s.b) && s.b[s.i] == c {
		s.i++
		return true
	}
	return false
}

func (s *jscan) peek() byte {
	s.ws()
	if s.i < len(s.b) {
		return s.b[s.i]
	}
	return 0
}

// str reads a string as encoding/json decodes it.
func (s *jscan) str() (string, bool) {
	if !s.next('"') {
		return "", false
	}
	start := s.i
	escaped := false
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			raw := s.b[start:s.i]
			s.i++
			if escaped {
				var out string
				if json.Unmarshal(s.b[start-1:s.i], &out) != nil {
					return "", false
				}
				return out, true
			}
			if !utf8.Valid(raw) {
				return "", false // encoding/json would replace bad bytes
			}
			if len(raw) <= 64 {
				if k, ok := s.keys[string(raw)]; ok {
					return k, true
				}
				if s.keys == nil {
					s.keys = map[string]string{}
				}
				if len(s.keys) < 256 {
					k := string(raw)
					s.keys[k] = k
					return k, true
				}
			}
			return string(raw), true
		case c == '\\':
			escaped = true
			s.i += 2
		case c < 0x20:
			return "", false
		default:
			s.i++
		}
	}
	return "", false
}

// num reads a JSON number literal.
func (s *jscan) num() ([]byte, bool) {
	s.ws()
	start := s.i
	b := s.b
	if s.i < len(b) && b[s.i] == '-' {
		s.i++
	}
	switch {
	case s.i < len(b) && b[s.i] == '0':
		s.i++
	case s.i < len(b) && b[s.i] >= '1' && b[s.i] <= '9':
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
	default:
		return nil, false
	}
	if s.i < len(b) && b[s.i] == '.' {
		s.i++
		d := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, false
		}
	}
	if s.i < len(b) && (b[s.i] == 'e' || b[s.i] == 'E') {
		s.i++
		if s.i < len(b) && (b[s.i] == '+' || b[s.i] == '-') {
			s.i++
		}
		d := s.i
		for s.i < len(b) && b[s.i] >= '0' && b[s.i] <= '9' {
			s.i++
		}
		if s.i == d {
			return nil, false
		}
	}
	return b[start:s.i], true
}

func (s *jscan) float() (Float, bool) {
	lit, ok := s.num()
	if !ok {
		return Float{}, false
	}
	v, err := strconv.ParseFloat(unsafe.String(&lit[0], len(lit)), 64)
	if err != nil {
		return Float{}, false
	}
	return Float{V: v, Set: true}, true
}

func (s *jscan) int64() (Int64, bool) {
	lit, ok := s.num()
	if !ok {
		return Int64{}, false
	}
	v, err := strconv.ParseInt(unsafe.String(&lit[0], len(lit)), 10, 64)
	if err != nil {
		return Int64{}, false // 1e12, 1.0: Int64's own rules
	}
	return Int64{V: v, Set: true}, true
}

// skip skips any valid JSON value.
func (s *jscan) skip(depth int) bool {
	if depth > 64 {
		return false
	}
	switch s.peek() {
	case '"':
		_, ok := s.str()
		return ok
	case '{':
		s.i++
		if s.next('}') {
			return true
		}
		for {
			if _, ok := s.str(); !ok || !s.next(':') || !s.skip(depth+1) {
				return false
			}
			if s.next('}') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	case '[':
		s.i++
		if s.next(']') {
			return true
		}
		for {
			if !s.skip(depth + 1) {
				return false
			}
			if s.next(']') {
				return true
			}
			if !s.next(',') {
				return false
			}
		}
	case 't', 'f', 'n':
		for _, w := range []string{"true", "false", "null"} {
			if bytes.HasPrefix(s.b[s.i:], []byte(w)) {
				s.i += len(w)
				return true
			}
		}
		return false
	default:
		_, ok := s.num()
		return ok
	}
}

// rawKey reads an object key without escapes, as bytes (a key with an
// escape gives up: encoding/json would unescape it first).
func (s *jscan) rawKey() ([]byte, bool) {
	if !s.next('"') {
		return nil, false
	}
	start := s.i
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c == '"':
			s.i++
			return s.b[start : s.i-1], true
		case c == '\\' || c < 0x20 || c >= utf8.RuneSelf:
			return nil, false
		}
		s.i++
	}
	return nil, false
}

// object reads an object, calling field for each key (its bytes: valid
// only during the call); field returns false to give up. Unknown keys must
// be skipped by field (s.unknownKey).
func (s *jscan) object(field func(key []byte) bool) bool {
	if !s.next('{') {
		return false
	}
	if s.next('}') {
		return true
	}
	for {
		k, ok := s.rawKey()
		if !ok || !s.next(':') || !field(k) {
			return false
		}
		if s.next('}') {
			return true
		}
		if !s.next(',') {
			return false
		}
	}
}

// unknownKey skips the value of a key that is none of known; it gives up
// if encoding/json could match the key to one of them (it folds case,
// and some non-ASCII letters fold to ASCII ones).
func (s *jscan) unknownKey(k []byte, known []string) bool {
	for i := 0; i < len(k); i++ {
		if k[i] >= utf8.RuneSelf {
			return false
		}
	}
	for _, kn := range known {
		if strings.EqualFold(string(k), kn) {
			return false
		}
	}
	return s.skip(0)
}

// end checks that only white space follows.
func (s *jscan) end() bool {
	s.ws()
	return s.i == len(s.b)
}

var (
	metricKeys    = []string{"key", "value", "timestamp", "step"}
	logMetricKeys = []string{"run_id", "run_uuid", "key", "value", "timestamp", "step"}
	logBatchKeys  = []string{"run_id", "run_uuid", "metrics", "params", "tags"}
	kvKeys        = []string{"key", "value"}
)

// metricField reads one field of a metric object into m.
func (s *jscan) metricField(k []byte, m *metricReq) bool {
	var ok bool
	switch string(k) {
	case "key":
		m.Key, ok = s.str()
	case "value":
		m.Value, ok = s.float()
	case "timestamp":
		m.Timestamp, ok = s.int64()
	case "step":
		m.Step, ok = s.int64()
	default:
		return false
	}
	return ok
}

// parseLogMetric parses a log-metric body; false: use decode (out is then
// untouched).
func parseLogMetric(data []byte, out *logMetricReq) bool {
	var v logMetricReq
	req := &v
	s := &jscan{b: data}
	var seen [6]bool
	ok := s.object(func(k []byte) bool {
		for i, kn := range logMetricKeys {
			if string(k) == kn {
				if seen[i] {
					return false
				}
				seen[i] = true
				switch kn {
				case "run_id":
					var ok bool
					req.RunID, ok = s.str()
					return ok
				case "run_uuid":
					var ok bool
					req.RunUUID, ok = s.str()
					return ok
				}
				return s.metricField(k, &req.metricReq)
			}
		}
		return s.unknownKey(k, logMetricKeys)
	})
	if !ok || !s.end() {
		return false
	}
	*out = v
	return true
}

// parseLogBatch parses a log-batch body; false: use decode (out is then
// untouched).
func parseLogBatch(data []byte, out *logBatchReq) bool {
	var v logBatchReq
	req := &v
	s := &jscan{b: data}
	var seen [5]bool
	kvList := func() (tagsReq, bool) {
		if !s.next('[') {
			return nil, false
		}
		out := tagsReq{}
		if s.next(']') {
			return out, true
		}
		for {
			var e struct {
				Key   string `json:"key"`
				Value string `json:"value"`
			}
			ok := s.object(func(k []byte) bool {
				var ok bool
				switch string(k) {
				case "key":
					e.Key, ok = s.str()
				case "value":
					e.Value, ok = s.str()
				default:
					ok = s.unknownKey(k, kvKeys)
				}
				return ok
			})
			if !ok {
				return nil, false
			}
			out = append(out, e)
			if s.next(']') {
				return out, true
			}
			if !s.next(',') {
				return nil, false
			}
		}
	}
	ok := s.object(func(k []byte) bool {
		idx := -1
		for i, kn := range logBatchKeys {
			if string(k) == kn {
				idx = i
			}
		}
		if idx < 0 {
			return s.unknownKey(k, logBatchKeys)
		}
		if seen[idx] {
			return false
		}
		seen[idx] = true
		var ok bool
		switch logBatchKeys[idx] {
		case "run_id":
			req.RunID, ok = s.str()
		case "run_uuid":
			req.RunUUID, ok = s.str()
		case "params":
			req.Params, ok = kvList()
		case "tags":
			req.Tags, ok = kvList()
		case "metrics":
			if !s.next('[') {
				return false
			}
			req.Metrics = make([]metricReq, 0, bytes.Count(s.b[s.i:], []byte(`"key"`)))
			if s.next(']') {
				return true
			}
			for {
				var m metricReq
				if !s.object(func(k []byte) bool {
					if s.metricField(k, &m) {
						return true
					}
					switch string(k) {
					case "key", "value", "timestamp", "step":
						return false
					}
					return s.unknownKey(k, metricKeys)
				}) {
					return false
				}
				req.Metrics = append(req.Metrics, m)
				if s.next(']') {
					return true
				}
				if !s.next(',') {
					return false
				}
			}
		}
		return ok
	})
	if !ok || !s.end() {
		return false
	}
	*out = v
	return true
}
