package manifest

import (
	"fmt"
	"regexp"
	"sort"
	"strings"
	"unicode/utf8"
)

// Run statuses, as MLflow's RunStatus enum.
const (
	StatusRunning   = "RUNNING"
	StatusScheduled = "SCHEDULED"
	StatusFinished  = "FINISHED"
	StatusFailed    = "FAILED"
	StatusKilled    = "KILLED"
)

// Lifecycle stages of experiments and runs (soft delete, as MLflow).
const (
	LifecycleActive  = "active"
	LifecycleDeleted = "deleted"
)

// DefaultExperimentID is the id of the experiment every repository starts
// with, named DefaultExperimentName.
const (
	DefaultExperimentID   = "0"
	DefaultExperimentName = "Default"
)

// Config is mlgit.yaml at the root of the tracking branch.
type Config struct {
	Header `yaml:",inline"`
	// Stages lists custom stages beyond None, Staging, Production, Archived.
	Stages []string `yaml:"stages,omitempty" json:"stages,omitempty"`
	// Blobs configures the sidecar blob store.
	Blobs BlobConfig `yaml:"blobs,omitempty" json:"blobs,omitempty"`
	// Promotion holds the policy per stage, keyed by lower-case stage name.
	Promotion map[string]PromotionPolicy `yaml:"promotion,omitempty" json:"promotion,omitempty"`
	// Metrics configures where metric history is kept.
	Metrics MetricsConfig `yaml:"metrics,omitempty" json:"metrics,omitempty"`
}

// DefaultSpillAbove is the length of a run's metric history past which its
// new segments go to the blob store, when a blob remote is configured and
// metrics.spillAbove is not set.
const DefaultSpillAbove = 100_000

// MinSpillAbove is the smallest metrics.spillAbove allowed: shorter
// histories cost less in Git than a blob each, and a checkpoint reads
// mlgit.yaml for the setting only for runs past it.
const MinSpillAbove = 1000

// MetricsConfig configures where metric history is kept.
type MetricsConfig struct {
	// SpillAbove: once a run's history holds more than this many points
	// (counting the segment being written), its new segments are stored
	// in the blob store as columnar blobs and the branch keeps a pointer
	// (metrics/<seq>.yaml). Unset: DefaultSpillAbove when blobs.remote is
	// set, else never. At least MinSpillAbove; a very large value keeps
	// every history in Git.
	SpillAbove int64 `yaml:"spillAbove,omitempty" json:"spill_above,omitempty"`
}

// SpillThreshold returns the history length past which segments spill to
// the blob store, or 0 when they never do.
func (c *Config) SpillThreshold() int64 {
	switch {
	case c == nil:
		return 0
	case c.Metrics.SpillAbove > 0:
		return c.Metrics.SpillAbove
	case c.Blobs.Remote != "":
		return DefaultSpillAbove
	}
	return 0
}

// BlobConfig configures the blob store.
type BlobConfig struct {
	// Remote is the shared blob store: a path, file:// URL or s3://bucket/prefix.
	Remote string `yaml:"remote,omitempty" json:"remote,omitempty"`
}

// PromotionPolicy says what a version must satisfy to enter a stage.
type PromotionPolicy struct {
	// From lists the stages a version may come from (empty: any).
	From []string `yaml:"from,omitempty" json:"from,omitempty"`
	// Require is a filter in the search grammar the version's run must match.
	Require string `yaml:"require,omitempty" json:"require,omitempty"`
	// Review requires the change to go through a pull request.
	Review bool `yaml:"review,omitempty" json:"review,omitempty"`
}

// NewConfig returns the configuration mlgit init writes.
func NewConfig() *Config {
	return &Config{Header: Header{APIVersion: APIVersion, Kind: KindConfig}}
}

// Experiment is experiments/<id>/experiment.yaml.
type Experiment struct {
	Header           `yaml:",inline"`
	ID               string            `yaml:"id" json:"experiment_id"`
	Name             string            `yaml:"name" json:"name"`
	LifecycleStage   string            `yaml:"lifecycleStage" json:"lifecycle_stage"`
	ArtifactLocation string            `yaml:"artifactLocation,omitempty" json:"artifact_location,omitempty"`
	CreationTime     int64             `yaml:"creationTime" json:"creation_time"`
	LastUpdateTime   int64             `yaml:"lastUpdateTime" json:"last_update_time"`
	Tags             map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
}

