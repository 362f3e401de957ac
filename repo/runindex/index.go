package runindex

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"runtime"
	"runtime/debug"
	"slices"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/query"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// The run index is every run of one commit of the tracking branch, cached
// in <git-dir>/mlgit/index/runs.idx and memory-mapped by readers. Each run
// has a compact search record (attributes, params, tags, latest metric
// values, dataset inputs) that filters and sorts read in place, plus its
// run.yaml blob id, read and decoded only for the runs a command prints. Refreshing
// the cache for a new tip reads only the shards whose tree id changed, and
// in them only the runs whose tree id changed: cost follows the change.
// The file is derived data: deleting it is always safe.
//
// Layout (all integers uvarint unless noted):
//
//	"MLGITIDX4\n" commit[20]
//	nkeys { len key }                  key table for params, tags, metrics
//	nshards { name[2] tree[20] nruns { tree[20] len record } }
//	record: id[32] strings{exp name status lifecycle user artifactUri}
//	        start end (zigzag varints)
//	        nparams {key val} ntags {key val} nmetrics {key float64(le)}
//	        ninputs {name digest context} yamlBlob[20]

const indexMagic = "MLGITIDX4\n"

// Index is the run index of one commit; once built it never changes.
type Index struct {
	commit plumbing.Hash
	keys   []string
	keyID  map[string]uint32
	shards map[string]*idxShard
	data   []byte // mapping to keep alive, if mapped
}

type idxShard struct {
	tree plumbing.Hash
	runs []idxRun
}

type idxRun struct {
	tree plumbing.Hash
	rec  []byte
}

func ustr(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}

type byteReader struct {
	b   []byte
	err bool
}

func (br *byteReader) uvarint() uint64 {
	v, n := binary.Uvarint(br.b)
	if n <= 0 {
		br.err = true
		br.b = nil
		return 0
	}
	br.b = br.b[n:]
	return v
}

func (br *byteReader) bytes(n int) []byte {
	if n < 0 || n > len(br.b) {
		br.err = true
		br.b = nil
		return nil
	}
	v := br.b[:n]
	br.b = br.b[n:]
	return v
}

func (br *byteReader) str() []byte { return br.bytes(int(br.uvarint())) }

// Load maps the cache file at path; nil when absent or unreadable.
func Load(path string) *Index {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil || fi.Size() < int64(len(indexMagic)+20) {
		return nil
	}
	data, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return nil
	}
	idx, ok := parseRunIndex(data)
	if !ok {
		syscall.Munmap(data)
		return nil
	}
	idx.data = data
	return idx
}

func parseRunIndex(data []byte) (*Index, bool) {
	if !bytes.HasPrefix(data, []byte(indexMagic)) {
		return nil, false
	}
	br := &byteReader{b: data[len(indexMagic):]}
	idx := &Index{keyID: map[string]uint32{}, shards: map[string]*idxShard{}}
	copy(idx.commit[:], br.bytes(20))
	nk := int(br.uvarint())
	if br.err || nk > len(br.b) {
		return nil, false
	}
	idx.keys = make([]string, nk)
	for i := range idx.keys {
		k := ustr(br.str())
		idx.keys[i] = k
		idx.keyID[k] = uint32(i)
	}
	ns := int(br.uvarint())
	for s := 0; s < ns && !br.err; s++ {
		sh := &idxShard{}
		name := string(br.bytes(2))
		copy(sh.tree[:], br.bytes(20))
		nr := int(br.uvarint())
		if br.err || nr > len(br.b) {
			return nil, false
		}
		sh.runs = make([]idxRun, nr)
		for i := range sh.runs {
			copy(sh.runs[i].tree[:], br.bytes(20))
			sh.runs[i].rec = br.str()
		}
		idx.shards[name] = sh
	}
	return idx, !br.err
}

// indexWriter encodes records with a key table that extends an old one,
// so records of unchanged runs can be copied byte for byte.
type indexWriter struct {
	mu    sync.Mutex
	keys  []string
	keyID map[string]uint32
}

func (w *indexWriter) key(k string) uint64 {
	w.mu.Lock()
	defer w.mu.Unlock()
	if id, ok := w.keyID[k]; ok {
		return uint64(id)
	}
	id := uint32(len(w.keys))
	w.keys = append(w.keys, k)
	w.keyID[k] = id
	return uint64(id)
}

func appendStr(b []byte, s string) []byte {
	b = binary.AppendUvarint(b, uint64(len(s)))
	return append(b, s...)
}

