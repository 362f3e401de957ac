package registry

import (
	"errors"
	"fmt"
	"path"
	"sort"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/internal/layout"
)

// Restored is what RestoreModel brought back.
type Restored struct {
	Model *manifest.RegisteredModel `json:"model"`
	// Versions are the restored version numbers, ascending.
	Versions []int64 `json:"versions"`
	// DeletedIn is the commit that had deleted the model.
	DeletedIn string `json:"deleted_in"`
	// Commit is the commit that restored it.
	Commit string `json:"commit"`
	// Tags are the re-registration tags created (<key>@v<n>#<g>).
	Tags []string `json:"tags,omitempty"`
}

// RestoreModel brings back a model that DeleteModel deleted: in one commit
// its folder (model.yaml and every version manifest) as it was just before
// the deletion, and for each version that the deletion deregistered a
// registration tag of the next generation, <key>@v<n>#<g>, on the same
// commit as its first registration. Its stages and aliases, which the tags
// kept, apply again. A model of that name that exists, or one that was
// renamed rather than deleted, is refused.
func (s *Store) RestoreModel(name string) (*Restored, error) {
	if err := CheckModelName(name); err != nil {
		return nil, err
	}
	key := ModelKey(name)
	lock, err := s.lockModel(key)
	if err != nil {
		return nil, err
	}
	defer lock.Unlock()
	var res *Restored
	commit, err := s.update(func(tx *gitobj.Tx) error {
		res = &Restored{}
		if _, ok, err := tx.Read(layout.Model(key)); err != nil {
			return err
		} else if ok {
			return fmt.Errorf("%w: model %q exists; there is nothing to restore", gitobj.ErrExists, name)
		}
		last, deletedIn, err := s.lastWithModel(tx.Base(), key)
		if err != nil {
			return err
		}
		if last.IsZero() {
			return fmt.Errorf("%w: model %q was never on branch %s", ErrNotFound, name, s.Name)
		}
		del, err := s.Branch.DB.ReadCommit(deletedIn)
		if err != nil {
			return err
		}
		if _, tr := gitobj.ParseMessage(del.Message); first(tr["Mlgit-Renamed-From"]) == key {
			newName, _ := ModelName(first(tr["Mlgit-Model"]))
			return fmt.Errorf("%w: model %q was renamed to %q (commit %s), not deleted; rename it back with mlgit model rename %q %q",
				manifest.ErrInvalid, name, newName, short(deletedIn.String()), newName, name)
		}
		lc, err := s.Branch.DB.ReadCommit(last)
		if err != nil {
			return err
		}
		files, err := s.listFiles(tx.Trees(), lc.TreeHash, layout.ModelDir(key))
		if err != nil {
			return err
		}
		for p, h := range files {
			if p == layout.Model(key) {
				continue
			}
			tx.WriteBlob(p, h)
			if _, n, ok := layout.ParseVersion(p); ok {
				res.Versions = append(res.Versions, n)
			}
		}
		sort.Slice(res.Versions, func(i, j int) bool { return res.Versions[i] < res.Versions[j] })
		data, err := s.Branch.DB.ReadObject(plumbing.BlobObject, files[layout.Model(key)])
		if err != nil {
			return err
		}
		m, err := manifest.DecodeRegisteredModel(data)
		if err != nil {
			return fmt.Errorf("read %s at %s: %w", layout.Model(key), short(last.String()), err)
		}
		m.LastUpdatedTimestamp = s.Now().UnixMilli()
		if err := writeModelTx(tx, m); err != nil {
			return err
		}
		res.Model, res.DeletedIn = m, deletedIn.String()
		tx.SetMessage(fmt.Sprintf("model %s restored (%d versions; deleted in %s)", name, len(res.Versions), short(deletedIn.String())),
			"Mlgit-Op: model-restore", "Mlgit-Model: "+key)
		return nil
	})
	if err != nil {
		return nil, err
	}
	res.Commit = commit.String()
	st, err := s.modelTagState(key, NewStages())
	if err != nil {
		return res, err
	}
	var errs []string
	for _, n := range res.Versions {
		v := st.Versions[n]
		if v == nil || !v.Deleted {
			continue
		}
		t := v.RegistrationTag(key)
		m := &TagMessage{Model: name, Version: n, Kind: TagRegistration, Actor: s.actor(), Reason: "model restored", Commit: commit.String()}
		if _, err := s.createVersionTag(t, plumbing.NewHash(v.Commit), m); err != nil && !errors.Is(err, gitobj.ErrExists) {
			errs = append(errs, err.Error())
			continue
		}
		res.Tags = append(res.Tags, t.String())
	}
	if len(errs) > 0 {
		return res, fmt.Errorf("%w: %s was restored (commit %s) but: %s; run mlgit tags sync", ErrTagSync, name, short(commit.String()), strings.Join(errs, "; "))
	}
	return res, nil
}

// lastWithModel walks the branch's first parents back from tip to the
// newest commit whose tree has models/<key>/model.yaml, and returns it and
// its child on that walk (the commit that removed the model). Zero when
// no commit had it.
func (s *Store) lastWithModel(tip plumbing.Hash, key string) (last, child plumbing.Hash, err error) {
	tc := gitobj.TreeCache{}
	for h := tip; !h.IsZero(); {
		c, err := s.Branch.DB.ReadCommit(h)
		if err != nil {
			return plumbing.ZeroHash, plumbing.ZeroHash, err
		}
		if _, ok, err := s.Branch.DB.Lookup(tc, c.TreeHash, layout.Model(key)); err != nil {
			return plumbing.ZeroHash, plumbing.ZeroHash, err
		} else if ok {
			return h, child, nil
		}
		child = h
		if len(c.ParentHashes) == 0 {
			break
		}
		h = c.ParentHashes[0]
	}
	return plumbing.ZeroHash, plumbing.ZeroHash, nil
}

// listFiles lists the blobs below dir in tree root, by path.
func (s *Store) listFiles(tc gitobj.TreeCache, root plumbing.Hash, dir string) (map[string]plumbing.Hash, error) {
	out := map[string]plumbing.Hash{}
	var walk func(d string) error
	walk = func(d string) error {
		ents, err := s.Branch.DB.ListDir(tc, root, d)
		if err != nil {
			return err
		}
		for _, e := range ents {
			p := path.Join(d, e.Name)
			if e.Mode == filemode.Dir {
				if err := walk(p); err != nil {
					return err
				}
				continue
			}
			out[p] = e.Hash
		}
		return nil
	}
	return out, walk(dir)
}
