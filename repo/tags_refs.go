package repo

import (
	"fmt"
	"strings"

	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// peel returns the commit a ref value points at through annotated tags,
// and the decoded tag object when the value is one.
func (r *Repo) peel(h plumbing.Hash) (plumbing.Hash, *object.Tag, error) {
	var first *object.Tag
	for depth := 0; depth < 8; depth++ {
		obj, err := r.objects.EncodedObject(plumbing.AnyObject, h)
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

// modelTagPrefixes are the ref prefixes of a model's tags.
func modelTagPrefixes(key string) []string {
	return []string{"refs/tags/" + key + "#", "refs/tags/" + key + "@"}
}

// modelTagRefs returns a model's tags, peeled. Packed entries with a
// peeled line need no object read; loose ones read their tag object.
// Refs whose object cannot be read are reported as warnings.
func (r *Repo) modelTagRefs(key string) ([]TagRef, []string, error) {
	vals, err := r.refs.ListWithPrefixes(modelTagPrefixes(key)...)
	if err != nil {
		return nil, nil, err
	}
	return r.peelRefs(vals)
}

func (r *Repo) peelRefs(vals []gitobj.RefValue) ([]TagRef, []string, error) {
	out := make([]TagRef, 0, len(vals))
	var warnings []string
	for _, v := range vals {
		c := v.Peeled
		if c.IsZero() {
			var err error
			if c, _, err = r.peel(v.Hash); err != nil {
				warnings = append(warnings, fmt.Sprintf("ignoring tag %s: %v", strings.TrimPrefix(v.Name, "refs/tags/"), err))
				continue
			}
		}
		out = append(out, TagRef{Name: strings.TrimPrefix(v.Name, "refs/tags/"), Object: v.Hash.String(), Commit: c.String()})
	}
	return out, warnings, nil
}

// modelTagState reads a model's tags and computes its state.
func (r *Repo) modelTagState(key string, stages Stages) (*TagState, error) {
	refs, warns, err := r.modelTagRefs(key)
	if err != nil {
		return nil, err
	}
	st := StateFromTags(key, refs, stages)
	st.Warnings = append(warns, st.Warnings...)
	return st, nil
}

// allTagRefs lists every tag (loose and packed), unpeeled: fsck and sync
// look at all models at once.
func (r *Repo) allTagRefs() ([]gitobj.RefValue, error) {
	return r.refs.ListWithPrefixes("refs/tags/")
}
