package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/internal/pagetoken"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo"
)

// The model registry (model_registry.proto) on repo's registry: the same
// code paths as mlgit model, so stage changes and alias moves create the
// same tags.

const (
	defaultModelSearch   = 100
	maxModelSearch       = 1000
	defaultVersionSearch = 10000
	maxVersionSearch     = 200000
	registryReason       = "MLflow API"
)

func (s *Server) registerRegistry() {
	const get, post, patch, del = http.MethodGet, http.MethodPost, http.MethodPatch, http.MethodDelete
	s.handle(post, "/registered-models/create", true, jsonHandler((*Server).createModel))
	s.handle(get, "/registered-models/get", false, jsonHandler((*Server).getModel))
	s.handle(post, "/registered-models/rename", true, jsonHandler((*Server).renameModel))
	s.handle(patch, "/registered-models/update", true, jsonHandler((*Server).updateModel))
	s.handle(del, "/registered-models/delete", true, jsonHandler((*Server).deleteModel))
	s.handle(get, "/registered-models/search", false, jsonHandler((*Server).searchModels))
	s.handle(post, "/registered-models/get-latest-versions", false, jsonHandler((*Server).latestVersions))
	s.handle(get, "/registered-models/get-latest-versions", false, jsonHandler((*Server).latestVersions))
	s.handle(post, "/registered-models/set-tag", true, jsonHandler((*Server).setModelTag))
	s.handle(del, "/registered-models/delete-tag", true, jsonHandler((*Server).deleteModelTag))
	s.handle(post, "/registered-models/alias", true, jsonHandler((*Server).setAlias))
	s.handle(del, "/registered-models/alias", true, jsonHandler((*Server).deleteAlias))
	s.handle(get, "/registered-models/alias", false, jsonHandler((*Server).getByAlias))

	s.handle(post, "/model-versions/create", true, jsonHandler((*Server).createVersion))
	s.handle(get, "/model-versions/get", false, jsonHandler((*Server).getVersion))
	s.handle(patch, "/model-versions/update", true, jsonHandler((*Server).updateVersion))
	s.handle(del, "/model-versions/delete", true, jsonHandler((*Server).deleteVersion))
	s.handle(post, "/model-versions/transition-stage", true, jsonHandler((*Server).transitionStage))
	s.handle(get, "/model-versions/search", false, jsonHandler((*Server).searchVersions))
	s.handle(get, "/model-versions/get-download-uri", false, jsonHandler((*Server).downloadURI))
	s.handle(post, "/model-versions/set-tag", true, jsonHandler((*Server).setVersionTag))
	s.handle(del, "/model-versions/delete-tag", true, jsonHandler((*Server).deleteVersionTag))
}

type aliasJSON struct {
	Alias   string `json:"alias"`
	Version string `json:"version"`
}

type registeredModelJSON struct {
	Name                 string             `json:"name"`
	CreationTimestamp    int64              `json:"creation_timestamp,omitempty"`
	LastUpdatedTimestamp int64              `json:"last_updated_timestamp,omitempty"`
	Description          string             `json:"description,omitempty"`
	LatestVersions       []modelVersionJSON `json:"latest_versions,omitempty"`
	Tags                 []kvJSON           `json:"tags,omitempty"`
	Aliases              []aliasJSON        `json:"aliases,omitempty"`
}

type modelVersionJSON struct {
	Name                 string   `json:"name"`
	Version              string   `json:"version"`
	CreationTimestamp    int64    `json:"creation_timestamp,omitempty"`
	LastUpdatedTimestamp int64    `json:"last_updated_timestamp,omitempty"`
	UserID               string   `json:"user_id,omitempty"`
	CurrentStage         string   `json:"current_stage,omitempty"`
	Description          string   `json:"description,omitempty"`
	Source               string   `json:"source,omitempty"`
	RunID                string   `json:"run_id,omitempty"`
	Status               string   `json:"status,omitempty"`
	Tags                 []kvJSON `json:"tags,omitempty"`
	Aliases              []string `json:"aliases,omitempty"`
	ModelID              string   `json:"model_id,omitempty"`
}

