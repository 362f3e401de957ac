// Package mlflowimport brings an MLflow store into an mlgit repository
// with the same ids (mlgit import mlflow).
//
// Reading (filestore.go) returns what an MLflow store holds — experiments,
// runs with their params, tags, metric histories, datasets and artifacts,
// MLflow 3 logged models, and the model registry with stages and aliases —
// in MLflow's own terms, as plain data: ReadFileStore reads an mlruns folder
// (MLflow 2.x and 3.x layouts). Writing (into.go) turns that into manifests
// and commits them in batches through repo.Import, streaming artifacts into
// the blob store; Verify (verify.go) compares the two afterwards.
package mlflowimport

import "sync"

// Store is what an MLflow store holds.
type Store struct {
	Root        string
	Experiments []*Experiment // by id; deleted ones included (Lifecycle "deleted")
	Models      []*RegisteredModel
	// Skipped lists items that could not be read, with why; the rest was.
	Skipped []Skip

	mu sync.Mutex
	// remote reads histories and files of a tracking server; nil for a
	// file store.
	remote remote
}

// Skip is an item left out and the reason.
type Skip struct {
	Item   string `json:"item"`
	Reason string `json:"reason"`
}

// Experiment is an MLflow experiment.
type Experiment struct {
	ID, Name         string
	Lifecycle        string // active or deleted
	ArtifactLocation string
	Created, Updated int64 // ms
	Tags             map[string]string
	Runs             []*Run         // by start time
	LoggedModels     []*LoggedModel // MLflow 3

	dir string
}

// Run is an MLflow run. Its metric histories are read with
// Store.Metrics(run.MetricsDir(), run.MetricKeys).
type Run struct {
	ID, ExperimentID, Name string
	Status                 string // RUNNING, SCHEDULED, FINISHED, FAILED, KILLED
	Lifecycle              string // active or deleted
	User                   string
	ArtifactURI            string
	Start, End             int64 // ms; End 0 while running
	Params, Tags           map[string]string
	MetricKeys             []string
	Inputs                 []Input
	OutputModels           []string // MLflow 3: ids of the logged models the run produced
	// ArtifactDir is the folder of the run's artifacts on this machine
	// ("" when neither the recorded location nor the store's has it).
	ArtifactDir string

	metricsDir string
}

// MetricsDir is the folder of the run's metric files.
func (r *Run) MetricsDir() string { return r.metricsDir }

// ParentRunID is the run's parent (the mlflow.parentRunId tag), if any.
func (r *Run) ParentRunID() string { return r.Tags["mlflow.parentRunId"] }

// Point is one metric point.
type Point struct {
	Timestamp int64 // ms
	Value     float64
	Step      int64
}

// Input is a dataset a run used.
type Input struct {
	Name, Digest, SourceType, Source string
	Schema, Profile                  string
	Context                          string // the mlflow.data.context tag: training, validation, ...
	Tags                             map[string]string
}

// LoggedModel is an MLflow 3 logged model.
type LoggedModel struct {
	ID, ExperimentID, Name string
	SourceRunID            string
	Status                 string
	ModelType              string
	Created, Updated       int64
	Params, Tags           map[string]string
	MetricKeys             []string
	ArtifactDir            string

	metricsDir string
	points     map[string][]Point // a tracking server's, read with the model
	uri        string             // a tracking server's artifact URI of the model
}

// MetricsDir is the folder of the logged model's metric files.
func (m *LoggedModel) MetricsDir() string { return m.metricsDir }

// RegisteredModel is a model of the registry.
type RegisteredModel struct {
	Name, Description string
	Created, Updated  int64
	Tags              map[string]string
	Aliases           map[string]int64 // alias → version
	Versions          []*ModelVersion  // by number
}

// ModelVersion is a version of a registered model.
type ModelVersion struct {
	Version          int64
	Description      string
	Stage            string // None, Staging, Production, Archived
	Status           string // READY, PENDING_REGISTRATION, FAILED_REGISTRATION
	RunID            string
	Source           string // runs:/<run>/<path> or models:/m-<id> (MLflow 3)
	StorageLocation  string
	ModelID          string // MLflow 3
	User             string
	Created, Updated int64
	Tags             map[string]string
}
