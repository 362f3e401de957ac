package query

// testRow is a Row over plain maps.
type testRow struct {
	id       string // for test messages
	metrics  map[string]float64
	params   map[string]string
	tags     map[string]string
	attrs    map[string]Value
	datasets []DatasetInput
}

var _ Row = (*testRow)(nil)

func (r *testRow) Metric(k string) (float64, bool) { v, ok := r.metrics[k]; return v, ok }
func (r *testRow) Param(k string) (string, bool)   { v, ok := r.params[k]; return v, ok }
func (r *testRow) Tag(k string) (string, bool)     { v, ok := r.tags[k]; return v, ok }
func (r *testRow) Attr(k string) (Value, bool)     { v, ok := r.attrs[k]; return v, ok }
func (r *testRow) Datasets() []DatasetInput        { return r.datasets }

func mustFilter(t interface {
	Helper()
	Fatalf(string, ...any)
}, kind Kind, s string) *Filter {
	t.Helper()
	f, err := ParseFilter(kind, s)
	if err != nil {
		t.Fatalf("ParseFilter(%v, %q): %v", kind, s, err)
	}
	return f
}
