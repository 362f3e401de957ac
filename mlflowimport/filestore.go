package mlflowimport

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/internal/par"
	"gopkg.in/yaml.v3"
)

// ReadFileStore reads an MLflow file store (an mlruns folder written by
// MLflow 2.x or 3.x): experiments (with the deleted ones under .trash), their
// runs and MLflow 3 logged models, and the registry under models/. Metric
// histories are not read here (Store.Metrics reads one run's on demand), nor
// artifacts (their folders are resolved: ArtifactDir).
//
// A store copied from another machine records absolute paths that no longer
// exist (artifact_location, artifact_uri, storage_location): they are found
// again relative to root. An item whose meta.yaml does not decode is skipped
// and listed in Store.Skipped with the reason; the rest is read.
func ReadFileStore(root string) (*Store, error) {
	if u, err := url.Parse(root); err == nil && u.Scheme == "file" {
		root = u.Path
	}
	fi, err := os.Stat(root)
	if err != nil {
		return nil, fmt.Errorf("MLflow store %s: %w", root, err)
	}
	if !fi.IsDir() {
		return nil, fmt.Errorf("MLflow store %s: not a folder", root)
	}
	s := &Store{Root: root}
	var expDirs []string
	for _, parent := range []string{root, filepath.Join(root, ".trash")} {
		ents, err := os.ReadDir(parent)
		if err != nil {
			if parent != root && errors.Is(err, fs.ErrNotExist) {
				continue
			}
			return nil, err
		}
		for _, e := range ents {
			if e.IsDir() && isExperimentID(e.Name()) {
				if _, err := os.Stat(filepath.Join(parent, e.Name(), "meta.yaml")); err == nil {
					expDirs = append(expDirs, filepath.Join(parent, e.Name()))
				}
			}
		}
	}
	_, modelsErr := os.Stat(filepath.Join(root, "models"))
	if len(expDirs) == 0 && modelsErr != nil {
		return nil, fmt.Errorf("%s is not an MLflow file store: no experiment folder (<id>/meta.yaml) and no models/ folder", root)
	}
	for _, dir := range expDirs {
		e, err := s.readExperiment(dir)
		if err != nil {
			s.skip("experiment "+filepath.Base(dir), err)
			continue
		}
		s.Experiments = append(s.Experiments, e)
	}
	sort.Slice(s.Experiments, func(i, j int) bool { return s.Experiments[i].ID < s.Experiments[j].ID })
	if modelsErr == nil {
		if err := s.readRegistry(filepath.Join(root, "models")); err != nil {
			return nil, err
		}
	}
	return s, nil
}

func (s *Store) skip(item string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.Skipped = append(s.Skipped, Skip{Item: item, Reason: err.Error()})
}

