package server

import (
	"context"
	"net/http"
	"sort"
	"strconv"

	"github.com/mlgit/mlgit/internal/pagetoken"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo"
)

// registerTracking registers the tracking service's endpoints.
func (s *Server) registerTracking() {
	const get, post = http.MethodGet, http.MethodPost
	s.handle(post, "/experiments/create", true, jsonHandler((*Server).createExperiment))
	s.handle(get, "/experiments/get", false, jsonHandler((*Server).getExperiment))
	s.handle(get, "/experiments/get-by-name", false, jsonHandler((*Server).getExperimentByName))
	s.handle(post, "/experiments/search", false, jsonHandler((*Server).searchExperiments))
	s.handle(get, "/experiments/search", false, jsonHandler((*Server).searchExperiments))
	s.handle(post, "/experiments/update", true, jsonHandler((*Server).updateExperiment))
	s.handle(post, "/experiments/delete", true, jsonHandler((*Server).deleteExperiment))
	s.handle(post, "/experiments/restore", true, jsonHandler((*Server).restoreExperiment))
	s.handle(post, "/experiments/set-experiment-tag", true, jsonHandler((*Server).setExperimentTag))
	s.handle(post, "/experiments/delete-experiment-tag", true, jsonHandler((*Server).deleteExperimentTag))

	s.handle(post, "/runs/create", true, jsonHandler((*Server).createRun))
	s.handle(get, "/runs/get", false, jsonHandler((*Server).getRun))
	s.handle(post, "/runs/update", true, jsonHandler((*Server).updateRun))
	s.handle(post, "/runs/delete", true, jsonHandler((*Server).deleteRun))
	s.handle(post, "/runs/restore", true, jsonHandler((*Server).restoreRun))
	s.handle(post, "/runs/log-metric", true, jsonHandler((*Server).logMetric))
	s.handle(post, "/runs/log-parameter", true, jsonHandler((*Server).logParam))
	s.handle(post, "/runs/log-batch", true, jsonHandler((*Server).logBatch))
	s.handle(post, "/runs/set-tag", true, jsonHandler((*Server).setTag))
	s.handle(post, "/runs/delete-tag", true, jsonHandler((*Server).deleteTag))
	s.handle(post, "/runs/log-inputs", true, jsonHandler((*Server).logInputs))
	s.handle(post, "/runs/log-model", true, jsonHandler((*Server).logModel))
	s.handle(post, "/runs/search", false, jsonHandler((*Server).searchRuns))
	s.handle(get, "/runs/search", false, jsonHandler((*Server).searchRuns))

	s.handle(get, "/metrics/get-history", false, jsonHandler((*Server).getMetricHistory))
	s.handle(get, "/metrics/get-history-bulk", false, jsonHandler((*Server).getMetricHistoryBulk))
	s.handle(get, "/metrics/get-history-bulk-interval", false, jsonHandler((*Server).getMetricHistoryBulkInterval))
	s.handle(get, "/artifacts/list", false, jsonHandler((*Server).listRunArtifacts))
}

type tagsReq []struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type createExperimentReq struct {
	Name             string  `json:"name"`
	ArtifactLocation string  `json:"artifact_location"`
	Tags             tagsReq `json:"tags"`
}

func (s *Server) createExperiment(ctx context.Context, req *createExperimentReq) (any, error) {
	if req.Name == "" {
		return nil, missing("name")
	}
	if req.ArtifactLocation != "" {
		// Artifacts live in the blob store; a location elsewhere (file:,
		// http:, dbfs:, a path) would be a way to read or write outside
		// it. See docs/server.md.
		return nil, invalidf("artifact_location %q is not supported: mlgit stores artifacts in its blob store (mlflow-artifacts:/<experiment_id>); leave artifact_location unset", req.ArtifactLocation)
	}
	var tags map[string]string
	for i, t := range req.Tags {
		if t.Key == "" {
			return nil, missing("tags[" + strconv.Itoa(i) + "].key")
		}
		if tags == nil {
			tags = map[string]string{}
		}
		tags[t.Key] = t.Value
	}
	e, err := s.r.CreateExperiment(req.Name, "", tags)
	if err != nil {
		return nil, err
	}
	return map[string]string{"experiment_id": e.ID}, nil
}

