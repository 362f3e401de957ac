package server

import (
	"context"
	"sort"

	"github.com/mlgit/mlgit/internal/pagetoken"
	"github.com/mlgit/mlgit/manifest"
)

const (
	maxBulkHistory         = 25000
	maxBulkRuns            = 100
	maxBulkIntervalResults = 2500
	defaultBulkInterval    = 320
)

type getMetricHistoryReq struct {
	runIDReq
	MetricKey  string `json:"metric_key"`
	PageToken  string `json:"page_token"`
	MaxResults Int64  `json:"max_results"`
}

func (s *Server) getMetricHistory(ctx context.Context, req *getMetricHistoryReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if req.MetricKey == "" {
		return nil, missing("metric_key")
	}
	pts, err := s.r.MetricHistory(id, req.MetricKey)
	if err != nil {
		return nil, err
	}
	offset, err := decodeOffset(req.PageToken)
	if err != nil {
		return nil, err
	}
	// Without max_results the whole history is returned in one page, as
	// MLflow's client expects.
	end := len(pts)
	if req.MaxResults.Set {
		if req.MaxResults.V < 1 {
			return nil, invalidf("Invalid value %d for parameter 'max_results': it must be at least 1", req.MaxResults.V)
		}
		if e := int64(offset) + req.MaxResults.V; e < int64(end) {
			end = int(e)
		}
	}
	var resp struct {
		Metrics       []metricJSON `json:"metrics,omitempty"`
		NextPageToken string       `json:"next_page_token,omitempty"`
	}
	if offset < end {
		resp.Metrics = make([]metricJSON, 0, end-offset)
		for _, p := range pts[offset:end] {
			resp.Metrics = append(resp.Metrics, toMetric(p, ""))
		}
	}
	if end < len(pts) {
		resp.NextPageToken = pagetoken.Encode(end)
	}
	return resp, nil
}

func toMetric(p manifest.MetricPoint, run string) metricJSON {
	return metricJSON{Key: p.Key, Value: manifest.JSONFloat(p.Value), Timestamp: p.Timestamp, Step: p.Step, RunID: run}
}

type getMetricHistoryBulkIntervalReq struct {
	RunIDs     []string `json:"run_ids"`
	MetricKey  string   `json:"metric_key"`
	StartStep  Int64    `json:"start_step"`
	EndStep    Int64    `json:"end_step"`
	MaxResults Int64    `json:"max_results"`
}

// getMetricHistoryBulkInterval returns the points of one metric of up to 100
// runs, sampled to at most max_results steps: the steps kept are spread
// evenly over the distinct steps of all the runs in [start_step, end_step],
// always keeping the first and the last, and every point at a kept step is
// returned.
func (s *Server) getMetricHistoryBulkInterval(ctx context.Context, req *getMetricHistoryBulkIntervalReq) (any, error) {
	if len(req.RunIDs) == 0 {
		return nil, missing("run_ids")
	}
	if len(req.RunIDs) > maxBulkRuns {
		return nil, invalidf("GetMetricHistoryBulkInterval request must specify at most %d run_ids. Received %d run_ids.", maxBulkRuns, len(req.RunIDs))
	}
	if req.MetricKey == "" {
		return nil, missing("metric_key")
	}
	if req.StartStep.Set != req.EndStep.Set {
		return nil, invalidf("If either start step or end step are specified, both must be specified.")
	}
	if req.StartStep.Set && req.StartStep.V > req.EndStep.V {
		return nil, invalidf("end_step must be greater than start_step. Found start_step=%d and end_step=%d.", req.StartStep.V, req.EndStep.V)
	}
	max := int64(defaultBulkInterval)
	if req.MaxResults.Set {
		max = req.MaxResults.V
		if max < 1 || max > maxBulkIntervalResults {
			return nil, invalidf("max_results must be between 1 and %d.", maxBulkIntervalResults)
		}
	}
	type runPts struct {
		id  string
		pts []manifest.MetricPoint
	}
	var all []runPts
	steps := map[int64]bool{}
	for _, id := range req.RunIDs {
		pts, err := s.r.MetricHistory(id, req.MetricKey)
		if err != nil {
			return nil, err
		}
		var in []manifest.MetricPoint
		for _, p := range pts {
			if req.StartStep.Set && (p.Step < req.StartStep.V || p.Step > req.EndStep.V) {
				continue
			}
			in = append(in, p)
			steps[p.Step] = true
		}
		all = append(all, runPts{id, in})
	}
	sorted := make([]int64, 0, len(steps))
	for st := range steps {
		sorted = append(sorted, st)
	}
	sort.Slice(sorted, func(i, j int) bool { return sorted[i] < sorted[j] })
	keep := map[int64]bool{}
	if int64(len(sorted)) <= max {
		keep = steps
	} else if max == 1 {
		keep[sorted[0]] = true
	} else {
		n := len(sorted)
		for i := int64(0); i < max; i++ {
			keep[sorted[int(i*int64(n-1)/(max-1))]] = true
		}
	}
	var resp struct {
		Metrics []metricJSON `json:"metrics,omitempty"`
	}
	for _, rp := range all {
		pts := append([]manifest.MetricPoint(nil), rp.pts...)
		sort.SliceStable(pts, func(i, j int) bool {
			if pts[i].Step != pts[j].Step {
				return pts[i].Step < pts[j].Step
			}
			return pts[i].Timestamp < pts[j].Timestamp
		})
		for _, p := range pts {
			if keep[p.Step] {
				resp.Metrics = append(resp.Metrics, toMetric(p, rp.id))
			}
		}
	}
	return resp, nil
}

type getMetricHistoryBulkReq struct {
	RunIDs     []string `json:"run_id"`
	MetricKey  string   `json:"metric_key"`
	MaxResults Int64    `json:"max_results"`
}

// getMetricHistoryBulk serves the UI's get-history-bulk: the history of one
// metric for up to 100 runs (run_id repeated), at most max_results points
// in all (default and limit 25000), each with its run_id.
func (s *Server) getMetricHistoryBulk(ctx context.Context, req *getMetricHistoryBulkReq) (any, error) {
	if len(req.RunIDs) == 0 {
		return nil, invalidf("GetMetricHistoryBulk request must specify at least one run_id.")
	}
	if len(req.RunIDs) > maxBulkRuns {
		return nil, invalidf("GetMetricHistoryBulk request cannot specify more than %d run_ids. Received %d run_ids.", maxBulkRuns, len(req.RunIDs))
	}
	if req.MetricKey == "" {
		return nil, missing("metric_key")
	}
	max := int64(maxBulkHistory)
	if req.MaxResults.Set {
		if req.MaxResults.V < 1 {
			return nil, invalidf("max_results must be at least 1")
		}
		if req.MaxResults.V < max {
			max = req.MaxResults.V
		}
	}
	var resp struct {
		Metrics []metricJSON `json:"metrics,omitempty"`
	}
	for _, id := range req.RunIDs {
		pts, err := s.r.MetricHistory(id, req.MetricKey)
		if err != nil {
			return nil, err
		}
		for _, p := range pts {
			if int64(len(resp.Metrics)) >= max {
				return resp, nil
			}
			resp.Metrics = append(resp.Metrics, toMetric(p, id))
		}
	}
	return resp, nil
}
