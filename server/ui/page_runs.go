package ui

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo"
)

// The runs table pages through the store's search: the filter is MLflow's
// search grammar, evaluated by the same query package and index as
// runs/search, so the page costs the same at 100 and at 100,000 runs.
const (
	defaultPageSize = 50
	maxPageSize     = 1000
	// defaultMetrics and defaultParams bound the metric and the param
	// columns shown when the URL chooses none: about what a 1280-pixel
	// screen shows, since the browser's layout of the table grows with
	// its cells (more are a click away in the column picker).
	defaultMetrics = 6
	defaultParams  = 4
)

// column is one chosen column of the runs table: params.<key>,
// metrics.<key> (latest), metrics.<key>:min, metrics.<key>:max or
// tags.<key>, as written in the URL's col= parameters.
type column struct {
	Spec  string // as in the URL
	Group string // params, metrics, tags
	Key   string
	Agg   string // "", "min", "max" (metrics)
}

// Label is the header text.
func (c column) Label() string {
	if c.Agg != "" {
		return c.Key + " (" + c.Agg + ")"
	}
	return c.Key
}

// OrderKey is the search's order_by field of the column ("" when the
// column cannot be sorted on: a metric's min or max).
func (c column) OrderKey() string {
	if c.Agg != "" {
		return ""
	}
	return c.Group + "." + quoteKey(c.Key)
}

// quoteKey backquotes a key that the search grammar would not read bare.
func quoteKey(k string) string {
	for _, r := range k {
		if !(r == '_' || r == '.' || r == '-' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9') {
			return "`" + k + "`"
		}
	}
	return k
}

func parseColumn(spec string) (column, bool) {
	group, key, ok := strings.Cut(spec, ".")
	if !ok || key == "" {
		return column{}, false
	}
	c := column{Spec: spec, Group: group, Key: key}
	switch group {
	case "params", "tags":
	case "metrics":
		if k, agg, ok := strings.Cut(key, ":"); ok && (agg == "min" || agg == "max") {
			c.Key, c.Agg = k, agg
		}
	default:
		return column{}, false
	}
	return c, true
}

// attrColumn is a fixed attribute column; Order is its order_by field.
type attrColumn struct {
	Label, Order string
}

var attrColumns = []attrColumn{
	{"Run", "attributes.run_name"},
	{"Status", "attributes.status"},
	{"User", "attributes.user_id"},
	{"Started", "attributes.start_time"},
	{"Duration", ""},
	{"Source", ""},
}

type runCell struct {
	Text  string
	Title string
	Num   bool
}

type runRow struct {
	Run      *manifest.Run
	ExpName  string
	Duration string
	Cells    []runCell
}

type filterError struct {
	Msg   string
	Input string
	Caret string // spaces up to the position, then ^
}

type header struct {
	Label, Href, Class string
	Sorted, Asc        bool
}

type pickGroup struct {
	Name  string
	Items []pickItem
}

type pickItem struct {
	Spec, Label string
	On          bool
}

type runsData struct {
	Experiments []*manifest.Experiment
	Multi       bool // several experiments: show the experiment column
	Filter      string
	FilterError *filterError
	Order       string
	View        string
	PageSize    int
	Offset      int
	Total       int
	From, To    int
	PrevHref    string
	NextHref    string
	AttrHeaders []header
	Headers     []header
	Rows        []runRow
	Picker      []pickGroup
	// The URL's other parameters, kept by the filter and column forms.
	FilterHidden, ColHidden []kv
	ClearHref               string
	Action                  string
}