func toVersion(v *manifest.ModelVersion, m *manifest.RegisteredModel) modelVersionJSON {
	out := modelVersionJSON{
		Name: v.Name, Version: strconv.FormatInt(v.Version, 10),
		CreationTimestamp: v.CreationTimestamp, LastUpdatedTimestamp: v.LastUpdatedTimestamp,
		UserID: v.UserID, CurrentStage: v.Stage, Description: v.Description, Source: v.Source,
		RunID: v.RunID, Status: v.Status, Tags: sortedKV(v.Tags), ModelID: v.ModelID,
	}
	if out.Status == "" {
		out.Status = "READY"
	}
	if m != nil {
		for a, n := range m.Aliases {
			if n == v.Version {
				out.Aliases = append(out.Aliases, a)
			}
		}
		sort.Strings(out.Aliases)
	}
	return out
}

func (s *Server) toModel(m *manifest.RegisteredModel) (registeredModelJSON, error) {
	out := registeredModelJSON{
		Name: m.Name, CreationTimestamp: m.CreationTimestamp, LastUpdatedTimestamp: m.LastUpdatedTimestamp,
		Description: m.Description, Tags: sortedKV(m.Tags),
	}
	for a, n := range m.Aliases {
		out.Aliases = append(out.Aliases, aliasJSON{a, strconv.FormatInt(n, 10)})
	}
	sort.Slice(out.Aliases, func(i, j int) bool { return out.Aliases[i].Alias < out.Aliases[j].Alias })
	latest, err := s.r.LatestVersions(m.Name)
	if err != nil {
		return out, err
	}
	for _, v := range latest {
		out.LatestVersions = append(out.LatestVersions, toVersion(v, nil))
	}
	return out, nil
}

type modelResp struct {
	RegisteredModel registeredModelJSON `json:"registered_model"`
}

type versionResp struct {
	ModelVersion modelVersionJSON `json:"model_version"`
}

func (s *Server) modelResp(name string) (any, error) {
	m, err := s.r.GetModel(name)
	if err != nil {
		return nil, err
	}
	j, err := s.toModel(m)
	if err != nil {
		return nil, err
	}
	return modelResp{j}, nil
}

func (s *Server) versionResp(name string, n int64) (any, error) {
	m, err := s.r.GetModel(name)
	if err != nil {
		return nil, err
	}
	v, err := s.r.GetVersion(name, n)
	if err != nil {
		return nil, err
	}
	return versionResp{toVersion(v, m)}, nil
}

// tagSyncOK turns "committed, but its tags were not created" into success
// (the manifests are the truth; mlgit tags sync repairs the tags) and logs
// it.
func (s *Server) tagSyncOK(err error) error {
	if errors.Is(err, repo.ErrTagSync) {
		s.log.Warn("registry tags not created; run mlgit tags sync", "err", err)
		return nil
	}
	return err
}

type nameReq struct {
	Name string `json:"name"`
}

func (q nameReq) name() (string, error) {
	if q.Name == "" {
		return "", missing("name")
	}
	return q.Name, nil
}

type versionReq struct {
	nameReq
	Version string `json:"version"`
}

func (q versionReq) parse() (string, int64, error) {
	name, err := q.name()
	if err != nil {
		return "", 0, err
	}
	if q.Version == "" {
		return "", 0, missing("version")
	}
	n, err := strconv.ParseInt(q.Version, 10, 64)
	if err != nil || n < 1 {
		return "", 0, invalidf("Model version must be an integer, got '%s'", q.Version)
	}
	return name, n, nil
}

type createModelReq struct {
	nameReq
	Tags        tagsReq `json:"tags"`
	Description string  `json:"description"`
}

func (s *Server) createModel(ctx context.Context, req *createModelReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	spec := repo.ModelSpec{Name: name, Description: req.Description}
	for i, t := range req.Tags {
		if t.Key == "" {
			return nil, missing(fmt.Sprintf("tags[%d].key", i))
		}
		if spec.Tags == nil {
			spec.Tags = map[string]string{}
		}
		spec.Tags[t.Key] = t.Value
	}
	if _, err := s.r.CreateModel(spec); err != nil {
		return nil, err
	}
	return s.modelResp(name)
}

func (s *Server) getModel(ctx context.Context, req *nameReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	return s.modelResp(name)
}

type renameModelReq struct {
	nameReq
	NewName string `json:"new_name"`
}

