// Package runindex is the run index: every run of one commit of the
// tracking branch as a compact search record, on disk and in memory.
//
// It owns:
//   - the cache file format (<git-dir>/mlgit/index/runs.idx, memory-mapped
//     by readers; see index.go), its Load and Save, and Refresh, which
//     brings an index to a new commit reading only the shards and runs
//     whose tree ids changed;
//   - Row, a run read in place from a record (query.Row without decoding
//     the run's YAML), and Attrs, the attribute names filters use;
//   - Cache, a process's index of the last commit it read, from memory or
//     the cache file, else refreshed and the file written in the
//     background;
//   - the in-memory index of a live store (Snap, MemRow, Build): rows
//     parsed once into Go values per shard, with process-wide key ids,
//     top-k ordering (TopRows) and a cache of decoded manifests; Live
//     follows the live tip with it and keeps the rows of pending runs,
//     rebuilt only when a run changes.
//
// What a search means (experiments, view types, page tokens) and how
// pending journal records replace committed rows are package repo's: it
// passes the rows of pending runs in (Snap.Select, RowOfRun), or the runs
// of the live view (Live.PendingRows).
//
// It may import the Git layer (repo/internal/gitobj), repo/journal,
// manifest and query; never package repo.
package runindex