// recordBuf is one worker's scratch space for records: its own cache of
// key ids (the writer's table is shared under a lock) and a key slice.
type recordBuf struct {
	ids  map[string]uint64
	keys []string
}

func (w *indexWriter) cachedKey(rb *recordBuf, k string) uint64 {
	if rb == nil {
		return w.key(k)
	}
	if id, ok := rb.ids[k]; ok {
		return id
	}
	id := w.key(k)
	if rb.ids == nil {
		rb.ids = map[string]uint64{}
	}
	rb.ids[k] = id
	return id
}

// recordWith is record with a worker's scratch space (nil for none).
func (w *indexWriter) recordWith(doc *manifest.Run, yaml plumbing.Hash, rb *recordBuf) []byte {
	b := make([]byte, 0, 512)
	b = append(b, doc.ID...)
	for _, s := range [...]string{doc.ExperimentID, doc.Name, doc.Status, doc.LifecycleStage, doc.User, doc.ArtifactURI} {
		b = appendStr(b, s)
	}
	b = binary.AppendVarint(b, doc.StartTime)
	b = binary.AppendVarint(b, doc.EndTime)
	var scratch []string
	if rb != nil {
		scratch = rb.keys[:0]
	}
	for _, m := range [...]map[string]string{doc.Params, doc.Tags} {
		b = binary.AppendUvarint(b, uint64(len(m)))
		scratch = appendSortedKeys(scratch[:0], m)
		for _, k := range scratch {
			b = binary.AppendUvarint(b, w.cachedKey(rb, k))
			b = appendStr(b, m[k])
		}
	}
	b = binary.AppendUvarint(b, uint64(len(doc.Metrics)))
	scratch = appendSortedKeys(scratch[:0], doc.Metrics)
	for _, k := range scratch {
		b = binary.AppendUvarint(b, w.cachedKey(rb, k))
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(doc.Metrics[k].Value))
	}
	if rb != nil {
		rb.keys = scratch[:0]
	}
	b = binary.AppendUvarint(b, uint64(len(doc.Inputs)))
	for _, d := range doc.Inputs {
		b = appendStr(b, d.Name)
		b = appendStr(b, d.Digest)
		b = appendStr(b, d.Context)
	}
	return append(b, yaml[:]...)
}

// appendSortedKeys appends m's keys to ks, sorted.
func appendSortedKeys[V any](ks []string, m map[string]V) []string {
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func sortedMapKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}

// Save writes idx to the cache file at path through a temporary file and
// a rename.
func (idx *Index) Save(path string) error {
	var b bytes.Buffer
	b.WriteString(indexMagic)
	b.Write(idx.commit[:])
	var tmp []byte
	tmp = binary.AppendUvarint(tmp[:0], uint64(len(idx.keys)))
	b.Write(tmp)
	for _, k := range idx.keys {
		b.Write(appendStr(tmp[:0], k))
	}
	names := sortedMapKeys(idx.shards)
	b.Write(binary.AppendUvarint(tmp[:0], uint64(len(names))))
	for _, n := range names {
		sh := idx.shards[n]
		b.WriteString(n)
		b.Write(sh.tree[:])
		b.Write(binary.AppendUvarint(tmp[:0], uint64(len(sh.runs))))
		for _, ru := range sh.runs {
			b.Write(ru.tree[:])
			b.Write(binary.AppendUvarint(tmp[:0], uint64(len(ru.rec))))
			b.Write(ru.rec)
		}
	}
	return gitobj.WriteFileRename(path, b.Bytes())
}

