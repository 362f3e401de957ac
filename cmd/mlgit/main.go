// Command mlgit is a Git-native experiment tracker and model registry.
package main

import (
	"context"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
)

func main() {
	// MLGIT_CPUPROFILE=FILE writes a CPU profile of this invocation
	// (a development aid for the benchmarks in docs/PERFORMANCE.md).
	if p := os.Getenv("MLGIT_CPUPROFILE"); p != "" {
		if f, err := os.Create(p); err == nil {
			pprof.StartCPUProfile(f)
			defer pprof.StopCPUProfile()
		}
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], cli.DefaultStreams())
	stop()
	if code != 0 {
		pprof.StopCPUProfile()
		os.Exit(code)
	}
}
