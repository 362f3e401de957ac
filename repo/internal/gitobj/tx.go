package gitobj

import (
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Tx is one atomic change of a branch: reads see the base commit plus the
// transaction's own writes; a commit writes them as one commit.
type Tx struct {
	db       *DB
	base     plumbing.Hash // commit (zero for the first commit)
	baseTree plumbing.Hash
	tc       TreeCache
	changes  map[string]*Change
	subject  string
	trailers []string
}

// Read returns the file at p, or ok false if there is none.
func (tx *Tx) Read(p string) (data []byte, ok bool, err error) {
	if c, found := tx.changes[p]; found {
		return c.Data, !c.Del, nil
	}
	if tx.DeletedAbove(p) {
		return nil, false, nil
	}
	return tx.db.ReadPath(tx.tc, tx.baseTree, p)
}

// DeletedAbove reports whether a pending change deletes a folder above p.
func (tx *Tx) DeletedAbove(p string) bool {
	for i := strings.LastIndexByte(p, '/'); i > 0; i = strings.LastIndexByte(p[:i], '/') {
		if c, ok := tx.changes[p[:i]]; ok && c.Del {
			return true
		}
	}
	return false
}

// Write sets the content of the file at p.
func (tx *Tx) Write(p string, data []byte) {
	tx.changes[p] = &Change{Data: data}
}

// WriteBlob sets the file at p to an existing blob.
func (tx *Tx) WriteBlob(p string, h plumbing.Hash) {
	tx.changes[p] = &Change{Hash: h}
}

// Delete removes the file or directory at p.
func (tx *Tx) Delete(p string) {
	for k := range tx.changes {
		if strings.HasPrefix(k, p+"/") {
			delete(tx.changes, k)
		}
	}
	tx.changes[p] = &Change{Del: true}
}

// List returns the names in directory p of the base tree plus pending
// writes directly below it (directories as "name/").
func (tx *Tx) List(p string) ([]string, error) {
	var names []string
	seen := map[string]bool{}
	if !tx.DeletedAbove(p+"/x") && !(tx.changes[p] != nil && tx.changes[p].Del) {
		es, err := tx.db.ListDir(tx.tc, tx.baseTree, p)
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
		if c.Del && !nested {
			delete(seen, name)
			delete(seen, name+"/")
			continue
		}
		if !c.Del {
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

// Pending returns the pending change of the file at p, if any.
func (tx *Tx) Pending(p string) (*Change, bool) {
	c, ok := tx.changes[p]
	return c, ok
}

// Base returns the commit the transaction started from (zero for none).
func (tx *Tx) Base() plumbing.Hash { return tx.base }

// BaseTree returns the tree of the base commit.
func (tx *Tx) BaseTree() plumbing.Hash { return tx.baseTree }

// Trees returns the transaction's tree cache, for reads of the base tree
// that go around Read (Lookup, ListDir).
func (tx *Tx) Trees() TreeCache { return tx.tc }

// ShareTrees makes the transaction use tc as its tree cache, so that a run
// of transactions on related trees decodes each tree once.
func (tx *Tx) ShareTrees(tc TreeCache) { tx.tc = tc }

// Subject returns the commit subject set by SetMessage.
func (tx *Tx) Subject() string { return tx.subject }

// NewTx starts a transaction on commit base (zero: an empty tree, for the
// first commit).
func (db *DB) NewTx(base plumbing.Hash) (*Tx, error) {
	tx := db.TxOnTree(base, plumbing.ZeroHash)
	if !base.IsZero() {
		c, err := db.ReadCommit(base)
		if err != nil {
			return nil, err
		}
		tx.baseTree = c.TreeHash
	}
	return tx, nil
}

// TxOnTree starts a transaction on a known tree of commit base (which may
// be zero for a read-only view of tree).
func (db *DB) TxOnTree(base, tree plumbing.Hash) *Tx {
	return &Tx{db: db, base: base, baseTree: tree, tc: TreeCache{}, changes: map[string]*Change{}}
}

// Commit writes the transaction's tree and a commit of it on the base,
// signed by sig as author and committer, with the subject and trailers of
// SetMessage.
func (tx *Tx) Commit(sig object.Signature) (plumbing.Hash, error) {
	msg := tx.subject + "\n"
	if len(tx.trailers) > 0 {
		msg += "\n" + strings.Join(tx.trailers, "\n") + "\n"
	}
	return tx.CommitAs(sig, sig, msg)
}

// CommitAs writes the transaction's tree and a commit of it on the base
// with the given signatures and message.
func (tx *Tx) CommitAs(author, committer object.Signature, msg string) (plumbing.Hash, error) {
	tree, empty, err := tx.db.BuildTree(tx.tc, tx.baseTree, tx.changes)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	if empty {
		if tree, err = tx.db.WriteTree(nil); err != nil {
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
	data, err := ReadAll(obj)
	if err != nil {
		return plumbing.ZeroHash, err
	}
	return tx.db.WriteObject(plumbing.CommitObject, data)
}

// Branch is a ref that transactions move: Update commits on its tip and
// moves it by compare-and-swap, as the given identity at the given time.
type Branch struct {
	DB   *DB
	Refs Refs
	Ref  string // full ref name
	// Sign returns who commits, and when.
	Sign func() object.Signature
}

// MaxCASRetries bounds how often a transaction is re-applied to a moved tip.
const MaxCASRetries = 100

// Tip returns the commit the branch points at (zero if none).
func (b Branch) Tip() (plumbing.Hash, error) { return b.Refs.Read(b.Ref) }

// Update runs fn in a transaction on the tip of the branch and commits its
// changes as one commit, compare-and-swap on the ref. When another writer
// moved the branch in between, fn runs again on the new tip, so fn must
// derive everything from what it reads. fn returning an error aborts
// without writing. A transaction without changes commits nothing.
// beforeRef, when set, runs after the commit object is written and before
// the ref moves. It returns the new commit (zero if nothing was committed).
func (b Branch) Update(fn func(tx *Tx) error, beforeRef func(commit, parent plumbing.Hash) error) (plumbing.Hash, error) {
	for attempt := 0; attempt < MaxCASRetries; attempt++ {
		base, err := b.Tip()
		if err != nil {
			return plumbing.ZeroHash, err
		}
		tx, err := b.DB.NewTx(base)
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if err := fn(tx); err != nil {
			return plumbing.ZeroHash, err
		}
		if !tx.Changed() {
			return plumbing.ZeroHash, nil
		}
		commit, err := tx.Commit(b.Sign())
		if err != nil {
			return plumbing.ZeroHash, err
		}
		if beforeRef != nil {
			if err := beforeRef(commit, base); err != nil {
				return plumbing.ZeroHash, err
			}
		}
		sig := b.Sign()
		who := fmt.Sprintf("%s <%s> %d %s", sig.Name, sig.Email, sig.When.Unix(), sig.When.Format("-0700"))
		err = b.Refs.CAS(b.Ref, base, commit, who, "mlgit: "+tx.subject)
		if errors.Is(err, ErrCASMismatch) {
			time.Sleep(time.Duration(attempt) * time.Millisecond)
			continue
		}
		if err != nil {
			return plumbing.ZeroHash, err
		}
		return commit, nil
	}
	return plumbing.ZeroHash, fmt.Errorf("%w: branch %s kept moving; try again", ErrConflict, strings.TrimPrefix(b.Ref, "refs/heads/"))
}

// View runs fn on a read-only snapshot of the tip.
func (b Branch) View(fn func(tx *Tx) error) error {
	base, err := b.Tip()
	if err != nil {
		return err
	}
	tx, err := b.DB.NewTx(base)
	if err != nil {
		return err
	}
	return fn(tx)
}

// Trailers returns the commit trailers set so far.
func (tx *Tx) Trailers() []string { return tx.trailers }
