package server

import (
	"context"
	"fmt"
	"net/http"
	"strings"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo"
)

// MLflow 3 logged models (service.proto LoggedModel RPCs), stored as
// logged-models/<id[2:4]>/<id>/model.yaml.

const (
	lmPending      = "LOGGED_MODEL_PENDING"
	lmReady        = "LOGGED_MODEL_READY"
	lmUploadFailed = "LOGGED_MODEL_UPLOAD_FAILED"

	defaultLoggedModelSearch = 50
	maxLoggedModelSearch     = 50
)

func (s *Server) registerLoggedModels() {
	const get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	s.handle(post, "/logged-models", true, jsonHandler((*Server).createLoggedModel))
	s.handle(post, "/logged-models/search", false, jsonHandler((*Server).searchLoggedModels))
	s.handle(get, "/logged-models/{model_id}", false, jsonHandler((*Server).getLoggedModel))
	s.handle(patch, "/logged-models/{model_id}", true, jsonHandler((*Server).finalizeLoggedModel))
	s.handle(del, "/logged-models/{model_id}", true, jsonHandler((*Server).deleteLoggedModel))
	s.handle(patch, "/logged-models/{model_id}/tags", true, jsonHandler((*Server).setLoggedModelTags))
	s.handle(del, "/logged-models/{model_id}/tags/{tag_key...}", true, jsonHandler((*Server).deleteLoggedModelTag))
	s.handle(post, "/logged-models/{model_id}/params", true, jsonHandler((*Server).logLoggedModelParams))
	s.handle(get, "/logged-models/{model_id}/artifacts/directories", false, jsonHandler((*Server).listLoggedModelArtifacts))
	s.handle(post, "/runs/outputs", true, jsonHandler((*Server).logOutputs))
}

type loggedModelInfoJSON struct {
	ModelID                string   `json:"model_id"`
	ExperimentID           string   `json:"experiment_id"`
	Name                   string   `json:"name"`
	CreationTimestampMs    int64    `json:"creation_timestamp_ms,omitempty"`
	LastUpdatedTimestampMs int64    `json:"last_updated_timestamp_ms,omitempty"`
	ArtifactURI            string   `json:"artifact_uri"`
	Status                 string   `json:"status"`
	ModelType              string   `json:"model_type,omitempty"`
	SourceRunID            string   `json:"source_run_id,omitempty"`
	Tags                   []kvJSON `json:"tags,omitempty"`
}

type loggedModelJSON struct {
	Info loggedModelInfoJSON `json:"info"`
	Data struct {
		Params  []kvJSON     `json:"params,omitempty"`
		Metrics []metricJSON `json:"metrics,omitempty"`
	} `json:"data"`
}

func toLoggedModel(m *manifest.LoggedModel) loggedModelJSON {
	var out loggedModelJSON
	out.Info = loggedModelInfoJSON{
		ModelID: m.ID, ExperimentID: m.ExperimentID, Name: m.Name,
		CreationTimestampMs: m.CreationTimestamp, LastUpdatedTimestampMs: m.LastUpdatedTimestamp,
		ArtifactURI: m.ArtifactLocation, Status: m.Status, ModelType: m.ModelType,
		SourceRunID: m.SourceRunID, Tags: sortedKV(m.Tags),
	}
	out.Data.Params = sortedKV(m.Params)
	return out
}

type loggedModelResp struct {
	Model loggedModelJSON `json:"model"`
}

// loggedModelPath is the logged model a request's path names.
type loggedModelPath struct {
	ModelID string `path:"model_id" json:"-"`
}

// activeLoggedModel returns the logged model id; deleted ones do not exist
// for the API.
func (s *Server) activeLoggedModel(id string) (*manifest.LoggedModel, error) {
	m, err := s.r.GetLoggedModel(id)
	if err != nil {
		return nil, err
	}
	if m.LifecycleStage != manifest.LifecycleActive {
		return nil, errorf(codeDoesNotExist, "Logged model with ID '%s' not found.", id)
	}
	return m, nil
}

func kvMap(what string, kvs tagsReq) (map[string]string, error) {
	var out map[string]string
	for i, t := range kvs {
		if t.Key == "" {
			return nil, missing(fmt.Sprintf("%s[%d].key", what, i))
		}
		if out == nil {
			out = map[string]string{}
		}
		out[t.Key] = t.Value
	}
	return out, nil
}

type createLoggedModelReq struct {
	ExperimentID string  `json:"experiment_id"`
	Name         string  `json:"name"`
	ModelType    string  `json:"model_type"`
	SourceRunID  string  `json:"source_run_id"`
	Params       tagsReq `json:"params"`
	Tags         tagsReq `json:"tags"`
}

