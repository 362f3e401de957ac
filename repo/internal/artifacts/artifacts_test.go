package artifacts

import (
	"testing"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/layout"
	"github.com/mlgit/mlgit/repo/journal"
)

func TestKind(t *testing.T) {
	const id = "0123456789abcdef0123456789abcdef"
	for p, want := range map[string]string{
		layout.Run(id):                  "run",
		layout.Version("churn", 3):      "version",
		layout.LoggedModel("m-" + id):   "logged-model",
		layout.Model("churn"):           "",
		layout.Segment(id, 1):           "",
		"models/churn/versions/03.yaml": "",
	} {
		if got := Kind(p); got != want {
			t.Errorf("Kind(%s) = %q, want %q", p, got, want)
		}
	}
}

func TestFromJournalAndDigests(t *testing.T) {
	a := manifest.Artifact{Path: "model.bin", Digest: "sha256:aa", Size: 3}
	refs := FromJournal([]journal.Op{{Op: journal.OpArtifacts, Run: "r1", Artifacts: []manifest.Artifact{a, a}}})
	if len(refs) != 2 || refs[0].Owner != "run r1" || refs[0].String() != "run r1 model.bin" {
		t.Fatalf("FromJournal = %+v", refs)
	}
	if ds := Digests(refs); len(ds) != 1 || ds[0] != a.Digest {
		t.Errorf("Digests = %v", ds)
	}
	if refs, err := FromManifest(layout.Model("churn"), []byte("kind: RegisteredModel\nartifacts: []\n")); err != nil || refs != nil {
		t.Errorf("FromManifest(model.yaml) = %v, %v", refs, err)
	}
}