// Refresh returns the index of commit tip, reading from db only the shards
// and runs whose trees differ from those of old (nil: a cold build).
func Refresh(db *gitobj.DB, old *Index, tip plumbing.Hash) (*Index, error) {
	w := &indexWriter{keyID: map[string]uint32{}}
	if old != nil {
		w.keys = append(w.keys, old.keys...)
		for k, v := range old.keyID {
			w.keyID[k] = v
		}
	}
	idx := &Index{commit: tip, shards: map[string]*idxShard{}}
	if !tip.IsZero() {
		c, err := db.ReadCommit(tip)
		if err != nil {
			return nil, err
		}
		runsEntry, ok, err := db.Lookup(nil, c.TreeHash, layout.Runs)
		if err != nil {
			return nil, err
		}
		if ok && runsEntry.Mode == filemode.Dir {
			shards, err := db.ReadTree(runsEntry.Hash)
			if err != nil {
				return nil, err
			}
			// Changed shards; only compact records are kept, never all
			// decoded manifests.
			type job struct {
				name string
				tree plumbing.Hash
				old  *idxShard
			}
			var jobs []*job
			for _, se := range shards {
				if se.Mode != filemode.Dir {
					continue
				}
				var os *idxShard
				if old != nil {
					os = old.shards[se.Name]
				}
				if os != nil && os.tree == se.Hash {
					idx.shards[se.Name] = os
					continue
				}
				jobs = append(jobs, &job{name: se.Name, tree: se.Hash, old: os})
			}
			// A cold build allocates a lot of short-lived YAML nodes;
			// collecting less often saves time at a bounded memory cost.
			if len(jobs) > 16 {
				defer debug.SetGCPercent(debug.SetGCPercent(gcPercentCold))
				// The pack and index are mmapped (~120 MB of page cache
				// at 100k runs counts as resident); keep the heap under a
				// soft limit so the whole stays within the memory budget.
				defer debug.SetMemoryLimit(debug.SetMemoryLimit(coldHeapLimit))
			}
			// Shard trees first; then the changed runs' trees and their
			// run.yaml blobs, each read in pack order (delta bases stay
			// cached) by workers with their own pack readers.
			type task struct {
				sh   *idxShard
				pos  int
				yaml plumbing.Hash
				key  int64
				err  error
			}
			var tasks []*task
			// The shard trees, read by the workers. (Each phase forks its
			// own readers and closes them after: readers kept for all
			// phases hold their tree and delta-base caches, which raised
			// the cold list's peak RSS from ~362 to ~405 MB.)
			n := indexWorkers()
			trees := make([][]object.TreeEntry, len(jobs))
			errs := make([]error, len(jobs))
			var wg sync.WaitGroup
			for i := 0; i < n; i++ {
				rw := db.Fork()
				wg.Add(1)
				go func() {
					defer wg.Done()
					defer rw.Close()
					for k := i; k < len(jobs); k += n {
						trees[k], errs[k] = rw.ReadTree(jobs[k].tree)
					}
				}()
			}
			wg.Wait()
			for k, j := range jobs {
				es, err := trees[k], errs[k]
				if err != nil {
					return nil, fmt.Errorf("runs/%s: %w", j.name, err)
				}
				oldByTree := map[plumbing.Hash][]byte{}
				if j.old != nil {
					for _, ru := range j.old.runs {
						oldByTree[ru.tree] = ru.rec
					}
				}
				sh := &idxShard{tree: j.tree}
				for _, e := range es {
					if e.Mode != filemode.Dir {
						continue
					}
					sh.runs = append(sh.runs, idxRun{tree: e.Hash, rec: oldByTree[e.Hash]})
					if sh.runs[len(sh.runs)-1].rec == nil {
						tasks = append(tasks, &task{sh: sh, pos: len(sh.runs) - 1})
					}
				}
				idx.shards[j.name] = sh
			}
			inPackOrder := func(key func(*task) plumbing.Hash) {
				for _, t := range tasks {
					t.key = db.PackOrder(key(t))
				}
				sort.Slice(tasks, func(a, b int) bool { return tasks[a].key < tasks[b].key })
			}
			bufs := make([]recordBuf, n)
			// Workers take runs of tasks in pack order (so that a delta
			// base read by one stays in its cache for the next) from a
			// shared counter, so that a worker slowed down (another
			// process on its core) does not leave the other idle at the
			// end.
			const chunk = 512
			parallel := func(fn func(rw *gitobj.DB, rb *recordBuf, t *task)) {
				var wg sync.WaitGroup
				var next atomic.Int64
				for i := 0; i < n; i++ {
					rw, rb := db.Fork(), &bufs[i]
					wg.Add(1)
					go func() {
						defer wg.Done()
						defer rw.Close()
						for {
							lo := int(next.Add(chunk)) - chunk
							if lo >= len(tasks) {
								return
							}
							for _, t := range tasks[lo:min(lo+chunk, len(tasks))] {
								fn(rw, rb, t)
							}
						}
					}()
				}
				wg.Wait()
			}
			inPackOrder(func(t *task) plumbing.Hash { return t.sh.runs[t.pos].tree })
			parallel(func(rw *gitobj.DB, _ *recordBuf, t *task) {
				raw, err := rw.ReadObjectOnce(plumbing.TreeObject, t.sh.runs[t.pos].tree)
				if err != nil {
					t.err = err
					return
				}
				t.yaml, t.err = treeEntryHash(raw, "run.yaml")
			})
			// A partial clone fetches the run.yaml blobs it lacks in one
			// request, not one per run.
			yamls := make([]plumbing.Hash, 0, len(tasks))
			for _, t := range tasks {
				if t.err == nil {
					yamls = append(yamls, t.yaml)
				}
			}
			if err := db.Prefetch(yamls); err != nil {
				return nil, err
			}
			inPackOrder(func(t *task) plumbing.Hash { return t.yaml })
			parallel(func(rw *gitobj.DB, rb *recordBuf, t *task) {
				if t.err != nil || t.yaml.IsZero() {
					return
				}
				data, err := rw.ReadObjectOnce(plumbing.BlobObject, t.yaml)
				if err != nil {
					t.err = err
					return
				}
				doc, err := manifest.DecodeRun(data)
				if err != nil {
					t.err = fmt.Errorf("run in %s: %w", t.sh.runs[t.pos].tree, err)
					return
				}
				t.sh.runs[t.pos].rec = w.recordWith(doc, t.yaml, rb)
			})
			for _, t := range tasks {
				if t.err != nil {
					return nil, t.err
				}
			}
			// Run folders without a run.yaml are not runs.
			for _, sh := range idx.shards {
				kept := sh.runs[:0]
				for _, ru := range sh.runs {
					if ru.rec != nil {
						kept = append(kept, ru)
					}
				}
				sh.runs = kept
			}
		}
	}
	idx.keys, idx.keyID = w.keys, w.keyID
	return idx, nil
}