// Run is runs/<id[0:2]>/<id>/run.yaml.
type Run struct {
	Header         `yaml:",inline"`
	ID             string `yaml:"id" json:"run_id"`
	ExperimentID   string `yaml:"experimentId" json:"experiment_id"`
	Name           string `yaml:"name,omitempty" json:"run_name,omitempty"`
	Status         string `yaml:"status" json:"status"`
	LifecycleStage string `yaml:"lifecycleStage" json:"lifecycle_stage"`
	User           string `yaml:"user,omitempty" json:"user_id,omitempty"`
	StartTime      int64  `yaml:"startTime" json:"start_time"`
	EndTime        int64  `yaml:"endTime,omitempty" json:"end_time,omitempty"`
	DeletedTime    int64  `yaml:"deletedTime,omitempty" json:"deleted_time,omitempty"`
	ArtifactURI    string `yaml:"artifactUri,omitempty" json:"artifact_uri,omitempty"`
	// Source records the code the run was trained from.
	Source *Source `yaml:"source,omitempty" json:"source,omitempty"`
	// ParentModel is the model version this run fine-tuned, e.g. churn@v3.
	ParentModel string            `yaml:"parentModel,omitempty" json:"parent_model,omitempty"`
	Params      map[string]string `yaml:"params,omitempty" json:"params,omitempty"`
	Tags        map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Metrics holds the latest value of each metric and its summary.
	Metrics map[string]MetricSummary `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	// MetricSegments is the number of metrics/<seq>.tsv files (1..n).
	MetricSegments int       `yaml:"metricSegments,omitempty" json:"metric_segments,omitempty"`
	Inputs         []Dataset `yaml:"inputs,omitempty" json:"inputs,omitempty"`
	// Outputs are the MLflow 3 logged models the run produced
	// (runs/outputs), each at a step.
	Outputs []ModelOutput `yaml:"outputs,omitempty" json:"outputs,omitempty"`
	// Artifacts is the run's artifact index, sorted by path.
	Artifacts []Artifact `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
}

// Source is the code a run came from.
type Source struct {
	Commit  string   `yaml:"commit,omitempty" json:"commit,omitempty"`
	Branch  string   `yaml:"branch,omitempty" json:"branch,omitempty"`
	Dirty   bool     `yaml:"dirty,omitempty" json:"dirty,omitempty"`
	Command []string `yaml:"command,omitempty" json:"command,omitempty"`
	// Exit is the command's exit code (run exec), -1 when killed by a signal.
	Exit *int `yaml:"exit,omitempty" json:"exit,omitempty"`
}

// MetricSummary is the latest point of a metric (MLflow's rule: highest step,
// then timestamp, then value) with the min, max and count of all points.
type MetricSummary struct {
	Value     float64 `yaml:"value" json:"value"`
	Step      int64   `yaml:"step" json:"step"`
	Timestamp int64   `yaml:"timestamp" json:"timestamp"`
	Min       float64 `yaml:"min" json:"min"`
	Max       float64 `yaml:"max" json:"max"`
	Count     int64   `yaml:"count" json:"count"`
}

// Dataset is an input of a run (MLflow's DatasetInput).
type Dataset struct {
	Name       string `yaml:"name" json:"name"`
	Digest     string `yaml:"digest" json:"digest"`
	SourceType string `yaml:"sourceType,omitempty" json:"source_type,omitempty"`
	Source     string `yaml:"source,omitempty" json:"source,omitempty"`
	Schema     string `yaml:"schema,omitempty" json:"schema,omitempty"`
	Profile    string `yaml:"profile,omitempty" json:"profile,omitempty"`
	Context    string `yaml:"context,omitempty" json:"context,omitempty"`
}

// ModelOutput links a run to a logged model it produced (MLflow 3's
// LoggedModelOutput).
type ModelOutput struct {
	ModelID string `yaml:"modelId" json:"model_id"`
	Step    int64  `yaml:"step" json:"step"`
}

