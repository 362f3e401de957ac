package gitobj

import (
	"fmt"
	"strings"
	"sync"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// peelCache maps tag objects to what Peel found, up to maxPeeled entries
// (then it starts again).
type peelCache struct {
	mu sync.Mutex
	m  map[plumbing.Hash]peelResult
}

type peelResult struct {
	target plumbing.Hash
	tag    object.Tag
}

const maxPeeled = 1 << 17

// Peel returns the commit a ref value points at through annotated tags,
// and the decoded tag object when the value is one (a copy the caller may
// keep).
func (db *DB) Peel(h plumbing.Hash) (plumbing.Hash, *object.Tag, error) {
	c := &db.peeled
	c.mu.Lock()
	r, ok := c.m[h]
	c.mu.Unlock()
	if ok {
		t := r.tag
		return r.target, &t, nil
	}
	target, first, err := db.peel(h)
	if err != nil || first == nil {
		return target, first, err
	}
	c.mu.Lock()
	if c.m == nil || len(c.m) >= maxPeeled {
		c.m = make(map[plumbing.Hash]peelResult)
	}
	c.m[h] = peelResult{target: target, tag: *first}
	c.mu.Unlock()
	return target, first, nil
}

func (db *DB) peel(h plumbing.Hash) (plumbing.Hash, *object.Tag, error) {
	var first *object.Tag
	for depth := 0; depth < 8; depth++ {
		obj, err := db.EncodedObject(plumbing.AnyObject, h)
		if err != nil {
			return plumbing.ZeroHash, nil, err
		}
		if obj.Type() != plumbing.TagObject {
			return h, first, nil
		}
		var t object.Tag
		if err := t.Decode(obj); err != nil {
			return plumbing.ZeroHash, nil, fmt.Errorf("decode tag %s: %w", h, err)
		}
		if first == nil {
			first = &t
		}
		h = t.Target
	}
	return plumbing.ZeroHash, nil, fmt.Errorf("tag %s: too many levels of tags", h)
}

// WriteTag writes an annotated tag object.
func (db *DB) WriteTag(t *object.Tag) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	if err := t.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	data, err := ReadAll(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return db.WriteObject(plumbing.TagObject, data)
}

// WriteCommit writes a commit object.
func (db *DB) WriteCommit(c *object.Commit) (plumbing.Hash, error) {
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	data, err := ReadAll(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return db.WriteObject(plumbing.CommitObject, data)
}

// ParseMessage splits a commit message into its subject and the trailers
// of its last paragraph.
func ParseMessage(msg string) (string, map[string][]string) {
	msg = strings.TrimRight(msg, "\n")
	subject, _, _ := strings.Cut(msg, "\n")
	paras := strings.Split(msg, "\n\n")
	if len(paras) < 2 {
		return subject, nil
	}
	tr := map[string][]string{}
	for _, l := range strings.Split(paras[len(paras)-1], "\n") {
		k, v, ok := strings.Cut(l, ": ")
		if !ok || strings.ContainsAny(k, " \t") {
			return subject, nil
		}
		tr[k] = append(tr[k], v)
	}
	return subject, tr
}