func (s *Server) renameModel(ctx context.Context, req *renameModelReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	if req.NewName == "" {
		return nil, missing("new_name")
	}
	if _, err := s.r.RenameModel(name, req.NewName); s.tagSyncOK(err) != nil {
		return nil, err
	}
	return s.modelResp(req.NewName)
}

type updateModelReq struct {
	nameReq
	Description *string `json:"description"`
}

func (s *Server) updateModel(ctx context.Context, req *updateModelReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	if _, err := s.r.UpdateModel(name, repo.ModelChange{Description: req.Description}); err != nil {
		return nil, err
	}
	return s.modelResp(name)
}

func (s *Server) deleteModel(ctx context.Context, req *nameReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	return nil, s.tagSyncOK(s.r.DeleteModel(name))
}

type setModelTagReq struct {
	nameReq
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Server) setModelTag(ctx context.Context, req *setModelTagReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.UpdateModel(name, repo.ModelChange{SetTags: map[string]string{req.Key: req.Value}})
	return nil, err
}

type deleteModelTagReq struct {
	nameReq
	Key string `json:"key"`
}

func (s *Server) deleteModelTag(ctx context.Context, req *deleteModelTagReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.UpdateModel(name, repo.ModelChange{DeleteTags: []string{req.Key}})
	return nil, err
}

type latestVersionsReq struct {
	nameReq
	Stages []string `json:"stages"`
}

func (s *Server) latestVersions(ctx context.Context, req *latestVersionsReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	m, err := s.r.GetModel(name)
	if err != nil {
		return nil, err
	}
	if len(req.Stages) > 0 {
		stages, err := s.r.Stages()
		if err != nil {
			return nil, err
		}
		for _, st := range req.Stages {
			if !stages.IsStage(st) {
				return nil, invalidf("Invalid Model Version stage: %s. Value must be one of %s.", st, stages)
			}
		}
	}
	vs, err := s.r.LatestVersions(name, req.Stages...)
	if err != nil {
		return nil, err
	}
	var resp struct {
		ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
	}
	for _, v := range vs {
		resp.ModelVersions = append(resp.ModelVersions, toVersion(v, m))
	}
	return resp, nil
}

// sourceRun checks a model-version source and returns the run and the
// artifact path it names. Only sources inside the store are accepted:
// runs:/<run_id>/<path> and mlflow-artifacts:[//host]/<exp>/<run_id>/artifacts/<path>.
// Anything else (file:, bare paths, http:, s3:, dbfs:, models:/) is
// refused and never fetched.
func sourceRun(source string) (run, p string, err error) {
	bad := func(why string) (string, string, error) {
		return "", "", invalidf("Invalid model version source %q: %s. mlgit registers versions from runs in this store: use runs:/<run_id>/<path>", abbrevPath(source), why)
	}
	if dec, err := url.PathUnescape(source); err != nil || dec != source {
		return bad("percent-encoding is not allowed")
	}
	switch {
	case strings.HasPrefix(source, "runs:/"):
		rest := strings.TrimPrefix(source, "runs:/")
		run, p, _ = strings.Cut(rest, "/")
		if !manifest.ValidRunID(run) {
			return bad("not a run id")
		}
		p = strings.TrimSuffix(p, "/")
		if _, err := checkPath(p, true); err != nil {
			return bad("the path is not a plain relative path")
		}
		return run, p, nil
	case strings.HasPrefix(source, "mlflow-artifacts:"):
		rest := strings.TrimPrefix(source, "mlflow-artifacts:")
		if strings.HasPrefix(rest, "//") {
			// mlflow-artifacts://host:port/<path>: drop the authority.
			i := strings.Index(rest[2:], "/")
			if i < 0 {
				return bad("no path")
			}
			rest = rest[2+i:]
		}
		pth, err := checkPath(strings.TrimSuffix(strings.TrimPrefix(rest, "/"), "/"), false)
		if err != nil {
			return bad("the path is not a plain relative path")
		}
		t, depth, err := parseTarget(pth)
		if err != nil || depth < 3 || t.run == "" {
			return bad("not <experiment_id>/<run_id>/artifacts/<path>")
		}
		return t.run, t.rel, nil
	}
	return bad("sources outside the store are not accepted")
}

