package runcmd

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// NewRunCmd returns mlgit run and its subcommands.
func NewRunCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "run <command>",
		Short: "Start, log to, end, list and show runs",
		Long: `Runs record params, metrics, tags and artifacts of one training.
Commands that act on one run take --run ID or the MLGIT_RUN_ID environment
variable (set by mlgit run exec for the wrapped command). Wherever a run is
asked for, its id, a unique prefix of the id (at least 4 characters) or its
name (when no other run, deleted ones included, has that name) will do.`,
		Example: `  export MLGIT_RUN_ID=$(mlgit run start --exp churn --param lr=0.1)
  mlgit run log --metric loss=0.31@7 --tag stage=warmup
  mlgit run end --status FINISHED`,
	}
	cmd.AddCommand(newRunStartCmd(a, nil), newRunLogCmd(a, nil), newRunEndCmd(a, nil), newRunExecCmd(a, nil),
		newRunListCmd(a, nil), newRunShowCmd(a, nil), newRunMetricsCmd(a, nil), newRunFlushCmd(a, nil),
		newRunLifecycleCmd(a, true, nil), newRunLifecycleCmd(a, false, nil), newRunArtifactCmd(a))
	return cmd
}

type runStartOptions struct {
	exp, name   string
	params      []string
	tags        []string
	createExp   bool
	parentModel string
	asJSON      bool
}

func newRunStartCmd(a *cli.App, runF func(context.Context, *runStartOptions) error) *cobra.Command {
	var o runStartOptions
	cmd := &cobra.Command{
		Use:   "start [--exp NAME] [--name NAME] [--param k=v]... [--tag k=v]...",
		Short: "Start a run and print its id",
		Long: `Start a run and print its id. Later commands find it through --run ID or
MLGIT_RUN_ID. The run is durable when the command returns; it is committed to
the tracking branch at the next checkpoint (run end, run flush, or when the
journal grows past its threshold).`,
		Example: `  export MLGIT_RUN_ID=$(mlgit run start --exp churn --name baseline --param lr=0.1)`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunStart(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.exp, "exp", "", "experiment `name` or id (default: $MLGIT_EXPERIMENT_NAME or Default)")
	cmd.Flags().StringVar(&o.name, "name", "", "run name (default: generated, like MLflow)")
	cmd.Flags().StringArrayVar(&o.params, "param", nil, "param `key=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "tag `key=value` (repeatable)")
	cmd.Flags().BoolVar(&o.createExp, "create-exp", true, "create the experiment if it does not exist")
	cmd.Flags().StringVar(&o.parentModel, "parent-model", "", "model version this run fine-tunes (`REF`, e.g. churn@v3)")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print the run as JSON")
	return cmd
}

func runRunStart(_ context.Context, a *cli.App, o *runStartOptions) error {
	params, err := cli.ParseKV("param", o.params)
	if err != nil {
		return err
	}
	tags, err := cli.ParseKV("tag", o.tags)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	expID, err := ensureExperiment(a, r, o.exp, o.createExp)
	if err != nil {
		return err
	}
	warnTruncated(a, overLimits(o.name, cli.KVMap(params), cli.KVMap(tags)))
	run, err := r.CreateRun(repo.RunSpec{ExperimentID: expID, Name: o.name, Params: cli.KVMap(params), Tags: cli.KVMap(tags), Source: r.SourceInfo(), ParentModel: o.parentModel})
	if err != nil {
		return err
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, run)
	}
	fmt.Fprintln(a.Out, run.ID)
	return nil
}

// ensureExperiment resolves an experiment, creating it when asked.
func ensureExperiment(a *cli.App, r *repo.Repo, nameOrID string, create bool) (string, error) {
	id, err := a.ExperimentID(r, nameOrID)
	if err == nil || !create || nameOrID == "" {
		return id, err
	}
	if !isNotFound(err) {
		return "", err
	}
	e, err := r.CreateExperiment(nameOrID, "", nil)
	if err != nil {
		return "", err
	}
	fmt.Fprintf(a.Err, "Created experiment %q (id %s)\n", e.Name, e.ID)
	return e.ID, nil
}

func isNotFound(err error) bool { return cli.ExitCode(err) == cli.ExitNotFound }

// parseMetric parses "key=value[@step]".
func parseMetric(s string, ts int64) (manifest.MetricPoint, error) {
	p := manifest.MetricPoint{Timestamp: ts}
	k, rest, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return p, cli.Usagef("metric %q: want key=value[@step]", s)
	}
	p.Key = k
	val := rest
	if v, step, ok := strings.Cut(rest, "@"); ok {
		n, err := strconv.ParseInt(step, 10, 64)
		if err != nil {
			return p, cli.Usagef("metric %q: step %q is not an integer", s, step)
		}
		val, p.Step = v, n
	}
	f, err := manifest.ParseFloat(val)
	if err != nil {
		return p, cli.Usagef("metric %q: value %q is not a number", s, val)
	}
	p.Value = f
	return p, nil
}

