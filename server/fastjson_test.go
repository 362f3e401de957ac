package server

import (
	"fmt"
	"math/rand"
	"reflect"
	"strings"
	"testing"
)

var fastSeeds = []string{
	`{"run_id":"abc","metrics":[{"key":"m","value":1.5,"timestamp":17,"step":3}]}`,
	`{"run_id":"abc","run_uuid":"abc","metrics":[],"params":[{"key":"p","value":"v"}],"tags":[{"key":"t","value":"x\ny"}]}`,
	`{"run_id":"abc","key":"m","value":-0.25e-3,"timestamp":1700000000000,"step":0}`,
	` {"metrics":[{"key":"m","value":"NaN","timestamp":1}]} `,
	`{"run_id":"a","metrics":[{"key":"m","value":1,"timestamp":1.0}]}`,
	`{"run_id":"a","metrics":[{"key":"m","value":1,"timestamp":"12"}]}`,
	`{"RUN_ID":"a"}`,
	`{"run_id":"a","run_id":"b"}`,
	`{"run_id":"a","extra":{"x":[1,2,{"y":null}],"z":true}}`,
	`{"run_id":"a","metrics":null}`,
	`{"run_id":"a","metrics":[{"key":"m","value":01}]}`,
	`{"run_id":"a"} x`,
	`"{\"run_id\":\"a\"}"`,
	`{"run_id":"\u00e9t\u00e9","metrics":[{"key":"k\"q","value":2}]}`,
	`{"run_id":"a","metrics":[{"key":"m","value":1e400}]}`,
	`{"run_id":"a","metrics":[{"key":"m","value":true}]}`,
	`{"run_id":"a","metrics":[{"key":"m","Value":3}]}`,
	`{"run_id":"a","metrics":[{"key":"m","value":3,"key":"n"}]}`,
	`{"run_id":"a","ſtep":1}`,
	`{"run_id":"a","params":[{"key":"p","value":"v","other":[]}]}`,
	`{}`,
	``,
	`{"run_id":"a",}`,
	`{"run_id":"a\x01"}`,
	"{\"run_id\":\"\xff\"}",
}

// fastAgrees checks that when a fast parser answers, it answers what
// decodeBytes gives; it reports whether the fast parser answered.
func fastAgrees(t *testing.T, body string) bool {
	t.Helper()
	var fb, jb logBatchReq
	okB := parseLogBatch([]byte(body), &fb)
	errB := decodeBytes([]byte(strings.TrimSpace(body)), &jb)
	if okB && (errB != nil || !reflect.DeepEqual(fb, jb)) {
		t.Fatalf("log-batch %q:\nfast %+v\njson %+v (%v)", body, fb, jb, errB)
	}
	var fm, jm logMetricReq
	okM := parseLogMetric([]byte(body), &fm)
	errM := decodeBytes([]byte(strings.TrimSpace(body)), &jm)
	if okM && (errM != nil || !reflect.DeepEqual(fm, jm)) {
		t.Fatalf("log-metric %q:\nfast %+v\njson %+v (%v)", body, fm, jm, errM)
	}
	if !okB && (fb.RunID != "" || fb.Metrics != nil) || !okM && fm.RunID != "" {
		t.Fatalf("%q: a refused parse changed its output", body)
	}
	return okB || okM
}

func TestFastJSONAgreesWithDecode(t *testing.T) {
	answered := 0
	for _, b := range fastSeeds {
		if fastAgrees(t, b) {
			answered++
		}
	}
	// Random bodies built from pieces, valid and not.
	rng := rand.New(rand.NewSource(5))
	keys := []string{`"run_id"`, `"run_uuid"`, `"metrics"`, `"params"`, `"tags"`, `"key"`, `"value"`, `"timestamp"`, `"step"`, `"Key"`, `"other"`}
	vals := []string{`"a"`, `1`, `-2.5`, `1e3`, `"3"`, `null`, `true`, `[]`, `{}`, `"x\"y"`, `0.1`, `12345678901234567890`}
	var obj func(depth int) string
	val := func(depth int) string {
		switch n := rng.Intn(10); {
		case n < 6 || depth > 2:
			return vals[rng.Intn(len(vals))]
		case n < 8:
			var items []string
			for i := rng.Intn(4); i > 0; i-- {
				items = append(items, obj(depth+1))
			}
			return "[" + strings.Join(items, ",") + "]"
		default:
			return obj(depth + 1)
		}
	}
	obj = func(depth int) string {
		var fs []string
		for i := rng.Intn(6); i > 0; i-- {
			fs = append(fs, keys[rng.Intn(len(keys))]+":"+val(depth))
		}
		return "{" + strings.Join(fs, ",") + "}"
	}
	for i := 0; i < 20000; i++ {
		if fastAgrees(t, obj(0)) {
			answered++
		}
	}
	// Bodies as clients send them are answered.
	for i := 0; i < 200; i++ {
		var ms []string
		for k := 0; k < 1+rng.Intn(20); k++ {
			ms = append(ms, fmt.Sprintf(`{"key":"m%d","value":%g,"timestamp":%d,"step":%d}`, k, rng.NormFloat64(), rng.Int63n(1<<41), rng.Intn(1000)))
		}
		body := `{"run_id":"0123456789abcdef0123456789abcdef","metrics":[` + strings.Join(ms, ",") + `],"params":[],"tags":[{"key":"a","value":"b"}]}`
		var req logBatchReq
		if !parseLogBatch([]byte(body), &req) || len(req.Metrics) != len(ms) {
			t.Fatalf("client body refused: %s", body)
		}
		fastAgrees(t, body)
	}
	t.Logf("fast path answered %d bodies", answered)
}

func FuzzFastJSON(f *testing.F) {
	for _, s := range fastSeeds {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) { fastAgrees(t, body) })
}

// BenchmarkDecodeLogBatch compares the fast path with encoding/json on a
// 1,000-metric log-batch body.
func BenchmarkDecodeLogBatch(b *testing.B) {
	body := batchBody("0123456789abcdef0123456789abcdef", 1000)
	b.Run("fast", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var req logBatchReq
			if !parseLogBatch(body, &req) {
				b.Fatal("refused")
			}
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		for i := 0; i < b.N; i++ {
			var req logBatchReq
			if err := decodeBytes(body, &req); err != nil {
				b.Fatal(err)
			}
		}
	})
}