// isExperimentID: MLflow's file store names experiment folders by id
// (digits).
func isExperimentID(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isRunID: 32 lower-case hex characters.
func isRunID(s string) bool {
	if len(s) != 32 {
		return false
	}
	for _, c := range s {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

// readMeta decodes a meta.yaml into v, naming the file in errors.
func readMeta(path string, v any) error {
	data, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	if err := yaml.Unmarshal(data, v); err != nil {
		return fmt.Errorf("%s does not decode: %v", path, err)
	}
	return nil
}

type expMeta struct {
	ArtifactLocation string `yaml:"artifact_location"`
	CreationTime     int64  `yaml:"creation_time"`
	ExperimentID     string `yaml:"experiment_id"`
	LastUpdateTime   int64  `yaml:"last_update_time"`
	LifecycleStage   string `yaml:"lifecycle_stage"`
	Name             string `yaml:"name"`
}

func (s *Store) readExperiment(dir string) (*Experiment, error) {
	var m expMeta
	if err := readMeta(filepath.Join(dir, "meta.yaml"), &m); err != nil {
		return nil, err
	}
	if m.ExperimentID == "" {
		m.ExperimentID = filepath.Base(dir)
	}
	if m.ExperimentID != filepath.Base(dir) {
		return nil, fmt.Errorf("%s: experiment_id %q in the folder of experiment %s", filepath.Join(dir, "meta.yaml"), m.ExperimentID, filepath.Base(dir))
	}
	if m.Name == "" {
		return nil, fmt.Errorf("%s: the experiment has no name", filepath.Join(dir, "meta.yaml"))
	}
	e := &Experiment{ID: m.ExperimentID, Name: m.Name, Lifecycle: orDefault(m.LifecycleStage, "active"),
		ArtifactLocation: m.ArtifactLocation, Created: m.CreationTime, Updated: m.LastUpdateTime, dir: dir}
	var err error
	if e.Tags, err = readKeyValues(filepath.Join(dir, "tags")); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	var runDirs []string
	for _, ent := range ents {
		if ent.IsDir() && isRunID(ent.Name()) {
			runDirs = append(runDirs, filepath.Join(dir, ent.Name()))
		}
	}
	// Runs are many small files: read them with a few readers at once.
	runs := make([]*Run, len(runDirs))
	parallel(len(runDirs), func(i int) {
		r, err := s.readRun(e, runDirs[i])
		if err != nil {
			s.skip("run "+filepath.Base(runDirs[i])+" of experiment "+e.Name, err)
			return
		}
		runs[i] = r
	})
	for _, r := range runs {
		if r != nil {
			e.Runs = append(e.Runs, r)
		}
	}
	sort.Slice(e.Runs, func(i, j int) bool {
		if e.Runs[i].Start != e.Runs[j].Start {
			return e.Runs[i].Start < e.Runs[j].Start
		}
		return e.Runs[i].ID < e.Runs[j].ID
	})
	if err := s.readLoggedModels(e); err != nil {
		return nil, err
	}
	return e, nil
}

type runMeta struct {
	ArtifactURI    string `yaml:"artifact_uri"`
	EndTime        *int64 `yaml:"end_time"`
	ExperimentID   string `yaml:"experiment_id"`
	LifecycleStage string `yaml:"lifecycle_stage"`
	RunID          string `yaml:"run_id"`
	RunName        string `yaml:"run_name"`
	StartTime      int64  `yaml:"start_time"`
	Status         any    `yaml:"status"`
	UserID         string `yaml:"user_id"`
}

// runStatuses are MLflow's RunStatus enum values as the file store writes
// them (numbers), by number.
var runStatuses = map[int]string{1: "RUNNING", 2: "SCHEDULED", 3: "FINISHED", 4: "FAILED", 5: "KILLED"}

func statusOf(v any, names map[int]string) (string, error) {
	switch t := v.(type) {
	case int:
		if s, ok := names[t]; ok {
			return s, nil
		}
	case string:
		for _, s := range names {
			if s == strings.ToUpper(t) {
				return s, nil
			}
		}
	case nil:
		return "", nil
	}
	return "", fmt.Errorf("unknown status %v", v)
}

func (s *Store) readRun(e *Experiment, dir string) (*Run, error) {
	var m runMeta
	if err := readMeta(filepath.Join(dir, "meta.yaml"), &m); err != nil {
		return nil, err
	}
	id := filepath.Base(dir)
	if m.RunID != "" && m.RunID != id {
		return nil, fmt.Errorf("%s: run_id %q in the folder of run %s", filepath.Join(dir, "meta.yaml"), m.RunID, id)
	}
	status, err := statusOf(m.Status, runStatuses)
	if err != nil {
		return nil, fmt.Errorf("%s: %v", filepath.Join(dir, "meta.yaml"), err)
	}
	r := &Run{ID: id, ExperimentID: e.ID, Name: m.RunName, Status: status, Lifecycle: orDefault(m.LifecycleStage, "active"),
		User: m.UserID, ArtifactURI: m.ArtifactURI, Start: m.StartTime, metricsDir: filepath.Join(dir, "metrics")}
	if m.EndTime != nil {
		r.End = *m.EndTime
	}
	if r.Params, err = readKeyValues(filepath.Join(dir, "params")); err != nil {
		return nil, err
	}
	if r.Tags, err = readKeyValues(filepath.Join(dir, "tags")); err != nil {
		return nil, err
	}
	if r.Name == "" {
		r.Name = r.Tags["mlflow.runName"]
	}
	if r.MetricKeys, err = listKeys(r.metricsDir); err != nil {
		return nil, err
	}
	if r.Inputs, err = s.readInputs(e, filepath.Join(dir, "inputs")); err != nil {
		return nil, err
	}
	r.ArtifactDir = s.localPath(m.ArtifactURI, filepath.Join(dir, "artifacts"))
	if outs, err := os.ReadDir(filepath.Join(dir, "outputs")); err == nil {
		for _, o := range outs {
			if o.IsDir() {
				r.OutputModels = append(r.OutputModels, o.Name())
			}
		}
	}
	return r, nil
}

// localPath finds a recorded file:// location, or where it lands relative
// to the store when the recorded path does not exist (a copied store):
// fallback, the store's own folder for the item, when it exists.
func (s *Store) localPath(recorded, fallback string) string {
	p := recorded
	if u, err := url.Parse(recorded); err == nil && u.Scheme == "file" {
		p = u.Path
	}
	if p != "" && !strings.Contains(p, "://") && filepath.IsAbs(p) {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if _, err := os.Stat(fallback); err == nil {
		return fallback
	}
	return ""
}

// readKeyValues reads a params or tags folder: a file per key (keys with
// "/" are nested folders), its content the value.
func readKeyValues(dir string) (map[string]string, error) {
	out := map[string]string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		out[filepath.ToSlash(rel)] = string(data)
		return nil
	})
	return out, err
}

// listKeys lists the metric keys of a metrics folder.
func listKeys(dir string) ([]string, error) {
	kv := []string{}
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			if p == dir && errors.Is(err, fs.ErrNotExist) {
				return fs.SkipAll
			}
			return err
		}
		if !d.IsDir() {
			rel, err := filepath.Rel(dir, p)
			if err != nil {
				return err
			}
			kv = append(kv, filepath.ToSlash(rel))
		}
		return nil
	})
	sort.Strings(kv)
	return kv, err
}

