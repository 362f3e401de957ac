package server

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
)

// MLflow's log-batch limits (mlflow/utils/validation.py).
const (
	maxBatchMetrics = 1000
	maxBatchParams  = 100
	maxBatchTags    = 100
	maxBatchTotal   = 1000
)

const (
	runNameTag        = "mlflow.runName"
	logModelTag       = "mlflow.log-model.history"
	maxDatasetName    = 500
	maxDatasetDigest  = 36
	maxDatasetSchema  = 1<<20 - 1
	maxDatasetSource  = 1<<16 - 1
	maxDatasetProfile = 1<<24 - 1
	maxInputTagKey    = 255
	maxInputTagValue  = 500
)

// runIDReq is embedded by requests that name a run: run_id, or the
// deprecated run_uuid the Python client still sends alongside.
type runIDReq struct {
	RunID   string `json:"run_id"`
	RunUUID string `json:"run_uuid"`
}

func (q runIDReq) id() (string, error) {
	id := q.RunID
	if id == "" {
		id = q.RunUUID
	}
	if id == "" {
		return "", missing("run_id")
	}
	return id, nil
}

type runResp struct {
	Run runJSON `json:"run"`
}

type createRunReq struct {
	ExperimentID string  `json:"experiment_id"`
	UserID       string  `json:"user_id"`
	RunName      string  `json:"run_name"`
	StartTime    Int64   `json:"start_time"`
	Tags         tagsReq `json:"tags"`
}

func (s *Server) createRun(ctx context.Context, req *createRunReq) (any, error) {
	spec := repo.RunSpec{ExperimentID: req.ExperimentID, Name: req.RunName, User: req.UserID, StartTime: req.StartTime.V}
	if req.StartTime.V < 0 {
		return nil, invalidf("start_time %d must be non-negative (milliseconds since the epoch)", req.StartTime.V)
	}
	for i, t := range req.Tags {
		if t.Key == "" {
			return nil, missing("tags[" + strconv.Itoa(i) + "].key")
		}
		if spec.Tags == nil {
			spec.Tags = map[string]string{}
		}
		spec.Tags[t.Key] = t.Value
	}
	if n, ok := spec.Tags[runNameTag]; ok && req.RunName != "" && n != req.RunName {
		return nil, invalidf("Both 'run_name' argument and 'mlflow.runName' tag are specified, but with different values (run_name='%s', mlflow.runName='%s').", req.RunName, n)
	}
	if spec.User == "" {
		spec.User = spec.Tags["mlflow.user"]
	}
	d, err := s.r.CreateRun(spec)
	if err != nil {
		return nil, err
	}
	return runResp{toRun(d)}, nil
}

func (s *Server) getRun(ctx context.Context, req *runIDReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	d, err := s.r.GetRun(id)
	if err != nil {
		return nil, err
	}
	return runResp{toRun(d)}, nil
}

type updateRunReq struct {
	runIDReq
	Status  string `json:"status"`
	EndTime Int64  `json:"end_time"`
	RunName string `json:"run_name"`
}

func (s *Server) updateRun(ctx context.Context, req *updateRunReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	u := repo.RunUpdate{Status: req.Status, EndTime: req.EndTime.V}
	if req.RunName != "" {
		u.Name = &req.RunName
	}
	d, err := s.r.UpdateRun(id, u)
	if err != nil {
		return nil, err
	}
	return map[string]runInfoJSON{"run_info": toRunInfo(d)}, nil
}

func (s *Server) deleteRun(ctx context.Context, req *runIDReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return nil, s.r.DeleteRun(id)
}

func (s *Server) restoreRun(ctx context.Context, req *runIDReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	return nil, s.r.RestoreRun(id)
}

type metricReq struct {
	Key       string `json:"key"`
	Value     Float  `json:"value"`
	Timestamp Int64  `json:"timestamp"`
	Step      Int64  `json:"step"`
}

