package registry

import (
	"fmt"
	"strings"

	"github.com/mlgit/mlgit/repo/internal/gitobj"
)

// modelTagPrefixes are the ref prefixes of a model's tags.
func modelTagPrefixes(key string) []string {
	return []string{"refs/tags/" + key + "#", "refs/tags/" + key + "@"}
}

// modelTagRefs returns a model's tags, peeled. Packed entries with a
// peeled line need no object read; loose ones read their tag object.
// Refs whose object cannot be read are reported as warnings.
func (s *Store) modelTagRefs(key string) ([]TagRef, []string, error) {
	vals, err := s.Branch.Refs.ListWithPrefixes(modelTagPrefixes(key)...)
	if err != nil {
		return nil, nil, err
	}
	return s.peelRefs(vals)
}

func (s *Store) peelRefs(vals []gitobj.RefValue) ([]TagRef, []string, error) {
	out := make([]TagRef, 0, len(vals))
	var warnings []string
	for _, v := range vals {
		c := v.Peeled
		if c.IsZero() {
			var err error
			if c, _, err = s.Branch.DB.Peel(v.Hash); err != nil {
				warnings = append(warnings, fmt.Sprintf("ignoring tag %s: %v", strings.TrimPrefix(v.Name, "refs/tags/"), err))
				continue
			}
		}
		out = append(out, TagRef{Name: strings.TrimPrefix(v.Name, "refs/tags/"), Object: v.Hash.String(), Commit: c.String()})
	}
	return out, warnings, nil
}

// modelTagState reads a model's tags and computes its state.
func (s *Store) modelTagState(key string, stages Stages) (*TagState, error) {
	refs, warns, err := s.modelTagRefs(key)
	if err != nil {
		return nil, err
	}
	st := StateFromTags(key, refs, stages)
	st.Warnings = append(warns, st.Warnings...)
	return st, nil
}

// allTagRefs lists every tag (loose and packed), unpeeled: fsck and sync
// look at all models at once.
func (s *Store) allTagRefs() ([]gitobj.RefValue, error) {
	return s.Branch.Refs.ListWithPrefixes("refs/tags/")
}