// runsPage is the runs table of one experiment (/experiments/<id>) or
// several (/runs?experiments=1,2): server-side filter, sort and paging;
// columns chosen from params, metrics (latest, min, max) and tags, kept
// in the URL (col=) so a view can be shared.
//
// With fragment=table it answers only the parts a filter, a sort, a page
// or a column change replaces (the "runs-fragment" template: the filter
// form, the column picker, the table and its pager), which runs.js swaps
// in without loading the page; every link and form still works as a
// full page load without JavaScript.
func (h *Handler) runsPage(w http.ResponseWriter, r *http.Request) {
	u := r.URL
	fragment := u.Query().Get("fragment") == "table"
	if fragment {
		u = withoutParam(u, "fragment")
	}
	q := u.Query()
	var ids []string
	if eid := r.PathValue("eid"); eid != "" {
		ids = []string{eid}
	} else {
		ids = queryList(r, "experiments")
	}
	d := runsData{Filter: strings.TrimSpace(q.Get("filter")), Order: strings.TrimSpace(q.Get("order"))}
	d.View, _ = viewParam(r)
	_, vt := viewParam(r)
	for _, id := range ids {
		e, err := h.r.GetExperiment(id)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Experiments = append(d.Experiments, e)
	}
	if len(ids) == 0 {
		exps, err := h.r.ListExperiments(repo.ViewActive)
		if err != nil {
			h.fail(w, r, err)
			return
		}
		d.Experiments = exps
	}
	d.Multi = len(d.Experiments) != 1
	d.PageSize = intParam(q.Get("n"), defaultPageSize, 1, maxPageSize)
	d.Offset = intParam(q.Get("offset"), 0, 0, 1<<31-1)

	search := repo.RunSearch{ExperimentIDs: ids, Filter: d.Filter, MaxResults: d.PageSize, View: vt, PageToken: repo.PageToken(d.Offset)}
	if d.Order != "" {
		search.OrderBy = []string{d.Order}
	}
	var page repo.RunPage
	if fe := checkQuery(d.Filter, d.Order); fe != nil {
		d.FilterError = fe
	} else {
		var err error
		t0 := time.Now()
		page, err = h.r.SearchRuns(search)
		// The search's share of the response, for the browser's
		// developer tools (Server-Timing) and the benchmarks.
		w.Header().Set("Server-Timing", fmt.Sprintf("search;dur=%.1f", float64(time.Since(t0).Microseconds())/1000))
		if err != nil {
			if !errors.Is(err, repo.ErrInvalid) {
				h.fail(w, r, err)
				return
			}
			d.FilterError = &filterError{Msg: err.Error()}
		}
	}
	d.Total = page.Total
	if len(page.Runs) > 0 {
		d.From, d.To = d.Offset+1, d.Offset+len(page.Runs)
	}

	cols := chosenColumns(q["col"], page.Runs)
	d.Action = u.Path
	d.FilterHidden = keepParams(q, "filter", "offset", "view")
	d.ColHidden = keepParams(q, "col", "offset")
	d.ClearHref = withoutParam(withoutParam(u, "offset"), "filter").RequestURI()
	d.AttrHeaders, d.Headers = h.headers(u, d.Order, cols)
	d.Picker = columnPicker(cols, page.Runs)
	expNames := map[string]string{}
	for _, e := range d.Experiments {
		expNames[e.ID] = e.Name
	}
	for _, run := range page.Runs {
		row := runRow{Run: run, ExpName: expNames[run.ExperimentID], Duration: duration(run.StartTime, run.EndTime)}
		for _, c := range cols {
			row.Cells = append(row.Cells, cellOf(run, c))
		}
		d.Rows = append(d.Rows, row)
	}
	if d.Offset > 0 {
		d.PrevHref = withParam(u, "offset", strconv.Itoa(max(0, d.Offset-d.PageSize)))
	}
	if page.NextPageToken != "" {
		d.NextHref = withParam(u, "offset", strconv.Itoa(d.Offset+len(page.Runs)))
	}
	if fragment {
		h.renderPart(w, r, "runs", "runs-fragment", d)
		return
	}

	title := "Runs"
	crumbs := []Crumb{{Label: "Experiments", Href: "/experiments"}}
	if len(d.Experiments) == 1 && len(ids) == 1 {
		title = d.Experiments[0].Name
		crumbs = append(crumbs, Crumb{Label: title})
	} else {
		crumbs = append(crumbs, Crumb{Label: "Runs"})
	}
	h.render(w, r, "runs", &Page{Title: title, Section: "experiments", Crumbs: crumbs, Scripts: []string{"runs.js"}, Data: d})
}

