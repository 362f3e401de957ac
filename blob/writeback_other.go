//go:build !(linux && (amd64 || arm64 || riscv64 || loong64 || s390x || mips64 || mips64le))

package blob

import "os"

// startWriteback is a no-op where sync_file_range(2) is not available (or
// takes its arguments in another order); the later fsync does the work.
func startWriteback(*os.File) {}
