// Package aztest runs the Azure Storage emulator Azurite (its blob service)
// for tests. StartServer finds azurite-blob in PATH or in mlgit's cache
// folder, installing the pinned npm package there once with npm if it is
// missing, starts it on a free port of 127.0.0.1 over a temporary folder,
// creates a container with the emulator's well-known development account,
// and stops the server when the test ends.
//
// Outside CI a machine that cannot install Azurite (no node or npm, no
// registry) skips the tests that need it; with CI set, that is a failure.
package aztest