// renderPart executes one named template of a page's set with data (no
// layout), with the page's headers.
func (h *Handler) renderPart(w http.ResponseWriter, r *http.Request, page, name string, data any) {
	var buf bytes.Buffer
	if err := h.pages[page].ExecuteTemplate(&buf, name, data); err != nil {
		h.log.Error("render part", "page", page, "part", name, "err", err)
		h.fail(w, r, errors.New("the page could not be rendered"))
		return
	}
	h.writePage(w, http.StatusOK, buf.Bytes())
}

// checkQuery parses the filter and order first, so an error can be shown
// where it is: the message and a caret under the position.
func checkQuery(filter, order string) *filterError {
	var qe *query.Error
	if _, err := query.ParseFilter(query.Runs, filter); err != nil {
		if errors.As(err, &qe) && qe.Pos >= 0 {
			return &filterError{Msg: "Filter: " + qe.Msg, Input: filter, Caret: strings.Repeat(" ", len([]rune(filter[:min(qe.Pos, len(filter))]))) + "^"}
		}
		return &filterError{Msg: "Filter: " + err.Error()}
	}
	if order != "" {
		if _, err := query.ParseOrderByList(query.Runs, []string{order}); err != nil {
			return &filterError{Msg: "Sort: " + err.Error()}
		}
	}
	return nil
}

// chosenColumns reads col= parameters; with none, the first metric and
// param keys of the page's runs are shown.
func chosenColumns(specs []string, runs []*manifest.Run) []column {
	var cols []column
	seen := map[string]bool{}
	for _, s := range specs {
		for _, one := range strings.Split(s, ",") {
			if c, ok := parseColumn(strings.TrimSpace(one)); ok && !seen[c.Spec] {
				seen[c.Spec] = true
				cols = append(cols, c)
			}
		}
	}
	if len(specs) > 0 {
		return cols
	}
	metrics, params, _ := pageKeys(runs)
	for i, k := range metrics {
		if i == defaultMetrics {
			break
		}
		cols = append(cols, column{Spec: "metrics." + k, Group: "metrics", Key: k})
	}
	for i, k := range params {
		if i == defaultParams {
			break
		}
		cols = append(cols, column{Spec: "params." + k, Group: "params", Key: k})
	}
	return cols
}

// pageKeys returns the sorted metric, param and (non-system) tag keys of
// runs.
func pageKeys(runs []*manifest.Run) (metrics, params, tags []string) {
	ms, ps, ts := map[string]bool{}, map[string]bool{}, map[string]bool{}
	for _, r := range runs {
		for k := range r.Metrics {
			ms[k] = true
		}
		for k := range r.Params {
			ps[k] = true
		}
		for k := range r.Tags {
			if !strings.HasPrefix(k, "mlflow.") {
				ts[k] = true
			}
		}
	}
	return sortedKeys(ms), sortedKeys(ps), sortedKeys(ts)
}

func sortedKeys(m map[string]bool) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// columnPicker lists every column the page's runs could show, the chosen
// ones ticked.
func columnPicker(cols []column, runs []*manifest.Run) []pickGroup {
	on := map[string]bool{}
	for _, c := range cols {
		on[c.Spec] = true
	}
	metrics, params, tags := pageKeys(runs)
	// Keep chosen columns that no run on this page has.
	extra := map[string][]string{}
	for _, c := range cols {
		extra[c.Group] = append(extra[c.Group], c.Key)
	}
	metrics = mergeKeys(metrics, extra["metrics"])
	params = mergeKeys(params, extra["params"])
	tags = mergeKeys(tags, extra["tags"])
	var mg, pg, tg pickGroup
	mg.Name, pg.Name, tg.Name = "Metrics", "Parameters", "Tags"
	for _, k := range metrics {
		for _, agg := range []string{"", ":min", ":max"} {
			spec := "metrics." + k + agg
			label := k
			if agg != "" {
				label += " (" + agg[1:] + ")"
			}
			mg.Items = append(mg.Items, pickItem{Spec: spec, Label: label, On: on[spec]})
		}
	}
	for _, k := range params {
		pg.Items = append(pg.Items, pickItem{Spec: "params." + k, Label: k, On: on["params."+k]})
	}
	for _, k := range tags {
		tg.Items = append(tg.Items, pickItem{Spec: "tags." + k, Label: k, On: on["tags."+k]})
	}
	return []pickGroup{mg, pg, tg}
}