func (m metricReq) point(field string) (manifest.MetricPoint, error) {
	if m.Key == "" {
		return manifest.MetricPoint{}, missing(field + "key")
	}
	if !m.Value.Set {
		return manifest.MetricPoint{}, missing(field + "value")
	}
	if !m.Timestamp.Set {
		return manifest.MetricPoint{}, missing(field + "timestamp")
	}
	return manifest.MetricPoint{Key: m.Key, Value: m.Value.V, Timestamp: m.Timestamp.V, Step: m.Step.V}, nil
}

func (s *Server) logMetric(ctx context.Context, req *logMetricReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	p, err := req.point("")
	if err != nil {
		return nil, err
	}
	_, err = s.r.LogBatch(id, repo.Batch{Metrics: []manifest.MetricPoint{p}})
	return nil, err
}

// runKVReq is the request of log-parameter and set-tag: a key and its
// value for a run.
type runKVReq struct {
	runIDReq
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Server) logParam(ctx context.Context, req *runKVReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.LogBatch(id, repo.Batch{Params: []repo.KV{{Key: req.Key, Value: req.Value}}})
	return nil, err
}

func (s *Server) setTag(ctx context.Context, req *runKVReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.LogBatch(id, repo.Batch{Tags: []repo.KV{{Key: req.Key, Value: req.Value}}})
	return nil, err
}

type deleteTagReq struct {
	runIDReq
	Key string `json:"key"`
}

func (s *Server) deleteTag(ctx context.Context, req *deleteTagReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.LogBatch(id, repo.Batch{DeleteTags: []string{req.Key}})
	return nil, err
}

func (s *Server) logBatch(ctx context.Context, req *logBatchReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	nm, np, nt := len(req.Metrics), len(req.Params), len(req.Tags)
	switch {
	case nm > maxBatchMetrics:
		return nil, invalidf("A batch logging request can contain at most %d metrics. Got %d metrics. Please split up metrics across multiple requests and try again.", maxBatchMetrics, nm)
	case np > maxBatchParams:
		return nil, invalidf("A batch logging request can contain at most %d params. Got %d params. Please split up params across multiple requests and try again.", maxBatchParams, np)
	case nt > maxBatchTags:
		return nil, invalidf("A batch logging request can contain at most %d tags. Got %d tags. Please split up tags across multiple requests and try again.", maxBatchTags, nt)
	case nm+np+nt > maxBatchTotal:
		return nil, invalidf("A batch logging request can contain at most %d metrics, params, and tags in total. Got %d total metrics, params, and tags. Please split up metrics, params, and tags across multiple requests and try again.", maxBatchTotal, nm+np+nt)
	}
	var b repo.Batch
	if len(req.Metrics) > 0 {
		b.Metrics = make([]manifest.MetricPoint, 0, len(req.Metrics))
	}
	for i, m := range req.Metrics {
		if m.Key == "" || !m.Value.Set || !m.Timestamp.Set {
			_, err := m.point(fmt.Sprintf("metrics[%d].", i))
			return nil, err
		}
		b.Metrics = append(b.Metrics, manifest.MetricPoint{Key: m.Key, Value: m.Value.V, Timestamp: m.Timestamp.V, Step: m.Step.V})
	}
	seen := map[string]string{}
	for i, p := range req.Params {
		if p.Key == "" {
			return nil, missing(fmt.Sprintf("params[%d].key", i))
		}
		if v, dup := seen[p.Key]; dup && v != p.Value {
			return nil, invalidf("Duplicate parameter keys have been submitted: ['%s']. Please ensure the request contains only one param value per param key.", p.Key)
		}
		seen[p.Key] = p.Value
		b.Params = append(b.Params, repo.KV{Key: p.Key, Value: p.Value})
	}
	for i, t := range req.Tags {
		if t.Key == "" {
			return nil, missing(fmt.Sprintf("tags[%d].key", i))
		}
		b.Tags = append(b.Tags, repo.KV{Key: t.Key, Value: t.Value})
	}
	if len(b.Metrics)+len(b.Params)+len(b.Tags) == 0 {
		// Still tell a client about a run that does not exist.
		_, err := s.r.GetRun(id)
		return nil, err
	}
	_, err = s.r.LogBatch(id, b)
	return nil, err
}

