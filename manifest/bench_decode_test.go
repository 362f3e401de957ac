package manifest

import (
	"fmt"
	"testing"
)

// BenchmarkDecodeRun decodes a canonical run with 20 params and 10
// metrics, as a cold run index build does 100,000 times.
func BenchmarkDecodeRun(b *testing.B) {
	r := &Run{Header: Header{APIVersion: APIVersion, Kind: KindRun}, ID: "2a3d2c25507ad2a9a14dfe37675eb09b", ExperimentID: "0",
		Name: "run-1", Status: StatusFinished, LifecycleStage: LifecycleActive, User: "bench", StartTime: 1700000000000, EndTime: 1700000000500,
		Params: map[string]string{}, Tags: map[string]string{"mlflow.runName": "run-1", "team": "vision"}, Metrics: map[string]MetricSummary{}, MetricSegments: 1}
	for i := 0; i < 20; i++ {
		r.Params[fmt.Sprintf("param_%02d", i)] = fmt.Sprint(i * 37)
	}
	for i := 0; i < 10; i++ {
		r.Metrics[fmt.Sprintf("metric_%02d", i)] = MetricSummary{Value: 0.5 + float64(i)/100, Step: 3, Timestamp: 1700000000001, Min: 0.1, Max: 0.9, Count: 4}
	}
	data := r.Encode()
	b.SetBytes(int64(len(data)))
	for i := 0; i < b.N; i++ {
		if _, err := DecodeRun(data); err != nil {
			b.Fatal(err)
		}
	}
}
