package runcmd

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
	"gopkg.in/yaml.v3"
)

type runExecOptions struct {
	exp, name   string
	params      []string
	paramFiles  []string
	metricFiles []string
	tags        []string
	parentModel string
	artifacts   string
	mlflow      bool
	fromOutput  bool
	command     []string // the command and its arguments, after --
}

func newRunExecCmd(a *cli.App, runF func(context.Context, *runExecOptions) error) *cobra.Command {
	var o runExecOptions
	cmd := &cobra.Command{
		Use:   "exec [--exp NAME] [--name NAME] [--params FILE]... [--metrics FILE]... -- <command> [args...]",
		Short: "Run a training command as a tracked run",
		Long: `Run a command as a tracked run. mlgit creates the run, records the code commit
of your checkout (and whether tracked files were modified), the command line,
the user and the start and end times, and passes MLGIT_RUN_ID to the command so
that it (or scripts it calls) can log with mlgit run log.

When the command exits, mlgit reads the --params files (YAML or JSON; nested
keys are flattened with ".", so {"model": {"lr": 0.1}} is param model.lr) and
the --metrics files (JSON or YAML, DVC's metrics.json convention, nested keys
flattened, numbers only), then ends the run: FINISHED on exit status 0, FAILED
on any other, KILLED when the command died from a signal or mlgit was told to
stop. A --params file must exist before the command starts, and a --metrics
file's folder too (the command usually writes the file); a --metrics file
missing at the end is an error (exit status 1 when the command succeeded).

Signals: SIGTERM and SIGHUP (a closed terminal, a dropped SSH session) are
forwarded to the command and the run ends KILLED. Ctrl-C in a terminal reaches
the command directly and is not sent again; a SIGINT from elsewhere (kill -INT)
is forwarded. mlgit exits with the command's exit status (128+N for signal N),
so CI sees training failures. A run whose mlgit was itself killed (kill -9, a
power loss) stays RUNNING.

--metrics-from-output reads the command's standard output, passes it through
unchanged, and logs every metric line in it as it arrives (key=value[@step],
step=N key=value..., key: value, or a JSON object of numbers such as
{"step": 3, "loss": 0.2}; see mlgit run log --help). PYTHONUNBUFFERED=1 is set
so that Python prints each line when it is written.

--mlflow runs an embedded MLflow-compatible server (mlgit server) on a free
loopback port for the command and sets MLFLOW_TRACKING_URI, MLFLOW_RUN_ID (so
mlflow.start_run() logs into this run), MLFLOW_EXPERIMENT_ID and, with --exp,
MLFLOW_EXPERIMENT_NAME. When the command exits the server stops and
everything it acknowledged is committed. This is the one-command path for an
existing MLflow script.

--artifacts DIR stores the files in DIR as artifacts of the run when the
command ends, whatever its status (as mlgit run artifact add DIR/. would: the
folder's contents at the top level). If that fails, the run records none of
them and mlgit exits with status 1 unless the command itself failed.`,
		Example: `  mlgit run exec --exp churn --params params.yaml --metrics metrics.json -- python train.py --epochs 10
  mlgit run exec --name sweep-lr-0.1 --param lr=0.1 -- ./train.sh
  mlgit run exec --artifacts outputs -- python train.py --out outputs
  mlgit run exec --metrics-from-output -- python train.py   # prints "step=3 loss=0.21"
  mlgit run exec --mlflow --exp churn -- python train_with_mlflow.py`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.ArgsLenAtDash() != 0 {
				return cli.Usagef("put the command after --, e.g. mlgit run exec -- python train.py")
			}
			o.command = args
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunExec(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.exp, "exp", "", "experiment `name` or id (created if missing)")
	cmd.Flags().StringVar(&o.name, "name", "", "run name (default: generated)")
	cmd.Flags().StringArrayVar(&o.params, "param", nil, "param `key=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.paramFiles, "params", nil, "YAML or JSON params `FILE` read when the command ends (repeatable)")
	cmd.Flags().StringArrayVar(&o.metricFiles, "metrics", nil, "JSON or YAML metrics `FILE` read when the command ends (repeatable)")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "tag `key=value` (repeatable)")
	cmd.Flags().StringVar(&o.parentModel, "parent-model", "", "model version this run fine-tunes (`REF`)")
	cmd.Flags().StringVar(&o.artifacts, "artifacts", "", "store the files in `DIR` as the run's artifacts when the command ends")
	cmd.Flags().BoolVar(&o.fromOutput, "metrics-from-output", false, "log the metric lines the command prints on its standard output (passed through unchanged)")
	cmd.Flags().BoolVar(&o.mlflow, "mlflow", false, "serve the MLflow REST API to the command on a free loopback port (MLFLOW_TRACKING_URI, MLFLOW_RUN_ID)")
	return cmd
}

func runRunExec(cmdCtx context.Context, a *cli.App, o *runExecOptions) error {
	argv := o.command
	params, err := cli.ParseKV("param", o.params)
	if err != nil {
		return err
	}
	tags, err := cli.ParseKV("tag", o.tags)
	if err != nil {
		return err
	}
	if _, err := exec.LookPath(argv[0]); err != nil {
		return cli.Usagef("cannot run %q: %v", argv[0], err)
	}
	// Files read when the command ends are checked before it starts, not
	// after hours of training.
	for _, f := range o.paramFiles {
		if fi, err := os.Stat(f); err != nil || fi.IsDir() {
			return cli.Usagef("--params %s: no such file (params files are read when the command ends, and must exist before it starts)", f)
		}
	}
	for _, f := range o.metricFiles {
		if fi, err := os.Stat(filepath.Dir(f)); err != nil || !fi.IsDir() {
			return cli.Usagef("--metrics %s: the folder %s does not exist", f, filepath.Dir(f))
		}
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	expID, err := ensureExperiment(a, r, o.exp, true)
	if err != nil {
		return err
	}
	src := r.SourceInfo()
	if src == nil {
		src = &manifest.Source{}
	}
	src.Command = argv
	allTags := cli.KVMap(tags)
	if allTags == nil {
		allTags = map[string]string{}
	}
	if src.Commit != "" {
		allTags["mlflow.source.git.commit"] = src.Commit
	}
	if src.Branch != "" {
		allTags["mlflow.source.git.branch"] = src.Branch
	}
	allTags["mlflow.source.type"] = "LOCAL"
	allTags["mlflow.source.name"] = argv[0]
	warnTruncated(a, overLimits(o.name, cli.KVMap(params), allTags))
	run, err := r.CreateRun(repo.RunSpec{ExperimentID: expID, Name: o.name, Params: cli.KVMap(params), Tags: allTags, Source: src, ParentModel: o.parentModel})
	if err != nil {
		return err
	}
	fmt.Fprintf(a.Err, "mlgit: run %s (%s) started\n", run.ID, run.Name)
	stopHeartbeat := startHeartbeat(a, r, run.ID)
	defer func() {
		if stopHeartbeat != nil {
			stopHeartbeat()
		}
	}()

	cmd := exec.Command(argv[0], argv[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = a.In, a.Out, a.Err
	cmd.Env = append(os.Environ(), "MLGIT_RUN_ID="+run.ID, "MLGIT_EXPERIMENT_ID="+expID)
	var capture *outputCapture
	if o.fromOutput {
		if capture, err = captureOutput(a, r, run.ID, cmd); err != nil {
			r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusFailed})
			return err
		}
		cmd.Env = append(cmd.Env, "PYTHONUNBUFFERED=1")
	}
	if a.RepoPath != "." && a.RepoPath != "" {
		cmd.Env = append(cmd.Env, "MLGIT_REPO="+a.RepoPath)
	}
	var srv *cli.RunningServer
	if o.mlflow {
		srv, err = cli.StartServer(cmdCtx, a, &cli.ServerOptions{Host: "127.0.0.1", Port: 0, Quiet: true, CheckpointInterval: 30 * time.Second, CommitDelay: time.Second})
		if err != nil {
			r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusFailed})
			return fmt.Errorf("start the embedded MLflow server: %w", err)
		}
		cmd.Env = append(cmd.Env, "MLFLOW_TRACKING_URI=http://"+srv.Addr, "MLFLOW_RUN_ID="+run.ID, "MLFLOW_EXPERIMENT_ID="+expID)
		if o.exp != "" {
			if e, err := r.GetExperiment(expID); err == nil {
				cmd.Env = append(cmd.Env, "MLFLOW_EXPERIMENT_NAME="+e.Name)
			}
		}
		fmt.Fprintf(a.Err, "mlgit: MLflow tracking server for the command at http://%s\n", srv.Addr)
	}
	stopServer := func() error {
		if srv == nil {
			return nil
		}
		s := srv
		srv = nil
		return s.Stop()
	}
	defer stopServer()
	sigs := make(chan os.Signal, 4)
	// SIGPIPE too: with the output captured, a reader that went away
	// (mlgit run exec ... | head) makes a write fail instead of killing
	// mlgit before it ends the run.
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM, syscall.SIGHUP, syscall.SIGPIPE)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		stopServer()
		capture.abandon()
		r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusFailed})
		return fmt.Errorf("start %s: %w", argv[0], err)
	}
	capture.started()
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var waitErr error
	var stoppedBy syscall.Signal // a SIGTERM or SIGHUP mlgit received
	// Ctrl-C in a terminal goes to the whole foreground process group: the
	// command has it already.
	interactive := isTerminalReader(a.In)
