package gitobj

import (
	"bytes"
	"compress/zlib"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// DB is the object database of one Git directory: loose objects and packs,
// read through a reader of its own (see objectReader) and written as loose
// objects. A DB is safe for concurrent use; Fork gives a goroutine that
// reads many objects in parallel with others a reader of its own.
type DB struct {
	gitDir string
	rd     *objectReader
	// peeled caches Peel's answers by tag object: objects never change,
	// and the registry peels every tag of a model on each write.
	peeled peelCache
	// unsynced notes the loose objects written and not yet durable (the
	// set of gitDir, shared by every DB of this process on it).
	unsynced *unsyncedSet
}

// Open returns the object database of gitDir.
func Open(gitDir string) *DB {
	return &DB{gitDir: gitDir, rd: newObjectReader(gitDir), unsynced: unsyncedOf(gitDir)}
}

// Fork returns a DB on the same Git directory with its own reader and
// caches. Close it when done.
func (db *DB) Fork() *DB { return Open(db.gitDir) }

// Close unmaps the packs. The DB stays usable: it maps them again on the
// next read.
func (db *DB) Close() { db.rd.close() }

// GitDir returns the Git directory.
func (db *DB) GitDir() string { return db.gitDir }

// PackOrder returns a sort key that follows the physical order of object
// h in the packs (pack number, offset), or -1 when it is loose or unknown.
// Reading many objects in this order keeps delta bases in the caches.
func (db *DB) PackOrder(h plumbing.Hash) int64 { return db.rd.packOrder(h) }

// EncodedObject finds an object, fully read into memory. The object
// reader rescans the pack folder when an object is missing, since a
// concurrent git gc may have packed loose objects into a new pack; one
// more try after a short pause covers a gc caught between writing the
// pack and removing the loose files.
func (db *DB) EncodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := db.rd.get(h)
	if err != nil {
		time.Sleep(5 * time.Millisecond)
		obj, err = db.rd.get(h)
	}
	if err != nil {
		// A partial clone fetches what it lacks from its promisor remote.
		if fetched, ferr := db.fetchMissing(h, err); ferr != nil {
			return nil, fmt.Errorf("read %s %s: %w", t, h, ferr)
		} else if fetched {
			obj, err = db.rd.get(h)
		}
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, h, err)
	}
	if t != plumbing.AnyObject && obj.Type() != t {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, obj.Type(), t)
	}
	return obj, nil
}

// ReadObject returns the raw content of an object.
func (db *DB) ReadObject(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error) {
	obj, err := db.EncodedObject(t, h)
	if err != nil {
		return nil, err
	}
	return ReadAll(obj)
}

// ReadObjectOnce is ReadObject for scans that read each object once (a
// cold index build): a packed object's bytes come straight from the
// decoder, neither copied into an object nor cached.
func (db *DB) ReadObjectOnce(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error) {
	typ, data, found, err := db.rd.packedRaw(h)
	if !found && err == nil {
		// A new object is loose: its content comes straight from the
		// inflater, not copied into an object and out again.
		typ, data, err = db.rd.looseRaw(h)
		found = err == nil
	}
	if !found || err != nil {
		return db.ReadObject(t, h) // moved by a gc, missing in a partial clone, or an error to report as usual
	}
	if t != plumbing.AnyObject && typ != t {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, typ, t)
	}
	return data, nil
}

// ReadAll returns the content of an object.
func ReadAll(obj plumbing.EncodedObject) ([]byte, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// ReadTree decodes a tree object.
func (db *DB) ReadTree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	obj, err := db.EncodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	var t object.Tree
	if err := t.Decode(obj); err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// ReadCommit decodes a commit object.
func (db *DB) ReadCommit(h plumbing.Hash) (*object.Commit, error) {
	obj, err := db.EncodedObject(plumbing.CommitObject, h)
	if err != nil {
		return nil, db.shallowHint(err)
	}
	var c object.Commit
	if err := c.Decode(obj); err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	return &c, nil
}

// shallowHint explains a missing commit in a shallow clone, where history
// is cut off on purpose (a CI checkout of depth 1).
func (db *DB) shallowHint(err error) error {
	if _, serr := os.Stat(filepath.Join(db.gitDir, "shallow")); serr != nil {
		return err
	}
	return fmt.Errorf("%w (this clone is shallow and mlgit needs the tracking branch's history: git fetch --unshallow; in CI, fetch-depth: 0 or GIT_DEPTH: 0)", err)
}

// zlibPool reuses compressors: a new one allocates about a megabyte.
var zlibPool = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	return w
}}

// WriteObject writes a loose object (zlib at BestSpeed: git gc
// recompresses everything into packs later) through a temporary file and a
// rename, without fsync; an object that exists is not rewritten. The next
// ref move makes it durable first (SyncObjects).
func (db *DB) WriteObject(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(t, data)
	hs := h.String()
	dir := filepath.Join(db.gitDir, "objects", hs[:2])
	path := filepath.Join(dir, hs[2:])
	// An empty file is what a power loss leaves of an object whose name
	// was durable before its content: it is written again.
	if fi, err := os.Stat(path); err == nil && fi.Size() > 0 {
		db.unsynced.note(path)
		return h, nil
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return h, err
	}
	f, err := os.CreateTemp(dir, "tmp_obj_")
	if err != nil {
		return h, err
	}
	zw := zlibPool.Get().(*zlib.Writer)
	zw.Reset(f)
	fmt.Fprintf(zw, "%s %d\x00", t, len(data))
	_, werr := zw.Write(data)
	cerr := zw.Close()
	zlibPool.Put(zw)
	ferr := f.Close()
	if werr != nil || cerr != nil || ferr != nil {
		os.Remove(f.Name())
		return h, fmt.Errorf("write object %s: %v", hs, errors.Join(werr, cerr, ferr))
	}
	_ = os.Chmod(f.Name(), 0o444) // read-only as git makes them; best effort
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return h, err
	}
	db.unsynced.note(path)
	return h, nil
}

