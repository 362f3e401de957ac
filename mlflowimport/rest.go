package mlflowimport

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/internal/par"
)

// ServerOptions configure ReadServer.
type ServerOptions struct {
	// Getenv reads the environment MLflow's client reads:
	// MLFLOW_TRACKING_TOKEN (a bearer token), MLFLOW_TRACKING_USERNAME and
	// MLFLOW_TRACKING_PASSWORD (basic auth), MLFLOW_TRACKING_INSECURE_TLS.
	// nil reads nothing.
	Getenv func(string) string
	// Client, when set, is used as is (tests).
	Client *http.Client
}

// ErrServer marks an error of the tracking server or of reaching it.
var ErrServer = errors.New("MLflow tracking server")

// restStore reads a tracking server through MLflow's REST API.
type restStore struct {
	base   string // without a trailing "/"
	hc     *http.Client
	header http.Header
}

// ReadServer reads what a tracking server holds, through MLflow's REST API
// (any backend behind it): experiments with their runs (params, tags,
// datasets, the keys of their metrics), MLflow 3 logged models, and the
// registry. Metric histories and artifact files are read item by item
// later (Store.RunMetrics, Store.RunFiles), artifacts through the server
// (get-artifact, which also serves a proxied mlflow-artifacts: store).
func ReadServer(ctx context.Context, base string, o ServerOptions) (*Store, error) {
	getenv := o.Getenv
	if getenv == nil {
		getenv = func(string) string { return "" }
	}
	rs := &restStore{base: strings.TrimRight(base, "/"), hc: o.Client, header: http.Header{}}
	if rs.hc == nil {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if v := strings.ToLower(getenv("MLFLOW_TRACKING_INSECURE_TLS")); v == "true" || v == "1" {
			tr.TLSClientConfig = &tls.Config{InsecureSkipVerify: true} //nolint:gosec // asked for, as MLflow's client does
		}
		rs.hc = &http.Client{Transport: tr, Timeout: 10 * time.Minute}
	}
	switch {
	case getenv("MLFLOW_TRACKING_TOKEN") != "":
		rs.header.Set("Authorization", "Bearer "+getenv("MLFLOW_TRACKING_TOKEN"))
	case getenv("MLFLOW_TRACKING_USERNAME") != "":
		req, _ := http.NewRequest(http.MethodGet, "/", nil)
		req.SetBasicAuth(getenv("MLFLOW_TRACKING_USERNAME"), getenv("MLFLOW_TRACKING_PASSWORD"))
		rs.header.Set("Authorization", req.Header.Get("Authorization"))
	}
	s := &Store{Root: rs.base, remote: rs}
	exps, err := rs.experiments(ctx)
	if err != nil {
		return nil, err
	}
	s.Experiments = exps
	errs := make([]error, len(exps))
	par.Each(len(exps), 4, func(i int) { errs[i] = rs.readExperiment(ctx, s, exps[i]) })
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	if s.Models, err = rs.registry(ctx, s); err != nil {
		return nil, err
	}
	return s, nil
}

// call sends one request and decodes the JSON answer into out.
func (rs *restStore) call(ctx context.Context, method, path string, query url.Values, body, out any) error {
	u := rs.base + path
	if len(query) > 0 {
		u += "?" + query.Encode()
	}
	var rd io.Reader
	if body != nil {
		b, err := json.Marshal(body)
		if err != nil {
			return err
		}
		rd = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, u, rd)
	if err != nil {
		return err
	}
	for k, v := range rs.header {
		req.Header[k] = v
	}
	if body != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	res, err := rs.hc.Do(req)
	if err != nil {
		return fmt.Errorf("%w %s: %v", ErrServer, rs.base, err)
	}
	defer res.Body.Close()
	data, err := io.ReadAll(io.LimitReader(res.Body, 512<<20))
	if err != nil {
		return fmt.Errorf("%w %s: %s %s: %v", ErrServer, rs.base, method, path, err)
	}
	if res.StatusCode != http.StatusOK {
		var e struct {
			Code    string `json:"error_code"`
			Message string `json:"message"`
		}
		msg := strings.TrimSpace(string(data))
		if json.Unmarshal(data, &e) == nil && e.Message != "" {
			msg = e.Code + ": " + e.Message
		}
		hint := ""
		if res.StatusCode == http.StatusUnauthorized || res.StatusCode == http.StatusForbidden {
			hint = " (set MLFLOW_TRACKING_TOKEN, or MLFLOW_TRACKING_USERNAME and MLFLOW_TRACKING_PASSWORD)"
		}
		return &statusError{status: res.StatusCode,
			text: fmt.Sprintf("%v %s: %s %s: %s: %s%s", ErrServer, rs.base, method, path, res.Status, abbrev(msg), hint)}
	}
	if err := json.Unmarshal(data, out); err != nil {
		return fmt.Errorf("%w %s: %s %s: the answer is not MLflow's JSON: %v", ErrServer, rs.base, method, path, err)
	}
	return nil
}

