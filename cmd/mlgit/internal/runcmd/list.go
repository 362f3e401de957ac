package runcmd

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/internal/par"
	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type runListOptions struct {
	exps         []string
	filter       string
	orderBy      []string
	max          int
	all, deleted bool
	asJSON       bool
	columns      []string
	onlyChanged  bool
}

func newRunListCmd(a *cli.App, runF func(context.Context, *runListOptions) error) *cobra.Command {
	var o runListOptions
	cmd := &cobra.Command{
		Use:     "list [--exp NAME]... [--filter EXPR] [--order-by EXPR]... [--max N] [--all|--deleted] [--json]",
		Aliases: []string{"ls"},
		Short:   "Search runs with MLflow's filter grammar",
		Long: `List runs, filtered and ordered with MLflow's search grammar.

Filter: comparisons joined by AND, on metrics.<key> (= != > >= < <=, numbers),
params.<key> and tags.<key> (= != LIKE ILIKE, quoted strings), attributes
run_id, run_name, status, user_id, artifact_uri (= != LIKE ILIKE; IN for run_id)
and start_time, end_time (numbers, ms). Quote keys with special characters in
backticks: tags.` + "`team-x`" + `. IS NULL / IS NOT NULL test for presence.

Order: <entity>.<key> [ASC|DESC], repeatable; runs without the key come last.
Default: start_time DESC.

Columns: the run's id, name, experiment, status and start, then the metrics
the filter and order name (else the first four), or those --columns lists
(params.<key>, metrics.<key>, tags.<key>). --only-changed keeps the columns
whose value is not the same in every run listed; alone it considers every
param and metric, like dvc exp show --only-changed. --json prints every field
of every run whatever the columns.`,
		Example: `  mlgit run list --filter "metrics.acc > 0.9 and params.optimizer = 'adam'" --order-by "metrics.acc DESC" --max 10
  mlgit run list --exp churn --columns params.lr,params.l2,metrics.val_acc
  mlgit run list --exp churn --only-changed
  mlgit run list --exp churn --filter "attributes.status = 'FINISHED'" --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runList(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().StringArrayVar(&o.exps, "exp", nil, "only runs of experiment `NAME` or id (repeatable)")
	cmd.Flags().StringVar(&o.filter, "filter", "", "filter `EXPR` in MLflow's search grammar")
	cmd.Flags().StringArrayVar(&o.orderBy, "order-by", nil, "order `EXPR`, e.g. \"metrics.acc DESC\" (repeatable)")
	cmd.Flags().IntVar(&o.max, "max", 100, "show at most `N` runs")
	viewFlags(cmd, &o.all, &o.deleted)
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	cmd.Flags().StringSliceVar(&o.columns, "columns", nil, "columns to show: `params.K,metrics.K,tags.K,...`")
	cmd.Flags().BoolVar(&o.onlyChanged, "only-changed", false, "show only the columns whose value differs between the runs listed")
	return cmd
}

// listColumn is an extra column of run list: a param, metric or tag.
type listColumn struct {
	entity, key, header string
}

func (c listColumn) value(run *manifest.Run) string {
	switch c.entity {
	case "params":
		if v, ok := run.Params[c.key]; ok {
			return v
		}
	case "tags":
		if v, ok := run.Tags[c.key]; ok {
			return v
		}
	default:
		if m, ok := run.Metrics[c.key]; ok {
			return fmtFloat(m.Value)
		}
	}
	return "-"
}

// parseColumns reads --columns: params.K, metrics.K or tags.K (param.,
// metric., tag. too).
func parseColumns(specs []string) ([]listColumn, error) {
	var cols []listColumn
	for _, s := range specs {
		s = strings.TrimSpace(s)
		if s == "" {
			continue
		}
		ent, key, ok := strings.Cut(s, ".")
		switch ent {
		case "param", "params":
			ent = "params"
		case "metric", "metrics":
			ent = "metrics"
		case "tag", "tags":
			ent = "tags"
		default:
			ok = false
		}
		if !ok || key == "" {
			return nil, cli.Usagef("--columns %q: want params.<key>, metrics.<key> or tags.<key>", s)
		}
		cols = append(cols, listColumn{entity: ent, key: key, header: ent + "." + key})
	}
	return cols, nil
}

// changedColumns keeps the columns whose value is not the same in every run.
func changedColumns(cols []listColumn, runs []*manifest.Run) []listColumn {
	var out []listColumn
	for _, c := range cols {
		for _, run := range runs[1:] {
			if c.value(run) != c.value(runs[0]) {
				out = append(out, c)
				break
			}
		}
	}
	return out
}

var metricRefRe = regexp.MustCompile("(?i)\\bmetrics?\\.(`[^`]+`|\"[^\"]+\"|[\\w./:-]+)")

func runList(_ context.Context, a *cli.App, o *runListOptions) error {
	if o.max <= 0 {
		return cli.Usagef("--max must be positive")
	}
	chosen, err := parseColumns(o.columns)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	var expIDs []string
	for _, e := range o.exps {
		id, err := a.ExperimentID(r, e)
		if err != nil {
			return err
		}
		expIDs = append(expIDs, id)
	}
	page, err := r.SearchRuns(repo.RunSearch{ExperimentIDs: expIDs, Filter: o.filter, OrderBy: o.orderBy, MaxResults: o.max, View: viewType(o.all, o.deleted)})
	if err != nil {
		return err
	}
	if o.asJSON {
		runs := page.Runs
		if runs == nil {
			runs = []*manifest.Run{}
		}
		return cli.PrintJSON(a.Out, runs)
	}
	cols := listColumns(*o, chosen, page.Runs)
	expNames := map[string]string{}
	if exps, err := r.ListExperiments(repo.ViewAll); err == nil {
		for _, e := range exps {
			expNames[e.ID] = e.Name
		}
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	nStale := 0
	fmt.Fprintf(tw, "RUN ID\tNAME\tEXPERIMENT\tSTATUS\tSTARTED")
	for _, c := range cols {
		fmt.Fprintf(tw, "\t%s", c.header)
	}
	fmt.Fprintln(tw)
	for _, run := range page.Runs {
		exp := expNames[run.ExperimentID]
		if exp == "" {
			exp = run.ExperimentID
		}
		status := run.Status
		if s, _ := staleness(r, run); s {
			status += " (stale)"
			nStale++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s", run.ID, run.Name, exp, status, cli.FmtTime(run.StartTime))
		for _, c := range cols {
			fmt.Fprintf(tw, "\t%s", c.value(run))
		}
		fmt.Fprintln(tw)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if page.Total > len(page.Runs) {
		fmt.Fprintf(a.Err, "Showing %d of %d matching runs (use --max).\n", len(page.Runs), page.Total)
	}
	if nStale > 0 {
		fmt.Fprintf(a.Err, "%d %s stale: the mlgit process that ran %s is gone; mlgit run end --stale ends %s KILLED.\n",
			nStale, cli.Plural(nStale, "run is", "runs are"), cli.Plural(nStale, "it", "them"), cli.Plural(nStale, "it", "them"))
	}
	return nil
}

// listColumns picks run list's extra columns: --columns, else the metrics
// the filter and order name, else (--only-changed) every param and metric,
// else the first four metrics; --only-changed drops those equal everywhere.
func listColumns(o runListOptions, chosen []listColumn, runs []*manifest.Run) []listColumn {
	cols := chosen
	if len(cols) == 0 {
		seen := map[string]bool{}
		for _, s := range append([]string{o.filter}, o.orderBy...) {
			for _, m := range metricRefRe.FindAllStringSubmatch(s, -1) {
				k := strings.Trim(m[1], "`\"")
				if !seen[k] {
					seen[k] = true
					cols = append(cols, listColumn{entity: "metrics", key: k, header: k})
				}
			}
		}
	}
	if len(cols) == 0 {
		params, metrics := map[string]bool{}, map[string]bool{}
		for _, run := range runs {
			for k := range run.Params {
				params[k] = true
			}
			for k := range run.Metrics {
				metrics[k] = true
			}
		}
		if o.onlyChanged {
			for _, k := range cli.SortedKeys(params) {
				cols = append(cols, listColumn{entity: "params", key: k, header: "params." + k})
			}
		}
		mk := cli.SortedKeys(metrics)
		if !o.onlyChanged && len(mk) > 4 {
			mk = mk[:4]
		}
		for _, k := range mk {
			cols = append(cols, listColumn{entity: "metrics", key: k, header: k})
		}
	}
	if o.onlyChanged && len(runs) > 1 {
		cols = changedColumns(cols, runs)
	}
	return cols
}

func fmtFloat(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return manifest.FormatFloat(v)
	}
	return fmt.Sprintf("%.6g", v)
}

// runShow is the JSON form of mlgit run show.
type runShow struct {
	*manifest.Run
	// Stale says why a RUNNING run's supervising mlgit process is gone.
	Stale string `json:"stale,omitempty"`
}

type runShowOptions struct {
	run    string // id, prefix or name (default $MLGIT_RUN_ID)
	asJSON bool
}

func newRunShowCmd(a *cli.App, runF func(context.Context, *runShowOptions) error) *cobra.Command {
	var o runShowOptions
	cmd := &cobra.Command{
		Use:   "show [<id>] [--json]",
		Short: "Show a run: params, tags, metrics with min/max/count",
		Long: `Show a run as acknowledged (including writes not yet committed). On a
terminal each metric gets a sparkline of its history. A run is given by its id,
a unique prefix of it (at least 4 characters), or its name when no other run
has that name; without it, $MLGIT_RUN_ID is used.`,
		Example: `  mlgit run show 3f2a9c1e
  mlgit run show lr-0.05
  mlgit run show 3f2a9c1e --json | jq .metrics.acc.value`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.run = cli.FirstArg(args)
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunShow(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runRunShow(_ context.Context, a *cli.App, o *runShowOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, err := a.RunID(r, o.run)
	if err != nil {
		return err
	}
	run, err := r.GetRun(id)
	if err != nil {
		return err
	}
	_, stale := staleness(r, run)
	if o.asJSON {
		return cli.PrintJSON(a.Out, runShow{Run: run, Stale: stale})
	}
	var hist map[string][]manifest.MetricPoint
	if a.OutTTY && len(run.Metrics) > 0 {
		hist, _ = r.AllMetricHistory(id)
	}
	printRun(a, run, hist, stale)
	return nil
}

func printRun(a *cli.App, run *manifest.Run, hist map[string][]manifest.MetricPoint, stale string) {
	w := a.Out
	fmt.Fprintf(w, "Run %s\n", run.ID)
	fmt.Fprintf(w, "  Name:        %s\n", run.Name)
	fmt.Fprintf(w, "  Experiment:  %s\n", run.ExperimentID)
	fmt.Fprintf(w, "  Status:      %s", run.Status)
	if run.LifecycleStage != manifest.LifecycleActive {
		fmt.Fprintf(w, " (%s)", run.LifecycleStage)
	}
	if stale != "" {
		fmt.Fprintf(w, ", stale: %s; mlgit run end --stale ends it KILLED", stale)
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  User:        %s\n", run.User)
	fmt.Fprintf(w, "  Started:     %s\n", cli.FmtTime(run.StartTime))
	if run.EndTime != 0 {
		fmt.Fprintf(w, "  Ended:       %s (%s)\n", cli.FmtTime(run.EndTime), fmtDuration(run.EndTime-run.StartTime))
	}
	if s := run.Source; s != nil {
		if s.Commit != "" {
			dirty := ""
			if s.Dirty {
				dirty = " (dirty)"
			}
			on := " on " + s.Branch
			if s.Branch == "" {
				on = " (detached HEAD)"
			}
			fmt.Fprintf(w, "  Code:        %s%s%s\n", s.Commit, dirty, on)
		}
		if len(s.Command) > 0 {
			fmt.Fprintf(w, "  Command:     %s\n", strings.Join(s.Command, " "))
		}
	}
	if run.ParentModel != "" {
		fmt.Fprintf(w, "  Parent:      %s\n", run.ParentModel)
	}
	cli.PrintMap(a, "Params", run.Params)
	cli.PrintMap(a, "Tags", run.Tags)
	if len(run.Metrics) > 0 {
		fmt.Fprintln(w, "Metrics:")
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "  KEY\tLATEST\tSTEP\tMIN\tMAX\tCOUNT\t")
		for _, k := range cli.SortedKeys(run.Metrics) {
			m := run.Metrics[k]
			fmt.Fprintf(tw, "  %s\t%s\t%d\t%s\t%s\t%d\t%s\n", k, fmtFloat(m.Value), m.Step, fmtFloat(m.Min), fmtFloat(m.Max), m.Count, sparkline(hist[k], 30))
		}
		tw.Flush()
	}
	if len(run.Inputs) > 0 {
		fmt.Fprintln(w, "Inputs:")
		for _, d := range run.Inputs {
			fmt.Fprintf(w, "  %s  %s  %s %s\n", d.Name, d.Digest, d.Source, d.Context)
		}
	}
	if len(run.Artifacts) > 0 {
		fmt.Fprintf(w, "Artifacts: %d %s\n", len(run.Artifacts), cli.Plural(len(run.Artifacts), "file", "files"))
	}
}

func fmtDuration(ms int64) string {
	if ms < 0 {
		return "-"
	}
	s := ms / 1000
	switch {
	case s < 60:
		return fmt.Sprintf("%.1fs", float64(ms)/1000)
	case s < 3600:
		return fmt.Sprintf("%dm%02ds", s/60, s%60)
	}
	return fmt.Sprintf("%dh%02dm", s/3600, (s%3600)/60)
}

// sparkline draws up to width points of a metric's history, ordered by step.
func sparkline(points []manifest.MetricPoint, width int) string {
	if len(points) < 2 {
		return ""
	}
	ps := append([]manifest.MetricPoint(nil), points...)
	sort.SliceStable(ps, func(i, j int) bool { return ps[i].Step < ps[j].Step })
	vals := make([]float64, 0, width)
	for i := 0; i < width && i < len(ps); i++ {
		j := i * len(ps) / min(width, len(ps))
		vals = append(vals, ps[j].Value)
	}
	lo, hi := math.Inf(1), math.Inf(-1)
	for _, v := range vals {
		if !math.IsNaN(v) && !math.IsInf(v, 0) {
			lo, hi = math.Min(lo, v), math.Max(hi, v)
		}
	}
	bars := []rune("▁▂▃▄▅▆▇█")
	var b strings.Builder
	for _, v := range vals {
		switch {
		case math.IsNaN(v) || math.IsInf(v, 0):
			b.WriteRune(' ')
		case hi == lo:
			b.WriteRune(bars[3])
		default:
			b.WriteRune(bars[int((v-lo)/(hi-lo)*float64(len(bars)-1)+0.5)])
		}
	}
	return b.String()
}

type runMetricsOptions struct {
	run, key string
	asJSON   bool
}

func newRunMetricsCmd(a *cli.App, runF func(context.Context, *runMetricsOptions) error) *cobra.Command {
	var o runMetricsOptions
	cmd := &cobra.Command{
		Use:     "metrics <id> <key> [--json]",
		Short:   "Print the full history of one metric",
		Example: `  mlgit run metrics 3f2a9c1e loss --json`,
		Args:    cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.run, o.key = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runRunMetrics(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runRunMetrics(_ context.Context, a *cli.App, o *runMetricsOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	id, err := a.ResolveRun(r, o.run)
	if err != nil {
		return err
	}
	hist, err := r.MetricHistoryColumns(id, func(k string) bool { return k == o.key })
	if err != nil {
		return err
	}
	cols := hist[o.key]
	if cols == nil || cols.Len() == 0 {
		run, err := r.GetRun(id)
		if err != nil {
			return err
		}
		return fmt.Errorf("%w: run %s has no metric %q (it has: %s)", repo.ErrNotFound, id, o.key, strings.Join(cli.SortedKeys(run.Metrics), ", "))
	}
	if o.asJSON {
		return writeMetricsJSON(a.Out, o.key, cols)
	}
	return writeMetricsTable(a.Out, cols)
}

// widest is the length in decimal of the longest of xs.
func widest(xs []int64) int {
	if len(xs) == 0 {
		return 0
	}
	lo, hi := xs[0], xs[0]
	for _, v := range xs {
		lo, hi = min(lo, v), max(hi, v)
	}
	return max(digits(lo), digits(hi))
}

// digits is the length of n in decimal, with its sign.
func digits(n int64) int {
	d := 1
	if n < 0 {
		d++
		if n == math.MinInt64 {
			return 20
		}
		n = -n
	}
	for n >= 10 {
		n /= 10
		d++
	}
	return d
}

// Long histories are formatted in chunks of metricsChunk points, on every
// core, a window of chunks at a time (so memory stays bounded), and
// written in order.
const metricsChunk = 32 << 10

// writeChunks formats points [0, n) with format, chunk by chunk in
// parallel, and writes the chunks to w in order.
func writeChunks(w io.Writer, n int, format func(b []byte, lo, hi int) []byte) error {
	workers := runtime.GOMAXPROCS(0)
	window := 2 * workers
	bufs := make([][]byte, window)
	chunks := (n + metricsChunk - 1) / metricsChunk
	for base := 0; base < chunks; base += window {
		m := min(window, chunks-base)
		par.Each(m, workers, func(i int) {
			lo := (base + i) * metricsChunk
			bufs[i] = format(bufs[i][:0], lo, min(lo+metricsChunk, n))
		})
		for i := 0; i < m; i++ {
			if _, err := w.Write(bufs[i]); err != nil {
				return err
			}
		}
	}
	return nil
}

// writeMetricsTable prints a history as a table aligned as text/tabwriter
// would (two spaces between columns), without holding a million lines in
// a tabwriter: the widths come from the columns' ranges.
func writeMetricsTable(w io.Writer, c *manifest.MetricColumns) error {
	ws, wt := max(len("STEP"), widest(c.Steps)), max(len("TIMESTAMP"), widest(c.Timestamps))
	pad := func(b []byte, start, width int) []byte {
		for i := len(b) - start; i < width+2; i++ {
			b = append(b, ' ')
		}
		return b
	}
	head := pad([]byte("STEP"), 0, ws)
	n := len(head)
	head = pad(append(head, "TIMESTAMP"...), n, wt)
	head = append(head, "VALUE\n"...)
	if _, err := w.Write(head); err != nil {
		return err
	}
	return writeChunks(w, c.Len(), func(b []byte, lo, hi int) []byte {
		for i := lo; i < hi; i++ {
			n := len(b)
			b = pad(strconv.AppendInt(b, c.Steps[i], 10), n, ws)
			n = len(b)
			b = pad(strconv.AppendInt(b, c.Timestamps[i], 10), n, wt)
			b = manifest.AppendFloat(b, c.Values[i])
			b = append(b, '\n')
		}
		return b
	})
}

// writeMetricsJSON prints a history as cli.PrintJSON prints a list of
// {"key", "step", "timestamp", "value"} objects (NaN and infinities as
// MLflow's strings), byte for byte, at a small part of its cost.
func writeMetricsJSON(w io.Writer, key string, c *manifest.MetricColumns) error {
	if c.Len() == 0 {
		_, err := io.WriteString(w, "[]\n")
		return err
	}
	k, _ := json.Marshal(key)
	if _, err := io.WriteString(w, "[\n"); err != nil {
		return err
	}
	last := c.Len() - 1
	err := writeChunks(w, c.Len(), func(b []byte, lo, hi int) []byte {
		for i := lo; i < hi; i++ {
			b = append(b, "  {\n    \"key\": "...)
			b = append(b, k...)
			b = append(b, ",\n    \"step\": "...)
			b = strconv.AppendInt(b, c.Steps[i], 10)
			b = append(b, ",\n    \"timestamp\": "...)
			b = strconv.AppendInt(b, c.Timestamps[i], 10)
			b = append(b, ",\n    \"value\": "...)
			b = appendJSONValue(b, c.Values[i])
			b = append(b, "\n  }"...)
			if i < last {
				b = append(b, ',')
			}
			b = append(b, '\n')
		}
		return b
	})
	if err != nil {
		return err
	}
	_, err = io.WriteString(w, "]\n")
	return err
}

// appendJSONValue appends v as encoding/json writes a float64 (or
// MLflow's string for NaN and the infinities).
func appendJSONValue(b []byte, v float64) []byte {
	if s, ok := units.MLflowSpecial(v); ok {
		return strconv.AppendQuote(b, s)
	}
	f, abs := byte('f'), math.Abs(v)
	if abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		f = 'e'
	}
	b = strconv.AppendFloat(b, v, f, -1, 64)
	if f == 'e' {
		// encoding/json writes e-7, not e-07.
		if n := len(b); n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
	}
	return b
}

// jsonFloat makes NaN and infinities printable in JSON the way MLflow's
// API does ("NaN", "Infinity", "-Infinity").
func jsonFloat(v float64) any {
	if s, ok := units.MLflowSpecial(v); ok {
		return s
	}
	return v
}
