package diff

import (
	"sort"

	"github.com/mlgit/mlgit/manifest"
)

// RunPair is a run at two revisions: Old is nil when the run was added,
// New is nil when it was removed.
type RunPair struct {
	Old, New *manifest.Run
}

// VersionPair is a model version at two revisions: Old is nil when the
// version was registered, New is nil when it was deleted.
type VersionPair struct {
	Old, New *manifest.ModelVersion
}

// ChangeSetInput is what the caller reads from two revisions of the
// tracking branch: the runs and versions whose manifests differ between
// them (unchanged documents may be left out, and are ignored).
type ChangeSetInput struct {
	// From and To are the revisions as given (e.g. origin/mlgit, mlgit);
	// FromCommit and ToCommit the commits they resolved to.
	From, To             string
	FromCommit, ToCommit string
	// MergeBase says FromCommit is the merge base of From and To (A...B).
	MergeBase bool
	Runs      []RunPair
	Versions  []VersionPair
}

// RunSummary is one run in a change set.
type RunSummary struct {
	ID     string `json:"run_id"`
	Name   string `json:"run_name,omitempty"`
	Status string `json:"status"`
	// OldStatus is set for a changed run whose status changed.
	OldStatus string `json:"old_status,omitempty"`
	// Params, Metrics, Tags and Artifacts count the changed entries of a
	// changed run.
	Params    int `json:"params,omitempty"`
	Metrics   int `json:"metrics,omitempty"`
	Tags      int `json:"tags,omitempty"`
	Artifacts int `json:"artifacts,omitempty"`
}

// VersionSummary is one model version in a change set.
type VersionSummary struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Stage   string `json:"stage"`
	RunID   string `json:"run_id,omitempty"`
}

// StageChange is a version whose stage changed.
type StageChange struct {
	Name    string `json:"name"`
	Version int64  `json:"version"`
	Old     string `json:"old"`
	New     string `json:"new"`
}

// ChangeSet summarizes what changed on the tracking branch between two
// revisions. Lists are sorted (runs by id, versions by name and number).
type ChangeSet struct {
	Kind            string           `json:"kind"` // always "changeset"
	From            string           `json:"from"`
	To              string           `json:"to"`
	FromCommit      string           `json:"from_commit,omitempty"`
	ToCommit        string           `json:"to_commit,omitempty"`
	MergeBase       bool             `json:"merge_base"`
	RunsAdded       []RunSummary     `json:"runs_added"`
	RunsChanged     []RunSummary     `json:"runs_changed"`
	RunsRemoved     []RunSummary     `json:"runs_removed"`
	VersionsAdded   []VersionSummary `json:"versions_added"`
	VersionsChanged []VersionSummary `json:"versions_changed"`
	VersionsRemoved []VersionSummary `json:"versions_removed"`
	StageChanges    []StageChange    `json:"stage_changes"`
}

// Empty reports whether nothing changed.
func (c *ChangeSet) Empty() bool {
	return len(c.RunsAdded)+len(c.RunsChanged)+len(c.RunsRemoved)+
		len(c.VersionsAdded)+len(c.VersionsChanged)+len(c.VersionsRemoved) == 0
}

// Changes builds the change-set summary of in.
func Changes(in ChangeSetInput) *ChangeSet {
	c := &ChangeSet{
		Kind: "changeset", From: in.From, To: in.To, FromCommit: in.FromCommit, ToCommit: in.ToCommit, MergeBase: in.MergeBase,
		RunsAdded: []RunSummary{}, RunsChanged: []RunSummary{}, RunsRemoved: []RunSummary{},
		VersionsAdded: []VersionSummary{}, VersionsChanged: []VersionSummary{}, VersionsRemoved: []VersionSummary{},
		StageChanges: []StageChange{},
	}
	for _, p := range in.Runs {
		switch {
		case p.Old == nil && p.New == nil:
		case p.Old == nil:
			c.RunsAdded = append(c.RunsAdded, runSummary(p.New))
		case p.New == nil:
			c.RunsRemoved = append(c.RunsRemoved, runSummary(p.Old))
		default:
			d := Runs(p.Old, p.New, "", "", Options{})
			if d.Empty() {
				continue
			}
			s := runSummary(p.New)
			if p.Old.Status != p.New.Status {
				s.OldStatus = p.Old.Status
			}
			s.Params, s.Metrics, s.Tags, s.Artifacts = len(d.Params), len(d.Metrics), len(d.Tags), len(d.Artifacts)
			c.RunsChanged = append(c.RunsChanged, s)
		}
	}
	for _, p := range in.Versions {
		switch {
		case p.Old == nil && p.New == nil:
		case p.Old == nil:
			c.VersionsAdded = append(c.VersionsAdded, versionSummary(p.New))
		case p.New == nil:
			c.VersionsRemoved = append(c.VersionsRemoved, versionSummary(p.Old))
		default:
			d := Versions(VersionInput{Version: p.Old}, VersionInput{Version: p.New}, Options{})
			if d.Empty() {
				continue
			}
			c.VersionsChanged = append(c.VersionsChanged, versionSummary(p.New))
			if p.Old.Stage != p.New.Stage {
				c.StageChanges = append(c.StageChanges, StageChange{Name: p.New.Name, Version: p.New.Version, Old: p.Old.Stage, New: p.New.Stage})
			}
		}
	}
	for _, l := range [][]RunSummary{c.RunsAdded, c.RunsChanged, c.RunsRemoved} {
		sort.Slice(l, func(i, j int) bool { return l[i].ID < l[j].ID })
	}
	for _, l := range [][]VersionSummary{c.VersionsAdded, c.VersionsChanged, c.VersionsRemoved} {
		sort.Slice(l, func(i, j int) bool {
			if l[i].Name != l[j].Name {
				return l[i].Name < l[j].Name
			}
			return l[i].Version < l[j].Version
		})
	}
	sort.Slice(c.StageChanges, func(i, j int) bool {
		a, b := c.StageChanges[i], c.StageChanges[j]
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Version < b.Version
	})
	return c
}

func runSummary(r *manifest.Run) RunSummary {
	return RunSummary{ID: r.ID, Name: r.Name, Status: r.Status}
}

func versionSummary(v *manifest.ModelVersion) VersionSummary {
	return VersionSummary{Name: v.Name, Version: v.Version, Stage: v.Stage, RunID: v.RunID}
}