// loggedModelSource reports whether source is models:/m-<32 hex> and
// returns the logged-model id.
func loggedModelSource(source string) (string, bool) {
	id, ok := strings.CutPrefix(source, "models:/")
	if !ok || !manifest.ValidLoggedModelID(id) {
		return "", false
	}
	return id, true
}

type createVersionReq struct {
	nameReq
	Source      string  `json:"source"`
	RunID       string  `json:"run_id"`
	Tags        tagsReq `json:"tags"`
	RunLink     string  `json:"run_link"`
	Description string  `json:"description"`
	ModelID     string  `json:"model_id"`
}

func (s *Server) createVersion(ctx context.Context, req *createVersionReq) (any, error) {
	name, err := req.name()
	if err != nil {
		return nil, err
	}
	if req.Source == "" {
		return nil, missing("source")
	}
	spec := repo.VersionSpec{Name: name, Source: req.Source, Description: req.Description}
	if id, ok := loggedModelSource(req.Source); ok {
		// MLflow 3: models:/m-<id>, the logged model's files.
		if req.ModelID != "" && req.ModelID != id {
			return nil, invalidf("model_id %s does not match source %q", req.ModelID, req.Source)
		}
		lm, err := s.r.GetLoggedModel(id)
		if err != nil {
			return nil, err
		}
		if lm.LifecycleStage != manifest.LifecycleActive {
			return nil, errorf(codeDoesNotExist, "Logged model with ID '%s' not found.", id)
		}
		spec.ModelID, spec.RunID, spec.Artifacts = id, lm.SourceRunID, lm.Artifacts
		if req.RunID != "" {
			spec.RunID = req.RunID
		}
		if _, err := s.r.GetModel(name); err != nil {
			return nil, err
		}
	} else {
		run, p, err := sourceRun(req.Source)
		if err != nil {
			return nil, err
		}
		if req.RunID != "" && req.RunID != run {
			return nil, invalidf("run_id %s does not match the run of source %q", req.RunID, req.Source)
		}
		if _, err := s.r.GetModel(name); err != nil {
			return nil, err
		}
		_, arts, err := s.r.RunModelFiles(run, p)
		if err != nil {
			return nil, err
		}
		spec.RunID, spec.Artifacts, spec.ModelID = run, arts, req.ModelID
	}
	for i, t := range req.Tags {
		if t.Key == "" {
			return nil, missing(fmt.Sprintf("tags[%d].key", i))
		}
		if spec.Tags == nil {
			spec.Tags = map[string]string{}
		}
		spec.Tags[t.Key] = t.Value
	}
	if w := spec.ApplyMLmodel(s.readBlob); w != "" {
		s.log.Warn("model version MLmodel", "model", name, "warning", w)
	}
	res, err := s.r.RegisterVersion(spec)
	if res == nil {
		return nil, err
	}
	if err := s.tagSyncOK(err); err != nil {
		return nil, err
	}
	return s.versionResp(name, res.Version.Version)
}

func (s *Server) readBlob(digest string) ([]byte, error) {
	rc, _, err := s.openBlob(context.Background(), digest)
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(io.LimitReader(rc, 16<<20))
}

func (s *Server) getVersion(ctx context.Context, req *versionReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	return s.versionResp(name, n)
}

type updateVersionReq struct {
	versionReq
	Description *string `json:"description"`
}

func (s *Server) updateVersion(ctx context.Context, req *updateVersionReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	if _, err := s.r.UpdateVersion(name, n, repo.ModelChange{Description: req.Description}); err != nil {
		return nil, err
	}
	return s.versionResp(name, n)
}

func (s *Server) deleteVersion(ctx context.Context, req *versionReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	return nil, s.tagSyncOK(s.r.DeleteVersion(name, n))
}

// reasonOr is the reason a registry write records in its tag message: the
// request's comment (an mlgit extension, the field name of Databricks'
// transition requests; MLflow clients do not send it), else "MLflow API".
func reasonOr(comment string) string {
	if c := strings.TrimSpace(comment); c != "" {
		return c
	}
	return registryReason
}

// proposalPushTimeout bounds the push of a proposal branch.
const proposalPushTimeout = 2 * time.Minute

