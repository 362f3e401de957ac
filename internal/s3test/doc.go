// Package s3test runs a real S3-compatible server (versitygw with its posix
// backend) for tests. Start finds the versitygw binary in PATH or in
// $(go env GOPATH)/bin, installing it once with "go install" if it is
// missing, starts it on a free port of 127.0.0.1 over a temporary folder,
// creates a bucket, and stops the server when the test ends.
//
// Outside CI a machine that cannot install versitygw skips the tests that
// need it; with CI set, that is a failure.
package s3test