wait:
	for {
		select {
		case s := <-sigs:
			switch s {
			case syscall.SIGPIPE:
			case os.Interrupt:
				if !interactive {
					cmd.Process.Signal(s)
				}
			default:
				stoppedBy = s.(syscall.Signal)
				cmd.Process.Signal(s)
			}
		case waitErr = <-done:
			break wait
		}
	}
	captured, captureErr := capture.wait()
	status, code := manifest.StatusFinished, 0
	if waitErr != nil {
		var ee *exec.ExitError
		if !errors.As(waitErr, &ee) {
			return waitErr
		}
		ws, _ := ee.Sys().(syscall.WaitStatus)
		switch {
		case ws.Signaled():
			status, code = manifest.StatusKilled, 128+int(ws.Signal())
		default:
			status, code = manifest.StatusFailed, ee.ExitCode()
		}
	}
	if stoppedBy != 0 {
		// Told to stop: the run was killed, whatever the command did
		// with the signal.
		status = manifest.StatusKilled
		if code == 0 || code == 1 {
			code = 128 + int(stoppedBy)
		}
	}
	exitCodeVal := code
	if status == manifest.StatusKilled {
		exitCodeVal = -1
	}
	if capture != nil {
		fmt.Fprintf(a.Err, "mlgit: %d metric %s captured from the output\n", captured.logged, cli.Plural(captured.logged, "point", "points"))
		if captureErr != nil {
			fmt.Fprintf(a.Err, "mlgit: error: capturing metrics from the output: %v\n", captureErr)
		}
	}

	// Params and metrics files, read at the end.
	var b repo.Batch
	for _, f := range o.paramFiles {
		flat, err := readFlatFile(f)
		if err != nil {
			fmt.Fprintf(a.Err, "mlgit: warning: params file %s: %v\n", f, err)
			continue
		}
		for _, k := range cli.SortedKeys(flat) {
			b.Params = append(b.Params, repo.KV{Key: k, Value: scalarString(flat[k])})
		}
	}
	current, _ := r.GetRun(run.ID)
	ts := a.Now().UnixMilli()
	metricsMissing := false
	for _, f := range o.metricFiles {
		flat, err := readFlatFile(f)
		if err != nil {
			fmt.Fprintf(a.Err, "mlgit: error: metrics file %s: %v\n", f, err)
			metricsMissing = true
			continue
		}
		if len(flat) == 0 {
			fmt.Fprintf(a.Err, "mlgit: warning: metrics file %s holds no values\n", f)
		}
		for _, k := range cli.SortedKeys(flat) {
			v, ok := numberOf(flat[k])
			if !ok {
				fmt.Fprintf(a.Err, "mlgit: warning: metrics file %s: %s is not a number; skipped\n", f, k)
				continue
			}
			var step int64
			if current != nil {
				if m, ok := current.Metrics[k]; ok {
					step = m.Step
				}
			}
			b.Metrics = append(b.Metrics, manifest.MetricPoint{Key: k, Value: v, Step: step, Timestamp: ts})
		}
	}
	if len(b.Params)+len(b.Metrics) > 0 {
		if res, err := r.LogBatch(run.ID, b); err != nil {
			fmt.Fprintf(a.Err, "mlgit: warning: logging params/metrics files: %v\n", err)
		} else {
			warnTruncated(a, res.Truncated)
		}
	}
	artifactsFailed := false
	if o.artifacts != "" {
		// The command is over: a Ctrl-C that stopped it must not stop
		// recording its outputs.
		ctx := context.WithoutCancel(cmdCtx)
		if fi, err := os.Stat(o.artifacts); err != nil || !fi.IsDir() {
			fmt.Fprintf(a.Err, "mlgit: warning: --artifacts %s is not a folder; no artifacts recorded\n", o.artifacts)
		} else if !folderHasFiles(o.artifacts) {
			fmt.Fprintf(a.Err, "mlgit: warning: --artifacts %s has no files; no artifacts recorded\n", o.artifacts)
		} else if arts, st, err := addArtifacts(a, ctx, r, run.ID, []string{strings.TrimRight(o.artifacts, "/") + "/."}, "", nil); err != nil {
			fmt.Fprintf(a.Err, "mlgit: error: artifacts from %s: %v\n", o.artifacts, err)
			artifactsFailed = true
		} else {
			fmt.Fprintf(a.Err, "mlgit: %d %s from %s recorded (%s new in the blob cache)\n", len(arts), cli.Plural(len(arts), "artifact", "artifacts"), o.artifacts, units.Bytes(st.stored))
		}
	}
	// Everything the command logged through MLflow is committed before
	// the run ends.
	if err := stopServer(); err != nil {
		return fmt.Errorf("stop the embedded MLflow server: %w", err)
	}
	if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Status: status, Exit: &exitCodeVal}); err != nil {
		return err
	}
	stopHeartbeat()
	stopHeartbeat = nil
	fmt.Fprintf(a.Err, "mlgit: run %s ended %s\n", run.ID, status)
	if code != 0 {
		return &cli.ExitError{Code: code}
	}
	if artifactsFailed || metricsMissing || captureErr != nil {
		return &cli.ExitError{Code: cli.ExitFailure}
	}
	return nil
}

