package repo

import (
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// Tx is one atomic change of the tracking branch: reads see the base commit
// plus the transaction's own writes; Update commits them as one commit.
// The Git layer's transaction does the work; Tx adds the store it belongs
// to, whose caches the run readers use.
type Tx struct {
	*gitobj.Tx
	r *Repo
}

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
	return r.trackingBranch().Update(func(tx *gitobj.Tx) error { return fn(&Tx{Tx: tx, r: r}) }, beforeRef)
}

// View runs fn on a read-only snapshot of the tip.
func (r *Repo) View(fn func(tx *Tx) error) error {
	return r.trackingBranch().View(func(tx *gitobj.Tx) error { return fn(&Tx{Tx: tx, r: r}) })
}

// trackingBranch is the tracking branch as the Git layer moves it, signed
// with the store's identity and clock.
func (r *Repo) trackingBranch() gitobj.Branch {
	return gitobj.Branch{DB: r.objects, Refs: r.refs, Ref: r.BranchRef(), Sign: r.signature}
}

// signature is who signs commits, now.
func (r *Repo) signature() object.Signature {
	id := r.identity()
	return object.Signature{Name: id.name, Email: id.email, When: r.now()}
}

// newTx starts a transaction on commit base outside Update: a view, or a
// commit that moves another ref.
func (r *Repo) newTx(base plumbing.Hash) (*Tx, error) {
	tx, err := r.objects.NewTx(base)
	if err != nil {
		return nil, err
	}
	return &Tx{Tx: tx, r: r}, nil
}

// txOnTree starts a transaction on a known tree of commit base.
func (r *Repo) txOnTree(base, tree plumbing.Hash) *Tx {
	return &Tx{Tx: r.objects.TxOnTree(base, tree), r: r}
}