// proposalJSON is what transition-stage returns with propose: true: where
// the proposal went (mlgit model promote --propose --json, same fields).
type proposalJSON struct {
	Branch      string `json:"branch,omitempty"`
	Commit      string `json:"commit,omitempty"`
	Base        string `json:"base"`
	Target      string `json:"target"`
	Existing    bool   `json:"existing,omitempty"`
	Remote      string `json:"remote,omitempty"`
	RemoteURL   string `json:"remote_url,omitempty"`
	Pushed      bool   `json:"pushed"`
	PushCommand string `json:"push_command,omitempty"`
	URL         string `json:"url,omitempty"`
	// PushError says why the push failed (the branch is kept).
	PushError string `json:"push_error,omitempty"`
}

type transitionStageReq struct {
	versionReq
	Stage   string `json:"stage"`
	Archive Bool   `json:"archive_existing_versions"`
	Comment string `json:"comment"`
	Propose Bool   `json:"propose"`
}

// transitionStage is MLflow's transition-stage, with two mlgit extensions
// (docs/server.md): comment, the reason recorded in the tag message (else
// "MLflow API"), and propose: true, which does what mlgit model promote
// --propose does (repo.Propose, then a push of the branch to origin when
// that remote exists) instead of changing the stage, and answers the
// version as it is with the proposal. Without propose, a stage whose
// policy says review: true is refused, except on a syncing server
// (--sync), which proposes it as mlgit model promote does.
func (s *Server) transitionStage(ctx context.Context, req *transitionStageReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	if req.Stage == "" {
		return nil, missing("stage")
	}
	spec := repo.PromoteSpec{Name: name, Version: n, Stage: req.Stage, ArchiveExisting: req.Archive.V, Reason: reasonOr(req.Comment)}
	if req.Propose.V {
		return s.proposeStage(ctx, spec)
	}
	res, err := s.r.Promote(spec)
	if s.sync != nil && errors.Is(err, repo.ErrReviewRequired) {
		// A team server follows mlgit model promote: a stage that needs
		// review gets a proposal, pushed to the remote it syncs with.
		s.log.Info("the promotion policy requires review: proposing the change instead", "model", name, "version", n, "stage", req.Stage)
		return s.proposeStage(ctx, spec)
	}
	if res == nil && err != nil {
		return nil, err
	}
	if err := s.tagSyncOK(err); err != nil {
		return nil, err
	}
	return s.versionResp(name, n)
}

func (s *Server) proposeStage(ctx context.Context, spec repo.PromoteSpec) (any, error) {
	p, err := s.r.Propose(spec)
	if err != nil {
		return nil, err
	}
	out := proposalJSON{Branch: p.Branch, Commit: p.Commit, Base: p.Base, Target: p.Target, Existing: p.Existing}
	if p.Branch != "" {
		// The push runs the system git with the server's credentials; a
		// remote that hangs (or a credential prompt) must not hold the
		// request forever: the branch is kept either way.
		pctx, cancel := context.WithTimeout(ctx, proposalPushTimeout)
		defer cancel()
		pushed, perr := s.r.PushProposal(pctx, s.proposalRemote(), p)
		if pushed != nil {
			out.Remote, out.RemoteURL, out.Pushed, out.PushCommand, out.URL = pushed.Remote, pushed.RemoteURL, pushed.Pushed, pushed.PushCommand, pushed.URL
		}
		if perr != nil {
			s.log.Warn("proposal not pushed", "branch", p.Branch, "err", perr)
			out.PushError = perr.Error()
		}
	}
	v, err := s.versionResp(spec.Name, spec.Version)
	if err != nil {
		return nil, err
	}
	return struct {
		ModelVersion modelVersionJSON `json:"model_version"`
		Proposal     proposalJSON     `json:"proposal"`
	}{v.(versionResp).ModelVersion, out}, nil
}

type setVersionTagReq struct {
	versionReq
	Key   string `json:"key"`
	Value string `json:"value"`
}

func (s *Server) setVersionTag(ctx context.Context, req *setVersionTagReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.UpdateVersion(name, n, repo.ModelChange{SetTags: map[string]string{req.Key: req.Value}})
	return nil, err
}

type deleteVersionTagReq struct {
	versionReq
	Key string `json:"key"`
}

func (s *Server) deleteVersionTag(ctx context.Context, req *deleteVersionTagReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	if req.Key == "" {
		return nil, missing("key")
	}
	_, err = s.r.UpdateVersion(name, n, repo.ModelChange{DeleteTags: []string{req.Key}})
	return nil, err
}