func mergeKeys(a, b []string) []string {
	seen := map[string]bool{}
	for _, k := range a {
		seen[k] = true
	}
	for _, k := range b {
		if !seen[k] {
			seen[k] = true
			a = append(a, k)
		}
	}
	sort.Strings(a)
	return a
}

func cellOf(run *manifest.Run, c column) runCell {
	switch c.Group {
	case "params":
		v, ok := run.Params[c.Key]
		if !ok {
			return runCell{}
		}
		return runCell{Text: v, Title: v}
	case "tags":
		v := run.Tags[c.Key]
		return runCell{Text: v, Title: v}
	}
	m, ok := run.Metrics[c.Key]
	if !ok {
		return runCell{Num: true}
	}
	v := m.Value
	switch c.Agg {
	case "min":
		v = m.Min
	case "max":
		v = m.Max
	}
	return runCell{Text: formatNum(v), Title: fmt.Sprintf("%v (step %d)", v, m.Step), Num: true}
}

// headers builds the sortable headers: a click sorts by the column,
// descending first, a second click ascending.
func (h *Handler) headers(u *url.URL, order string, cols []column) (attrs, chosen []header) {
	field, desc := splitOrder(order)
	mk := func(label, key, class string) header {
		hd := header{Label: label, Class: class}
		if key == "" {
			return hd
		}
		next := key + " DESC"
		if field == key {
			hd.Sorted = true
			hd.Asc = !desc
			if desc {
				next = key + " ASC"
			}
		}
		hd.Href = withParam(withoutParam(u, "offset"), "order", next)
		return hd
	}
	for _, a := range attrColumns {
		attrs = append(attrs, mk(a.Label, a.Order, ""))
	}
	for _, c := range cols {
		cls := "grp-" + c.Group
		if c.Group == "metrics" {
			cls += " num"
		}
		chosen = append(chosen, mk(c.Label(), c.OrderKey(), cls))
	}
	return attrs, chosen
}

func splitOrder(order string) (field string, desc bool) {
	order = strings.TrimSpace(order)
	up := strings.ToUpper(order)
	switch {
	case strings.HasSuffix(up, " DESC"):
		return strings.TrimSpace(order[:len(order)-5]), true
	case strings.HasSuffix(up, " ASC"):
		return strings.TrimSpace(order[:len(order)-4]), false
	}
	return order, false
}

func withParam(u *url.URL, key, value string) string {
	q := u.Query()
	q.Set(key, value)
	v := *u
	v.RawQuery = q.Encode()
	return v.RequestURI()
}

func withoutParam(u *url.URL, key string) *url.URL {
	q := u.Query()
	q.Del(key)
	v := *u
	v.RawQuery = q.Encode()
	return &v
}

// keepParams returns the query parameters except those named, for hidden
// fields of a GET form that changes only some.
func keepParams(q url.Values, drop ...string) []kv {
	skip := map[string]bool{}
	for _, d := range drop {
		skip[d] = true
	}
	var out []kv
	for _, k := range sortedKeysOf(q) {
		if skip[k] {
			continue
		}
		for _, v := range q[k] {
			out = append(out, kv{k, v})
		}
	}
	return out
}

func sortedKeysOf(q url.Values) []string {
	ks := make([]string, 0, len(q))
	for k := range q {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

func intParam(s string, def, lo, hi int) int {
	n, err := strconv.Atoi(s)
	if err != nil {
		return def
	}
	return min(max(n, lo), hi)
}
