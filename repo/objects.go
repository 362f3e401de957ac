package repo

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

// encodedObject finds an object, fully read into memory. The object
// reader rescans the pack folder when an object is missing, since a
// concurrent git gc may have packed loose objects into a new pack; one
// more try after a short pause covers a gc caught between writing the
// pack and removing the loose files.
func (r *Repo) encodedObject(t plumbing.ObjectType, h plumbing.Hash) (plumbing.EncodedObject, error) {
	obj, err := r.objects.get(h)
	if err != nil {
		time.Sleep(5 * time.Millisecond)
		obj, err = r.objects.get(h)
	}
	if err != nil {
		return nil, fmt.Errorf("read %s %s: %w", t, h, err)
	}
	if t != plumbing.AnyObject && obj.Type() != t {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, obj.Type(), t)
	}
	return obj, nil
}

// readObject returns the raw content of an object.
func (r *Repo) readObject(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error) {
	obj, err := r.encodedObject(t, h)
	if err != nil {
		return nil, err
	}
	return readAll(obj)
}

// readObjectOnce is readObject for scans that read each object once (a
// cold index build): a packed object's bytes come straight from the
// decoder, neither copied into an object nor cached.
func (r *Repo) readObjectOnce(t plumbing.ObjectType, h plumbing.Hash) ([]byte, error) {
	typ, data, found, err := r.objects.packedRaw(h)
	if !found || err != nil {
		return r.readObject(t, h) // loose, moved by a gc, or an error to report as usual
	}
	if t != plumbing.AnyObject && typ != t {
		return nil, fmt.Errorf("object %s is a %s, not a %s", h, typ, t)
	}
	return data, nil
}

func readAll(obj plumbing.EncodedObject) ([]byte, error) {
	rd, err := obj.Reader()
	if err != nil {
		return nil, err
	}
	defer rd.Close()
	return io.ReadAll(rd)
}

// readTree decodes a tree object.
func (r *Repo) readTree(h plumbing.Hash) ([]object.TreeEntry, error) {
	if h.IsZero() {
		return nil, nil
	}
	obj, err := r.encodedObject(plumbing.TreeObject, h)
	if err != nil {
		return nil, err
	}
	var t object.Tree
	if err := t.Decode(obj); err != nil {
		return nil, fmt.Errorf("tree %s: %w", h, err)
	}
	return t.Entries, nil
}

// readCommit decodes a commit object.
func (r *Repo) readCommit(h plumbing.Hash) (*object.Commit, error) {
	obj, err := r.encodedObject(plumbing.CommitObject, h)
	if err != nil {
		return nil, r.shallowHint(err)
	}
	var c object.Commit
	if err := c.Decode(obj); err != nil {
		return nil, fmt.Errorf("commit %s: %w", h, err)
	}
	return &c, nil
}

// shallowHint explains a missing commit in a shallow clone, where history
// is cut off on purpose (a CI checkout of depth 1).
func (r *Repo) shallowHint(err error) error {
	if _, serr := os.Stat(filepath.Join(r.gitDir, "shallow")); serr != nil {
		return err
	}
	return fmt.Errorf("%w (this clone is shallow and mlgit needs the tracking branch's history: git fetch --unshallow; in CI, fetch-depth: 0 or GIT_DEPTH: 0)", err)
}

// zlibPool reuses compressors: a new one allocates about a megabyte.
var zlibPool = sync.Pool{New: func() any {
	w, _ := zlib.NewWriterLevel(nil, zlib.BestSpeed)
	return w
}}

