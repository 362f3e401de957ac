package manifest

import (
	"encoding/json"
	"math"
	"strconv"
)

// JSONFloat is a float64 that encodes NaN and the infinities as MLflow's
// JSON does ("NaN", "Infinity", "-Infinity") and decodes those strings, or
// numbers, back.
type JSONFloat float64

// MarshalJSON implements json.Marshaler.
func (f JSONFloat) MarshalJSON() ([]byte, error) {
	v := float64(f)
	switch {
	case math.IsNaN(v):
		return []byte(`"NaN"`), nil
	case math.IsInf(v, 1):
		return []byte(`"Infinity"`), nil
	case math.IsInf(v, -1):
		return []byte(`"-Infinity"`), nil
	}
	return strconv.AppendFloat(nil, v, 'g', -1, 64), nil
}

// UnmarshalJSON implements json.Unmarshaler.
func (f *JSONFloat) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		v, err := ParseFloat(s)
		if err != nil {
			return err
		}
		*f = JSONFloat(v)
		return nil
	}
	var v float64
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	*f = JSONFloat(v)
	return nil
}

type metricSummaryJSON struct {
	Value     JSONFloat `json:"value"`
	Step      int64     `json:"step"`
	Timestamp int64     `json:"timestamp"`
	Min       JSONFloat `json:"min"`
	Max       JSONFloat `json:"max"`
	Count     int64     `json:"count"`
}

// MarshalJSON encodes the summary with NaN-safe floats.
func (s MetricSummary) MarshalJSON() ([]byte, error) {
	return json.Marshal(metricSummaryJSON{JSONFloat(s.Value), s.Step, s.Timestamp, JSONFloat(s.Min), JSONFloat(s.Max), s.Count})
}

// UnmarshalJSON decodes what MarshalJSON writes.
func (s *MetricSummary) UnmarshalJSON(b []byte) error {
	var j metricSummaryJSON
	if err := json.Unmarshal(b, &j); err != nil {
		return err
	}
	*s = MetricSummary{float64(j.Value), j.Step, j.Timestamp, float64(j.Min), float64(j.Max), j.Count}
	return nil
}