// statusError is an answer of the server other than 200.
type statusError struct {
	status int
	text   string
}

func (e *statusError) Error() string { return e.text }
func (e *statusError) Unwrap() error { return ErrServer }

type kvJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

func kvMap(kvs []kvJSON) map[string]string {
	m := make(map[string]string, len(kvs))
	for _, kv := range kvs {
		m[kv.Key] = kv.Value
	}
	return m
}

// num reads MLflow's numbers, which its JSON writes as numbers or strings
// (int64 fields; "NaN", "Infinity" for values).
type num float64

func (n *num) UnmarshalJSON(b []byte) error {
	s := strings.Trim(string(b), `"`)
	switch s {
	case "NaN", "nan":
		*n = num(math.NaN())
		return nil
	case "Infinity", "inf":
		*n = num(math.Inf(1))
		return nil
	case "-Infinity", "-inf":
		*n = num(math.Inf(-1))
		return nil
	}
	v, err := strconv.ParseFloat(s, 64)
	*n = num(v)
	return err
}

type int64s int64

func (n *int64s) UnmarshalJSON(b []byte) error {
	v, err := strconv.ParseInt(strings.Trim(string(b), `"`), 10, 64)
	*n = int64s(v)
	return err
}

func (rs *restStore) experiments(ctx context.Context) ([]*Experiment, error) {
	var out []*Experiment
	tok := ""
	for {
		var page struct {
			Experiments []struct {
				ID               string   `json:"experiment_id"`
				Name             string   `json:"name"`
				ArtifactLocation string   `json:"artifact_location"`
				Lifecycle        string   `json:"lifecycle_stage"`
				Created          int64s   `json:"creation_time"`
				Updated          int64s   `json:"last_update_time"`
				Tags             []kvJSON `json:"tags"`
			} `json:"experiments"`
			Next string `json:"next_page_token"`
		}
		body := map[string]any{"max_results": 1000, "view_type": "ALL"}
		if tok != "" {
			body["page_token"] = tok
		}
		if err := rs.call(ctx, http.MethodPost, "/api/2.0/mlflow/experiments/search", nil, body, &page); err != nil {
			return nil, err
		}
		for _, e := range page.Experiments {
			out = append(out, &Experiment{ID: e.ID, Name: e.Name, Lifecycle: orDefault(e.Lifecycle, "active"), ArtifactLocation: e.ArtifactLocation,
				Created: int64(e.Created), Updated: int64(e.Updated), Tags: kvMap(e.Tags)})
		}
		if tok = page.Next; tok == "" {
			break
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].ID < out[j].ID })
	return out, nil
}

