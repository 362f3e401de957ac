package server

import (
	"sort"

	"github.com/mlgit/mlgit/manifest"
)

// JSON shapes of MLflow's entities (protos/service.proto), snake_case,
// unset fields omitted.

type kvJSON struct {
	Key   string `json:"key"`
	Value string `json:"value"`
}

type experimentJSON struct {
	ExperimentID     string   `json:"experiment_id"`
	Name             string   `json:"name"`
	ArtifactLocation string   `json:"artifact_location,omitempty"`
	LifecycleStage   string   `json:"lifecycle_stage"`
	LastUpdateTime   int64    `json:"last_update_time,omitempty"`
	CreationTime     int64    `json:"creation_time,omitempty"`
	Tags             []kvJSON `json:"tags,omitempty"`
}

type metricJSON struct {
	Key       string             `json:"key"`
	Value     manifest.JSONFloat `json:"value"`
	Timestamp int64              `json:"timestamp"`
	Step      int64              `json:"step"`
	RunID     string             `json:"run_id,omitempty"`
}

type runInfoJSON struct {
	RunID          string `json:"run_id"`
	RunUUID        string `json:"run_uuid"`
	RunName        string `json:"run_name,omitempty"`
	ExperimentID   string `json:"experiment_id"`
	UserID         string `json:"user_id,omitempty"`
	Status         string `json:"status"`
	StartTime      int64  `json:"start_time,omitempty"`
	EndTime        int64  `json:"end_time,omitempty"`
	ArtifactURI    string `json:"artifact_uri,omitempty"`
	LifecycleStage string `json:"lifecycle_stage"`
}

type runDataJSON struct {
	Metrics []metricJSON `json:"metrics,omitempty"`
	Params  []kvJSON     `json:"params,omitempty"`
	Tags    []kvJSON     `json:"tags,omitempty"`
}

type datasetJSON struct {
	Name       string `json:"name"`
	Digest     string `json:"digest"`
	SourceType string `json:"source_type,omitempty"`
	Source     string `json:"source,omitempty"`
	Schema     string `json:"schema,omitempty"`
	Profile    string `json:"profile,omitempty"`
}

type datasetInputJSON struct {
	Tags    []kvJSON    `json:"tags,omitempty"`
	Dataset datasetJSON `json:"dataset"`
}

type runInputsJSON struct {
	DatasetInputs []datasetInputJSON `json:"dataset_inputs,omitempty"`
}

type modelOutputJSON struct {
	ModelID string `json:"model_id"`
	Step    int64  `json:"step"`
}

type runOutputsJSON struct {
	ModelOutputs []modelOutputJSON `json:"model_outputs,omitempty"`
}

type runJSON struct {
	Info    runInfoJSON     `json:"info"`
	Data    runDataJSON     `json:"data"`
	Inputs  runInputsJSON   `json:"inputs"`
	Outputs *runOutputsJSON `json:"outputs,omitempty"`
}

type fileInfoJSON struct {
	Path     string `json:"path"`
	IsDir    bool   `json:"is_dir"`
	FileSize *int64 `json:"file_size,omitempty"` // files only, 0 included (as MLflow)
}

// datasetContextTag is the input tag that carries a dataset's context
// ("training", "eval").
const datasetContextTag = "mlflow.data.context"

func sortedKV(m map[string]string) []kvJSON {
	if len(m) == 0 {
		return nil
	}
	out := make([]kvJSON, 0, len(m))
	for k, v := range m {
		out = append(out, kvJSON{k, v})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key < out[j].Key })
	return out
}

// experimentLocation is an experiment's artifact location: what it was
// created with, else the proxy URI mlflow-artifacts:/<id>.
func experimentLocation(e *manifest.Experiment) string {
	if e.ArtifactLocation != "" {
		return e.ArtifactLocation
	}
	return "mlflow-artifacts:/" + e.ID
}

func toExperiment(e *manifest.Experiment) experimentJSON {
	return experimentJSON{
		ExperimentID:     e.ID,
		Name:             e.Name,
		ArtifactLocation: experimentLocation(e),
		LifecycleStage:   e.LifecycleStage,
		LastUpdateTime:   e.LastUpdateTime,
		CreationTime:     e.CreationTime,
		Tags:             sortedKV(e.Tags),
	}
}

func toRunInfo(d *manifest.Run) runInfoJSON {
	return runInfoJSON{
		RunID:          d.ID,
		RunUUID:        d.ID,
		RunName:        d.Name,
		ExperimentID:   d.ExperimentID,
		UserID:         d.User,
		Status:         d.Status,
		StartTime:      d.StartTime,
		EndTime:        d.EndTime,
		ArtifactURI:    d.ArtifactURI,
		LifecycleStage: d.LifecycleStage,
	}
}

func toRun(d *manifest.Run) runJSON {
	out := runJSON{Info: toRunInfo(d)}
	if len(d.Metrics) > 0 {
		keys := make([]string, 0, len(d.Metrics))
		for k := range d.Metrics {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		for _, k := range keys {
			m := d.Metrics[k]
			out.Data.Metrics = append(out.Data.Metrics, metricJSON{Key: k, Value: manifest.JSONFloat(m.Value), Timestamp: m.Timestamp, Step: m.Step})
		}
	}
	out.Data.Params = sortedKV(d.Params)
	out.Data.Tags = sortedKV(d.Tags)
	for _, in := range d.Inputs {
		di := datasetInputJSON{Dataset: datasetJSON{
			Name: in.Name, Digest: in.Digest, SourceType: in.SourceType,
			Source: in.Source, Schema: in.Schema, Profile: in.Profile,
		}}
		if in.Context != "" {
			di.Tags = []kvJSON{{datasetContextTag, in.Context}}
		}
		out.Inputs.DatasetInputs = append(out.Inputs.DatasetInputs, di)
	}
	if len(d.Outputs) > 0 {
		out.Outputs = &runOutputsJSON{}
		for _, o := range d.Outputs {
			out.Outputs.ModelOutputs = append(out.Outputs.ModelOutputs, modelOutputJSON{ModelID: o.ModelID, Step: o.Step})
		}
	}
	return out
}