func (s *Server) createLoggedModel(ctx context.Context, req *createLoggedModelReq) (any, error) {
	if req.ExperimentID == "" {
		return nil, missing("experiment_id")
	}
	exp, err := s.r.GetExperiment(req.ExperimentID)
	if err != nil {
		return nil, err
	}
	params, err := kvMap("params", req.Params)
	if err != nil {
		return nil, err
	}
	tags, err := kvMap("tags", req.Tags)
	if err != nil {
		return nil, err
	}
	for k, v := range params {
		params[k], _ = manifest.Truncate(v, manifest.MaxParamValue)
	}
	for k, v := range tags {
		tags[k], _ = manifest.Truncate(v, manifest.MaxTagValue)
	}
	name := req.Name
	if name == "" {
		name = repo.RandomRunName()
	}
	id := repo.NewLoggedModelID()
	m, err := s.r.CreateLoggedModel(&manifest.LoggedModel{
		ID: id, ExperimentID: exp.ID, Name: name, ModelType: req.ModelType, SourceRunID: req.SourceRunID,
		Status: lmPending, ArtifactLocation: experimentLocation(exp) + "/models/" + id + "/artifacts",
		Params: params, Tags: tags,
	})
	if err != nil {
		return nil, err
	}
	return loggedModelResp{toLoggedModel(m)}, nil
}

func (s *Server) getLoggedModel(ctx context.Context, req *loggedModelPath) (any, error) {
	m, err := s.activeLoggedModel(req.ModelID)
	if err != nil {
		return nil, err
	}
	return loggedModelResp{toLoggedModel(m)}, nil
}

type finalizeLoggedModelReq struct {
	loggedModelPath
	Status string `json:"status"`
}