// Artifact is one file of a run or model version, stored in the blob store.
type Artifact struct {
	Path   string `yaml:"path" json:"path"`
	Digest string `yaml:"digest" json:"digest"`
	Size   int64  `yaml:"size" json:"size"`
	// Mode is the octal permission string, "0644" or "0755".
	Mode string `yaml:"mode" json:"mode"`
}

// RegisteredModel is models/<model-key>/model.yaml.
type RegisteredModel struct {
	Header               `yaml:",inline"`
	Name                 string            `yaml:"name" json:"name"`
	Description          string            `yaml:"description,omitempty" json:"description,omitempty"`
	CreationTimestamp    int64             `yaml:"creationTimestamp" json:"creation_timestamp"`
	LastUpdatedTimestamp int64             `yaml:"lastUpdatedTimestamp" json:"last_updated_timestamp"`
	Tags                 map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Aliases maps alias to version number.
	Aliases map[string]int64 `yaml:"aliases,omitempty" json:"aliases,omitempty"`
	// LatestVersion is the highest version number ever issued; numbers are
	// never reused, even after deletion.
	LatestVersion int64 `yaml:"latestVersion" json:"latest_version"`
}

// ModelVersion is models/<model-key>/versions/<n>.yaml.
type ModelVersion struct {
	Header               `yaml:",inline"`
	Name                 string            `yaml:"name" json:"name"`
	Version              int64             `yaml:"version" json:"version"`
	Description          string            `yaml:"description,omitempty" json:"description,omitempty"`
	Stage                string            `yaml:"stage" json:"current_stage"`
	Status               string            `yaml:"status" json:"status"`
	Source               string            `yaml:"source,omitempty" json:"source,omitempty"`
	RunID                string            `yaml:"runId,omitempty" json:"run_id,omitempty"`
	ModelID              string            `yaml:"modelId,omitempty" json:"model_id,omitempty"`
	UserID               string            `yaml:"userId,omitempty" json:"user_id,omitempty"`
	CreationTimestamp    int64             `yaml:"creationTimestamp" json:"creation_timestamp"`
	LastUpdatedTimestamp int64             `yaml:"lastUpdatedTimestamp" json:"last_updated_timestamp"`
	Tags                 map[string]string `yaml:"tags,omitempty" json:"tags,omitempty"`
	// Flavors, Signature and ModelSize come from an MLflow MLmodel file.
	Flavors   []string   `yaml:"flavors,omitempty" json:"flavors,omitempty"`
	Signature string     `yaml:"signature,omitempty" json:"signature,omitempty"`
	ModelSize int64      `yaml:"modelSize,omitempty" json:"model_size,omitempty"`
	Artifacts []Artifact `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
}

// LoggedModel is logged-models/<id[2:4]>/<id>/model.yaml (MLflow 3).
type LoggedModel struct {
	Header               `yaml:",inline"`
	ID                   string                   `yaml:"id" json:"model_id"`
	ExperimentID         string                   `yaml:"experimentId" json:"experiment_id"`
	Name                 string                   `yaml:"name" json:"name"`
	SourceRunID          string                   `yaml:"sourceRunId,omitempty" json:"source_run_id,omitempty"`
	ModelType            string                   `yaml:"modelType,omitempty" json:"model_type,omitempty"`
	Status               string                   `yaml:"status" json:"status"`
	LifecycleStage       string                   `yaml:"lifecycleStage" json:"lifecycle_stage"`
	CreationTimestamp    int64                    `yaml:"creationTimestamp" json:"creation_timestamp_ms"`
	LastUpdatedTimestamp int64                    `yaml:"lastUpdatedTimestamp" json:"last_updated_timestamp_ms"`
	ArtifactLocation     string                   `yaml:"artifactLocation,omitempty" json:"artifact_location,omitempty"`
	Params               map[string]string        `yaml:"params,omitempty" json:"params,omitempty"`
	Tags                 map[string]string        `yaml:"tags,omitempty" json:"tags,omitempty"`
	Metrics              map[string]MetricSummary `yaml:"metrics,omitempty" json:"metrics,omitempty"`
	Artifacts            []Artifact               `yaml:"artifacts,omitempty" json:"artifacts,omitempty"`
}

var (
	runIDRe    = regexp.MustCompile(`^[0-9a-f]{32}$`)
	expIDRe    = regexp.MustCompile(`^[0-9]{1,19}$`)
	digestRe   = regexp.MustCompile(`^sha256:[0-9a-f]{64}$`)
	modeRe     = regexp.MustCompile(`^0[0-7]{3}$`)
	modelIDRe  = regexp.MustCompile(`^m-[0-9a-f]{32}$`)
	commitRe   = regexp.MustCompile(`^[0-9a-f]{40}([0-9a-f]{24})?$`)
	statusSet  = map[string]bool{StatusRunning: true, StatusScheduled: true, StatusFinished: true, StatusFailed: true, StatusKilled: true}
	lifecycles = map[string]bool{LifecycleActive: true, LifecycleDeleted: true}
)

// ValidCommit reports whether s is a full commit id: 40 (SHA-1) or 64
// (SHA-256) lower-case hex characters.
func ValidCommit(s string) bool { return commitRe.MatchString(s) }

// ValidRunID reports whether id is a run id: 32 lower-case hex characters.
func ValidRunID(id string) bool { return runIDRe.MatchString(id) }

// ValidExperimentID reports whether id is an experiment id: a decimal string.
func ValidExperimentID(id string) bool { return expIDRe.MatchString(id) }

// ValidDigest reports whether d is "sha256:" and 64 lower-case hex digits.
func ValidDigest(d string) bool { return digestRe.MatchString(d) }

// ValidLoggedModelID reports whether id is "m-" and 32 lower-case hex digits.
func ValidLoggedModelID(id string) bool { return modelIDRe.MatchString(id) }

func invalid(format string, args ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, args...))
}

func checkHeader(h Header, kind string) error {
	if h.APIVersion != APIVersion || h.Kind != kind {
		return invalid("header must be apiVersion %s, kind %s", APIVersion, kind)
	}
	return nil
}

func checkTags(what string, tags map[string]string, maxVal int) error {
	for k, v := range tags {
		if err := ValidateKey(what, k); err != nil {
			return err
		}
		if n := utf8.RuneCountInString(v); maxVal > 0 && n > maxVal {
			return invalid("%s %q: value is %d characters; the limit is %d", what, k, n, maxVal)
		}
	}
	return nil
}

func checkMetrics(metrics map[string]MetricSummary) error {
	for k, m := range metrics {
		if err := ValidateKey("metric", k); err != nil {
			return err
		}
		if m.Count < 1 {
			return invalid("metric %q: count must be at least 1", k)
		}
	}
	return nil
}

func checkArtifacts(arts []Artifact) error {
	for i, a := range arts {
		if err := ValidateArtifactPath(a.Path); err != nil {
			return err
		}
		if !ValidDigest(a.Digest) {
			return invalid("artifact %q: digest %q is not sha256:<64 hex>", a.Path, a.Digest)
		}
		if a.Size < 0 {
			return invalid("artifact %q: negative size", a.Path)
		}
		if !modeRe.MatchString(a.Mode) {
			return invalid("artifact %q: mode %q is not an octal mode like 0644", a.Path, a.Mode)
		}
		if i > 0 && arts[i-1].Path >= a.Path {
			return invalid("artifacts must be sorted by path without duplicates (%q after %q)", a.Path, arts[i-1].Path)
		}
	}
	return nil
}

// TopLevelPaths lists the first path segment of each artifact, sorted and
// without repeats, folders with a trailing slash ("model/", "plot.png").
func TopLevelPaths(arts []Artifact) []string {
	seen := map[string]bool{}
	var out []string
	for _, a := range arts {
		s := a.Path
		if i := strings.IndexByte(s, '/'); i >= 0 {
			s = s[:i+1]
		}
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	sort.Strings(out)
	return out
}

// SortArtifacts sorts artifacts by path, keeping the last entry for a path.
func SortArtifacts(arts []Artifact) []Artifact {
	byPath := make(map[string]Artifact, len(arts))
	for _, a := range arts {
		byPath[a.Path] = a
	}
	out := make([]Artifact, 0, len(byPath))
	for _, a := range byPath {
		out = append(out, a)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out
}

// --- Config

// DecodeConfig strictly decodes and validates mlgit.yaml.
func DecodeConfig(data []byte) (*Config, error) {
	var v Config
	if err := decodeStrict(data, KindConfig, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (c *Config) Encode() []byte { return encode(c) }

// Validate checks the configuration's rules.
func (c *Config) Validate() error {
	if err := checkHeader(c.Header, KindConfig); err != nil {
		return err
	}
	if c.Metrics.SpillAbove != 0 && c.Metrics.SpillAbove < MinSpillAbove {
		return invalid("metrics.spillAbove %d is less than %d points (e.g. %d)", c.Metrics.SpillAbove, MinSpillAbove, DefaultSpillAbove)
	}
	seen := map[string]bool{}
	for _, s := range c.Stages {
		if err := ValidateStageName(s); err != nil {
			return err
		}
		if seen[s] {
			return invalid("stage %q is declared twice", s)
		}
		seen[s] = true
	}
	for stage, p := range c.Promotion {
		if err := ValidateStageName(stage); err != nil {
			return fmt.Errorf("promotion: %w", err)
		}
		if stage != strings.ToLower(stage) {
			return invalid("promotion: stage %q must be written in lower case (%q)", stage, strings.ToLower(stage))
		}
		for _, from := range p.From {
			if err := ValidateStageName(from); err != nil {
				return fmt.Errorf("promotion %s: from: %w", stage, err)
			}
		}
	}
	return nil
}

// --- Experiment

// DecodeExperiment strictly decodes and validates an experiment manifest.
func DecodeExperiment(data []byte) (*Experiment, error) {
	var v Experiment
	if err := decodeStrict(data, KindExperiment, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (e *Experiment) Encode() []byte { return encode(e) }

// Validate checks the experiment's rules.
func (e *Experiment) Validate() error {
	if err := checkHeader(e.Header, KindExperiment); err != nil {
		return err
	}
	if !ValidExperimentID(e.ID) {
		return invalid("experiment id %q is not a decimal number", e.ID)
	}
	if err := ValidateExperimentName(e.Name); err != nil {
		return err
	}
	if !lifecycles[e.LifecycleStage] {
		return invalid("experiment %s: lifecycleStage %q is not active or deleted", e.ID, e.LifecycleStage)
	}
	return checkTags("experiment tag", e.Tags, MaxExperimentTagValue)
}

// --- Run

// DecodeRun strictly decodes and validates a run manifest.
func DecodeRun(data []byte) (*Run, error) {
	var v Run
	if err := decodeStrict(data, KindRun, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (r *Run) Encode() []byte { return encode(r) }

// Validate checks the run's rules.
func (r *Run) Validate() error {
	if err := checkHeader(r.Header, KindRun); err != nil {
		return err
	}
	if !ValidRunID(r.ID) {
		return invalid("run id %q is not 32 lower-case hex characters", r.ID)
	}
	if !ValidExperimentID(r.ExperimentID) {
		return invalid("run %s: experiment id %q is not a decimal number", r.ID, r.ExperimentID)
	}
	if !statusSet[r.Status] {
		return invalid("run %s: status %q is not one of RUNNING, SCHEDULED, FINISHED, FAILED, KILLED", r.ID, r.Status)
	}
	if !lifecycles[r.LifecycleStage] {
		return invalid("run %s: lifecycleStage %q is not active or deleted", r.ID, r.LifecycleStage)
	}
	if r.Source != nil && r.Source.Commit != "" && !commitRe.MatchString(r.Source.Commit) {
		return invalid("run %s: source commit %q is not a full hex object id", r.ID, r.Source.Commit)
	}
	for k, v := range r.Params {
		if err := ValidateParam(k, v); err != nil {
			return err
		}
	}
	if err := checkTags("tag", r.Tags, MaxTagValue); err != nil {
		return err
	}
	if err := checkMetrics(r.Metrics); err != nil {
		return err
	}
	if r.MetricSegments < 0 {
		return invalid("run %s: negative metricSegments", r.ID)
	}
	for i, o := range r.Outputs {
		if !ValidLoggedModelID(o.ModelID) {
			return invalid("outputs[%d]: model id %q is not m- and 32 lower-case hex digits", i, o.ModelID)
		}
		if o.Step < 0 {
			return invalid("outputs[%d]: step %d must not be negative", i, o.Step)
		}
		for _, p := range r.Outputs[:i] {
			if p == o {
				return invalid("outputs[%d]: model %s at step %d is listed twice", i, o.ModelID, o.Step)
			}
		}
	}
	for _, d := range r.Inputs {
		if d.Name == "" || d.Digest == "" {
			return invalid("run %s: dataset input needs a name and a digest", r.ID)
		}
	}
	return checkArtifacts(r.Artifacts)
}

// --- RegisteredModel

// DecodeRegisteredModel strictly decodes and validates a model manifest.
func DecodeRegisteredModel(data []byte) (*RegisteredModel, error) {
	var v RegisteredModel
	if err := decodeStrict(data, KindRegisteredModel, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (m *RegisteredModel) Encode() []byte { return encode(m) }

// Validate checks the model's rules.
func (m *RegisteredModel) Validate() error {
	if err := checkHeader(m.Header, KindRegisteredModel); err != nil {
		return err
	}
	if err := ValidateModelName(m.Name); err != nil {
		return err
	}
	for a, v := range m.Aliases {
		if err := ValidateAlias(a); err != nil {
			return err
		}
		if v < 1 || v > m.LatestVersion {
			return invalid("model %q: alias %q points at version %d, which was never issued", m.Name, a, v)
		}
	}
	if m.LatestVersion < 0 {
		return invalid("model %q: negative latestVersion", m.Name)
	}
	return checkTags("model tag", m.Tags, MaxRegistryTagValue)
}

// --- ModelVersion

// DecodeModelVersion strictly decodes and validates a version manifest.
func DecodeModelVersion(data []byte) (*ModelVersion, error) {
	var v ModelVersion
	if err := decodeStrict(data, KindModelVersion, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (v *ModelVersion) Encode() []byte { return encode(v) }

// Validate checks the version's rules.
func (v *ModelVersion) Validate() error {
	if err := checkHeader(v.Header, KindModelVersion); err != nil {
		return err
	}
	if err := ValidateModelName(v.Name); err != nil {
		return err
	}
	if v.Version < 1 {
		return invalid("model %q: version %d must be at least 1", v.Name, v.Version)
	}
	if v.Stage == "" {
		return invalid("model %q version %d: stage is empty", v.Name, v.Version)
	}
	if v.RunID != "" && !ValidRunID(v.RunID) {
		return invalid("model %q version %d: run id %q is not 32 lower-case hex characters", v.Name, v.Version, v.RunID)
	}
	if err := checkTags("model version tag", v.Tags, MaxRegistryTagValue); err != nil {
		return err
	}
	return checkArtifacts(v.Artifacts)
}

// --- LoggedModel

// DecodeLoggedModel strictly decodes and validates a logged-model manifest.
func DecodeLoggedModel(data []byte) (*LoggedModel, error) {
	var v LoggedModel
	if err := decodeStrict(data, KindLoggedModel, &v, &v.Header); err != nil {
		return nil, err
	}
	return &v, v.Validate()
}

// Encode returns the canonical encoding.
func (m *LoggedModel) Encode() []byte { return encode(m) }

// Validate checks the logged model's rules.
func (m *LoggedModel) Validate() error {
	if err := checkHeader(m.Header, KindLoggedModel); err != nil {
		return err
	}
	if !ValidLoggedModelID(m.ID) {
		return invalid("logged model id %q is not m-<32 hex>", m.ID)
	}
	if !ValidExperimentID(m.ExperimentID) {
		return invalid("logged model %s: experiment id %q is not a decimal number", m.ID, m.ExperimentID)
	}
	if m.SourceRunID != "" && !ValidRunID(m.SourceRunID) {
		return invalid("logged model %s: source run id %q is not 32 lower-case hex characters", m.ID, m.SourceRunID)
	}
	if !lifecycles[m.LifecycleStage] {
		return invalid("logged model %s: lifecycleStage %q is not active or deleted", m.ID, m.LifecycleStage)
	}
	for k, v := range m.Params {
		if err := ValidateParam(k, v); err != nil {
			return err
		}
	}
	if err := checkTags("tag", m.Tags, MaxTagValue); err != nil {
		return err
	}
	if err := checkMetrics(m.Metrics); err != nil {
		return err
	}
	return checkArtifacts(m.Artifacts)
}