// Metrics reads the history of every metric of a run (or of a logged
// model): the lines "timestamp value step" (MLflow 3 adds the run id), in
// file order. Values may be nan, inf and -inf.
func (s *Store) Metrics(metricsDir string, keys []string) (map[string][]Point, error) {
	out := make(map[string][]Point, len(keys))
	for _, k := range keys {
		pts, err := readMetricFile(filepath.Join(metricsDir, filepath.FromSlash(k)))
		if err != nil {
			return nil, fmt.Errorf("metric %s: %w", k, err)
		}
		out[k] = pts
	}
	return out, nil
}

func readMetricFile(path string) ([]Point, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var pts []Point
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	line := 0
	for sc.Scan() {
		line++
		fields := strings.Fields(sc.Text())
		if len(fields) == 0 {
			continue
		}
		if len(fields) < 2 {
			return nil, fmt.Errorf("%s:%d: want \"timestamp value [step]\"", path, line)
		}
		var p Point
		if p.Timestamp, err = strconv.ParseInt(fields[0], 10, 64); err != nil {
			return nil, fmt.Errorf("%s:%d: timestamp %q", path, line, fields[0])
		}
		if p.Value, err = strconv.ParseFloat(fields[1], 64); err != nil {
			return nil, fmt.Errorf("%s:%d: value %q", path, line, fields[1])
		}
		if len(fields) >= 3 {
			if p.Step, err = strconv.ParseInt(fields[2], 10, 64); err != nil {
				return nil, fmt.Errorf("%s:%d: step %q", path, line, fields[2])
			}
		}
		pts = append(pts, p)
	}
	return pts, sc.Err()
}

type inputMeta struct {
	SourceType      any               `yaml:"source_type"`
	SourceID        string            `yaml:"source_id"`
	DestinationType any               `yaml:"destination_type"`
	Tags            map[string]string `yaml:"tags"`
}