type runLogOptions struct {
	run         string
	params      []string
	metrics     []string
	tags        []string
	deleteTags  []string
	metricsFrom string
	strict      bool
	inputs      []string
}

func newRunLogCmd(a *cli.App, runF func(context.Context, *runLogOptions) error) *cobra.Command {
	var o runLogOptions
	cmd := &cobra.Command{
		Use:   "log [--run ID] [--param k=v]... [--metric k=v[@step]]... [--tag k=v]... [--metrics-from FILE|-]",
		Short: "Log params, metrics and tags to a run",
		Long: `Log params, metrics and tags to a run in one durable write.

Params are write-once (logging the same value again is fine; a different value
is an error). Metric values may be NaN, Inf or -Inf; the step defaults to 0 and
the timestamp to now.

--metrics-from reads many points from a file or stdin (-). A metric line is,
as a whole, one of:

  loss=0.31@7                   key=value[@step]
  step=7 loss=0.31 acc=0.9      key=value pairs; step= is the step of the others
  loss: 0.31                    key: value
  {"step": 7, "loss": 0.31}     a JSON object: its numbers are metrics
  loss 0.31 7 1718000000000     key value [step [timestamp_ms]]

Other lines ("Epoch 1/5 starting") are skipped and counted (--strict: an
error), and the input is always read to its end, so the program writing into
the pipe never dies of a broken pipe. From a pipe, points are made durable in
batches at least every 200 ms, so a training loop can stream thousands of
points per second into one process:

  python train.py | mlgit run log --metrics-from -

To see the program's output and capture its metrics in one command, use
mlgit run exec --metrics-from-output.

--input records a dataset the run used. Given a file or folder (PATH, or
PATH,context=training), mlgit computes its digest from the bytes: sha256 of a
file's content, and for a folder sha256 of the "<sha256>  <path>" lines of its
files sorted by path (what sha256sum prints), files hashed in parallel; the
name is the base name and the source the absolute path. Or give it all:
name=NAME,digest=DIGEST[,source=URI][,context=training].`,
		Example: `  mlgit run log --metric loss=0.31@7 --metric acc=0.9@7
  mlgit run log --param optimizer=adam --tag team=vision
  mlgit run log --metrics-from metrics.txt
  mlgit run log --input data/train.csv,context=training
  mlgit run log --input name=train.csv,digest=sha256:ab12...,source=s3://data/train.csv`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunLog(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.run, "run", "", "run `ID` (default $MLGIT_RUN_ID)")
	cmd.Flags().StringArrayVar(&o.params, "param", nil, "param `key=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.metrics, "metric", nil, "metric `key=value[@step]` (repeatable)")
	cmd.Flags().StringArrayVar(&o.tags, "tag", nil, "tag `key=value` (repeatable)")
	cmd.Flags().StringArrayVar(&o.deleteTags, "delete-tag", nil, "remove tag `key` (repeatable)")
	cmd.Flags().StringVar(&o.metricsFrom, "metrics-from", "", "read metric lines from `FILE` (- for stdin)")
	cmd.Flags().BoolVar(&o.strict, "strict", false, "with --metrics-from: a line that is not a metric line is an error (the input is still read to its end)")
	cmd.Flags().StringArrayVar(&o.inputs, "input", nil, "dataset input `PATH[,context=C]` (digest computed) or name=N,digest=D[,source=S][,context=C] (repeatable)")
	return cmd
}

// parseInput reads an --input: PATH[,k=v]... (the digest computed from
// the file or folder, name its base name, source the path) or
// name=N,digest=D[,source=S][,context=C].
func parseInput(s string) (manifest.Dataset, error) {
	var d manifest.Dataset
	parts := strings.Split(s, ",")
	if isPathInput(s) {
		p := parts[0]
		digest, _, err := datasetDigest(p)
		if err != nil {
			return d, cli.Usagef("--input %s: %v", p, err)
		}
		abs, err := filepath.Abs(p)
		if err != nil {
			abs = p
		}
		d.Name, d.Digest, d.Source, d.SourceType = filepath.Base(filepath.Clean(p)), digest, abs, "local"
		parts = parts[1:]
	}
	for _, part := range parts {
		k, v, ok := strings.Cut(part, "=")
		if !ok {
			return d, cli.Usagef("--input %q: want PATH[,context=C] or name=N,digest=D[,source=S][,context=C]", s)
		}
		switch k {
		case "name":
			d.Name = v
		case "digest":
			d.Digest = v
		case "source":
			d.Source = v
		case "source-type", "source_type":
			d.SourceType = v
		case "context":
			d.Context = v
		default:
			return d, cli.Usagef("--input %q: unknown field %q", s, k)
		}
	}
	if d.Name == "" || d.Digest == "" {
		return d, cli.Usagef("--input %q: name and digest are required", s)
	}
	return d, nil
}

func runRunLog(_ context.Context, a *cli.App, o *runLogOptions) error {
	ts := a.Now().UnixMilli()
	var b repo.Batch
	var err error
	if b.Params, err = cli.ParseKV("param", o.params); err != nil {
		return err
	}
	if b.Tags, err = cli.ParseKV("tag", o.tags); err != nil {
		return err
	}
	b.DeleteTags = o.deleteTags
	for _, m := range o.metrics {
		p, err := parseMetric(m, ts)
		if err != nil {
			return err
		}
		b.Metrics = append(b.Metrics, p)
	}
	for _, in := range o.inputs {
		d, err := parseInput(in)
		if err != nil {
			return err
		}
		b.Inputs = append(b.Inputs, d)
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, err := a.RunID(r, o.run)
	if err != nil {
		return err
	}
	res, err := r.LogBatch(id, b)
	if err != nil {
		return err
	}
	warnTruncated(a, res.Truncated)
	if o.metricsFrom == "" {
		return nil
	}
	var in io.Reader = a.In
	if o.metricsFrom != "-" {
		f, err := os.Open(o.metricsFrom)
		if err != nil {
			return cli.Usagef("--metrics-from: %v", err)
		}
		defer f.Close()
		in = f
	}
	st, err := streamMetrics(a, r, id, in, metricLines{bare: true}, o.strict, nil)
	if !o.strict {
		st.report(a, o.metricsFrom)
	}
	if err != nil {
		return fmt.Errorf("%w (%d points before it were logged)", err, st.logged)
	}
	return nil
}

// warnTruncated says which values were cut to MLflow's length limits: the
// one warning every command gives (MLflow truncates such values rather than
// refusing them).
func warnTruncated(a *cli.App, keys []string) {
	for _, k := range keys {
		fmt.Fprintf(a.Err, "mlgit: warning: %s was truncated to MLflow's length limit\n", k)
	}
}

// overLimits lists the name, params and tags a new run would get
// truncated (MLflow's limits: manifest.MaxParamValue, manifest.MaxTagValue;
// the name is the mlflow.runName tag).
func overLimits(name string, params, tags map[string]string) []string {
	var out []string
	if _, cut := manifest.Truncate(name, manifest.MaxTagValue); cut {
		out = append(out, "the run name")
	}
	for _, k := range cli.SortedKeys(params) {
		if _, cut := manifest.Truncate(params[k], manifest.MaxParamValue); cut {
			out = append(out, "params."+k)
		}
	}
	for _, k := range cli.SortedKeys(tags) {
		if _, cut := manifest.Truncate(tags[k], manifest.MaxTagValue); cut {
			out = append(out, "tags."+k)
		}
	}
	return out
}

// streamStats counts what streamMetrics read.
type streamStats struct {
	logged    int    // points made durable
	skipped   int    // lines that are not metric lines
	firstSkip string // the first of them, with its line number
}

// report says on stderr how many lines were skipped, once.
func (st streamStats) report(a *cli.App, from string) {
	if st.skipped == 0 {
		return
	}
	src := from
	if src == "-" {
		src = "stdin"
	}
	fmt.Fprintf(a.Err, "mlgit: skipped %d %s of %s that %s not metric lines (%s); --strict makes that an error\n",
		st.skipped, cli.Plural(st.skipped, "line", "lines"), src, cli.Plural(st.skipped, "is", "are"), st.firstSkip)
}

// streamMetrics reads metric lines and logs them in batches: every 50,000
// points, every 200 ms while the input is idle, and at the end. Lines that
// are not metric lines are counted (strict: the first is an error). Whatever
// happens, in is read to its end, so a program writing into the pipe is
// never killed by a broken pipe. tee, when set, gets every line as read
// (with its newline), before it is parsed.
func streamMetrics(a *cli.App, r *repo.Repo, id string, in io.Reader, ml metricLines, strict bool, tee io.Writer) (streamStats, error) {
	type line struct {
		text string
		err  error
	}
	lines := make(chan line, 4096)
	go func() {
		defer close(lines)
		buf := make([]byte, 64*1024)
		var pending []byte
		for {
			n, err := in.Read(buf)
			if n > 0 {
				if tee != nil {
					if _, werr := tee.Write(buf[:n]); werr != nil {
						tee = nil // the terminal or pipe is gone: keep reading
					}
				}
				pending = append(pending, buf[:n]...)
				start := 0
				for {
					i := bytes.IndexByte(pending[start:], '\n')
					if i < 0 {
						break
					}
					lines <- line{text: strings.TrimRight(string(pending[start:start+i]), "\r")}
					start += i + 1
				}
				pending = pending[:copy(pending, pending[start:])]
				// A "line" of a megabyte is not a metric line: drop it
				// rather than hold it.
				if len(pending) > 1<<20 {
					lines <- line{text: string(pending[:80])}
					pending = pending[:0]
				}
			}
			if err != nil {
				if len(pending) > 0 {
					lines <- line{text: strings.TrimRight(string(pending), "\r")}
				}
				if err != io.EOF {
					lines <- line{err: err}
				}
				return
			}
		}
	}()
	var st streamStats
	var batch []manifest.MetricPoint
	var failed error
	flush := func() {
		if len(batch) == 0 || failed != nil {
			batch = batch[:0]
			return
		}
		if _, err := r.LogBatch(id, repo.Batch{Metrics: batch}); err != nil {
			failed = err
		} else {
			st.logged += len(batch)
		}
		batch = batch[:0]
	}
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	lineNo := 0
	for {
		select {
		case l, ok := <-lines:
			if !ok {
				flush()
				return st, failed
			}
			if l.err != nil {
				if failed == nil {
					failed = l.err
				}
				continue
			}
			lineNo++
			if failed != nil {
				continue // draining
			}
			points, ok, blank := ml.parse(l.text, a.Now().UnixMilli())
			switch {
			case ok:
				batch = append(batch, points...)
			case !blank:
				st.skipped++
				if st.skipped == 1 {
					st.firstSkip = fmt.Sprintf("line %d: %q", lineNo, truncateRunes(l.text, 80))
				}
				if strict {
					flush()
					if failed == nil {
						failed = cli.Usagef("line %d: %q is not a metric line (want %s)", lineNo, truncateRunes(l.text, 80), metricLineHelp)
					}
				}
			}
			if len(batch) >= 50000 {
				flush()
			}
		case <-tick.C:
			flush()
		}
	}
}

// truncateRunes shortens s to n runes, marking the cut with "…".
func truncateRunes(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}

type runEndOptions struct {
	run           string // id (default $MLGIT_RUN_ID)
	status        string
	statusChanged bool // --status was given
	force, stale  bool
}

func newRunEndCmd(a *cli.App, runF func(context.Context, *runEndOptions) error) *cobra.Command {
	var o runEndOptions
	cmd := &cobra.Command{
		Use:   "end [--run ID] [--status FINISHED|FAILED|KILLED] [--force] | end --stale",
		Short: "End a run and commit everything logged to it",
		Long: `End a run: its status (FINISHED by default), its end time, and a commit of
everything logged to it.

A run that has already ended is left as it is (mlgit says so; --force sets the
new status anyway); of two run ends racing in this clone, the first one's
status stays.

--stale ends, as KILLED, every run of this clone that mlgit run exec was
supervising when its mlgit process died without ending it (kill -9, a power
loss, the OOM killer): run list and run show mark those runs stale.`,
		Example: `  mlgit run end
  mlgit run end --status FAILED
  mlgit run end --stale`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			o.statusChanged = cmd.Flags().Changed("status")
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunEnd(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringVar(&o.run, "run", "", "run `ID` (default $MLGIT_RUN_ID)")
	cmd.Flags().StringVar(&o.status, "status", "FINISHED", "final status: FINISHED, FAILED or KILLED")
	cmd.Flags().BoolVar(&o.force, "force", false, "set the status of a run that has already ended")
	cmd.Flags().BoolVar(&o.stale, "stale", false, "end every stale run of this clone as KILLED")
	return cmd
}

func runRunEnd(_ context.Context, a *cli.App, o *runEndOptions) error {
	st := strings.ToUpper(o.status)
	if st != manifest.StatusFinished && st != manifest.StatusFailed && st != manifest.StatusKilled {
		return cli.Usagef("--status %q: want FINISHED, FAILED or KILLED", o.status)
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	unlock, err := lockRunEnds(r)
	if err != nil {
		return err
	}
	defer unlock()
	if o.stale {
		if o.run != "" || o.statusChanged {
			return cli.Usagef("--stale ends every stale run as KILLED: no --run or --status with it")
		}
		return endStaleRuns(a, r)
	}
	rid, err := a.RunID(r, o.run)
	if err != nil {
		return err
	}
	run, err := r.GetRun(rid)
	if err != nil {
		return err
	}
	if run.Status != manifest.StatusRunning && run.Status != manifest.StatusScheduled && !o.force {
		fmt.Fprintf(a.Err, "mlgit: run %s already ended %s at %s; nothing changed (--force sets %s)\n", rid, run.Status, cli.FmtTime(run.EndTime), st)
		return nil
	}
	if _, err = r.UpdateRun(rid, repo.RunUpdate{Status: st}); err != nil {
		return err
	}
	os.Remove(heartbeatPath(r, rid))
	return nil
}

// endStaleRuns ends the runs whose supervising mlgit process is gone.
func endStaleRuns(a *cli.App, r *repo.Repo) error {
	runs, why, err := staleRuns(r)
	if err != nil {
		return err
	}
	if len(runs) == 0 {
		fmt.Fprintln(a.Out, "No stale runs.")
		return nil
	}
	for i, run := range runs {
		exit := -1
		if _, err := r.UpdateRun(run.ID, repo.RunUpdate{Status: manifest.StatusKilled, Exit: &exit}); err != nil {
			return err
		}
		os.Remove(heartbeatPath(r, run.ID))
		fmt.Fprintf(a.Out, "Ended run %s (%s) KILLED: %s\n", run.ID, run.Name, why[i])
	}
	return nil
}

type runFlushOptions struct {
	asJSON bool
}

func newRunFlushCmd(a *cli.App, runF func(context.Context, *runFlushOptions) error) *cobra.Command {
	var o runFlushOptions
	cmd := &cobra.Command{
		Use:   "flush [--json]",
		Short: "Commit every acknowledged write in the journal now",
		Long: `Fold the journal into one commit on the tracking branch (a checkpoint).
Checkpoints also happen at run end and when the journal passes its size, count
or age threshold; flush is for when you want git log to show everything now.`,
		Example: `  mlgit run flush`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunFlush(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runRunFlush(_ context.Context, a *cli.App, o *runFlushOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	res, err := r.Flush()
	if err != nil {
		return err
	}
	for _, w := range res.Warnings {
		fmt.Fprintf(a.Err, "mlgit: warning: %s\n", w)
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, res)
	}
	if res.Commit == "" {
		fmt.Fprintln(a.Err, "Nothing to commit.")
		return nil
	}
	fmt.Fprintf(a.Err, "Committed %d records from %d journal files (%d runs) as %s\n", res.Records, res.Files, res.Runs, res.Commit[:10])
	return nil
}

// runLifecycleOptions are those of run delete (Delete) and run restore.
type runLifecycleOptions struct {
	runs   []string
	delete bool
	yes    bool
}

func newRunLifecycleCmd(a *cli.App, del bool, runF func(context.Context, *runLifecycleOptions) error) *cobra.Command {
	use, short := "delete", "Soft-delete a run (restore it with run restore)"
	if !del {
		use, short = "restore", "Restore a deleted run"
	}
	o := runLifecycleOptions{delete: del}
	cmd := &cobra.Command{
		Use:     use + " <id>...",
		Short:   short,
		Example: "  mlgit run " + use + " 3f2a9c1e",
		Args:    cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.runs = args
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunLifecycle(cmd.Context(), a, &o)
		},
	}
	if del {
		cmd.Long = short + ". Deleting several runs at once asks first on a terminal;\nelsewhere (a script, CI) it needs --yes."
		cmd.Flags().BoolVarP(&o.yes, "yes", "y", false, "delete several runs without asking")
	}
	return cmd
}

func runRunLifecycle(_ context.Context, a *cli.App, o *runLifecycleOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if o.delete && len(o.runs) > 1 {
		if err := a.Confirm(o.yes, fmt.Sprintf("Delete %d runs (run restore brings them back)", len(o.runs))); err != nil {
			return err
		}
	}
	for _, arg := range o.runs {
		id, err := a.ResolveRun(r, arg)
		if err != nil {
			return err
		}
		if o.delete {
			err = r.DeleteRun(id)
		} else {
			err = r.RestoreRun(id)
		}
		if err != nil {
			return err
		}
		name := ""
		if run, err := r.GetRun(id); err == nil && run.Name != "" {
			name = " (" + run.Name + ")"
		}
		if o.delete {
			fmt.Fprintf(a.Out, "Deleted run %s%s; mlgit run restore %s brings it back\n", id, name, id)
		} else {
			fmt.Fprintf(a.Out, "Restored run %s%s\n", id, name)
		}
	}
	return nil
}
