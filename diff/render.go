package diff

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/mlgit/mlgit/internal/units"
	"github.com/mlgit/mlgit/manifest"
)

// Format is an output format of Write.
type Format string

// Output formats.
const (
	FormatTable    Format = "table"
	FormatJSON     Format = "json"
	FormatMarkdown Format = "markdown"
)

// Formats lists the formats ParseFormat accepts.
var Formats = []Format{FormatTable, FormatJSON, FormatMarkdown}

// ParseFormat parses "table", "json" or "markdown" ("md").
func ParseFormat(s string) (Format, error) {
	switch strings.ToLower(s) {
	case "table", "":
		return FormatTable, nil
	case "json":
		return FormatJSON, nil
	case "markdown", "md":
		return FormatMarkdown, nil
	}
	return "", fmt.Errorf("format %q: want table, json or markdown", s)
}

// Diff is a comparison that Write can render: *RunDiff, *VersionDiff or
// *ChangeSet.
type Diff interface {
	// Empty reports whether the comparison found no difference.
	Empty() bool
	table(w *writer)
	markdown(w *writer)
}

var (
	_ Diff = (*RunDiff)(nil)
	_ Diff = (*VersionDiff)(nil)
	_ Diff = (*ChangeSet)(nil)
	_ Diff = (*RunTable)(nil)
)

// Write renders d to w in format f.
func Write(w io.Writer, d Diff, f Format) error {
	switch f {
	case FormatJSON:
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		return enc.Encode(d)
	case FormatTable, "":
		ww := &writer{w: w}
		d.table(ww)
		return ww.err
	case FormatMarkdown:
		ww := &writer{w: w}
		d.markdown(ww)
		return ww.err
	}
	return fmt.Errorf("diff: unknown format %q", f)
}

// writer remembers the first write error so renderers need not check each.
type writer struct {
	w   io.Writer
	err error
}

func (w *writer) printf(format string, args ...any) {
	if w.err == nil {
		_, w.err = fmt.Fprintf(w.w, format, args...)
	}
}

// table writes rows aligned in columns, two spaces apart, the first row
// being the header. Cells must be single-line (use cell()).
func (w *writer) table(rows [][]string) {
	if w.err != nil || len(rows) == 0 {
		return
	}
	ncol := 0
	for _, r := range rows {
		ncol = max(ncol, len(r))
	}
	width := make([]int, ncol)
	for _, r := range rows {
		for i, c := range r {
			width[i] = max(width[i], utf8.RuneCountInString(c))
		}
	}
	var buf bytes.Buffer
	for _, r := range rows {
		line := buf.Len()
		for i, c := range r {
			buf.WriteString(c)
			if i < len(r)-1 {
				pad := width[i] - utf8.RuneCountInString(c) + 2
				for ; pad > 0; pad-- {
					buf.WriteByte(' ')
				}
			}
		}
		// An empty last cell leaves padding behind; drop it.
		for buf.Len() > line && buf.Bytes()[buf.Len()-1] == ' ' {
			buf.Truncate(buf.Len() - 1)
		}
		buf.WriteByte('\n')
	}
	_, w.err = w.w.Write(buf.Bytes())
}

// mdTable writes a GitHub-flavoured Markdown table; align holds one of
// 'l' or 'r' per column.
func (w *writer) mdTable(header []string, align string, rows [][]string) {
	w.printf("| %s |\n|", strings.Join(mdCells(header), " | "))
	for i := range header {
		if i < len(align) && align[i] == 'r' {
			w.printf("---:|")
		} else {
			w.printf("---|")
		}
	}
	w.printf("\n")
	for _, r := range rows {
		w.printf("| %s |\n", strings.Join(mdCells(r), " | "))
	}
}

// maxCell is the length (in characters) at which table and Markdown cells
// are cut; JSON always carries the whole value.
const maxCell = 60

const missing = "—"

// cell makes a value safe for one table cell: control characters escaped,
// long values cut with an ellipsis.
func cell(s string) string {
	s = clean(s)
	if utf8.RuneCountInString(s) > maxCell {
		r := []rune(s)
		s = string(r[:maxCell-1]) + "…"
	}
	return s
}

// clean escapes control characters (tabs and line breaks included).
func clean(s string) string {
	clean := true
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] == 0x7f {
			clean = false
			break
		}
	}
	if !clean {
		q := strconv.Quote(s)
		s = q[1 : len(q)-1]
	}
	return s
}

