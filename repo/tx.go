package repo

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Tx is one atomic change of the tracking branch: reads see the base commit
// plus the transaction's own writes; Commit writes one commit.
type Tx struct {
	r        *Repo
	base     plumbing.Hash // commit (zero for the first commit)
	baseTree plumbing.Hash
	tc       treeCache
	changes  map[string]*change
	subject  string
	trailers []string
}

// Read returns the file at p, or ok false if there is none.
func (tx *Tx) Read(p string) (data []byte, ok bool, err error) {
	if c, found := tx.changes[p]; found {
		return c.data, !c.del, nil
	}
	if tx.deletedAbove(p) {
		return nil, false, nil
	}
	return tx.r.readPath(tx.tc, tx.baseTree, p)
}

func (tx *Tx) deletedAbove(p string) bool {
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if c, ok := tx.changes[p[:i]]; ok && c.del {
			return true
		}
	}
	return false
}

// Write sets the content of the file at p.
func (tx *Tx) Write(p string, data []byte) {
	tx.changes[p] = &change{data: data}
}

// writeBlob sets the file at p to an existing blob.
func (tx *Tx) writeBlob(p string, h plumbing.Hash) {
	tx.changes[p] = &change{hash: h}
}

// Delete removes the file or directory at p.
func (tx *Tx) Delete(p string) {
	for k := range tx.changes {
		if strings.HasPrefix(k, p+"/") {
			delete(tx.changes, k)
		}
	}
	tx.changes[p] = &change{del: true}
}

// List returns the names in directory p of the base tree plus pending
// writes directly below it (directories as "name/").
func (tx *Tx) List(p string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	if !tx.deletedAbove(p+"/x") && !(tx.changes[p] != nil && tx.changes[p].del) {
		es, err := tx.r.listDir(tx.tc, tx.baseTree, p)
		if err != nil {
			return nil, err
		}
		for _, e := range es {
			n := e.Name
			if !e.Mode.IsFile() {
				n += "/"
			}
			seen[n] = true
		}
	}
	prefix := p + "/"
	if p == "" {
		prefix = ""
	}
	for k, c := range tx.changes {
		if !strings.HasPrefix(k, prefix) {
			continue
		}
		rest := k[len(prefix):]
		name, _, nested := strings.Cut(rest, "/")
		if nested {
			name += "/"
		}
		if c.del && !nested {
			delete(seen, name)
			delete(seen, name+"/")
			continue
		}
		if !c.del {
			seen[name] = true
		}
	}
	for n := range seen {
		names = append(names, n)
	}
	sort.Strings(names)
	return names, nil
}

// SetMessage sets the commit's one-line subject and machine-readable
// trailers ("Mlgit-Op: run-end").
func (tx *Tx) SetMessage(subject string, trailers ...string) {
	tx.subject = subject
	tx.trailers = trailers
}

// AddTrailer appends a trailer line.
func (tx *Tx) AddTrailer(t string) { tx.trailers = append(tx.trailers, t) }

// Changed reports whether the transaction has any pending change.
func (tx *Tx) Changed() bool { return len(tx.changes) > 0 }

// maxCASRetries bounds how often a transaction is re-applied to a moved tip.
const maxCASRetries = 100

// Update runs fn in a transaction on the tip of the tracking branch and
// commits its changes as one commit, compare-and-swap on the branch ref.
// When another writer moved the branch in between, fn runs again on the new
// tip, so fn must derive everything from what it reads. fn returning an
// error aborts without writing. A transaction without changes commits
// nothing. It returns the new commit (zero if nothing was committed).
func (r *Repo) Update(fn func(tx *Tx) error) (plumbing.Hash, error) {
	return r.update(fn, nil)
}

// update is Update with a hook that runs after the commit object is written
// and before the ref moves (the journal records its intent there).
func (r *Repo) update(fn func(tx *Tx) error, beforeRef func(commit, parent plumbing.Hash) error) (plumbing.Hash, error) {
	for attempt := 0; attempt < maxCASRetries; attempt++ {
		base, err := r.tip()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		tx, err := r.newTx(base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if err := fn(tx); err != nil {
			return plumbing.ZeroHash, err
		}
		if !tx.Changed() {
			return plumbing.ZeroHash, nil
		}
		commit, err := tx.writeCommit()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if beforeRef != nil {
			if err := beforeRef(commit, base); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		id := r.identity()
		who := fmt.Sprintf("%s <%s> %d %s", id.name, id.email, r.now().Unix(), r.now().Format("-0700"))
		err = r.refs.cas(r.BranchRef(), base, commit, who, "mlgit: "+tx.subject)
		if errors.Is(err, errCASMismatch) {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return commit, nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: branch %s kept moving; try again", ErrConflict, r.branch)
}

func (r *Repo) newTx(base plumbing.Hash) (*Tx, error) {
	tx := &Tx{r: r, base: base, tc: treeCache{}, changes: map[string]*change{}}
	if !base.IsZero() {
		c, err := r.readCommit(base)
		if err != nil {
			return nil, err
		}
		tx.baseTree = c.TreeHash
	}
	return tx, nil
}

func (tx *Tx) writeCommit() (plumbing.Hash, error) {
	id := tx.r.identity()
	sig := object.Signature{Name: id.name, Email: id.email, When: tx.r.now()}
	msg := tx.subject + "\n"
	if len(tx.trailers) > 0 {
		msg += "\n" + strings.Join(tx.trailers, "\n") + "\n"
	}
	return tx.writeCommitAs(sig, sig, msg)
}

// writeCommitAs writes the transaction's tree and a commit of it on the
// base with the given signatures and message.
func (tx *Tx) writeCommitAs(author, committer object.Signature, msg string) (plumbing.Hash, error) {
	tree, empty, err := tx.r.buildTree(tx.tc, tx.baseTree, tx.changes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if empty {
		if tree, err = tx.r.writeTree(nil); err != nil {
			return plumbing.ZeroHash, err
		}
	}
	c := &object.Commit{Author: author, Committer: committer, Message: msg, TreeHash: tree}
	if !tx.base.IsZero() {
		c.ParentHashes = []plumbing.Hash{tx.base}
	}
	obj := &plumbing.MemoryObject{}
	if err := c.Encode(obj); err != nil {
		return plumbing.ZeroHash, err
	}
	data, err := readAll(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return tx.r.writeObject(plumbing.CommitObject, data)
}

// View runs fn on a read-only snapshot of the tip.
func (r *Repo) View(fn func(tx *Tx) error) error {
	base, err := r.tip()
	if err != nil {
		return err
	}
	tx, err := r.newTx(base)
	if err != nil {
		return err
	}
	return fn(tx)
}
