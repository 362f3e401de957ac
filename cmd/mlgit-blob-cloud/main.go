// Command mlgit-blob-cloud serves mlgit's gs:// and az:// blob stores
// (Google Cloud Storage, Azure Blob Storage) to mlgit. mlgit starts it on
// first use of such a store ("mlgit-blob-cloud serve"), talks to it over a
// Unix socket, and ends it when done; it is not meant to be run by hand.
// It links the cloud providers' client libraries, which mlgit itself does
// not, so that mlgit starts fast.
//
// Install it next to mlgit (make install does both), or anywhere in PATH:
//
//	go install github.com/mlgit/mlgit/cmd/mlgit-blob-cloud@latest
package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/cloud"
)

// version is set at build time (-ldflags "-X main.version=...").
var version = "dev"

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	if len(args) == 1 && args[0] == "--version" {
		fmt.Fprintf(stdout, "%s version %s\n", blob.CloudProgram, version)
		return 0
	}
	if len(args) != 1 || args[0] != "serve" {
		fmt.Fprintf(stderr, "usage: %s serve\n\n"+
			"%s serves mlgit's gs:// and az:// blob stores to mlgit, which starts it\n"+
			"when it needs one; there is no need to run it by hand.\n", blob.CloudProgram, blob.CloudProgram)
		return 2
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM)
	defer stop()
	if err := blob.ServeCloudStores(ctx, stdin, stdout, cloud.OpenStore); err != nil {
		fmt.Fprintf(stderr, "%s: %v\n", blob.CloudProgram, err)
		return 1
	}
	return 0
}