// Row is a run read in place from an index record; it implements
// query.Row without decoding the run's YAML.
type Row struct {
	db  *gitobj.DB
	idx *Index
	rec []byte
	// offsets into rec, parsed once
	id, exp, name, status, lifecycle, user, uri []byte
	start, end                                  int64
	params, tags, metrics, inputs               []byte // section starts
	yaml                                        plumbing.Hash
}

func newRow(db *gitobj.DB, idx *Index, rec []byte) (*Row, error) {
	row := &Row{db: db, idx: idx, rec: rec}
	br := &byteReader{b: rec}
	row.id = br.bytes(32)
	row.exp, row.name, row.status, row.lifecycle, row.user, row.uri = br.str(), br.str(), br.str(), br.str(), br.str(), br.str()
	var n int
	row.start, n = binary.Varint(br.b)
	br.bytes(n)
	row.end, n = binary.Varint(br.b)
	br.bytes(n)
	row.params = br.b
	skipKV(br)
	row.tags = br.b
	skipKV(br)
	row.metrics = br.b
	nm := int(br.uvarint())
	for i := 0; i < nm && !br.err; i++ {
		br.uvarint()
		br.bytes(8)
	}
	row.inputs = br.b
	ni := int(br.uvarint())
	for i := 0; i < ni && !br.err; i++ {
		br.str()
		br.str()
		br.str()
	}
	copy(row.yaml[:], br.bytes(20))
	if br.err {
		return nil, errors.New("corrupt run index record")
	}
	return row, nil
}

func skipKV(br *byteReader) {
	n := int(br.uvarint())
	for i := 0; i < n && !br.err; i++ {
		br.uvarint()
		br.str()
	}
}

func (row *Row) findKV(sec []byte, key string) (string, bool) {
	id, ok := row.idx.keyID[key]
	if !ok {
		return "", false
	}
	br := &byteReader{b: sec}
	n := int(br.uvarint())
	for i := 0; i < n && !br.err; i++ {
		k := br.uvarint()
		v := br.str()
		if uint32(k) == id {
			return ustr(v), true
		}
	}
	return "", false
}

// Metric implements query.Row.
func (row *Row) Metric(key string) (float64, bool) {
	id, ok := row.idx.keyID[key]
	if !ok {
		return 0, false
	}
	br := &byteReader{b: row.metrics}
	n := int(br.uvarint())
	for i := 0; i < n && !br.err; i++ {
		k := br.uvarint()
		v := br.bytes(8)
		if uint32(k) == id && len(v) == 8 {
			return math.Float64frombits(binary.LittleEndian.Uint64(v)), true
		}
	}
	return 0, false
}

// Param implements query.Row.
func (row *Row) Param(key string) (string, bool) { return row.findKV(row.params, key) }

