package repo

import (
	"bufio"
	"encoding/gob"
	"fmt"
	"os"
	"path/filepath"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/mlgit/mlgit/manifest"
)

// The run index is every run manifest of one commit, cached in
// <git-dir>/mlgit/index/runs.gob together with the tree ids it was read
// from. Refreshing it for a new tip reads only the shards whose tree id
// changed, and in them only the runs whose tree id changed, so the cost
// follows the change, not the number of runs. Deleting the file is always
// safe: the next reader rebuilds it from the branch.

const indexVersion = 1

type indexFile struct {
	Version int
	Commit  string
	// Shards maps the two-hex shard name to its tree and runs.
	Shards map[string]*indexShard
}

type indexShard struct {
	Tree plumbing.Hash
	Runs map[string]*indexRun
}

type indexRun struct {
	Tree plumbing.Hash
	Run  *manifest.Run
}

func (r *Repo) indexPath() string { return filepath.Join(r.stateDir, "index", "runs.gob") }

func (r *Repo) loadIndexCache() *indexFile {
	f, err := os.Open(r.indexPath())
	if err != nil {
		return nil
	}
	defer f.Close()
	var idx indexFile
	if err := gob.NewDecoder(bufio.NewReaderSize(f, 1<<20)).Decode(&idx); err != nil || idx.Version != indexVersion {
		return nil
	}
	return &idx
}

func (r *Repo) saveIndexCache(idx *indexFile) error {
	dir := filepath.Dir(r.indexPath())
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return err
	}
	w := bufio.NewWriterSize(f, 1<<20)
	if err := gob.NewEncoder(w).Encode(idx); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		os.Remove(f.Name())
		return err
	}
	f.Close()
	return os.Rename(f.Name(), r.indexPath())
}

// runIndex returns every committed run at commit tip, using and updating
// the cache.
func (r *Repo) runIndex(tip plumbing.Hash) (*indexFile, error) {
	cached := r.loadIndexCache()
	if cached != nil && cached.Commit == tip.String() {
		return cached, nil
	}
	idx := &indexFile{Version: indexVersion, Commit: tip.String(), Shards: map[string]*indexShard{}}
	if tip.IsZero() {
		return idx, nil
	}
	c, err := r.readCommit(tip)
	if err != nil {
		return nil, err
	}
	runsEntry, ok, err := r.lookup(nil, c.TreeHash, "runs")
	if err != nil {
		return nil, err
	}
	if ok && runsEntry.Mode == filemode.Dir {
		shards, err := r.readTree(runsEntry.Hash)
		if err != nil {
			return nil, err
		}
		for _, se := range shards {
			if se.Mode != filemode.Dir {
				continue
			}
			var old *indexShard
			if cached != nil {
				old = cached.Shards[se.Name]
			}
			if old != nil && old.Tree == se.Hash {
				idx.Shards[se.Name] = old
				continue
			}
			sh, err := r.readShard(se.Hash, old)
			if err != nil {
				return nil, fmt.Errorf("runs/%s: %w", se.Name, err)
			}
			idx.Shards[se.Name] = sh
		}
	}
	if err := r.saveIndexCache(idx); err != nil {
		// The cache is an optimization; a read-only .git must still work.
		_ = err
	}
	return idx, nil
}

func (r *Repo) readShard(tree plumbing.Hash, old *indexShard) (*indexShard, error) {
	es, err := r.readTree(tree)
	if err != nil {
		return nil, err
	}
	sh := &indexShard{Tree: tree, Runs: make(map[string]*indexRun, len(es))}
	for _, e := range es {
		if e.Mode != filemode.Dir {
			continue
		}
		if old != nil {
			if o, ok := old.Runs[e.Name]; ok && o.Tree == e.Hash {
				sh.Runs[e.Name] = o
				continue
			}
		}
		runTree, err := r.readTree(e.Hash)
		if err != nil {
			return nil, err
		}
		var yamlHash plumbing.Hash
		for _, x := range runTree {
			if x.Name == "run.yaml" {
				yamlHash = x.Hash
			}
		}
		if yamlHash.IsZero() {
			continue
		}
		data, err := r.readObject(plumbing.BlobObject, yamlHash)
		if err != nil {
			return nil, err
		}
		doc, err := manifest.DecodeRun(data)
		if err != nil {
			return nil, fmt.Errorf("run %s: %w", e.Name, err)
		}
		sh.Runs[e.Name] = &indexRun{Tree: e.Hash, Run: doc}
	}
	return sh, nil
}

// AllRuns returns every run as acknowledged (committed plus pending
// journal records), in no particular order.
func (r *Repo) AllRuns() ([]*manifest.Run, error) {
	tip, ops, err := r.snapshot("")
	if err != nil {
		return nil, err
	}
	idx, err := r.runIndex(tip)
	if err != nil {
		return nil, err
	}
	byID := map[string]*manifest.Run{}
	for _, o := range ops {
		doc, ok := byID[o.Run]
		if !ok {
			if ir := idx.lookup(o.Run); ir != nil {
				cp := *ir
				cp.Params = cloneMap(ir.Params)
				cp.Tags = cloneMap(ir.Tags)
				cp.Metrics = cloneMetrics(ir.Metrics)
				doc = &cp
			}
		}
		switch {
		case o.Op == opCreate:
			if doc == nil && o.Doc != nil {
				d := *o.Doc
				doc = &d
			}
		case doc == nil:
		case o.Op == opMetric:
			doc.Metrics = addPoint(doc.Metrics, o.Point)
		default:
			applyOp(doc, o)
		}
		if doc != nil {
			byID[o.Run] = doc
		}
	}
	out := make([]*manifest.Run, 0, len(byID)+64)
	for _, sh := range idx.Shards {
		for id, ir := range sh.Runs {
			if _, ok := byID[id]; !ok {
				out = append(out, ir.Run)
			}
		}
	}
	for _, d := range byID {
		out = append(out, d)
	}
	return out, nil
}

func (idx *indexFile) lookup(id string) *manifest.Run {
	if len(id) < 2 {
		return nil
	}
	if sh := idx.Shards[id[:2]]; sh != nil {
		if ir := sh.Runs[id]; ir != nil {
			return ir.Run
		}
	}
	return nil
}

func cloneMap(m map[string]string) map[string]string {
	if m == nil {
		return nil
	}
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func cloneMetrics(m map[string]manifest.MetricSummary) map[string]manifest.MetricSummary {
	if m == nil {
		return nil
	}
	out := make(map[string]manifest.MetricSummary, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}
