package ui

import (
	"bytes"
	"errors"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// The compare page: /compare?runs=a,b,… (and MLflow's
// /compare-runs?runs=["a","b"]) for 2 to 1,000 runs: one chart per chosen
// metric with every run as a series, a table of params, metrics and tags
// with the runs as columns (rows that differ marked; served apart by
// /compare/table and fetched by compare.js once the charts have asked
// for their data), and a scatter plot of any param or metric against
// another (compare.js reads its values from the table's cells).

const (
	maxCompareRuns = 1000
	// maxCompareChips bounds the run chips in the page; compare.js adds
	// the others on demand.
	maxCompareChips = 100
	// defaultCompareKeys bounds the metrics charted when the URL names none.
	defaultCompareKeys = 20
)

type compareRun struct {
	ID, Name, Href string
	ExpID          string
	Status         string
	Start          int64
	Duration       string
}

func newCompareRun(doc *manifest.Run) compareRun {
	return compareRun{
		ID: doc.ID, Name: runLabel(doc), ExpID: doc.ExperimentID,
		Href:     "/experiments/" + url.PathEscape(doc.ExperimentID) + "/runs/" + doc.ID,
		Status:   doc.Status,
		Start:    doc.StartTime,
		Duration: duration(doc.StartTime, doc.EndTime),
	}
}

// compareCell is one value of a row: Raw is what the scatter plot reads
// (a metric's value in full precision), Text what is shown.
type compareCell struct {
	Text, Raw string
	Missing   bool
}

type compareRow struct {
	Kind, Key string // param, metric, tag
	Differs   bool
	Numeric   bool
	Cells     []compareCell
}

type compareSection struct {
	Title string
	Kind  string
	Rows  []compareRow
}

type compareKey struct {
	Key     string
	On      bool
	InAll   bool
	Present int // runs that have it
}

type compareData struct {
	TooFew   bool
	Given    int
	Runs     []compareRun
	Chips    []compareRun // the first maxCompareChips runs
	More     int          // runs without a chip
	RunIDs   string       // comma-separated, for the charts and the form
	Names    string       // run names joined by U+001F
	Keys     []compareKey
	Charted  []chartedKey
	Common   int
	Explicit bool
	Sections []compareSection
	Scatter  []compareRow // numeric rows the scatter plot can use
	ScatterX string
	ScatterY string
}

// chartedKey is a chart of the compare page; Preload is the URL of its
// series when the page's head preloads them (chart.js then reads the
// response at once, and draws when the chart scrolls into view).
type chartedKey struct {
	Key     string
	Preload string
}

// maxPreloads bounds the series a compare page preloads.
const maxPreloads = 12

// preloadSeries marks the charts whose series request the page can name
// before any script runs, and returns those requests' URLs. That is when
// n runs share the point budget whatever the chart's width (chart.js asks
// for px = plot width − 70, at least 130, and the budget lowers it to the
// same value for every width): from 77 runs on. The URL is the one
// chart.js builds (seriesURL there), byte for byte, or the browser would
// not use the preloaded response.
func preloadSeries(charted []chartedKey, runIDs string, n int) []string {
	const minPx = 130
	px := sharedPx(minPx, n)
	if px == minPx {
		return nil
	}
	var urls []string
	for i := range charted {
		if i == maxPreloads {
			break
		}
		charted[i].Preload = "/ui/api/series?key=" + formEncode(charted[i].Key) + "&x=step&px=" + strconv.Itoa(px) + "&run=" + runIDs
		urls = append(urls, charted[i].Preload)
	}
	return urls
}

// formEncode encodes s as a browser's URLSearchParams does
// (application/x-www-form-urlencoded): bytes other than ASCII letters,
// digits and *-._ as %XX, a space as +.
func formEncode(s string) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '*', c == '-', c == '.', c == '_':
			b.WriteByte(c)
		case c == ' ':
			b.WriteByte('+')
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}

// runLabel is a run's name, or the start of its id when it has none.
func runLabel(r *manifest.Run) string {
	if r.Name != "" {
		return r.Name
	}
	return r.ID[:8]
}

