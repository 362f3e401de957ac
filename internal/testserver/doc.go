// Package testserver starts the server programs the tests run against
// (versitygw, fake-gcs-server, Azurite): it finds a free port of
// 127.0.0.1, runs the program with its output in a log file, waits until
// it answers, and stops it with its whole process group. It also holds
// the rule shared by the packages that use it: a missing program skips
// the test, or fails it when the CI environment variable is set.
package testserver
