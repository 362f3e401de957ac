// Package layout names where things live on the tracking branch: the
// paths of mlgit.yaml, experiments, runs and their metric segments,
// registered models and their versions, and MLflow 3 logged models, and
// the parsers that recognise them. docs/spec/manifests.md is the
// specification; every package of the store builds and reads paths through
// this one, so the format is spelt in one place.
//
// It only joins and splits strings: it may import the standard library,
// nothing of mlgit and not go-git.
package layout
