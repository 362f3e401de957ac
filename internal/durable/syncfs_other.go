//go:build !linux

package durable

import (
	"os"
	"syscall"
)

func syncFS(string) error {
	syscall.Sync()
	return nil
}

func datasync(f *os.File) error { return f.Sync() }
