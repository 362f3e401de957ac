package layout

import (
	"fmt"
	"strconv"
	"strings"
)

// Top-level entries of the tracking branch.
const (
	Config       = "mlgit.yaml"
	Experiments  = "experiments"
	Runs         = "runs"
	Models       = "models"
	LoggedModels = "logged-models"
)

// RunDir is runs/<id[:2]>/<id>, the folder of run id (32 hex).
func RunDir(id string) string { return Runs + "/" + id[:2] + "/" + id }

// Run is the manifest of run id.
func Run(id string) string { return RunDir(id) + "/run.yaml" }

// Segment is the metric-history segment seq of run id.
func Segment(id string, seq int) string {
	return fmt.Sprintf("%s/metrics/%06d.tsv", RunDir(id), seq)
}

// MetricBlobs is the folder, inside a run's folder, of the pointers to
// metric segments kept in the blob store. It exists only for runs that
// have such segments, so a walk for blob references skips every other
// run's history.
const MetricBlobs = "metric-blobs"

// SegmentBlob is the pointer that stands for segment seq of run id when
// the segment is kept in the blob store (manifest.MetricBlob):
// runs/<xx>/<id>/metric-blobs/<seq>.yaml.
func SegmentBlob(id string, seq int) string {
	return fmt.Sprintf("%s/%s/%06d.yaml", RunDir(id), MetricBlobs, seq)
}

// IsSegmentBlob reports whether p is a metric-history pointer of a run:
// runs/<xx>/<id>/metric-blobs/<name>.yaml.
func IsSegmentBlob(p string) bool {
	parts := strings.Split(p, "/")
	return len(parts) == 5 && parts[0] == Runs && parts[1] != "" && parts[2] != "" &&
		parts[3] == MetricBlobs && len(parts[4]) > len(".yaml") && strings.HasSuffix(parts[4], ".yaml")
}

// IsSegment reports whether p is a metric-history segment of a run:
// runs/<xx>/<id>/metrics/<name>.tsv.
func IsSegment(p string) bool {
	parts := strings.Split(p, "/")
	return len(parts) == 5 && parts[0] == Runs && parts[1] != "" && parts[2] != "" &&
		parts[3] == "metrics" && len(parts[4]) > len(".tsv") && strings.HasSuffix(parts[4], ".tsv")
}

// Experiment is the manifest of experiment id.
func Experiment(id string) string { return Experiments + "/" + id + "/experiment.yaml" }

// ModelDir is models/<key>, the folder of the registered model with model
// key key (registry.ModelKey).
func ModelDir(key string) string { return Models + "/" + key }

// Model is the manifest of the registered model key.
func Model(key string) string { return ModelDir(key) + "/model.yaml" }

// VersionsDir is the folder of model key's versions.
func VersionsDir(key string) string { return ModelDir(key) + "/versions" }

// Version is the manifest of version n of model key.
func Version(key string, n int64) string {
	return VersionsDir(key) + "/" + strconv.FormatInt(n, 10) + ".yaml"
}

// LoggedModel is the manifest of logged model id (m-<32 hex>):
// logged-models/<id[2:4]>/<id>/model.yaml.
func LoggedModel(id string) string {
	return LoggedModels + "/" + id[2:4] + "/" + id + "/model.yaml"
}

// ParseVersion parses models/<key>/versions/<n>.yaml (n positive, without
// leading zeros).
func ParseVersion(p string) (key string, n int64, ok bool) {
	rest, found := strings.CutPrefix(p, Models+"/")
	if !found {
		return "", 0, false
	}
	key, file, found := strings.Cut(rest, "/versions/")
	if !found || strings.Contains(file, "/") || !strings.HasSuffix(file, ".yaml") {
		return "", 0, false
	}
	n, ok = parsePositive(strings.TrimSuffix(file, ".yaml"))
	return key, n, ok
}

// ParseModel parses models/<key>/model.yaml.
func ParseModel(p string) (string, bool) {
	rest, found := strings.CutPrefix(p, Models+"/")
	if !found {
		return "", false
	}
	key, found := strings.CutSuffix(rest, "/model.yaml")
	return key, found && !strings.Contains(key, "/")
}

// parsePositive parses a decimal positive integer without sign or leading
// zeros (registry.ParsePositive's grammar).
func parsePositive(s string) (int64, bool) {
	if s == "" || s[0] == '0' || len(s) > 18 {
		return 0, false
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return 0, false
		}
	}
	n, err := strconv.ParseInt(s, 10, 64)
	return n, err == nil
}
