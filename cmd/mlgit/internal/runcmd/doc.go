// Package runcmd has the commands of runs and experiments: mlgit run (start,
// log, end, exec, list, show, metrics, artifact, ...), mlgit exp, mlgit log
// and mlgit diff; with what run exec needs (metric lines read from a
// command's output, heartbeats of running runs, digests of input files).
package runcmd