// isTerminalReader reports whether r is a terminal.
func isTerminalReader(r io.Reader) bool {
	f, ok := r.(*os.File)
	return ok && cli.IsTerminal(f)
}

// outputCapture reads a command's standard output through a pipe: passed
// through to mlgit's, metric lines logged to the run (streamMetrics).
type outputCapture struct {
	pr, pw *os.File
	done   chan struct{}
	st     streamStats
	err    error
}

// captureOutput points cmd's standard output at a pipe read by a new
// outputCapture; call started after cmd.Start, then wait after cmd.Wait.
func captureOutput(a *cli.App, r *repo.Repo, id string, cmd *exec.Cmd) (*outputCapture, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, fmt.Errorf("capture the command's output: %w", err)
	}
	c := &outputCapture{pr: pr, pw: pw, done: make(chan struct{})}
	cmd.Stdout = pw
	go func() {
		defer close(c.done)
		c.st, c.err = streamMetrics(a, r, id, pr, metricLines{}, false, a.Out)
	}()
	return c, nil
}

// started closes mlgit's copy of the pipe's write end: the reader then
// sees the end of the output when the command (and anything it started
// that holds the pipe) is gone.
func (c *outputCapture) started() {
	if c != nil {
		c.pw.Close()
	}
}

// abandon stops the capture of a command that did not start.
func (c *outputCapture) abandon() {
	if c != nil {
		c.pw.Close()
		<-c.done
		c.pr.Close()
	}
}

