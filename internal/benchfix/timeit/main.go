// Command timeit runs a command N times and prints the median, p90 and
// minimum wall time and the peak resident memory of the child:
//
//	timeit [-n N] [-warmup W] [-label L] [-prepare SHELL] -- CMD ARGS...
//
// -prepare runs a shell command (untimed) before each run.
//
// It is the timing tool behind scripts/bench.sh (whole-process figures in
// docs/PERFORMANCE.md).
package main

import (
	"flag"
	"fmt"
	"os"
	"os/exec"
	"sort"
	"syscall"
	"time"
)

func main() {
	n := flag.Int("n", 21, "runs")
	warm := flag.Int("warmup", 2, "untimed warm-up runs")
	label := flag.String("label", "", "label for the output line")
	prepare := flag.String("prepare", "", "shell command to run, untimed, before each run")
	flag.Parse()
	args := flag.Args()
	if len(args) == 0 {
		fmt.Fprintln(os.Stderr, "usage: timeit [-n N] [-warmup W] [-label L] [-prepare SHELL] -- CMD ARGS...")
		os.Exit(2)
	}
	var times []time.Duration
	var maxRSS int64
	for i := 0; i < *warm+*n; i++ {
		if *prepare != "" {
			prep := exec.Command("sh", "-c", *prepare)
			prep.Stdout, prep.Stderr = nil, os.Stderr
			if err := prep.Run(); err != nil {
				fmt.Fprintf(os.Stderr, "timeit: prepare: %v\n", err)
				os.Exit(1)
			}
		}
		cmd := exec.Command(args[0], args[1:]...)
		cmd.Stdout, cmd.Stderr = nil, nil
		start := time.Now()
		if err := cmd.Run(); err != nil {
			fmt.Fprintf(os.Stderr, "timeit: %v\n", err)
			os.Exit(1)
		}
		d := time.Since(start)
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok && ru.Maxrss > maxRSS {
			maxRSS = ru.Maxrss
		}
		if i >= *warm {
			times = append(times, d)
		}
	}
	sort.Slice(times, func(i, j int) bool { return times[i] < times[j] })
	ms := func(d time.Duration) string { return fmt.Sprintf("%.1f ms", float64(d.Microseconds())/1000) }
	fmt.Printf("%-60s median %9s  p90 %9s  min %9s  peak RSS %4d MB  (n=%d)\n", *label, ms(times[len(times)/2]), ms(times[len(times)*9/10]), ms(times[0]), maxRSS/1024, len(times))
}