// WriteTree writes a tree object of entries, sorted as Git sorts them.
func (db *DB) WriteTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	sortEntries(entries)
	var buf bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&buf, "%o %s", uint32(e.Mode), e.Name)
		buf.WriteByte(0)
		buf.Write(e.Hash[:])
	}
	return db.WriteObject(plumbing.TreeObject, buf.Bytes())
}

// sortEntries orders tree entries as Git does: by name, with directories
// compared as if their name ended in "/".
func sortEntries(es []object.TreeEntry) {
	key := func(e object.TreeEntry) string {
		if e.Mode == filemode.Dir {
			return e.Name + "/"
		}
		return e.Name
	}
	sort.Slice(es, func(i, j int) bool { return key(es[i]) < key(es[j]) })
}

// TreeCache memoizes decoded trees by hash within one operation.
type TreeCache map[plumbing.Hash][]object.TreeEntry

// CachedTree is ReadTree through tc (which may be nil).
func (db *DB) CachedTree(tc TreeCache, h plumbing.Hash) ([]object.TreeEntry, error) {
	if es, ok := tc[h]; ok {
		return es, nil
	}
	es, err := db.ReadTree(h)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tc[h] = es
	}
	return es, nil
}

// Lookup finds the entry at slash path p below tree root. ok is false when
// no such entry exists.
func (db *DB) Lookup(tc TreeCache, root plumbing.Hash, p string) (e object.TreeEntry, ok bool, err error) {
	cur := root
	parts := strings.Split(p, "/")
	for i, name := range parts {
		es, err := db.CachedTree(tc, cur)
		if err != nil {
			return e, false, err
		}
		found := false
		for _, x := range es {
			if x.Name == name {
				e, found = x, true
				break
			}
		}
		if !found {
			return e, false, nil
		}
		if i < len(parts)-1 {
			if e.Mode != filemode.Dir {
				return e, false, nil
			}
			cur = e.Hash
		}
	}
	return e, true, nil
}

// ReadPath returns the content of the file at p in tree root.
func (db *DB) ReadPath(tc TreeCache, root plumbing.Hash, p string) ([]byte, bool, error) {
	e, ok, err := db.Lookup(tc, root, p)
	if err != nil || !ok || e.Mode == filemode.Dir {
		return nil, false, err
	}
	b, err := db.ReadObject(plumbing.BlobObject, e.Hash)
	return b, err == nil, err
}

// ListDir returns the entries of the directory at p in tree root (nil if
// there is none). p "" is the root.
func (db *DB) ListDir(tc TreeCache, root plumbing.Hash, p string) ([]object.TreeEntry, error) {
	if p == "" {
		return db.CachedTree(tc, root)
	}
	e, ok, err := db.Lookup(tc, root, p)
	if err != nil || !ok || e.Mode != filemode.Dir {
		return nil, err
	}
	return db.CachedTree(tc, e.Hash)
}

// Change is one pending edit of a transaction: new content, or deletion of
// a file or a whole directory.
type Change struct {
	Data []byte
	Del  bool
	Hash plumbing.Hash // an existing blob to use instead of Data
}

// BuildTree applies changes (paths relative to this tree) to the tree base
// and writes the new trees bottom-up. Only trees on changed paths are read
// and written, so the cost grows with the change, not with the tree.
func (db *DB) BuildTree(tc TreeCache, base plumbing.Hash, changes map[string]*Change) (plumbing.Hash, bool, error) {
	es, err := db.CachedTree(tc, base)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	entries := make(map[string]object.TreeEntry, len(es))
	for _, e := range es {
		entries[e.Name] = e
	}
	sub := map[string]map[string]*Change{}
	for p, c := range changes {
		name, rest, nested := strings.Cut(p, "/")
		if !nested {
			if c.Del {
				delete(entries, name)
				continue
			}
			h := c.Hash
			if h.IsZero() {
				var err error
				if h, err = db.WriteObject(plumbing.BlobObject, c.Data); err != nil {
					return plumbing.ZeroHash, false, err
				}
			}
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
			continue
		}
		if sub[name] == nil {
			sub[name] = map[string]*Change{}
		}
		sub[name][rest] = c
	}
	for name, cs := range sub {
		var childBase plumbing.Hash
		if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
			childBase = e.Hash
		}
		h, empty, err := db.BuildTree(tc, childBase, cs)
		if err != nil {
			return plumbing.ZeroHash, false, err
		}
		if empty {
			delete(entries, name)
		} else {
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Dir, Hash: h}
		}
	}
	if len(entries) == 0 {
		return plumbing.ZeroHash, true, nil
	}
	out := make([]object.TreeEntry, 0, len(entries))
	for _, e := range entries {
		out = append(out, e)
	}
	h, err := db.WriteTree(out)
	return h, false, err
}
