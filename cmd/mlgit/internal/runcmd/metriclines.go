package runcmd

import (
	"encoding/json"
	"math"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// Metric lines: what `run log --metrics-from` reads and what `run exec
// --metrics-from-output` picks out of a program's output. A line is a metric
// line when it is, as a whole, one of:
//
//	loss=0.31@7                      key=value[@step]
//	step=7 loss=0.31 acc=0.9         key=value pairs; a step= pair is the step of the others
//	loss: 0.31                       key: value
//	{"step": 7, "loss": 0.31}        a JSON object: its numbers are metrics, "step" the step
//	loss 0.31 7 1718000000000        key value [step [timestamp_ms]] (input files only)
//
// Keys must be valid metric keys and values numbers (NaN, Inf and -Inf
// included); anything else is not a metric line. The bare "key value" form is
// recognised in input files only: in a program's output "Epoch 5" is text,
// not a metric.
type metricLines struct {
	// bare accepts the "key value [step [timestamp]]" form.
	bare bool
}

// metricLineHelp names the forms, for messages.
const metricLineHelp = "key=value[@step], key=value pairs, key: value, a JSON object of numbers, or key value [step [timestamp]]"

// parse returns the points of line, and whether it is a metric line. Blank
// lines and # comments are neither (ok false, skip false): callers skip them
// without counting them.
func (ml metricLines) parse(line string, ts int64) (points []manifest.MetricPoint, ok, blank bool) {
	line = strings.TrimSpace(line)
	if line == "" || strings.HasPrefix(line, "#") {
		return nil, false, true
	}
	switch {
	case line[0] == '{':
		points, ok = parseJSONMetrics(line, ts)
	case strings.Contains(line, "="):
		points, ok = parsePairs(line, ts)
	case strings.Contains(line, ": "):
		k, v, _ := strings.Cut(line, ": ")
		var p manifest.MetricPoint
		if p, ok = metricPoint(strings.TrimSpace(k), strings.TrimSpace(v), 0, ts); ok {
			points = []manifest.MetricPoint{p}
		}
	case ml.bare:
		points, ok = parseBare(line, ts)
	}
	return points, ok, false
}

// metricPoint builds a point of key and the number in val, if both are valid.
func metricPoint(key, val string, step, ts int64) (manifest.MetricPoint, bool) {
	if manifest.ValidateKey("metric", key) != nil {
		return manifest.MetricPoint{}, false
	}
	v, err := manifest.ParseFloat(val)
	if err != nil {
		return manifest.MetricPoint{}, false
	}
	return manifest.MetricPoint{Key: key, Value: v, Step: step, Timestamp: ts}, true
}

// parsePairs reads whitespace-separated "key=value[@step]" pairs, one of
// which may be step=N (the step of the others). A key here has no spaces:
// "trained in 3 epochs with lr=0.1" is a sentence, not a metric (a key with
// spaces can be written "val loss: 0.3").
func parsePairs(line string, ts int64) ([]manifest.MetricPoint, bool) {
	var step int64
	var points []manifest.MetricPoint
	stepSet := false
	for _, f := range strings.Fields(line) {
		k, v, found := strings.Cut(f, "=")
		if !found {
			return nil, false
		}
		if k == "step" {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil || stepSet {
				return nil, false
			}
			step, stepSet = n, true
			continue
		}
		var own int64 = -1
		if val, s, found := strings.Cut(v, "@"); found {
			n, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return nil, false
			}
			v, own = val, n
		}
		p, ok := metricPoint(k, v, own, ts)
		if !ok {
			return nil, false
		}
		points = append(points, p)
	}
	if len(points) == 0 {
		return nil, false
	}
	for i := range points {
		if points[i].Step < 0 {
			points[i].Step = step
		}
	}
	return points, true
}

// parseJSONMetrics reads a JSON object: each number is a metric, "step"
// (an integer) the step of all of them; strings, booleans, nulls and nested
// values are ignored. An object without a number is not a metric line.
func parseJSONMetrics(line string, ts int64) ([]manifest.MetricPoint, bool) {
	var obj map[string]json.RawMessage
	if json.Unmarshal([]byte(line), &obj) != nil {
		return nil, false
	}
	var step int64
	if raw, ok := obj["step"]; ok {
		var f float64
		if json.Unmarshal(raw, &f) != nil || f != math.Trunc(f) || math.Abs(f) > 1<<53 {
			return nil, false
		}
		step = int64(f)
	}
	keys := make([]string, 0, len(obj))
	for k := range obj {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var points []manifest.MetricPoint
	for _, k := range keys {
		if k == "step" {
			continue
		}
		var f float64
		if json.Unmarshal(obj[k], &f) != nil || manifest.ValidateKey("metric", k) != nil {
			continue
		}
		points = append(points, manifest.MetricPoint{Key: k, Value: f, Step: step, Timestamp: ts})
	}
	return points, len(points) > 0
}

// parseBare reads "key value [step [timestamp_ms]]".
func parseBare(line string, ts int64) ([]manifest.MetricPoint, bool) {
	f := strings.Fields(line)
	if len(f) < 2 || len(f) > 4 {
		return nil, false
	}
	var step int64
	if len(f) >= 3 {
		n, err := strconv.ParseInt(f[2], 10, 64)
		if err != nil {
			return nil, false
		}
		step = n
	}
	if len(f) == 4 {
		n, err := strconv.ParseInt(f[3], 10, 64)
		if err != nil {
			return nil, false
		}
		ts = n
	}
	p, ok := metricPoint(f[0], f[1], step, ts)
	if !ok {
		return nil, false
	}
	return []manifest.MetricPoint{p}, true
}