// readExperiment reads the experiment's runs and logged models.
func (rs *restStore) readExperiment(ctx context.Context, s *Store, e *Experiment) error {
	tok := ""
	for {
		var page struct {
			Runs []struct {
				Info struct {
					ID          string `json:"run_id"`
					Name        string `json:"run_name"`
					Experiment  string `json:"experiment_id"`
					User        string `json:"user_id"`
					Status      string `json:"status"`
					Start       int64s `json:"start_time"`
					End         int64s `json:"end_time"`
					ArtifactURI string `json:"artifact_uri"`
					Lifecycle   string `json:"lifecycle_stage"`
				} `json:"info"`
				Data struct {
					Metrics []struct {
						Key string `json:"key"`
					} `json:"metrics"`
					Params []kvJSON `json:"params"`
					Tags   []kvJSON `json:"tags"`
				} `json:"data"`
				Inputs struct {
					Datasets []struct {
						Tags    []kvJSON `json:"tags"`
						Dataset struct {
							Name, Digest, Schema, Profile, Source string
							SourceType                            string `json:"source_type"`
						} `json:"dataset"`
					} `json:"dataset_inputs"`
				} `json:"inputs"`
				Outputs struct {
					Models []struct {
						ID string `json:"model_id"`
					} `json:"model_outputs"`
				} `json:"outputs"`
			} `json:"runs"`
			Next string `json:"next_page_token"`
		}
		body := map[string]any{"experiment_ids": []string{e.ID}, "max_results": 1000, "run_view_type": "ALL"}
		if tok != "" {
			body["page_token"] = tok
		}
		if err := rs.call(ctx, http.MethodPost, "/api/2.0/mlflow/runs/search", nil, body, &page); err != nil {
			return fmt.Errorf("runs of experiment %s: %w", e.ID, err)
		}
		for _, x := range page.Runs {
			r := &Run{ID: x.Info.ID, ExperimentID: e.ID, Name: x.Info.Name, Status: x.Info.Status, Lifecycle: orDefault(x.Info.Lifecycle, "active"),
				User: x.Info.User, ArtifactURI: x.Info.ArtifactURI, Start: int64(x.Info.Start), End: int64(x.Info.End),
				Params: kvMap(x.Data.Params), Tags: kvMap(x.Data.Tags)}
			if r.Name == "" {
				r.Name = r.Tags["mlflow.runName"]
			}
			for _, m := range x.Data.Metrics {
				r.MetricKeys = append(r.MetricKeys, m.Key)
			}
			sort.Strings(r.MetricKeys)
			for _, d := range x.Inputs.Datasets {
				tags := kvMap(d.Tags)
				in := Input{Name: d.Dataset.Name, Digest: d.Dataset.Digest, SourceType: d.Dataset.SourceType, Source: d.Dataset.Source,
					Schema: d.Dataset.Schema, Profile: d.Dataset.Profile, Context: tags["mlflow.data.context"], Tags: tags}
				r.Inputs = append(r.Inputs, in)
			}
			for _, m := range x.Outputs.Models {
				r.OutputModels = append(r.OutputModels, m.ID)
			}
			e.Runs = append(e.Runs, r)
		}
		if tok = page.Next; tok == "" {
			break
		}
	}
	sort.SliceStable(e.Runs, func(i, j int) bool { return e.Runs[i].Start < e.Runs[j].Start })
	return rs.loggedModels(ctx, s, e)
}

// loggedModels reads an experiment's MLflow 3 logged models; a server
// without them (MLflow 2) answers 404, which means none.
func (rs *restStore) loggedModels(ctx context.Context, s *Store, e *Experiment) error {
	tok := ""
	for {
		var page struct {
			Models []struct {
				Info struct {
					ID        string   `json:"model_id"`
					Name      string   `json:"name"`
					Run       string   `json:"source_run_id"`
					Status    string   `json:"status"`
					Type      string   `json:"model_type"`
					Created   int64s   `json:"creation_timestamp_ms"`
					Updated   int64s   `json:"last_updated_timestamp_ms"`
					Tags      []kvJSON `json:"tags"`
					Artifacts string   `json:"artifact_uri"`
				} `json:"info"`
				Data struct {
					Params  []kvJSON `json:"params"`
					Metrics []struct {
						Key       string `json:"key"`
						Value     num    `json:"value"`
						Timestamp int64s `json:"timestamp"`
						Step      int64s `json:"step"`
					} `json:"metrics"`
				} `json:"data"`
			} `json:"models"`
			Next string `json:"next_page_token"`
		}
		body := map[string]any{"experiment_ids": []string{e.ID}, "max_results": 50}
		if tok != "" {
			body["page_token"] = tok
		}
		err := rs.call(ctx, http.MethodPost, "/api/2.0/mlflow/logged-models/search", nil, body, &page)
		if err != nil {
			var se *statusError
			if errors.As(err, &se) && se.status == http.StatusNotFound {
				return nil // an MLflow 2 server: no logged models
			}
			return fmt.Errorf("logged models of experiment %s: %w", e.ID, err)
		}
		for _, x := range page.Models {
			lm := &LoggedModel{ID: x.Info.ID, ExperimentID: e.ID, Name: x.Info.Name, SourceRunID: x.Info.Run, Status: x.Info.Status,
				ModelType: x.Info.Type, Created: int64(x.Info.Created), Updated: int64(x.Info.Updated),
				Params: kvMap(x.Data.Params), Tags: kvMap(x.Info.Tags), points: map[string][]Point{}, uri: x.Info.Artifacts}
			for _, m := range x.Data.Metrics {
				if _, ok := lm.points[m.Key]; !ok {
					lm.MetricKeys = append(lm.MetricKeys, m.Key)
				}
				lm.points[m.Key] = append(lm.points[m.Key], Point{Timestamp: int64(m.Timestamp), Value: float64(m.Value), Step: int64(m.Step)})
			}
			e.LoggedModels = append(e.LoggedModels, lm)
		}
		if tok = page.Next; tok == "" {
			break
		}
	}
	sort.Slice(e.LoggedModels, func(i, j int) bool { return e.LoggedModels[i].ID < e.LoggedModels[j].ID })
	return nil
}