// downloadURI answers the artifact URI the version's files come from,
// which the client downloads through the artifact proxy: the run's or the
// logged model's, or for a version registered from files its own
// mlflow-artifacts:/_registry/... folder.
func (s *Server) downloadURI(ctx context.Context, req *versionReq) (any, error) {
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	v, err := s.r.GetVersion(name, n)
	if err != nil {
		return nil, err
	}
	if id, ok := loggedModelSource(v.Source); ok {
		lm, err := s.r.GetLoggedModel(id)
		if err != nil {
			return nil, err
		}
		return map[string]string{"artifact_uri": lm.ArtifactLocation}, nil
	}
	run, p, err := sourceRun(v.Source)
	if err != nil || v.RunID == "" {
		// Registered from files (mlgit model register --from DIR): the
		// proxy serves the version's own files (registry_artifacts.go).
		return map[string]string{"artifact_uri": registryArtifactURI(v.Name, v.Version)}, nil
	}
	d, err := s.r.GetRun(run)
	if err != nil {
		return nil, err
	}
	uri := d.ArtifactURI
	if p != "" {
		uri += "/" + p
	}
	return map[string]string{"artifact_uri": uri}, nil
}

type setAliasReq struct {
	versionReq
	Alias   string `json:"alias"`
	Comment string `json:"comment"` // mlgit: the reason (reasonOr)
}

func (s *Server) setAlias(ctx context.Context, req *setAliasReq) (any, error) {
	if req.Alias == "" {
		return nil, missing("alias")
	}
	name, n, err := req.parse()
	if err != nil {
		return nil, err
	}
	res, err := s.r.SetAlias(repo.AliasSpec{Name: name, Alias: req.Alias, Version: n, Reason: reasonOr(req.Comment)})
	if res == nil && err != nil {
		return nil, err
	}
	return nil, s.tagSyncOK(err)
}

// aliasReq names a model's alias (delete-alias, get-by-alias).
type aliasReq struct {
	nameReq
	Alias string `json:"alias"`
}

func (q aliasReq) parse() (string, error) {
	name, err := q.name()
	if err != nil {
		return "", err
	}
	if q.Alias == "" {
		return "", missing("alias")
	}
	return name, nil
}

type deleteAliasReq struct {
	aliasReq
	Comment string `json:"comment"` // mlgit: the reason (reasonOr)
}

func (s *Server) deleteAlias(ctx context.Context, req *deleteAliasReq) (any, error) {
	name, err := req.parse()
	if err != nil {
		return nil, err
	}
	res, err := s.r.DeleteAlias(name, req.Alias, reasonOr(req.Comment))
	if res == nil && err != nil {
		return nil, err
	}
	return nil, s.tagSyncOK(err)
}

func (s *Server) getByAlias(ctx context.Context, req *aliasReq) (any, error) {
	name, err := req.parse()
	if err != nil {
		return nil, err
	}
	m, err := s.r.GetModel(name)
	if err != nil {
		return nil, err
	}
	n, ok := m.Aliases[req.Alias]
	if !ok {
		return nil, errorf(codeDoesNotExist, "Registered model alias %s not found.", req.Alias)
	}
	return s.versionResp(name, n)
}

// Search rows.

type modelRow struct{ *manifest.RegisteredModel }

func (m modelRow) Metric(string) (float64, bool)  { return 0, false }
func (m modelRow) Param(string) (string, bool)    { return "", false }
func (m modelRow) Tag(k string) (string, bool)    { v, ok := m.Tags[k]; return v, ok }
func (m modelRow) Datasets() []query.DatasetInput { return nil }
func (m modelRow) Attr(name string) (query.Value, bool) {
	switch name {
	case "name":
		return query.StrValue(m.Name), true
	case "creation_timestamp":
		return query.NumValue(float64(m.CreationTimestamp)), true
	case "last_updated_timestamp":
		return query.NumValue(float64(m.LastUpdatedTimestamp)), true
	}
	return query.Value{}, false
}

type versionRow struct{ *manifest.ModelVersion }

