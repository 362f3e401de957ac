package gitsync

import (
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

func TestMergeManifestModel(t *testing.T) {
	base := &manifest.RegisteredModel{Header: manifest.Header{APIVersion: manifest.APIVersion, Kind: manifest.KindRegisteredModel},
		Name: "churn", CreationTimestamp: 1, LastUpdatedTimestamp: 1, LatestVersion: 2,
		Aliases: map[string]int64{"champion": 1}, Description: "base"}
	remote := *base
	remote.Aliases = map[string]int64{"champion": 1, "canary": 2}
	remote.LatestVersion = 3
	remote.Description = "remote"
	remote.LastUpdatedTimestamp = 5
	local := *base
	local.Aliases = map[string]int64{"champion": 4}
	local.LatestVersion = 4
	local.Description = "local"
	local.LastUpdatedTimestamp = 4
	out, err := mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), local.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, err := manifest.DecodeRegisteredModel(out)
	if err != nil {
		t.Fatal(err)
	}
	if m.Aliases["champion"] != 4 || m.Aliases["canary"] != 2 || m.LatestVersion != 4 || m.Description != "local" {
		t.Fatalf("merged: %+v", m)
	}
	if string(out) != string(m.Encode()) {
		t.Fatal("merge result is not canonical")
	}
	// A field changed on one side only keeps that side's value.
	local2 := *base
	local2.Tags = map[string]string{"team": "ml"}
	out, err = mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), local2.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, _ = manifest.DecodeRegisteredModel(out)
	if m.Description != "remote" || m.Tags["team"] != "ml" || m.LatestVersion != 3 {
		t.Fatalf("merged: %+v", m)
	}
	// Both added: the remote's fields win, local keys are added.
	out, err = mergeManifest("models/churn/model.yaml", nil, remote.Encode(), local.Encode())
	if err != nil {
		t.Fatal(err)
	}
	m, _ = manifest.DecodeRegisteredModel(out)
	if m.Description != "remote" || m.Aliases["champion"] != 1 || m.Aliases["canary"] != 2 || m.LatestVersion != 4 {
		t.Fatalf("both added: %+v", m)
	}
	// A result that does not validate is refused.
	if _, err := mergeManifest("models/churn/model.yaml", base.Encode(), remote.Encode(), []byte("apiVersion: mlgit/v1\nkind: RegisteredModel\nname: churn\nbogus: 1\n")); err == nil {
		t.Fatal("an unknown field merged")
	}
}

func TestRenumberMessage(t *testing.T) {
	rn := renumbering{"churn": {2: 5}}
	msg := "churn v2 -> Production\n\nMlgit-Op: model-promote\nMlgit-Model: churn\nMlgit-Version: 2\nMlgit-Stage: Production\n"
	want := "churn v5 -> Production\n\nMlgit-Op: model-promote\nMlgit-Model: churn\nMlgit-Version: 5\nMlgit-Stage: Production\n"
	if got := renumberMessage(msg, rn); got != want {
		t.Fatalf("got %q", got)
	}
	other := strings.ReplaceAll(msg, "Model: churn", "Model: fraud")
	if got := renumberMessage(other, rn); got != other {
		t.Fatalf("another model's message changed: %q", got)
	}
}