// history reads every point of the run's metrics, page by page.
func (rs *restStore) history(ctx context.Context, runID string, keys []string) (map[string][]Point, error) {
	out := make(map[string][]Point, len(keys))
	for _, k := range keys {
		tok := ""
		for {
			var page struct {
				Metrics []struct {
					Value     num    `json:"value"`
					Timestamp int64s `json:"timestamp"`
					Step      int64s `json:"step"`
				} `json:"metrics"`
				Next string `json:"next_page_token"`
			}
			q := url.Values{"run_id": {runID}, "metric_key": {k}, "max_results": {"25000"}}
			if tok != "" {
				q.Set("page_token", tok)
			}
			if err := rs.call(ctx, http.MethodGet, "/api/2.0/mlflow/metrics/get-history", q, nil, &page); err != nil {
				return nil, fmt.Errorf("metric %s: %w", k, err)
			}
			for _, m := range page.Metrics {
				out[k] = append(out[k], Point{Timestamp: int64(m.Timestamp), Value: float64(m.Value), Step: int64(m.Step)})
			}
			if tok = page.Next; tok == "" {
				break
			}
		}
	}
	return out, nil
}

// runFiles lists a run's artifacts (artifacts/list, folder by folder);
// each is read through get-artifact.
func (rs *restStore) runFiles(ctx context.Context, r *Run) ([]File, error) {
	return rs.walk(ctx, "/api/2.0/mlflow/artifacts/list", url.Values{"run_id": {r.ID}}, "path",
		func(ctx context.Context, p string) (io.ReadCloser, error) {
			return rs.get(ctx, "/get-artifact", url.Values{"run_uuid": {r.ID}, "path": {p}})
		})
}

// modelFiles lists a logged model's artifacts (MLflow 3's
// logged-models/<id>/artifacts/directories), read through the artifact
// proxy where the model's files are there (mlflow-artifacts:/...), else
// through the UI's logged-models/<id>/artifacts/files.
func (rs *restStore) modelFiles(ctx context.Context, m *LoggedModel) ([]File, error) {
	id := url.PathEscape(m.ID)
	return rs.walk(ctx, "/api/2.0/mlflow/logged-models/"+id+"/artifacts/directories", url.Values{}, "artifact_directory_path",
		func(ctx context.Context, p string) (io.ReadCloser, error) {
			if rest, ok := strings.CutPrefix(m.uri, "mlflow-artifacts:/"); ok {
				return rs.get(ctx, (&url.URL{Path: "/api/2.0/mlflow-artifacts/artifacts/" + strings.Trim(rest, "/") + "/" + p}).EscapedPath(), nil)
			}
			return rs.get(ctx, "/ajax-api/2.0/mlflow/logged-models/"+id+"/artifacts/files", url.Values{"artifact_file_path": {p}})
		})
}

// walk lists files folder by folder with a listing endpoint (its folder
// parameter dirParam), sorted by path; open reads one.
func (rs *restStore) walk(ctx context.Context, path string, q url.Values, dirParam string, open func(context.Context, string) (io.ReadCloser, error)) ([]File, error) {
	var out []File
	var walk func(dir string) error
	walk = func(dir string) error {
		var page struct {
			Files []struct {
				Path  string `json:"path"`
				IsDir bool   `json:"is_dir"`
				Size  int64s `json:"file_size"`
			} `json:"files"`
		}
		qd := url.Values{}
		for k, v := range q {
			qd[k] = v
		}
		if dir != "" {
			qd.Set(dirParam, dir)
		}
		if err := rs.call(ctx, http.MethodGet, path, qd, nil, &page); err != nil {
			return err
		}
		for _, f := range page.Files {
			if f.IsDir {
				if err := walk(f.Path); err != nil {
					return err
				}
				continue
			}
			p := f.Path
			out = append(out, File{Path: p, Size: int64(f.Size), Mode: "0644", Open: func(ctx context.Context) (io.ReadCloser, error) { return open(ctx, p) }})
		}
		return nil
	}
	if err := walk(""); err != nil {
		return nil, err
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// get streams a file the server serves.
func (rs *restStore) get(ctx context.Context, path string, q url.Values) (io.ReadCloser, error) {
	u := rs.base + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, err
	}
	for k, v := range rs.header {
		req.Header[k] = v
	}
	res, err := rs.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%w %s: %v", ErrServer, rs.base, err)
	}
	if res.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		return nil, fmt.Errorf("%w %s: GET %s %s: %s: %s", ErrServer, rs.base, path, q.Encode(), res.Status, abbrev(strings.TrimSpace(string(b))))
	}
	return res.Body, nil
}