type datasetMeta struct {
	Name       string `yaml:"name"`
	Digest     string `yaml:"digest"`
	SourceType string `yaml:"source_type"`
	Source     string `yaml:"source"`
	Schema     string `yaml:"schema"`
	Profile    string `yaml:"profile"`
}

// readInputs reads a run's dataset inputs: inputs/<id>/meta.yaml naming a
// dataset of the experiment (datasets/<id>/meta.yaml).
func (s *Store) readInputs(e *Experiment, dir string) ([]Input, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []Input
	for _, ent := range ents {
		if !ent.IsDir() {
			continue
		}
		var im inputMeta
		if err := readMeta(filepath.Join(dir, ent.Name(), "meta.yaml"), &im); err != nil {
			return nil, err
		}
		var dm datasetMeta
		if err := readMeta(filepath.Join(e.dir, "datasets", im.SourceID, "meta.yaml"), &dm); err != nil {
			return nil, fmt.Errorf("input %s: dataset %s: %w", ent.Name(), im.SourceID, err)
		}
		out = append(out, Input{Name: dm.Name, Digest: dm.Digest, SourceType: dm.SourceType, Source: dm.Source,
			Schema: dm.Schema, Profile: dm.Profile, Context: im.Tags["mlflow.data.context"], Tags: im.Tags})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name+out[i].Context < out[j].Name+out[j].Context })
	return out, nil
}

type loggedModelMeta struct {
	ArtifactLocation string `yaml:"artifact_location"`
	CreationTime     int64  `yaml:"creation_timestamp"`
	ExperimentID     string `yaml:"experiment_id"`
	LastUpdated      int64  `yaml:"last_updated_timestamp"`
	ModelID          string `yaml:"model_id"`
	ModelType        string `yaml:"model_type"`
	Name             string `yaml:"name"`
	SourceRunID      string `yaml:"source_run_id"`
	Status           any    `yaml:"status"`
}

// loggedModelStatuses are MLflow 3's LoggedModelStatus values.
var loggedModelStatuses = map[int]string{0: "LOGGED_MODEL_STATUS_UNSPECIFIED", 1: "LOGGED_MODEL_PENDING", 2: "LOGGED_MODEL_READY", 3: "LOGGED_MODEL_UPLOAD_FAILED"}

// readLoggedModels reads MLflow 3's <experiment>/models/m-<id>/.
func (s *Store) readLoggedModels(e *Experiment) error {
	dir := filepath.Join(e.dir, "models")
	ents, err := os.ReadDir(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if !ent.IsDir() || !strings.HasPrefix(ent.Name(), "m-") {
			continue
		}
		md := filepath.Join(dir, ent.Name())
		var m loggedModelMeta
		if err := readMeta(filepath.Join(md, "meta.yaml"), &m); err != nil {
			s.skip("logged model "+ent.Name(), err)
			continue
		}
		status, err := statusOf(m.Status, loggedModelStatuses)
		if err != nil {
			s.skip("logged model "+ent.Name(), err)
			continue
		}
		lm := &LoggedModel{ID: orDefault(m.ModelID, ent.Name()), ExperimentID: e.ID, Name: m.Name, SourceRunID: m.SourceRunID,
			Status: status, ModelType: m.ModelType, Created: m.CreationTime, Updated: m.LastUpdated, metricsDir: filepath.Join(md, "metrics")}
		if lm.Params, err = readKeyValues(filepath.Join(md, "params")); err != nil {
			return err
		}
		if lm.Tags, err = readKeyValues(filepath.Join(md, "tags")); err != nil {
			return err
		}
		if lm.MetricKeys, err = listKeys(lm.metricsDir); err != nil {
			return err
		}
		lm.ArtifactDir = s.localPath(m.ArtifactLocation, filepath.Join(md, "artifacts"))
		e.LoggedModels = append(e.LoggedModels, lm)
	}
	sort.Slice(e.LoggedModels, func(i, j int) bool { return e.LoggedModels[i].ID < e.LoggedModels[j].ID })
	return nil
}

