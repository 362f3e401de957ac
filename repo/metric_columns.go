package repo

import (
	"bytes"
	"errors"
	"fmt"
	"runtime"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/journal"
)

// MetricColumns is one metric's history as columns, in logging order:
// point i is (Steps[i], Timestamps[i], Values[i]). At 24 bytes a point it
// is the compact form for long histories (a MetricPoint slice takes 40).
type MetricColumns = manifest.MetricColumns

// MetricHistoryColumns returns the histories of the run's metrics that
// want accepts, as columns, with the same points in the same order as
// MetricHistory. The committed segments are inflated and parsed in
// parallel and appended in order into columns sized from the run's
// summary, so a history of millions of points is read at several cores'
// speed with one 24-byte slot a point (plus a few segments in flight).
func (r *Repo) MetricHistoryColumns(id string, want func(string) bool) (map[string]*MetricColumns, error) {
	st, err := r.historyState(id, want)
	if err != nil {
		return nil, err
	}
	out := map[string]*MetricColumns{}
	get := func(k string) *MetricColumns {
		c := out[k]
		if c == nil {
			c = &MetricColumns{}
			out[k] = c
		}
		return c
	}
	found := st.created
	if st.tx != nil {
		doc, err := readRunTx(st.tx, id)
		switch {
		case err == nil:
			found = true
			for k, m := range doc.Metrics {
				if want(k) && m.Count > 0 {
					n := int(m.Count)
					out[k] = &MetricColumns{Steps: make([]int64, 0, n), Timestamps: make([]int64, 0, n), Values: make([]float64, 0, n)}
				}
			}
			if err := r.readSegmentsParallel(st.tx, id, doc.MetricSegments, want, get); err != nil {
				return nil, err
			}
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	for _, o := range st.ops {
		if o.Op == journal.OpCreate {
			found = true
		}
		if o.Op == journal.OpMetric && want(o.Point.Key) {
			get(o.Point.Key).Add(o.Point)
		}
	}
	for _, p := range st.pending {
		get(p.Key).Add(p)
	}
	if !found {
		return nil, fmt.Errorf("%w: run %s does not exist", ErrNotFound, id)
	}
	return out, nil
}

// segmentPart is one parsed segment: its points per key, in order; or, for
// a segment kept in the blob store, the blob, which the merge decodes
// straight into the histories.
type segmentPart struct {
	keys []string
	cols map[string]*MetricColumns
	blob []byte
	err  error
}

// readSegmentsParallel parses segments 1..n of run id with one worker a
// core and hands their points to dst in segment order. At most a few
// segments (4 MiB of text each) are held at once.
func (r *Repo) readSegmentsParallel(tx *Tx, id string, n int, want func(string) bool, dst func(string) *MetricColumns) error {
	if n == 0 {
		return nil
	}
	srcs, err := r.segmentSources(tx, id, n)
	if err != nil {
		return err
	}
	workers := min(runtime.GOMAXPROCS(0), n)
	// Each segment's result has a slot of its own; the dispatcher runs
	// ahead of the merge by at most 2*workers segments (tickets).
	results := make([]chan segmentPart, n)
	for i := range results {
		results[i] = make(chan segmentPart, 1)
	}
	tickets := make(chan struct{}, 2*workers)
	next := make(chan int)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				if srcs[i].ptr != nil {
					data, err := r.readSegmentBlob(srcs[i].ptr)
					results[i] <- segmentPart{blob: data, err: err}
				} else {
					results[i] <- r.parseSegmentPart(srcs[i].tsv, want)
				}
			}
		}()
	}
	go func() {
		defer close(next)
		for i := 0; i < n; i++ {
			select {
			case tickets <- struct{}{}:
			case <-stop:
				return
			}
			select {
			case next <- i:
			case <-stop:
				return
			}
		}
	}()
	var firstErr error
	for i := 0; i < n; i++ {
		part := <-results[i]
		<-tickets
		if part.err != nil {
			firstErr = fmt.Errorf("run %s segment %d: %w", id, i+1, part.err)
			break
		}
		if part.blob != nil {
			err := manifest.ScanColumns(part.blob, func(k *manifest.ColumnKey) error {
				if !want(k.Key) {
					return nil
				}
				return k.Decode(dst(k.Key))
			})
			if err != nil {
				firstErr = fmt.Errorf("run %s segment %d: %w", id, i+1, err)
				break
			}
			continue
		}
		for _, k := range part.keys {
			src, c := part.cols[k], dst(k)
			c.Steps = append(c.Steps, src.Steps...)
			c.Timestamps = append(c.Timestamps, src.Timestamps...)
			c.Values = append(c.Values, src.Values...)
		}
	}
	// Results go to buffered slots, so no worker blocks: once the
	// dispatcher stops, every worker ends.
	close(stop)
	wg.Wait()
	return firstErr
}