type experimentResp struct {
	Experiment experimentJSON `json:"experiment"`
}

type getExperimentReq struct {
	ID string `json:"experiment_id"`
}

func (s *Server) getExperiment(ctx context.Context, req *getExperimentReq) (any, error) {
	if req.ID == "" {
		return nil, missing("experiment_id")
	}
	e, err := s.r.GetExperiment(req.ID)
	if err != nil {
		return nil, err
	}
	return experimentResp{toExperiment(e)}, nil
}

type getExperimentByNameReq struct {
	Name string `json:"experiment_name"`
}

func (s *Server) getExperimentByName(ctx context.Context, req *getExperimentByNameReq) (any, error) {
	if req.Name == "" {
		return nil, missing("experiment_name")
	}
	exps, err := s.r.ListExperiments(repo.ViewAll)
	if err != nil {
		return nil, err
	}
	// Prefer an active experiment over a deleted one with the same name.
	var found *manifest.Experiment
	for _, e := range exps {
		if e.Name == req.Name && (found == nil || e.LifecycleStage == manifest.LifecycleActive) {
			found = e
		}
	}
	if found == nil {
		return nil, errorf(codeDoesNotExist, "Could not find experiment with name '%s'", req.Name)
	}
	return experimentResp{toExperiment(found)}, nil
}

// expRow adapts an experiment to query.Row.
type expRow struct{ *manifest.Experiment }

func (e expRow) Metric(string) (float64, bool)  { return 0, false }
func (e expRow) Param(string) (string, bool)    { return "", false }
func (e expRow) Tag(k string) (string, bool)    { v, ok := e.Tags[k]; return v, ok }
func (e expRow) Datasets() []query.DatasetInput { return nil }
func (e expRow) Attr(name string) (query.Value, bool) {
	switch name {
	case "name":
		return query.StrValue(e.Name), true
	case "creation_time":
		return query.NumValue(float64(e.CreationTime)), true
	case "last_update_time":
		return query.NumValue(float64(e.LastUpdateTime)), true
	case "experiment_id":
		n, err := strconv.ParseFloat(e.ID, 64)
		if err != nil {
			return query.StrValue(e.ID), true
		}
		return query.NumValue(n), true
	}
	return query.Value{}, false
}

func viewOf(v ViewType) repo.ViewType {
	switch v.V {
	case 2:
		return repo.ViewDeleted
	case 3:
		return repo.ViewAll
	}
	return repo.ViewActive
}

type searchExperimentsReq struct {
	MaxResults Int64    `json:"max_results"`
	PageToken  string   `json:"page_token"`
	Filter     string   `json:"filter"`
	OrderBy    []string `json:"order_by"`
	ViewType   ViewType `json:"view_type"`
}

func (s *Server) searchExperiments(ctx context.Context, req *searchExperimentsReq) (any, error) {
	max, err := searchMax(req.MaxResults)
	if err != nil {
		return nil, err
	}
	f, err := query.ParseFilter(query.Experiments, req.Filter)
	if err != nil {
		return nil, invalidf("Invalid filter '%s': %v", req.Filter, err)
	}
	orders, err := query.ParseOrderByList(query.Experiments, req.OrderBy)
	if err != nil {
		return nil, invalidf("Invalid order_by: %v", err)
	}
	orders = query.WithTieBreak(query.Experiments, orders)
	offset, err := decodeOffset(req.PageToken)
	if err != nil {
		return nil, err
	}
	exps, err := s.r.ListExperiments(viewOf(req.ViewType))
	if err != nil {
		return nil, err
	}
	var rows []expRow
	for _, e := range exps {
		if f.Match(expRow{e}) {
			rows = append(rows, expRow{e})
		}
	}
	sort.SliceStable(rows, func(i, j int) bool { return query.Compare(rows[i], rows[j], orders) < 0 })
	var resp struct {
		Experiments   []experimentJSON `json:"experiments,omitempty"`
		NextPageToken string           `json:"next_page_token,omitempty"`
	}
	end := offset + int(max)
	if end > len(rows) {
		end = len(rows)
	}
	if offset < len(rows) {
		for _, e := range rows[offset:end] {
			resp.Experiments = append(resp.Experiments, toExperiment(e.Experiment))
		}
	}
	if end < len(rows) {
		resp.NextPageToken = pagetoken.Encode(end)
	}
	return resp, nil
}