// registry reads the registered models with their versions.
func (rs *restStore) registry(ctx context.Context, s *Store) ([]*RegisteredModel, error) {
	var out []*RegisteredModel
	tok := ""
	for {
		var page struct {
			Models []struct {
				Name        string   `json:"name"`
				Description string   `json:"description"`
				Created     int64s   `json:"creation_timestamp"`
				Updated     int64s   `json:"last_updated_timestamp"`
				Tags        []kvJSON `json:"tags"`
				Aliases     []struct {
					Alias   string `json:"alias"`
					Version string `json:"version"`
				} `json:"aliases"`
			} `json:"registered_models"`
			Next string `json:"next_page_token"`
		}
		q := url.Values{"max_results": {"1000"}}
		if tok != "" {
			q.Set("page_token", tok)
		}
		if err := rs.call(ctx, http.MethodGet, "/api/2.0/mlflow/registered-models/search", q, nil, &page); err != nil {
			return nil, fmt.Errorf("registered models: %w", err)
		}
		for _, m := range page.Models {
			rm := &RegisteredModel{Name: m.Name, Description: m.Description, Created: int64(m.Created), Updated: int64(m.Updated),
				Tags: kvMap(m.Tags), Aliases: map[string]int64{}}
			for _, a := range m.Aliases {
				n, err := strconv.ParseInt(a.Version, 10, 64)
				if err != nil {
					s.skip("alias "+a.Alias+" of "+m.Name, fmt.Errorf("version %q is not a number", a.Version))
					continue
				}
				rm.Aliases[a.Alias] = n
			}
			out = append(out, rm)
		}
		if tok = page.Next; tok == "" {
			break
		}
	}
	for _, rm := range out {
		if err := rs.versions(ctx, rm); err != nil {
			return nil, err
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func (rs *restStore) versions(ctx context.Context, rm *RegisteredModel) error {
	tok := ""
	for {
		var page struct {
			Versions []struct {
				Version     int64s   `json:"version"`
				Description string   `json:"description"`
				Stage       string   `json:"current_stage"`
				Status      string   `json:"status"`
				RunID       string   `json:"run_id"`
				Source      string   `json:"source"`
				ModelID     string   `json:"model_id"`
				User        string   `json:"user_id"`
				Created     int64s   `json:"creation_timestamp"`
				Updated     int64s   `json:"last_updated_timestamp"`
				Tags        []kvJSON `json:"tags"`
			} `json:"model_versions"`
			Next string `json:"next_page_token"`
		}
		q := url.Values{"filter": {"name = '" + strings.ReplaceAll(rm.Name, "'", `\'`) + "'"}, "max_results": {"10000"}}
		if tok != "" {
			q.Set("page_token", tok)
		}
		if err := rs.call(ctx, http.MethodGet, "/api/2.0/mlflow/model-versions/search", q, nil, &page); err != nil {
			return fmt.Errorf("versions of %s: %w", rm.Name, err)
		}
		for _, v := range page.Versions {
			rm.Versions = append(rm.Versions, &ModelVersion{Version: int64(v.Version), Description: v.Description, Stage: orDefault(v.Stage, "None"),
				Status: orDefault(v.Status, "READY"), RunID: v.RunID, Source: v.Source, ModelID: v.ModelID, User: v.User,
				Created: int64(v.Created), Updated: int64(v.Updated), Tags: kvMap(v.Tags)})
		}
		if tok = page.Next; tok == "" {
			break
		}
	}
	sort.Slice(rm.Versions, func(i, j int) bool { return rm.Versions[i].Version < rm.Versions[j].Version })
	return nil
}