type logInputsReq struct {
	runIDReq
	Datasets []struct {
		Tags    tagsReq `json:"tags"`
		Dataset *struct {
			Name       string `json:"name"`
			Digest     string `json:"digest"`
			SourceType string `json:"source_type"`
			Source     string `json:"source"`
			Schema     string `json:"schema"`
			Profile    string `json:"profile"`
		} `json:"dataset"`
	} `json:"datasets"`
}

func (s *Server) logInputs(ctx context.Context, req *logInputsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	var ins []manifest.Dataset
	for i, di := range req.Datasets {
		f := fmt.Sprintf("datasets[%d].", i)
		d := di.Dataset
		if d == nil {
			return nil, missing(f + "dataset")
		}
		for _, c := range []struct {
			name, v string
			max     int
		}{{"name", d.Name, maxDatasetName}, {"digest", d.Digest, maxDatasetDigest}, {"source_type", d.SourceType, 0}, {"source", d.Source, maxDatasetSource}} {
			if c.v == "" {
				return nil, missing(f + "dataset." + c.name)
			}
			if c.max > 0 && utf8.RuneCountInString(c.v) > c.max {
				return nil, invalidf("Dataset %s '%.40s...' exceeds the maximum length of %d", c.name, c.v, c.max)
			}
		}
		if len(d.Schema) > maxDatasetSchema || len(d.Profile) > maxDatasetProfile {
			return nil, invalidf("Dataset %q: schema or profile exceeds the maximum length", d.Name)
		}
		ds := manifest.Dataset{Name: d.Name, Digest: d.Digest, SourceType: d.SourceType, Source: d.Source, Schema: d.Schema, Profile: d.Profile}
		for _, t := range di.Tags {
			if t.Key == "" || utf8.RuneCountInString(t.Key) > maxInputTagKey || utf8.RuneCountInString(t.Value) > maxInputTagValue {
				return nil, invalidf("Input tag %q of dataset %q is empty or too long (key at most %d, value at most %d characters)", t.Key, d.Name, maxInputTagKey, maxInputTagValue)
			}
			if t.Key == datasetContextTag {
				ds.Context = t.Value
			}
		}
		ins = append(ins, ds)
	}
	if len(ins) == 0 {
		_, err := s.r.GetRun(id)
		return nil, err
	}
	_, err = s.r.LogBatch(id, repo.Batch{Inputs: ins})
	return nil, err
}

type logModelReq struct {
	runIDReq
	ModelJSON string `json:"model_json"`
}

// logModel records an MLflow 2.x model (the MLmodel file as JSON) in the
// run's mlflow.log-model.history tag, a JSON list, as MLflow's stores do.
func (s *Server) logModel(ctx context.Context, req *logModelReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if req.ModelJSON == "" {
		return nil, missing("model_json")
	}
	var model map[string]any
	if err := json.Unmarshal([]byte(req.ModelJSON), &model); err != nil || model == nil {
		return nil, invalidf("Malformed model info. \n %.200s \n is not a valid JSON.", req.ModelJSON)
	}
	var lack []string
	for _, k := range []string{"artifact_path", "flavors", "utc_time_created", "run_id"} {
		if _, ok := model[k]; !ok {
			lack = append(lack, k)
		}
	}
	if len(lack) > 0 {
		return nil, invalidf("Model json is missing mandatory fields: %v", lack)
	}
	mu := s.runLock(id)
	mu.Lock()
	defer mu.Unlock()
	d, err := s.r.GetRun(id)
	if err != nil {
		return nil, err
	}
	var hist []json.RawMessage
	if old := d.Tags[logModelTag]; old != "" {
		if json.Unmarshal([]byte(old), &hist) != nil {
			hist = nil
		}
	}
	entry, _ := json.Marshal(model)
	hist = append(hist, entry)
	// The tag value is bounded (8000 characters); keep the newest entries
	// that fit rather than cut the JSON.
	var val []byte
	for {
		val, _ = json.Marshal(hist)
		if utf8.RuneCount(val) <= manifest.MaxTagValue || len(hist) <= 1 {
			break
		}
		hist = hist[1:]
	}
	if utf8.RuneCount(val) > manifest.MaxTagValue {
		return nil, invalidf("the model json is %d characters; it does not fit the %d-character %s tag", len(entry), manifest.MaxTagValue, logModelTag)
	}
	_, err = s.r.LogBatch(id, repo.Batch{Tags: []repo.KV{{Key: logModelTag, Value: string(val)}}})
	return nil, err
}