func mdCells(cs []string) []string {
	out := make([]string, len(cs))
	for i, c := range cs {
		out[i] = strings.ReplaceAll(c, "|", `\|`)
	}
	return out
}

func strOr(p *string) string {
	if p == nil {
		return missing
	}
	if *p == "" {
		return `""`
	}
	return cell(*p)
}

// Num formats a metric value for people: six significant digits, and
// NaN, Inf, -Inf for the special values.
func Num(v float64) string {
	if math.IsNaN(v) || math.IsInf(v, 0) {
		return manifest.FormatFloat(v)
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

func metricCells(c MetricChange) (old, new, delta, pct string) {
	old, new, delta, pct = missing, missing, missing, missing
	if c.Old != nil {
		old = Num(float64(*c.Old))
	}
	if c.New != nil {
		new = Num(float64(*c.New))
	}
	if c.Delta != nil {
		d := float64(*c.Delta)
		delta = Num(d)
		if d > 0 || (d == 0 && !math.Signbit(d)) {
			delta = "+" + delta
		}
	}
	if c.Percent != nil {
		p := float64(*c.Percent)
		switch {
		case math.IsNaN(p):
			pct = "NaN"
		case math.IsInf(p, 0):
			pct = Num(p)
		default:
			pct = strconv.FormatFloat(p, 'f', 2, 64) + "%"
			if p >= 0 {
				pct = "+" + pct
			}
		}
	}
	return
}

// Size formats a byte count with binary units (1.5 MiB).
func Size(n int64) string { return units.Bytes(n) }

func shortDigest(d string) string {
	const keep = len("sha256:") + 12
	if len(d) > keep {
		return d[:keep]
	}
	return d
}

func artifactCell(a *ArtifactInfo) string {
	if a == nil {
		return missing
	}
	s := shortDigest(a.Digest) + " (" + Size(a.Size) + ")"
	return s
}

func changeMark(c Change) string {
	if c == Unchanged {
		return ""
	}
	return string(c)
}

func orDash(s string) string {
	if s == "" {
		return missing
	}
	return cell(s)
}

// --- runs

func (d *RunDiff) sides() (string, string) { return cell(d.Old.Label), cell(d.New.Label) }

func (d *RunDiff) table(w *writer) {
	o, n := d.sides()
	w.printf("Runs: %s → %s\n", runTitle(d.Old), runTitle(d.New))
	if d.Empty() {
		w.printf("\nNo differences.\n")
		return
	}
	d.tableBody(w, o, n)
}

func (d *RunDiff) tableBody(w *writer, o, n string) {
	if len(d.Fields) > 0 {
		rows := [][]string{{"Field", o, n}}
		for _, f := range d.Fields {
			rows = append(rows, []string{f.Field, orDash(f.Old), orDash(f.New)})
		}
		w.printf("\n")
		w.table(rows)
	}
	if len(d.Metrics) > 0 {
		rows := [][]string{{"Metric", o, n, "Change", "%"}}
		for _, m := range d.Metrics {
			a, b, c, p := metricCells(m)
			rows = append(rows, []string{cell(m.Key), a, b, c, p})
		}
		w.printf("\n")
		w.table(rows)
	}
	stringTable(w, "Param", o, n, d.Params)
	stringTable(w, "Tag", o, n, d.Tags)
	artifactTable(w, o, n, d.Artifacts)
}

func stringTable(w *writer, what, o, n string, cs []StringChange) {
	if len(cs) == 0 {
		return
	}
	rows := [][]string{{what, o, n, "Change"}}
	for _, c := range cs {
		rows = append(rows, []string{cell(c.Key), strOr(c.Old), strOr(c.New), changeMark(c.Change)})
	}
	w.printf("\n")
	w.table(rows)
}

func artifactTable(w *writer, o, n string, cs []ArtifactChange) {
	if len(cs) == 0 {
		return
	}
	rows := [][]string{{"Artifact", o, n, "Change"}}
	for _, c := range cs {
		rows = append(rows, []string{cell(c.Path), artifactCell(c.Old), artifactCell(c.New), changeMark(c.Change)})
	}
	w.printf("\n")
	w.table(rows)
}

func runTitle(r RunRef) string {
	s := cell(r.Label)
	if r.Name != "" && r.Label != r.Name {
		s += " (" + cell(r.Name) + ")"
	}
	return s
}

// mdCollapse is the number of rows above which a Markdown section is
// folded into <details>, so that a comment with 1,000 params stays
// readable. Metrics, the evidence of a review, are never folded.
const mdCollapse = 25

func (d *RunDiff) markdown(w *writer) {
	w.printf("## Runs: %s → %s\n\n", mdTitle(d.Old.Label), mdTitle(d.New.Label))
	if d.Empty() {
		w.printf("No differences.\n")
		return
	}
	d.markdownBody(w, 3)
}

func (d *RunDiff) markdownBody(w *writer, level int) {
	h := strings.Repeat("#", level)
	o, n := cell(d.Old.Label), cell(d.New.Label)
	if len(d.Fields) > 0 {
		rows := make([][]string, 0, len(d.Fields))
		for _, f := range d.Fields {
			rows = append(rows, []string{f.Field, orDash(f.Old), orDash(f.New)})
		}
		w.printf("%s Run fields\n\n", h)
		w.mdTable([]string{"Field", o, n}, "lll", rows)
		w.printf("\n")
	}
	if len(d.Metrics) > 0 {
		rows := make([][]string, 0, len(d.Metrics))
		for _, m := range d.Metrics {
			a, b, c, p := metricCells(m)
			rows = append(rows, []string{cell(m.Key), a, b, c, p})
		}
		mdSection(w, h+" Metrics", 0, func() {
			w.mdTable([]string{"Metric", o, n, "Change", "%"}, "lrrrr", rows)
		})
	}
	mdStrings(w, h+" Params", "Param", o, n, d.Params)
	mdStrings(w, h+" Tags", "Tag", o, n, d.Tags)
	mdArtifacts(w, h+" Artifacts", o, n, d.Artifacts)
}

// mdSection writes a titled section, folded when nrows > mdCollapse (pass
// 0 for a section that must stay open).
func mdSection(w *writer, title string, nrows int, body func()) {
	if nrows > mdCollapse {
		w.printf("<details><summary>%s (%d)</summary>\n\n", strings.TrimLeft(title, "# "), nrows)
		body()
		w.printf("\n</details>\n\n")
		return
	}
	w.printf("%s\n\n", title)
	body()
	w.printf("\n")
}

func mdStrings(w *writer, title, what, o, n string, cs []StringChange) {
	if len(cs) == 0 {
		return
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{mdCode(c.Key), strOr(c.Old), strOr(c.New), changeMark(c.Change)})
	}
	mdSection(w, title, len(rows), func() {
		w.mdTable([]string{what, o, n, "Change"}, "llll", rows)
	})
}

func mdArtifacts(w *writer, title, o, n string, cs []ArtifactChange) {
	if len(cs) == 0 {
		return
	}
	rows := make([][]string, 0, len(cs))
	for _, c := range cs {
		rows = append(rows, []string{mdCode(c.Path), mdArtifact(c.Old), mdArtifact(c.New), changeMark(c.Change)})
	}
	mdSection(w, title, len(rows), func() {
		w.mdTable([]string{"Path", o, n, "Change"}, "llll", rows)
	})
}

func mdArtifact(a *ArtifactInfo) string {
	if a == nil {
		return missing
	}
	return mdCode(shortDigest(a.Digest)) + " " + Size(a.Size)
}

// mdCode wraps s in a code span (cut and escaped as a cell).
func mdCode(s string) string { return mdSpan(cell(s)) }

// mdTitle wraps s in a code span, escaped but never cut.
func mdTitle(s string) string { return mdSpan(clean(s)) }

func mdSpan(s string) string {
	if s == "" {
		return missing
	}
	if strings.Contains(s, "`") {
		return "`` " + s + " ``"
	}
	return "`" + s + "`"
}

// --- versions

func (d *VersionDiff) overview() [][]string {
	alias := func(as []string) string {
		if len(as) == 0 {
			return missing
		}
		return strings.Join(as, ", ")
	}
	return [][]string{
		{"Model", cell(d.Old.Name), cell(d.New.Name)},
		{"Version", strconv.FormatInt(d.Old.Version, 10), strconv.FormatInt(d.New.Version, 10)},
		{"Stage", orDash(d.Old.Stage), orDash(d.New.Stage)},
		{"Aliases", alias(d.Old.Aliases), alias(d.New.Aliases)},
		{"Run", orDash(short(d.Old.RunID)), orDash(short(d.New.RunID))},
	}
}

func (d *VersionDiff) table(w *writer) {
	o, n := cell(d.Old.Label), cell(d.New.Label)
	w.printf("Model versions: %s → %s\n\n", o, n)
	w.table(append([][]string{{"", o, n}}, d.overview()...))
	if d.Empty() {
		w.printf("\nNo differences.\n")
		return
	}
	if d.Run != nil {
		if len(d.Run.Metrics) > 0 {
			rows := [][]string{{"Metric", o, n, "Change", "%"}}
			for _, m := range d.Run.Metrics {
				a, b, c, p := metricCells(m)
				rows = append(rows, []string{cell(m.Key), a, b, c, p})
			}
			w.printf("\n")
			w.table(rows)
		}
		stringTable(w, "Param", o, n, d.Run.Params)
	}
	artifactTable(w, o, n, d.Artifacts)
	if f := versionFieldsExtra(d.Fields); len(f) > 0 {
		rows := [][]string{{"Field", o, n}}
		for _, c := range f {
			rows = append(rows, []string{c.Field, orDash(c.Old), orDash(c.New)})
		}
		w.printf("\n")
		w.table(rows)
	}
	stringTable(w, "Tag", o, n, d.Tags)
}

// versionFieldsExtra drops the fields the overview already shows.
func versionFieldsExtra(fs []FieldChange) []FieldChange {
	out := make([]FieldChange, 0, len(fs))
	for _, f := range fs {
		switch f.Field {
		case "name", "version", "stage", "run_id":
			continue
		}
		out = append(out, f)
	}
	return out
}

func (d *VersionDiff) markdown(w *writer) {
	o, n := cell(d.Old.Label), cell(d.New.Label)
	title := d.New.Name
	if d.Old.Name != d.New.Name {
		title = d.Old.Name + " → " + d.New.Name
	}
	w.printf("## Model %s: %s → %s\n\n", mdTitle(title), mdTitle(d.Old.Label), mdTitle(d.New.Label))
	rows := d.overview()
	for i := range rows {
		rows[i][0] = "**" + rows[i][0] + "**"
	}
	rows[4][1], rows[4][2] = mdCode(d.Old.RunID), mdCode(d.New.RunID)
	w.mdTable([]string{"", o, n}, "lll", rows)
	w.printf("\n")
	if d.Empty() {
		w.printf("No differences.\n")
		return
	}
	if d.Run != nil && len(d.Run.Metrics) > 0 {
		rows := make([][]string, 0, len(d.Run.Metrics))
		for _, m := range d.Run.Metrics {
			a, b, c, p := metricCells(m)
			rows = append(rows, []string{cell(m.Key), a, b, c, p})
		}
		mdSection(w, "### Metrics", 0, func() {
			w.mdTable([]string{"Metric", o, n, "Change", "%"}, "lrrrr", rows)
		})
	}
	if d.Run != nil {
		mdStrings(w, "### Params", "Param", o, n, d.Run.Params)
	}
	mdArtifacts(w, "### Artifacts", o, n, d.Artifacts)
	if f := versionFieldsExtra(d.Fields); len(f) > 0 {
		rows := make([][]string, 0, len(f))
		for _, c := range f {
			rows = append(rows, []string{c.Field, orDash(c.Old), orDash(c.New)})
		}
		w.printf("### Other changes\n\n")
		w.mdTable([]string{"Field", o, n}, "lll", rows)
		w.printf("\n")
	}
	mdStrings(w, "### Tags", "Tag", o, n, d.Tags)
}

// --- change sets

func (c *ChangeSet) title() string {
	dots := ".."
	if c.MergeBase {
		dots = "..."
	}
	s := clean(c.From) + dots + clean(c.To)
	if c.FromCommit != "" && c.ToCommit != "" {
		s += " (" + short(c.FromCommit) + ".." + short(c.ToCommit) + ")"
	}
	return s
}

func (c *ChangeSet) counts() string {
	return fmt.Sprintf("runs: %d added, %d changed, %d removed; model versions: %d added, %d changed, %d removed; stage changes: %d",
		len(c.RunsAdded), len(c.RunsChanged), len(c.RunsRemoved),
		len(c.VersionsAdded), len(c.VersionsChanged), len(c.VersionsRemoved), len(c.StageChanges))
}

func (c *ChangeSet) table(w *writer) {
	w.printf("Changes %s\n%s\n", c.title(), c.counts())
	if c.Empty() {
		return
	}
	runRows := [][]string{{"Run", "Name", "Status", "Change", "Details"}}
	for _, l := range []struct {
		ch   Change
		runs []RunSummary
	}{{Added, c.RunsAdded}, {Changed, c.RunsChanged}, {Removed, c.RunsRemoved}} {
		for _, r := range l.runs {
			runRows = append(runRows, []string{r.ID, orDash(r.Name), runStatus(r), string(l.ch), runDetails(r)})
		}
	}
	if len(runRows) > 1 {
		w.printf("\n")
		w.table(runRows)
	}
	verRows := [][]string{{"Model", "Version", "Stage", "Change", "Run"}}
	for _, l := range []struct {
		ch Change
		vs []VersionSummary
	}{{Added, c.VersionsAdded}, {Changed, c.VersionsChanged}, {Removed, c.VersionsRemoved}} {
		for _, v := range l.vs {
			verRows = append(verRows, []string{cell(v.Name), strconv.FormatInt(v.Version, 10), c.stageCell(v), string(l.ch), orDash(short(v.RunID))})
		}
	}
	if len(verRows) > 1 {
		w.printf("\n")
		w.table(verRows)
	}
}

func (c *ChangeSet) stageCell(v VersionSummary) string {
	for _, s := range c.StageChanges {
		if s.Name == v.Name && s.Version == v.Version {
			return s.Old + " → " + s.New
		}
	}
	return orDash(v.Stage)
}

func runStatus(r RunSummary) string {
	if r.OldStatus != "" {
		return r.OldStatus + " → " + r.Status
	}
	return r.Status
}

func runDetails(r RunSummary) string {
	var parts []string
	for _, p := range []struct {
		n    int
		what string
	}{{r.Params, "param"}, {r.Metrics, "metric"}, {r.Tags, "tag"}, {r.Artifacts, "artifact"}} {
		switch {
		case p.n == 1:
			parts = append(parts, "1 "+p.what)
		case p.n > 1:
			parts = append(parts, fmt.Sprintf("%d %ss", p.n, p.what))
		}
	}
	if len(parts) == 0 {
		return ""
	}
	return strings.Join(parts, ", ")
}

func (c *ChangeSet) markdown(w *writer) {
	w.printf("## Tracking-branch changes %s\n\n", mdTitle(c.title()))
	if c.Empty() {
		w.printf("No changes.\n")
		return
	}
	w.printf("- Runs: %d added, %d changed, %d removed\n- Model versions: %d added, %d changed, %d removed\n- Stage changes: %d\n\n",
		len(c.RunsAdded), len(c.RunsChanged), len(c.RunsRemoved),
		len(c.VersionsAdded), len(c.VersionsChanged), len(c.VersionsRemoved), len(c.StageChanges))
	if len(c.StageChanges) > 0 {
		rows := make([][]string, 0, len(c.StageChanges))
		for _, s := range c.StageChanges {
			rows = append(rows, []string{mdCode(s.Name), strconv.FormatInt(s.Version, 10), orDash(s.Old), orDash(s.New)})
		}
		w.printf("### Stage changes\n\n")
		w.mdTable([]string{"Model", "Version", "From", "To"}, "lrll", rows)
		w.printf("\n")
	}
	var vrows [][]string
	for _, l := range []struct {
		ch Change
		vs []VersionSummary
	}{{Added, c.VersionsAdded}, {Changed, c.VersionsChanged}, {Removed, c.VersionsRemoved}} {
		for _, v := range l.vs {
			vrows = append(vrows, []string{mdCode(v.Name), strconv.FormatInt(v.Version, 10), c.stageCell(v), string(l.ch), mdCode(short(v.RunID))})
		}
	}
	if len(vrows) > 0 {
		mdSection(w, "### Model versions", len(vrows), func() {
			w.mdTable([]string{"Model", "Version", "Stage", "Change", "Run"}, "lrlll", vrows)
		})
	}
	var rrows [][]string
	for _, l := range []struct {
		ch   Change
		runs []RunSummary
	}{{Added, c.RunsAdded}, {Changed, c.RunsChanged}, {Removed, c.RunsRemoved}} {
		for _, r := range l.runs {
			rrows = append(rrows, []string{mdCode(r.ID), orDash(r.Name), runStatus(r), string(l.ch), runDetails(r)})
		}
	}
	if len(rrows) > 0 {
		mdSection(w, "### Runs", len(rrows), func() {
			w.mdTable([]string{"Run", "Name", "Status", "Change", "Details"}, "lllll", rrows)
		})
	}
}