// parseSegmentPart reads and parses one segment blob into columns per key.
func (r *Repo) parseSegmentPart(h plumbing.Hash, want func(string) bool) segmentPart {
	data, err := r.objects.ReadObjectOnce(plumbing.BlobObject, h)
	if err != nil {
		return segmentPart{err: err}
	}
	// A long segment (the text a run keeps in Git before its history
	// moves to the blob store is up to a few MiB) is parsed in pieces cut
	// at line ends, one a core, and the pieces' columns joined in order.
	pieces := splitLines(data, runtime.GOMAXPROCS(0), 1<<20)
	if len(pieces) == 1 {
		return parseSegmentText(data, want)
	}
	parts := make([]segmentPart, len(pieces))
	var wg sync.WaitGroup
	for i, piece := range pieces {
		wg.Add(1)
		go func() {
			defer wg.Done()
			parts[i] = parseSegmentText(piece, want)
		}()
	}
	wg.Wait()
	for _, p := range parts {
		if p.err != nil {
			// Parse it whole again for the error's line number.
			return parseSegmentText(data, want)
		}
	}
	out := parts[0]
	for _, p := range parts[1:] {
		for _, k := range p.keys {
			src, dst := p.cols[k], out.cols[k]
			if dst == nil {
				out.cols[k] = src
				out.keys = append(out.keys, k)
				continue
			}
			dst.Steps = append(dst.Steps, src.Steps...)
			dst.Timestamps = append(dst.Timestamps, src.Timestamps...)
			dst.Values = append(dst.Values, src.Values...)
		}
	}
	return out
}

// splitLines cuts data into at most n pieces of at least min bytes each,
// every piece but the last ending with a line feed.
func splitLines(data []byte, n, min int) [][]byte {
	var out [][]byte
	for ; n > 1; n-- {
		size := len(data) / n
		if size < min {
			break
		}
		i := bytes.IndexByte(data[size:], '\n')
		if i < 0 || size+i+1 >= len(data) {
			break
		}
		out = append(out, data[:size+i+1])
		data = data[size+i+1:]
	}
	return append(out, data)
}

// parseSegmentText parses segment text into columns per key.
func parseSegmentText(data []byte, want func(string) bool) segmentPart {
	counts := map[string]int{}
	manifest.SegmentKeyCounts(data, counts)
	part := segmentPart{cols: map[string]*MetricColumns{}}
	var cur *MetricColumns
	curKey, started := "", false
	err := manifest.ParseSegmentBytes(data, func(p manifest.MetricPoint) error {
		if !started || p.Key != curKey {
			started, curKey, cur = true, p.Key, nil
			if want(p.Key) {
				cur = part.cols[p.Key]
				if cur == nil {
					n := counts[p.Key]
					cur = &MetricColumns{Steps: make([]int64, 0, n), Timestamps: make([]int64, 0, n), Values: make([]float64, 0, n)}
					part.cols[p.Key] = cur
					part.keys = append(part.keys, p.Key)
				}
			}
		}
		if cur != nil {
			cur.Add(p)
		}
		return nil
	})
	if err != nil {
		return segmentPart{err: err}
	}
	return part
}