type searchRunsReq struct {
	ExperimentIDs []string `json:"experiment_ids"`
	Filter        string   `json:"filter"`
	RunViewType   ViewType `json:"run_view_type"`
	MaxResults    Int64    `json:"max_results"`
	OrderBy       []string `json:"order_by"`
	PageToken     string   `json:"page_token"`
}

func (s *Server) searchRuns(ctx context.Context, req *searchRunsReq) (any, error) {
	max, err := searchMax(req.MaxResults)
	if err != nil {
		return nil, err
	}
	page, err := s.r.SearchRuns(repo.RunSearch{
		ExperimentIDs: req.ExperimentIDs,
		Filter:        req.Filter,
		OrderBy:       req.OrderBy,
		MaxResults:    int(max),
		View:          viewOf(req.RunViewType),
		PageToken:     req.PageToken,
	})
	if err != nil {
		return nil, err
	}
	return s.runsPageJSON(page.Runs, page.NextPageToken)
}

// searchMax is the max_results of a runs or experiments search: 1,000
// when absent, at least 1 and at most repo.MaxSearchResults.
func searchMax(n Int64) (int64, error) {
	if !n.Set {
		return 1000, nil
	}
	if n.V < 1 || n.V > repo.MaxSearchResults {
		return 0, invalidf("Invalid value %d for parameter 'max_results' supplied. It must be at most %d and at least 1.", n.V, repo.MaxSearchResults)
	}
	return n.V, nil
}

// runsPageJSON encodes a runs/search response: what json.Marshal gives for
//
//	struct {
//		Runs          []runJSON `json:"runs,omitempty"`
//		NextPageToken string    `json:"next_page_token,omitempty"`
//	}
//
// (a slice marshals as its elements' encodings joined by commas), built
// from each run's cached encoding: the store returns the same unchanging
// manifest for a run until the run changes, so a search that returns the
// same runs again encodes nothing.
func (s *Server) runsPageJSON(runs []*manifest.Run, next string) (rawJSON, error) {
	b := make([]byte, 0, 1024*len(runs)+64)
	b = append(b, '{')
	if len(runs) > 0 {
		b = append(b, `"runs":[`...)
		for i, d := range runs {
			if i > 0 {
				b = append(b, ',')
			}
			j, err := s.runJSON.get(d)
			if err != nil {
				return nil, err
			}
			b = append(b, j...)
		}
		b = append(b, ']')
	}
	if next != "" {
		if len(runs) > 0 {
			b = append(b, ',')
		}
		tok, _ := json.Marshal(next)
		b = append(b, `"next_page_token":`...)
		b = append(b, tok...)
	}
	return append(b, '}'), nil
}

// rawJSON is a response already encoded.
type rawJSON []byte

// runJSONCache keeps the JSON of recently returned runs, keyed by the
// manifest itself (the store never changes a manifest it returned from a
// search; a changed run is a new manifest). Holding the key keeps its
// address from being reused while the entry lives.
type runJSONCache struct {
	mu sync.Mutex
	m  map[*manifest.Run][]byte
}

const runJSONCacheSize = 8192

func (c *runJSONCache) get(d *manifest.Run) ([]byte, error) {
	c.mu.Lock()
	j, ok := c.m[d]
	c.mu.Unlock()
	if ok {
		return j, nil
	}
	j, err := json.Marshal(toRun(d))
	if err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil || len(c.m) >= runJSONCacheSize {
		c.m = make(map[*manifest.Run][]byte, runJSONCacheSize)
	}
	c.m[d] = j
	return j, nil
}