// wait returns what was captured once the output has ended, or 2 s after
// the command exited if a process it left behind still holds the pipe.
func (c *outputCapture) wait() (streamStats, error) {
	if c == nil {
		return streamStats{}, nil
	}
	select {
	case <-c.done:
	case <-time.After(2 * time.Second):
		c.pr.Close()
		<-c.done
	}
	c.pr.Close()
	return c.st, c.err
}

// folderHasFiles reports whether anything but folders is below dir.
func folderHasFiles(dir string) bool {
	found := false
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	return found
}

// readFlatFile reads a YAML or JSON file and flattens nested mappings with
// "." into leaf values.
func readFlatFile(path string) (map[string]any, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	var v any
	if err := yaml.Unmarshal(data, &v); err != nil {
		return nil, fmt.Errorf("not YAML or JSON: %v", err)
	}
	out := map[string]any{}
	flatten("", v, out)
	return out, nil
}

func flatten(prefix string, v any, out map[string]any) {
	switch t := v.(type) {
	case map[string]any:
		for k, x := range t {
			key := k
			if prefix != "" {
				key = prefix + "." + k
			}
			flatten(key, x, out)
		}
	default:
		if prefix != "" {
			out[prefix] = v
		}
	}
}

func scalarString(v any) string {
	switch t := v.(type) {
	case string:
		return t
	case float64:
		return strconv.FormatFloat(t, 'g', -1, 64)
	case nil:
		return ""
	case []any:
		b, _ := json.Marshal(t)
		return string(b)
	}
	return fmt.Sprint(v)
}

func numberOf(v any) (float64, bool) {
	switch t := v.(type) {
	case int:
		return float64(t), true
	case int64:
		return float64(t), true
	case float64:
		return t, true
	case string:
		f, err := manifest.ParseFloat(t)
		return f, err == nil && (t == "NaN" || t == "nan" || t == "Infinity" || t == "-Infinity" || t == "inf" || t == "-inf")
	}
	return 0, false
}