type registeredModelMeta struct {
	CreationTime int64             `yaml:"creation_timestamp"`
	Description  string            `yaml:"description"`
	LastUpdated  int64             `yaml:"last_updated_timestamp"`
	Name         string            `yaml:"name"`
	Aliases      map[string]string `yaml:"aliases"`
}

type versionMeta struct {
	CreationTime    int64  `yaml:"creation_timestamp"`
	CurrentStage    string `yaml:"current_stage"`
	Description     string `yaml:"description"`
	LastUpdated     int64  `yaml:"last_updated_timestamp"`
	ModelID         string `yaml:"model_id"`
	Name            string `yaml:"name"`
	RunID           string `yaml:"run_id"`
	RunLink         string `yaml:"run_link"`
	Source          string `yaml:"source"`
	Status          string `yaml:"status"`
	StorageLocation string `yaml:"storage_location"`
	UserID          string `yaml:"user_id"`
	Version         int64  `yaml:"version"`
}

// readRegistry reads models/<name>/ with its version-<n>/ folders, tags and
// aliases.
func (s *Store) readRegistry(dir string) error {
	ents, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, ent := range ents {
		if !ent.IsDir() {
			continue
		}
		md := filepath.Join(dir, ent.Name())
		var m registeredModelMeta
		if err := readMeta(filepath.Join(md, "meta.yaml"), &m); err != nil {
			s.skip("registered model "+ent.Name(), err)
			continue
		}
		rm := &RegisteredModel{Name: orDefault(m.Name, ent.Name()), Description: m.Description, Created: m.CreationTime, Updated: m.LastUpdated, Aliases: map[string]int64{}}
		if rm.Tags, err = readKeyValues(filepath.Join(md, "tags")); err != nil {
			return err
		}
		for alias, v := range m.Aliases {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				s.skip("alias "+alias+" of "+rm.Name, fmt.Errorf("version %q is not a number", v))
				continue
			}
			rm.Aliases[alias] = n
		}
		// MLflow also writes aliases/<alias> files holding the version.
		if files, err := readKeyValues(filepath.Join(md, "aliases")); err == nil {
			for alias, v := range files {
				if n, err := strconv.ParseInt(strings.TrimSpace(v), 10, 64); err == nil {
					rm.Aliases[alias] = n
				}
			}
		}
		vents, err := os.ReadDir(md)
		if err != nil {
			return err
		}
		for _, ve := range vents {
			if !ve.IsDir() || !strings.HasPrefix(ve.Name(), "version-") {
				continue
			}
			vd := filepath.Join(md, ve.Name())
			var vm versionMeta
			if err := readMeta(filepath.Join(vd, "meta.yaml"), &vm); err != nil {
				s.skip(rm.Name+" "+ve.Name(), err)
				continue
			}
			v := &ModelVersion{Version: vm.Version, Description: vm.Description, Stage: orDefault(vm.CurrentStage, "None"),
				Status: orDefault(vm.Status, "READY"), RunID: vm.RunID, Source: vm.Source, StorageLocation: vm.StorageLocation,
				ModelID: vm.ModelID, Created: vm.CreationTime, Updated: vm.LastUpdated, User: vm.UserID}
			if v.Tags, err = readKeyValues(filepath.Join(vd, "tags")); err != nil {
				return err
			}
			rm.Versions = append(rm.Versions, v)
		}
		sort.Slice(rm.Versions, func(i, j int) bool { return rm.Versions[i].Version < rm.Versions[j].Version })
		s.Models = append(s.Models, rm)
	}
	sort.Slice(s.Models, func(i, j int) bool { return s.Models[i].Name < s.Models[j].Name })
	return nil
}

func orDefault(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// parallel runs f(0..n-1) on a few goroutines (reading many small files).
func parallel(n int, f func(i int)) { par.Each(n, max(4, 2*runtime.GOMAXPROCS(0)), f) }