func (v versionRow) Metric(string) (float64, bool)  { return 0, false }
func (v versionRow) Param(string) (string, bool)    { return "", false }
func (v versionRow) Tag(k string) (string, bool)    { x, ok := v.Tags[k]; return x, ok }
func (v versionRow) Datasets() []query.DatasetInput { return nil }
func (v versionRow) Attr(name string) (query.Value, bool) {
	switch name {
	case "name":
		return query.StrValue(v.Name), true
	case "version_number":
		return query.NumValue(float64(v.Version)), true
	case "run_id":
		return query.StrValue(v.RunID), true
	case "source_path":
		return query.StrValue(v.Source), true
	case "creation_timestamp":
		return query.NumValue(float64(v.CreationTimestamp)), true
	case "last_updated_timestamp":
		return query.NumValue(float64(v.LastUpdatedTimestamp)), true
	}
	return query.Value{}, false
}

type searchArgs struct {
	Filter     string   `json:"filter"`
	MaxResults Int64    `json:"max_results"`
	OrderBy    []string `json:"order_by"`
	PageToken  string   `json:"page_token"`
}

// page filters, orders and pages rows of kind with MLflow's grammar.
func page[T query.Row](kind query.Kind, a searchArgs, def, max int64, rows []T) ([]T, string, error) {
	n := def
	if a.MaxResults.Set {
		n = a.MaxResults.V
		if n < 1 || n > max {
			return nil, "", invalidf("Invalid value %d for parameter 'max_results' supplied. It must be at most %d and at least 1.", n, max)
		}
	}
	f, err := query.ParseFilter(kind, a.Filter)
	if err != nil {
		return nil, "", invalidf("Invalid filter '%s': %v", a.Filter, err)
	}
	orders, err := query.ParseOrderByList(kind, a.OrderBy)
	if err != nil {
		return nil, "", invalidf("Invalid order_by: %v", err)
	}
	orders = query.WithTieBreak(kind, orders)
	offset, err := decodeOffset(a.PageToken)
	if err != nil {
		return nil, "", err
	}
	var kept []T
	for _, r := range rows {
		if f.Match(r) {
			kept = append(kept, r)
		}
	}
	sort.SliceStable(kept, func(i, j int) bool { return query.Compare(kept[i], kept[j], orders) < 0 })
	if offset > len(kept) {
		offset = len(kept)
	}
	end := offset + int(n)
	if end > len(kept) {
		end = len(kept)
	}
	next := ""
	if end < len(kept) {
		next = pagetoken.Encode(end)
	}
	return kept[offset:end], next, nil
}

func (s *Server) searchModels(ctx context.Context, a *searchArgs) (any, error) {
	ms, err := s.r.ListModels()
	if err != nil {
		return nil, err
	}
	rows := make([]modelRow, len(ms))
	for i, m := range ms {
		rows[i] = modelRow{m}
	}
	got, next, err := page(query.RegisteredModels, *a, defaultModelSearch, maxModelSearch, rows)
	if err != nil {
		return nil, err
	}
	var resp struct {
		RegisteredModels []registeredModelJSON `json:"registered_models,omitempty"`
		NextPageToken    string                `json:"next_page_token,omitempty"`
	}
	for _, m := range got {
		j, err := s.toModel(m.RegisteredModel)
		if err != nil {
			return nil, err
		}
		resp.RegisteredModels = append(resp.RegisteredModels, j)
	}
	resp.NextPageToken = next
	return resp, nil
}

func (s *Server) searchVersions(ctx context.Context, a *searchArgs) (any, error) {
	ms, err := s.r.ListModels()
	if err != nil {
		return nil, err
	}
	byName := map[string]*manifest.RegisteredModel{}
	var rows []versionRow
	for _, m := range ms {
		byName[m.Name] = m
		vs, err := s.r.ListVersions(m.Name, "")
		if err != nil {
			return nil, err
		}
		for _, v := range vs {
			rows = append(rows, versionRow{v})
		}
	}
	got, next, err := page(query.ModelVersions, *a, defaultVersionSearch, maxVersionSearch, rows)
	if err != nil {
		return nil, err
	}
	var resp struct {
		ModelVersions []modelVersionJSON `json:"model_versions,omitempty"`
		NextPageToken string             `json:"next_page_token,omitempty"`
	}
	for _, v := range got {
		resp.ModelVersions = append(resp.ModelVersions, toVersion(v.ModelVersion, byName[v.Name]))
	}
	resp.NextPageToken = next
	return resp, nil
}
