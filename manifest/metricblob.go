package manifest

import (
	"fmt"
	"sort"
)

// MetricBlob is runs/<xx>/<id>/metrics/<seq>.yaml: segment seq of a run's
// metric history, kept in the blob store as a columnar blob (see
// EncodeColumns) because the run's history is long. The pointer stays on
// the branch with what a reader needs without the blob: the blob's digest
// and size, and per metric key its point count, step range, smallest,
// largest and last value.
type MetricBlob struct {
	Header  `yaml:",inline"`
	Run     string                   `yaml:"run" json:"run_id"`
	Segment int                      `yaml:"segment" json:"segment"`
	Digest  string                   `yaml:"digest" json:"digest"`
	Size    int64                    `yaml:"size" json:"size"`
	Points  int64                    `yaml:"points" json:"points"`
	Metrics map[string]MetricBlobKey `yaml:"metrics" json:"metrics"`
}

// MetricBlobKey summarises one metric key's points in a MetricBlob. Min
// and Max ignore NaN (both are NaN when every value is); Last is the value
// logged last in the segment.
type MetricBlobKey struct {
	Points  int64   `yaml:"points" json:"points"`
	MinStep int64   `yaml:"minStep" json:"min_step"`
	MaxStep int64   `yaml:"maxStep" json:"max_step"`
	Min     float64 `yaml:"min" json:"min"`
	Max     float64 `yaml:"max" json:"max"`
	Last    float64 `yaml:"last" json:"last"`
}

// NewMetricBlob returns the pointer to segment seq of run id, stored as
// the blob digest of size bytes, with the key summaries EncodeColumns
// returned.
func NewMetricBlob(id string, seq int, digest string, size int64, keys map[string]MetricBlobKey) *MetricBlob {
	m := &MetricBlob{Header: Header{APIVersion: APIVersion, Kind: KindMetricBlob}, Run: id, Segment: seq, Digest: digest, Size: size, Metrics: keys}
	for _, k := range keys {
		m.Points += k.Points
	}
	return m
}

// DecodeMetricBlob strictly decodes and validates a metric-history pointer.
func DecodeMetricBlob(data []byte) (*MetricBlob, error) {
	var v MetricBlob
	if err := decodeStrict(data, KindMetricBlob, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (m *MetricBlob) Encode() []byte { return encode(m) }

// Keys returns the metric keys, sorted.
func (m *MetricBlob) Keys() []string {
	out := make([]string, 0, len(m.Metrics))
	for k := range m.Metrics {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// Validate checks the pointer's rules.
func (m *MetricBlob) Validate() error {
	if err := checkHeader(m.Header, KindMetricBlob); err != nil {
		return err
	}
	if !runIDRe.MatchString(m.Run) {
		return invalid("metric blob: run id %q is not 32 lower-case hex characters", m.Run)
	}
	if m.Segment < 1 {
		return invalid("metric blob of run %s: segment %d is not a positive number", m.Run, m.Segment)
	}
	if !digestRe.MatchString(m.Digest) {
		return invalid("metric blob of run %s segment %d: digest %q is not sha256:<64 hex>", m.Run, m.Segment, m.Digest)
	}
	if m.Size <= 0 {
		return invalid("metric blob of run %s segment %d: size %d is not positive", m.Run, m.Segment, m.Size)
	}
	if len(m.Metrics) == 0 {
		return invalid("metric blob of run %s segment %d: no metrics", m.Run, m.Segment)
	}
	var total int64
	for _, k := range m.Keys() {
		s := m.Metrics[k]
		if err := ValidateKey("metric", k); err != nil {
			return fmt.Errorf("metric blob of run %s segment %d: %w", m.Run, m.Segment, err)
		}
		if s.Points <= 0 || s.MinStep > s.MaxStep {
			return invalid("metric blob of run %s segment %d: metric %q: %d points, steps %d..%d", m.Run, m.Segment, k, s.Points, s.MinStep, s.MaxStep)
		}
		total += s.Points
	}
	if total != m.Points {
		return invalid("metric blob of run %s segment %d: points %d, but its metrics hold %d", m.Run, m.Segment, m.Points, total)
	}
	return nil
}