// decodeOffset reads the page token of a listing the server pages itself
// (pagetoken.Encode writes them); a token that does not decode is MLflow's
// INVALID_PARAMETER_VALUE.
func decodeOffset(tok string) (int, error) {
	n, err := pagetoken.Decode(tok)
	if err != nil {
		return 0, invalidf("Invalid page token, could not base64-decode")
	}
	return n, nil
}

type updateExperimentReq struct {
	ID      string `json:"experiment_id"`
	NewName string `json:"new_name"`
}

func (s *Server) updateExperiment(ctx context.Context, req *updateExperimentReq) (any, error) {
	if req.ID == "" {
		return nil, missing("experiment_id")
	}
	if req.NewName == "" {
		return nil, missing("new_name")
	}
	if err := s.activeExperiment(req.ID); err != nil {
		return nil, err
	}
	_, err := s.r.UpdateExperiment(req.ID, repo.ExperimentChange{Name: &req.NewName})
	return nil, err
}

// activeExperiment fails unless experiment id exists and is active.
func (s *Server) activeExperiment(id string) error {
	e, err := s.r.GetExperiment(id)
	if err != nil {
		return err
	}
	if e.LifecycleStage != manifest.LifecycleActive {
		return invalidf("The experiment %s must be in the 'active' state. Current state is %s.", id, e.LifecycleStage)
	}
	return nil
}

type experimentIDReq struct {
	ID string `json:"experiment_id"`
}

func (s *Server) setLifecycle(req *experimentIDReq, stage string) (any, error) {
	if req.ID == "" {
		return nil, missing("experiment_id")
	}
	_, err := s.r.UpdateExperiment(req.ID, repo.ExperimentChange{Lifecycle: &stage})
	if err != nil {
		return nil, err
	}
	// MLflow cascades the experiment's lifecycle to its runs.
	view := repo.ViewActive
	if stage == manifest.LifecycleActive {
		view = repo.ViewDeleted
	}
	token := ""
	for {
		page, err := s.r.SearchRuns(repo.RunSearch{ExperimentIDs: []string{req.ID}, View: view, MaxResults: repo.MaxSearchResults, PageToken: token})
		if err != nil {
			return nil, err
		}
		for _, run := range page.Runs {
			if stage == manifest.LifecycleDeleted {
				err = s.r.DeleteRun(run.ID)
			} else {
				err = s.r.RestoreRun(run.ID)
			}
			if err != nil {
				return nil, err
			}
		}
		if page.NextPageToken == "" {
			return nil, nil
		}
		token = page.NextPageToken
	}
}

func (s *Server) deleteExperiment(ctx context.Context, req *experimentIDReq) (any, error) {
	return s.setLifecycle(req, manifest.LifecycleDeleted)
}

func (s *Server) restoreExperiment(ctx context.Context, req *experimentIDReq) (any, error) {
	return s.setLifecycle(req, manifest.LifecycleActive)
}

type setExperimentTagReq struct {
	ID    string `json:"experiment_id"`
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Server) setExperimentTag(ctx context.Context, req *setExperimentTagReq) (any, error) {
	if req.ID == "" {
		return nil, missing("experiment_id")
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	if err := s.activeExperiment(req.ID); err != nil {
		return nil, err
	}
	_, err := s.r.UpdateExperiment(req.ID, repo.ExperimentChange{SetTags: map[string]string{req.Key: req.Value}})
	return nil, err
}

type deleteExperimentTagReq struct {
	ID  string `json:"experiment_id"`
	Key string `json:"key"`
}

func (s *Server) deleteExperimentTag(ctx context.Context, req *deleteExperimentTagReq) (any, error) {
	if req.ID == "" {
		return nil, missing("experiment_id")
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	if err := s.activeExperiment(req.ID); err != nil {
		return nil, err
	}
	_, err := s.r.UpdateExperiment(req.ID, repo.ExperimentChange{DeleteTags: []string{req.Key}})
	return nil, err
}