// compareIDs reads the runs= list: valid ids, each once, at most
// maxCompareRuns.
func compareIDs(r *http.Request) ([]string, error) {
	ids := queryList(r, "runs")
	seen := map[string]bool{}
	var uniq []string
	for _, id := range ids {
		if !manifest.ValidRunID(id) {
			return nil, invalid("run id %q is not 32 lower-case hex characters", id)
		}
		if !seen[id] {
			seen[id] = true
			uniq = append(uniq, id)
		}
	}
	if len(uniq) > maxCompareRuns {
		return nil, invalid("%d runs to compare: the compare page shows at most %d runs", len(uniq), maxCompareRuns)
	}
	return uniq, nil
}

// compareDocs reads the runs' documents in parallel.
func (h *Handler) compareDocs(ids []string) ([]*manifest.Run, error) {
	docs := make([]*manifest.Run, len(ids))
	errs := make([]error, len(ids))
	parallel(len(ids), func(i int) { docs[i], errs[i] = h.r.GetRun(ids[i]) })
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return docs, nil
}

func (h *Handler) comparePage(w http.ResponseWriter, r *http.Request) {
	ids, err := compareIDs(r)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	// chart.js is listed too: the browser fetches it with compare.js
	// rather than after it (an import is found only once compare.js is
	// parsed).
	page := &Page{Title: "Compare runs", Section: "experiments", Charts: true, Scripts: []string{"chart.js", "compare.js"},
		Crumbs: []Crumb{{Label: "Experiments", Href: "/experiments"}, {Label: "Compare runs"}}}
	if len(ids) < 2 {
		page.Charts = false
		page.Scripts = nil
		page.Data = &compareData{TooFew: true, Given: len(ids)}
		h.render(w, r, "compare", page)
		return
	}
	docs, err := h.compareDocs(ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}

	d := &compareData{RunIDs: strings.Join(ids, ",")}
	names := make([]string, len(docs))
	exps := map[string]bool{}
	for i, doc := range docs {
		names[i] = runLabel(doc)
		exps[doc.ExperimentID] = true
		d.Runs = append(d.Runs, newCompareRun(doc))
	}
	d.Names = strings.Join(names, "\x1f")
	d.Chips = d.Runs[:min(len(d.Runs), maxCompareChips)]
	d.More = len(d.Runs) - len(d.Chips)
	if len(exps) == 1 {
		eid := docs[0].ExperimentID
		label := eid
		if e, err := h.r.GetExperiment(eid); err == nil {
			label = e.Name
		}
		page.Crumbs = []Crumb{{Label: "Experiments", Href: "/experiments"},
			{Label: label, Href: "/experiments/" + url.PathEscape(eid)}, {Label: "Compare runs"}}
	}

	// Metric keys: those of every run first, then the others.
	count := map[string]int{}
	for _, doc := range docs {
		for k := range doc.Metrics {
			count[k]++
		}
	}
	for k, n := range count {
		d.Keys = append(d.Keys, compareKey{Key: k, InAll: n == len(docs), Present: n})
		if n == len(docs) {
			d.Common++
		}
	}
	sort.Slice(d.Keys, func(i, j int) bool {
		a, b := d.Keys[i], d.Keys[j]
		if a.InAll != b.InAll {
			return a.InAll
		}
		return a.Key < b.Key
	})
	chosen := map[string]bool{}
	if _, ok := r.URL.Query()["keys"]; ok {
		d.Explicit = true
		for _, k := range queryList(r, "keys") {
			chosen[k] = true
		}
	} else {
		for _, k := range d.Keys {
			if len(chosen) == defaultCompareKeys || (!k.InAll && d.Common > 0) {
				break
			}
			chosen[k.Key] = true
		}
	}
	for i := range d.Keys {
		if chosen[d.Keys[i].Key] {
			d.Keys[i].On = true
			d.Charted = append(d.Charted, chartedKey{Key: d.Keys[i].Key})
		}
	}
	// A key in the URL that no run has still gets its (empty) chart.
	for k := range chosen {
		if count[k] == 0 {
			d.Charted = append(d.Charted, chartedKey{Key: k})
		}
	}

	d.Sections = compareSections(docs)
	for _, s := range d.Sections[:2] {
		for _, row := range s.Rows {
			if row.Numeric {
				d.Scatter = append(d.Scatter, row)
			}
		}
	}
	// Default axes: the first param that differs against the first metric.
	for _, row := range d.Scatter {
		if row.Kind == "param" && d.ScatterX == "" && row.Differs {
			d.ScatterX = row.Kind + ":" + row.Key
		}
		if row.Kind == "metric" && d.ScatterY == "" {
			d.ScatterY = row.Kind + ":" + row.Key
		}
	}
	if d.ScatterX == "" && len(d.Scatter) > 0 {
		d.ScatterX = d.Scatter[0].Kind + ":" + d.Scatter[0].Key
	}
	if d.ScatterY == "" && len(d.Scatter) > 1 {
		d.ScatterY = d.Scatter[1].Kind + ":" + d.Scatter[1].Key
	}
	page.Preloads = preloadSeries(d.Charted, d.RunIDs, len(docs))
	page.Title = "Compare " + strconv.Itoa(len(docs)) + " runs"
	page.Data = d
	h.render(w, r, "compare", page)
}

