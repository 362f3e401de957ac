package main

import (
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// TestNoCloudClientsLinked: mlgit links neither Google's storage client nor
// the Azure SDK (they slow its start and double its size); gs:// and az://
// stores are served by the program mlgit-blob-cloud instead.
func TestNoCloudClientsLinked(t *testing.T) {
	if testing.Short() {
		t.Skip("runs go list")
	}
	for _, tags := range []string{"", "disable_grpc_modules"} {
		cmd := exec.Command("go", "list", "-deps", "-tags", tags, ".")
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("go %v: %v", cmd.Args[1:], err)
		}
		deps := strings.Fields(string(out))
		if len(deps) < 50 || !slices.Contains(deps, "github.com/mlgit/mlgit/blob") {
			t.Fatalf("go %v listed %d packages without mlgit's blob: %.200q", cmd.Args[1:], len(deps), out)
		}
		for _, d := range deps {
			if strings.HasPrefix(d, "cloud.google.com/") || strings.HasPrefix(d, "github.com/Azure/azure-sdk-for-go/") ||
				d == "github.com/mlgit/mlgit/blob/cloud" {
				t.Errorf("mlgit (go %v) links %s", cmd.Args[1:], d)
			}
		}
	}
}
