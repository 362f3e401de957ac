package journal

import (
	"errors"
	"maps"
	"os"
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// File is one journal file's records grouped by run: what a checkpoint
// folds and what a live view keeps in memory. It never changes once made.
type File struct {
	Name  string
	Size  int64
	Nanos int64               // from the name: when it was written
	Runs  map[string]*RunRecs // records by run
	Order []string            // runs, by first record
	N     int                 // records
	Bad   string              // why the file could not be decoded (it has no records)
}

// RunRecs are the records of one run in one file.
type RunRecs struct {
	Ops    []Op // every record but metric points, in order
	Points []manifest.MetricPoint
	// Seg is Points encoded as segment lines, when this process wrote
	// them (NoSeg: it did not).
	Seg   []byte
	NoSeg bool
}

// NewFile returns the File name of size bytes holding ops.
func NewFile(name string, size int64, ops []Op) *File {
	f := &File{Name: name, Size: size, Runs: map[string]*RunRecs{}}
	if i := strings.IndexByte(name, '-'); i > 0 {
		f.Nanos, _ = strconv.ParseInt(name[:i], 10, 64)
	}
	f.add(ops)
	return f
}

// ParseFile decodes a journal file; a corrupt one has no records and says
// why in Bad (a checkpoint skips it).
func ParseFile(name string, data []byte) *File {
	ops, err := Decode(data)
	f := NewFile(name, int64(len(data)), ops)
	if err != nil {
		f.Bad = err.Error()
	}
	return f
}

// WrittenFile returns the records of a file a Writer wrote from reqs (as
// an Observer learns of it), with the segment lines of its points.
func WrittenFile(name string, size int64, reqs []*Request) *File {
	f := NewFile(name, size, nil)
	for _, q := range reqs {
		f.add(q.Ops)
		if len(q.Points) > 0 {
			fr := f.recs(q.Run)
			fr.Points = append(fr.Points, q.Points...)
			fr.Seg = append(fr.Seg, q.Seg...)
			f.N += len(q.Points)
		}
	}
	return f
}

// recs returns the records of run, added if new.
func (f *File) recs(run string) *RunRecs {
	fr := f.Runs[run]
	if fr == nil {
		fr = &RunRecs{}
		f.Runs[run] = fr
		f.Order = append(f.Order, run)
	}
	return fr
}

// add adds records in order.
func (f *File) add(ops []Op) {
	var last *RunRecs
	lastRun := ""
	for _, o := range ops {
		fr := last
		if fr == nil || o.Run != lastRun {
			fr = f.recs(o.Run)
			last, lastRun = fr, o.Run
		}
		if o.Op == OpMetric {
			fr.Points = append(fr.Points, o.Point)
			fr.NoSeg = true
		} else {
			fr.Ops = append(fr.Ops, o)
		}
		f.N++
	}
}

// ApplyTo applies one file's records of a run to doc (nil: the run does
// not exist yet) and returns the run: as a checkpoint folds them, records
// in order, then the file's metric points.
func (fr *RunRecs) ApplyTo(doc *manifest.Run) *manifest.Run {
	for _, o := range fr.Ops {
		if o.Op == OpCreate {
			if doc == nil && o.Doc != nil {
				doc = CloneRun(o.Doc)
			}
			continue
		}
		if doc != nil {
			Apply(doc, o)
		}
	}
	if doc != nil {
		doc.Metrics = AddPoints(doc.Metrics, fr.Points)
	}
	return doc
}

// List returns the names of the journal files in folder dir, sorted
// (write order); none when dir does not exist.
func List(dir string) ([]string, error) {
	all, err := ListDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	names := all[:0]
	for _, n := range all {
		if strings.HasSuffix(n, ".jnl") {
			names = append(names, n)
		}
	}
	sort.Strings(names)
	return names, nil
}

// CloneRun deep-copies a run so that callers may change it (records and
// cached manifests are shared).
func CloneRun(d *manifest.Run) *manifest.Run {
	c := *d
	c.Params = maps.Clone(d.Params)
	c.Tags = maps.Clone(d.Tags)
	if d.Metrics != nil {
		c.Metrics = make(map[string]manifest.MetricSummary, len(d.Metrics))
		for k, v := range d.Metrics {
			c.Metrics[k] = v
		}
	}
	if d.Source != nil {
		s := *d.Source
		s.Command = append([]string(nil), d.Source.Command...)
		c.Source = &s
	}
	c.Inputs = append([]manifest.Dataset(nil), d.Inputs...)
	c.Outputs = append([]manifest.ModelOutput(nil), d.Outputs...)
	c.Artifacts = append([]manifest.Artifact(nil), d.Artifacts...)
	return &c
}
