package registry

import "errors"

// ErrNotFound marks a model version, stage or alias that does not exist.
// Package repo exports the same sentinel as its ErrNotFound.
var ErrNotFound = errors.New("not found")
