//go:build unix

package blob

import (
	"os/exec"
	"syscall"
)

// setCloudProcAttr puts CloudProgram in a process group of its own, so a
// Ctrl-C at the terminal reaches mlgit alone, which ends its stores in
// order; the program ends when mlgit closes its stdin or dies.
func setCloudProcAttr(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}
