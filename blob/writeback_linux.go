//go:build linux && (amd64 || arm64 || riscv64 || loong64 || s390x || mips64 || mips64le)

package blob

import (
	"os"
	"syscall"
)

// syncFileRangeWrite is SYNC_FILE_RANGE_WRITE: start writeback of the dirty
// pages in the range, without waiting for it.
const syncFileRangeWrite = 2

// startWriteback asks the kernel to start writing f's dirty pages to disk
// now (sync_file_range(2) with SYNC_FILE_RANGE_WRITE over the whole file),
// so that the fsync that follows later mostly finds them written. It is a
// hint: it makes nothing durable, and errors are ignored (the fsync reports
// any). On these 64-bit architectures the system call takes (fd, offset,
// nbytes, flags) in that order.
func startWriteback(f *os.File) {
	sc, err := f.SyscallConn()
	if err != nil {
		return
	}
	_ = sc.Control(func(fd uintptr) {
		_, _, _ = syscall.Syscall6(syscall.SYS_SYNC_FILE_RANGE, fd, 0, 0, syncFileRangeWrite, 0, 0)
	})
}