// compareSections are the diff table's params, metrics and tags.
func compareSections(docs []*manifest.Run) []compareSection {
	return []compareSection{
		compareRows("Parameters", "param", docs, func(doc *manifest.Run) map[string]string { return doc.Params }),
		compareMetricRows(docs),
		compareRows("Tags", "tag", docs, func(doc *manifest.Run) map[string]string { return doc.Tags }),
	}
}

// compareTable serves GET /compare/table?runs=a,b,…: the diff table of
// the compare page as an HTML fragment (a <table>, no layout). The page
// fetches it after its charts have asked for their series, so that up to
// a megabyte of table (1,000 runs) does not hold the charts back.
func (h *Handler) compareTable(w http.ResponseWriter, r *http.Request) {
	ids, err := compareIDs(r)
	if err == nil && len(ids) < 2 {
		err = invalid("comparing needs at least two runs")
	}
	if err != nil {
		h.fail(w, r, err)
		return
	}
	docs, err := h.compareDocs(ids)
	if err != nil {
		h.fail(w, r, err)
		return
	}
	d := &compareData{Sections: compareSections(docs)}
	for _, doc := range docs {
		d.Runs = append(d.Runs, newCompareRun(doc))
	}
	var buf bytes.Buffer
	if err := h.pages["compare"].ExecuteTemplate(&buf, "compare-table", d); err != nil {
		h.log.Error("render compare table", "err", err)
		h.fail(w, r, errors.New("the table could not be rendered"))
		return
	}
	h.writePage(w, http.StatusOK, buf.Bytes())
}

// compareRows is a section of string values (params, tags), keys sorted.
func compareRows(title, kind string, docs []*manifest.Run, get func(*manifest.Run) map[string]string) compareSection {
	keys := map[string]bool{}
	for _, doc := range docs {
		for k := range get(doc) {
			keys[k] = true
		}
	}
	s := compareSection{Title: title, Kind: kind}
	for _, k := range compareKeysSorted(keys) {
		// Every param can be a scatter axis: numbers on a linear axis,
		// other values as categories.
		row := compareRow{Kind: kind, Key: k, Numeric: kind == "param"}
		for i, doc := range docs {
			v, ok := get(doc)[k]
			c := compareCell{Text: v, Raw: v, Missing: !ok}
			row.Cells = append(row.Cells, c)
			if i > 0 && (c.Missing != row.Cells[0].Missing || c.Text != row.Cells[0].Text) {
				row.Differs = true
			}
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

// compareMetricRows is the section of the runs' latest metric values.
func compareMetricRows(docs []*manifest.Run) compareSection {
	keys := map[string]bool{}
	for _, doc := range docs {
		for k := range doc.Metrics {
			keys[k] = true
		}
	}
	s := compareSection{Title: "Metrics (latest value)", Kind: "metric"}
	for _, k := range compareKeysSorted(keys) {
		row := compareRow{Kind: "metric", Key: k, Numeric: true}
		for i, doc := range docs {
			m, ok := doc.Metrics[k]
			c := compareCell{Missing: !ok}
			if ok {
				c.Text = formatNum(m.Value)
				c.Raw = manifest.FormatFloat(m.Value)
			}
			row.Cells = append(row.Cells, c)
			if i > 0 && (c.Missing != row.Cells[0].Missing || c.Raw != row.Cells[0].Raw) {
				row.Differs = true
			}
		}
		s.Rows = append(s.Rows, row)
	}
	return s
}

func compareKeysSorted(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}