// Tag implements query.Row.
func (row *Row) Tag(key string) (string, bool) { return row.findKV(row.tags, key) }

// Attr implements query.Row.
func (row *Row) Attr(name string) (query.Value, bool) {
	a := Attrs{ustr(row.id), ustr(row.exp), ustr(row.name), ustr(row.status), ustr(row.lifecycle), ustr(row.user), ustr(row.uri), row.start, row.end}
	return a.Attr(name)
}

// Datasets implements query.Row.
func (row *Row) Datasets() []query.DatasetInput {
	br := &byteReader{b: row.inputs}
	n := int(br.uvarint())
	if n == 0 {
		return nil
	}
	out := make([]query.DatasetInput, 0, n)
	for i := 0; i < n && !br.err; i++ {
		out = append(out, query.DatasetInput{Name: ustr(br.str()), Digest: ustr(br.str()), Context: ustr(br.str())})
	}
	return out
}

// RunID returns the run's id.
func (row *Row) RunID() string { return ustr(row.id) }

// ExperimentID returns the run's experiment.
func (row *Row) ExperimentID() string { return ustr(row.exp) }

// LifecycleStage returns the run's lifecycle stage.
func (row *Row) LifecycleStage() string { return ustr(row.lifecycle) }

// Decode reads and decodes the run's run.yaml.
func (row *Row) Decode() (*manifest.Run, error) {
	data, err := row.db.ReadObject(plumbing.BlobObject, row.yaml)
	if err != nil {
		return nil, err
	}
	return manifest.DecodeRun(data)
}

// Row returns the row of run id, nil if the index has none.
func (idx *Index) Row(db *gitobj.DB, id string) *Row {
	if len(id) < 2 {
		return nil
	}
	sh := idx.shards[id[:2]]
	if sh == nil {
		return nil
	}
	for _, ru := range sh.runs {
		if len(ru.rec) >= 32 && ustr(ru.rec[:32]) == id {
			row, err := newRow(db, idx, ru.rec)
			if err != nil {
				return nil
			}
			return row
		}
	}
	return nil
}

// Commit returns the commit the index describes.
func (idx *Index) Commit() plumbing.Hash { return idx.commit }

// Len returns the number of runs in the index.
func (idx *Index) Len() int {
	n := 0
	for _, sh := range idx.shards {
		n += len(sh.runs)
	}
	return n
}

// Rows returns a row for every run of the index but those skip reports
// (by run id), in no particular order.
func (idx *Index) Rows(db *gitobj.DB, skip func(id string) bool) ([]*Row, error) {
	out := make([]*Row, 0, idx.Len())
	for _, sh := range idx.shards {
		for _, ru := range sh.runs {
			if len(ru.rec) >= 32 && skip(ustr(ru.rec[:32])) {
				continue
			}
			row, err := newRow(db, idx, ru.rec)
			if err != nil {
				return nil, err
			}
			out = append(out, row)
		}
	}
	return out, nil
}

// indexWorkers is how many goroutines read shards in a cold index build.
func indexWorkers() int {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_INDEX_WORKERS")); err == nil && n > 0 {
		return n
	}
	return runtime.NumCPU()
}

// gcPercentCold is the GC target during a cold index build: collecting
// less often saves time, at a memory cost kept under the 400 MB budget.
var gcPercentCold = func() int {
	if n, err := strconv.Atoi(os.Getenv("MLGIT_INDEX_GOGC")); err == nil && n > 0 {
		return n
	}
	return 150
}()

// coldHeapLimit is the soft heap limit during a cold index build.
const coldHeapLimit = 224 << 20

// treeEntryHash finds the object id of the entry called name in a raw tree
// object ("<mode> <name>\x00<20-byte id>" entries), without decoding the
// whole tree; zero when there is none.
func treeEntryHash(raw []byte, name string) (plumbing.Hash, error) {
	for len(raw) > 0 {
		sp := bytes.IndexByte(raw, ' ')
		nul := bytes.IndexByte(raw, 0)
		if sp < 0 || nul < sp || nul+21 > len(raw) {
			return plumbing.ZeroHash, fmt.Errorf("malformed tree object")
		}
		if string(raw[sp+1:nul]) == name {
			var h plumbing.Hash
			copy(h[:], raw[nul+1:nul+21])
			return h, nil
		}
		raw = raw[nul+21:]
	}
	return plumbing.ZeroHash, nil
}
