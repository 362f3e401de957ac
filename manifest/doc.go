// Package manifest defines mlgit's documents (Config, Experiment, Run,
// RegisteredModel, ModelVersion, LoggedModel), their strict decoding, their
// one canonical encoding, the metric-history segment format, and the
// validation rules mlgit shares with MLflow.
//
// The package is pure: it does no I/O beyond io.Reader and io.Writer and
// knows nothing of Git or files. The on-branch format is specified in
// docs/spec/manifests.md; the golden files in testdata/ are its examples.
package manifest