// writeObject writes a loose object (zlib at BestSpeed: git gc
// recompresses everything into packs later) through a temporary file and a
// rename; an object that exists is not rewritten.
func (r *Repo) writeObject(t plumbing.ObjectType, data []byte) (plumbing.Hash, error) {
	h := plumbing.ComputeHash(t, data)
	hs := h.String()
	dir := filepath.Join(r.gitDir, "objects", hs[:2])
	path := filepath.Join(dir, hs[2:])
	if _, err := os.Stat(path); err == nil {
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
	os.Chmod(f.Name(), 0o444)
	if err := os.Rename(f.Name(), path); err != nil {
		os.Remove(f.Name())
		return h, err
	}
	return h, nil
}

func (r *Repo) writeTree(entries []object.TreeEntry) (plumbing.Hash, error) {
	sortEntries(entries)
	var buf bytes.Buffer
	for _, e := range entries {
		fmt.Fprintf(&buf, "%o %s", uint32(e.Mode), e.Name)
		buf.WriteByte(0)
		buf.Write(e.Hash[:])
	}
	return r.writeObject(plumbing.TreeObject, buf.Bytes())
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

// treeCache memoizes decoded trees by hash within one operation.
type treeCache map[plumbing.Hash][]object.TreeEntry

func (r *Repo) cachedTree(tc treeCache, h plumbing.Hash) ([]object.TreeEntry, error) {
	if es, ok := tc[h]; ok {
		return es, nil
	}
	es, err := r.readTree(h)
	if err != nil {
		return nil, err
	}
	if tc != nil {
		tc[h] = es
	}
	return es, nil
}

// lookup finds the entry at slash path p below tree root. ok is false when
// no such entry exists.
func (r *Repo) lookup(tc treeCache, root plumbing.Hash, p string) (e object.TreeEntry, ok bool, err error) {
	cur := root
	parts := strings.Split(p, "/")
	for i, name := range parts {
		es, err := r.cachedTree(tc, cur)
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

// readPath returns the content of the file at p in tree root.
func (r *Repo) readPath(tc treeCache, root plumbing.Hash, p string) ([]byte, bool, error) {
	e, ok, err := r.lookup(tc, root, p)
	if err != nil || !ok || e.Mode == filemode.Dir {
		return nil, false, err
	}
	b, err := r.readObject(plumbing.BlobObject, e.Hash)
	return b, err == nil, err
}

// listDir returns the entries of the directory at p in tree root (nil if
// there is none). p "" is the root.
func (r *Repo) listDir(tc treeCache, root plumbing.Hash, p string) ([]object.TreeEntry, error) {
	if p == "" {
		return r.cachedTree(tc, root)
	}
	e, ok, err := r.lookup(tc, root, p)
	if err != nil || !ok || e.Mode != filemode.Dir {
		return nil, err
	}
	return r.cachedTree(tc, e.Hash)
}

// change is one pending edit of a transaction: new content, or deletion of
// a file or a whole directory.
type change struct {
	data []byte
	del  bool
	hash plumbing.Hash // an existing blob to use instead of data
}

// buildTree applies changes (paths relative to this tree) to the tree base
// and writes the new trees bottom-up. Only trees on changed paths are read
// and written, so the cost grows with the change, not with the tree.
func (r *Repo) buildTree(tc treeCache, base plumbing.Hash, changes map[string]*change) (plumbing.Hash, bool, error) {
	es, err := r.cachedTree(tc, base)
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	entries := make(map[string]object.TreeEntry, len(es))
	for _, e := range es {
		entries[e.Name] = e
	}
	sub := map[string]map[string]*change{}
	for p, c := range changes {
		name, rest, nested := strings.Cut(p, "/")
		if !nested {
			if c.del {
				delete(entries, name)
				continue
			}
			h := c.hash
			if h.IsZero() {
				var err error
				if h, err = r.writeObject(plumbing.BlobObject, c.data); err != nil {
					return plumbing.ZeroHash, false, err
				}
			}
			entries[name] = object.TreeEntry{Name: name, Mode: filemode.Regular, Hash: h}
			continue
		}
		if sub[name] == nil {
			sub[name] = map[string]*change{}
		}
		sub[name][rest] = c
	}
	for name, cs := range sub {
		var childBase plumbing.Hash
		if e, ok := entries[name]; ok && e.Mode == filemode.Dir {
			childBase = e.Hash
		}
		h, empty, err := r.buildTree(tc, childBase, cs)
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
	h, err := r.writeTree(out)
	return h, false, err
}