func (s *Server) finalizeLoggedModel(ctx context.Context, req *finalizeLoggedModelReq) (any, error) {
	switch strings.ToUpper(req.Status) {
	case lmReady, "2":
		req.Status = lmReady
	case lmUploadFailed, "3":
		req.Status = lmUploadFailed
	case "":
		return nil, missing("status")
	default:
		return nil, invalidf("Invalid status %q: a logged model is finalized as %s or %s", req.Status, lmReady, lmUploadFailed)
	}
	if _, err := s.activeLoggedModel(req.ModelID); err != nil {
		return nil, err
	}
	m, err := s.r.UpdateLoggedModel(req.ModelID, "finalized ("+req.Status+")", func(m *manifest.LoggedModel) error {
		m.Status = req.Status
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loggedModelResp{toLoggedModel(m)}, nil
}

func (s *Server) deleteLoggedModel(ctx context.Context, req *loggedModelPath) (any, error) {
	if _, err := s.activeLoggedModel(req.ModelID); err != nil {
		return nil, err
	}
	_, err := s.r.UpdateLoggedModel(req.ModelID, "deleted", func(m *manifest.LoggedModel) error {
		m.LifecycleStage = manifest.LifecycleDeleted
		return nil
	})
	return nil, err
}

type setLoggedModelTagsReq struct {
	loggedModelPath
	Tags tagsReq `json:"tags"`
}

func (s *Server) setLoggedModelTags(ctx context.Context, req *setLoggedModelTagsReq) (any, error) {
	tags, err := kvMap("tags", req.Tags)
	if err != nil {
		return nil, err
	}
	if _, err := s.activeLoggedModel(req.ModelID); err != nil {
		return nil, err
	}
	m, err := s.r.UpdateLoggedModel(req.ModelID, "tags set", func(m *manifest.LoggedModel) error {
		for k, v := range tags {
			if m.Tags == nil {
				m.Tags = map[string]string{}
			}
			m.Tags[k], _ = manifest.Truncate(v, manifest.MaxTagValue)
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return loggedModelResp{toLoggedModel(m)}, nil
}

type deleteLoggedModelTagReq struct {
	loggedModelPath
	Key string `path:"tag_key" json:"-"`
}

func (s *Server) deleteLoggedModelTag(ctx context.Context, req *deleteLoggedModelTagReq) (any, error) {
	key := req.Key
	if _, err := s.activeLoggedModel(req.ModelID); err != nil {
		return nil, err
	}
	_, err := s.r.UpdateLoggedModel(req.ModelID, "tag "+key+" deleted", func(m *manifest.LoggedModel) error {
		if _, ok := m.Tags[key]; !ok {
			return errorf(codeDoesNotExist, "logged model %s has no tag %q", m.ID, key)
		}
		delete(m.Tags, key)
		if len(m.Tags) == 0 {
			m.Tags = nil
		}
		return nil
	})
	return nil, err
}

type logLoggedModelParamsReq struct {
	loggedModelPath
	Params tagsReq `json:"params"`
}

func (s *Server) logLoggedModelParams(ctx context.Context, req *logLoggedModelParamsReq) (any, error) {
	params, err := kvMap("params", req.Params)
	if err != nil {
		return nil, err
	}
	if _, err := s.activeLoggedModel(req.ModelID); err != nil {
		return nil, err
	}
	_, err = s.r.UpdateLoggedModel(req.ModelID, "params logged", func(m *manifest.LoggedModel) error {
		for k, v := range params {
			v, _ = manifest.Truncate(v, manifest.MaxParamValue)
			if old, ok := m.Params[k]; ok && old != v {
				return invalidf("Changing param values is not allowed. Param with key='%s' was already logged with value='%s' for logged model ID='%s'. Attempted logging new value '%s'.", k, old, m.ID, v)
			}
			if m.Params == nil {
				m.Params = map[string]string{}
			}
			m.Params[k] = v
		}
		return nil
	})
	return nil, err
}

type listLoggedModelArtifactsReq struct {
	loggedModelPath
	Path      string `json:"artifact_directory_path"`
	PageToken string `json:"page_token"`
}

func (s *Server) listLoggedModelArtifacts(ctx context.Context, req *listLoggedModelArtifactsReq) (any, error) {
	p, err := checkPath(strings.TrimSuffix(req.Path, "/"), true)
	if err != nil {
		return nil, err
	}
	m, err := s.activeLoggedModel(req.ModelID)
	if err != nil {
		return nil, err
	}
	return filesResp{RootURI: m.ArtifactLocation, Files: listEntries(m.Artifacts, p, true)}, nil
}

type logOutputsReq struct {
	runIDReq
	Models []struct {
		ModelID string `json:"model_id"`
		Step    Int64  `json:"step"`
	} `json:"models"`
}

// logOutputs records MLflow 3's run → model links (runs/outputs) in the
// run's manifest (outputs), through the journal like every run write.
func (s *Server) logOutputs(ctx context.Context, req *logOutputsReq) (any, error) {
	id, err := req.id()
	if err != nil {
		return nil, err
	}
	if len(req.Models) == 0 {
		return nil, missing("models")
	}
	if _, err := s.r.GetRun(id); err != nil {
		return nil, err
	}
	for i, m := range req.Models {
		if m.ModelID == "" {
			return nil, missing(fmt.Sprintf("models[%d].model_id", i))
		}
		if _, err := s.r.GetLoggedModel(m.ModelID); err != nil {
			return nil, err
		}
	}
	var outs []manifest.ModelOutput
	for i, m := range req.Models {
		if m.Step.V < 0 {
			return nil, invalidf("models[%d].step must not be negative", i)
		}
		outs = append(outs, manifest.ModelOutput{ModelID: m.ModelID, Step: m.Step.V})
	}
	if _, err := s.r.LogBatch(id, repo.Batch{Outputs: outs}); err != nil {
		return nil, err
	}
	return nil, nil
}

type loggedModelRow struct{ *manifest.LoggedModel }

func (m loggedModelRow) Metric(k string) (float64, bool) {
	x, ok := m.Metrics[k]
	return x.Value, ok
}
func (m loggedModelRow) Param(k string) (string, bool)  { v, ok := m.Params[k]; return v, ok }
func (m loggedModelRow) Tag(k string) (string, bool)    { v, ok := m.Tags[k]; return v, ok }
func (m loggedModelRow) Datasets() []query.DatasetInput { return nil }
func (m loggedModelRow) Attr(name string) (query.Value, bool) {
	switch name {
	case "name":
		return query.StrValue(m.Name), true
	case "model_id":
		return query.StrValue(m.ID), true
	case "model_type":
		return query.StrValue(m.ModelType), true
	case "status":
		return query.StrValue(m.Status), true
	case "source_run_id":
		return query.StrValue(m.SourceRunID), true
	case "creation_timestamp":
		return query.NumValue(float64(m.CreationTimestamp)), true
	case "last_updated_timestamp":
		return query.NumValue(float64(m.LastUpdatedTimestamp)), true
	}
	return query.Value{}, false
}

type searchLoggedModelsReq struct {
	ExperimentIDs []string `json:"experiment_ids"`
	Filter        string   `json:"filter"`
	MaxResults    Int64    `json:"max_results"`
	OrderBy       []struct {
		FieldName string `json:"field_name"`
		Ascending *bool  `json:"ascending"`
	} `json:"order_by"`
	PageToken string `json:"page_token"`
}

func (s *Server) searchLoggedModels(ctx context.Context, req *searchLoggedModelsReq) (any, error) {
	a := searchArgs{Filter: req.Filter, MaxResults: req.MaxResults, PageToken: req.PageToken}
	for i, o := range req.OrderBy {
		if o.FieldName == "" {
			return nil, missing(fmt.Sprintf("order_by[%d].field_name", i))
		}
		dir := " ASC"
		if o.Ascending != nil && !*o.Ascending {
			dir = " DESC"
		}
		a.OrderBy = append(a.OrderBy, o.FieldName+dir)
	}
	all, err := s.r.ListLoggedModels()
	if err != nil {
		return nil, err
	}
	exps := map[string]bool{}
	for _, e := range req.ExperimentIDs {
		exps[e] = true
	}
	var rows []loggedModelRow
	for _, m := range all {
		if m.LifecycleStage != manifest.LifecycleActive || (len(exps) > 0 && !exps[m.ExperimentID]) {
			continue
		}
		rows = append(rows, loggedModelRow{m})
	}
	got, next, err := page(query.LoggedModels, a, defaultLoggedModelSearch, maxLoggedModelSearch, rows)
	if err != nil {
		return nil, err
	}
	var resp struct {
		Models        []loggedModelJSON `json:"models,omitempty"`
		NextPageToken string            `json:"next_page_token,omitempty"`
	}
	for _, m := range got {
		resp.Models = append(resp.Models, toLoggedModel(m.LoggedModel))
	}
	resp.NextPageToken = next
	return resp, nil
}
