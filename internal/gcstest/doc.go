// Package gcstest runs a real Google Cloud Storage emulator (fake-gcs-server
// with its filesystem backend) for tests and benchmarks. StartServer finds
// the fake-gcs-server binary in PATH or in $(go env GOPATH)/bin, installing
// it once with "go install" if it is missing, starts it on a free port of
// 127.0.0.1 over a temporary folder, creates a bucket, and stops the server
// when the test ends.
//
// The server speaks the Cloud Storage JSON API over plain HTTP without
// credentials; mlgit's store reaches it through STORAGE_EMULATOR_HOST (see
// Server.Env and Server.SetEnv) or the ?endpoint= of a gs:// URL (see
// Server.URL).
//
// Outside CI a machine that cannot install fake-gcs-server skips the tests
// that need it; with CI set, that is a failure.
package gcstest
