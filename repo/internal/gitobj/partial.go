package gitobj

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/mlgit/mlgit/internal/gitexec"
)

// Partial clones (git clone --filter=blob:none, tree:0, blob:limit=N) lack
// objects that their promisor remote has. Reading one fetches it through
// git, with the user's transport and credentials; a caller that knows it
// will read many (the run index, a run's segments, a model's versions)
// asks for all of them in one request first (Prefetch, PrefetchDir). In a
// full clone nothing of this runs: an object that is missing there is an
// error, as before.
//
// Trees: a tree:0 clone has the commits and no tree. Every fetch here asks
// with --filter=blob:none, and the server sends a wanted tree with all the
// trees below it (the filter leaves out blobs only; wanted objects are
// always sent). So the first read of a commit's tree fetches that commit's
// whole tree structure in one request, and every later lookup in it,
// however deep, finds its trees at hand: reading paths never costs one
// request per tree.

// promisorOf caches each Git directory's promisor remote ("" for none).
var promisorOf sync.Map // gitDir -> *promisorInfo

type promisorInfo struct {
	once   sync.Once
	remote string
}

// Promisor returns the remote a partial clone fetches missing objects
// from, or "" when the repository is not a partial clone.
func (db *DB) Promisor() string {
	v, _ := promisorOf.LoadOrStore(db.gitDir, &promisorInfo{})
	pi := v.(*promisorInfo)
	pi.once.Do(func() {
		// Most repositories are not partial clones: their config says
		// nothing of promisors, and no git process is needed to know.
		cfg, err := os.ReadFile(filepath.Join(db.gitDir, "config"))
		if err == nil && !strings.Contains(strings.ToLower(string(cfg)), "promisor") && !strings.Contains(strings.ToLower(string(cfg)), "partialclone") {
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		g := gitexec.Git{GitDir: db.gitDir, Dir: db.gitDir}
		if out, err := g.Run(ctx, nil, "config", "--get", "extensions.partialClone"); err == nil {
			pi.remote = strings.TrimSpace(string(out))
			return
		}
		out, err := g.Run(ctx, nil, "config", "--get-regexp", `^remote\..*\.promisor$`)
		if err != nil {
			return
		}
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			k, v, _ := strings.Cut(line, " ")
			if v == "true" {
				pi.remote = strings.TrimSuffix(strings.TrimPrefix(k, "remote."), ".promisor")
				return
			}
		}
	})
	return pi.remote
}

// has reports whether object h is in this repository (packed or loose).
func (db *DB) has(h plumbing.Hash) bool {
	if _, _, _, ok := db.rd.locate(h); ok {
		return true
	}
	hs := h.String()
	_, err := os.Stat(filepath.Join(db.gitDir, "objects", hs[:2], hs[2:]))
	return err == nil
}

// Prefetch fetches, in one request to the promisor remote, the objects of
// hs that a partial clone lacks. Elsewhere it does nothing.
func (db *DB) Prefetch(hs []plumbing.Hash) error {
	remote := db.Promisor()
	if remote == "" {
		return nil
	}
	var missing []plumbing.Hash
	for _, h := range hs {
		if !h.IsZero() && !db.has(h) {
			missing = append(missing, h)
		}
	}
	if len(missing) == 0 {
		return nil
	}
	db.rd.mu.Lock()
	db.rd.scanned = false // a rescan finds the pack the fetch adds
	db.rd.mu.Unlock()
	return fetchObjects(db.gitDir, remote, missing)
}

// fetchObjects fetches objects by id from remote as git's own lazy fetch
// does: no negotiation, no tags, no refs written, into a promisor pack.
func fetchObjects(gitDir, remote string, hs []plumbing.Hash) error {
	var in strings.Builder
	for _, h := range hs {
		in.WriteString(h.String())
		in.WriteByte('\n')
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	g := gitexec.Git{GitDir: gitDir, Dir: gitDir}
	_, err := g.Run(ctx, []byte(in.String()), "-c", "fetch.negotiationAlgorithm=noop", "fetch", remote,
		"--no-tags", "--no-write-fetch-head", "--recurse-submodules=no", "--filter=blob:none", "--stdin")
	if err != nil {
		return fmt.Errorf("%w: fetch %d missing %s of this partial clone from %s: %v (check the remote and your credentials)",
			ErrRemote, len(hs), plural(len(hs), "object", "objects"), remote, err)
	}
	return nil
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// fetchMissing fetches one object a partial clone lacks; false when the
// repository is not a partial clone (the object is then really missing).
func (db *DB) fetchMissing(h plumbing.Hash, err error) (bool, error) {
	if !errors.Is(err, plumbing.ErrObjectNotFound) {
		return false, nil
	}
	remote := db.Promisor()
	if remote == "" {
		return false, nil
	}
	return true, fetchObjects(db.gitDir, remote, []plumbing.Hash{h})
}

// Partial reports whether the repository is a partial clone, so that a
// caller builds the list of paths to prefetch only there.
func (tx *Tx) Partial() bool { return tx.db.Promisor() != "" }

// PrefetchDir fetches, in one request, the blobs below folder dir of the
// transaction's base tree that a partial clone lacks, for a caller that
// reads every file of a folder (a model and its versions, all models).
// Elsewhere it does nothing.
func (tx *Tx) PrefetchDir(dir string) error {
	if tx.db.Promisor() == "" {
		return nil
	}
	root := tx.baseTree
	if dir != "" {
		e, ok, err := tx.db.Lookup(tx.tc, tx.baseTree, dir)
		if err != nil || !ok || e.Mode != filemode.Dir {
			return err
		}
		root = e.Hash
	}
	var hs []plumbing.Hash
	var walk func(h plumbing.Hash) error
	walk = func(h plumbing.Hash) error {
		es, err := tx.db.CachedTree(tx.tc, h)
		if err != nil {
			return err
		}
		for _, e := range es {
			switch {
			case e.Mode == filemode.Dir:
				if err := walk(e.Hash); err != nil {
					return err
				}
			case e.Mode.IsFile() && !tx.db.has(e.Hash):
				hs = append(hs, e.Hash)
			}
		}
		return nil
	}
	if err := walk(root); err != nil {
		return err
	}
	return tx.db.Prefetch(hs)
}

// Prefetch fetches, in one request, the blobs at paths of the
// transaction's tree that a partial clone lacks (paths changed in the
// transaction, and missing ones, are skipped). Elsewhere it does nothing.
func (tx *Tx) Prefetch(paths []string) error {
	if tx.db.Promisor() == "" {
		return nil
	}
	hs := make([]plumbing.Hash, 0, len(paths))
	for _, p := range paths {
		if _, pending := tx.changes[p]; pending {
			continue
		}
		e, ok, err := tx.db.Lookup(tx.tc, tx.baseTree, p)
		if err != nil {
			return err
		}
		if ok {
			hs = append(hs, e.Hash)
		}
	}
	return tx.db.Prefetch(hs)
}
