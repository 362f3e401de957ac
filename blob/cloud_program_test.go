package blob_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/blob"
)

// TestOpenStoreWithoutCloudProgram: gs:// and az:// stores need the
// program mlgit-blob-cloud; without it OpenStore says how to install it.
func TestOpenStoreWithoutCloudProgram(t *testing.T) {
	ctx := context.Background()
	t.Setenv("PATH", t.TempDir())
	t.Setenv(blob.CloudProgramEnv, "")
	t.Setenv("AZURE_STORAGE_CONNECTION_STRING", "")
	t.Setenv("AZURE_STORAGE_ACCOUNT", "")
	t.Setenv("AZURE_STORAGE_KEY", "")
	for u, loc := range map[string]string{
		"gs://bucket/p":                                   "gs://bucket/p",
		"az://container/p?account=acct1":                  "az://container/p?account=acct1",
		"wasbs://container@acct1.blob.core.windows.net/p": "az://container/p?account=acct1",
	} {
		st, err := blob.OpenStore(ctx, u)
		if st != nil || !errors.Is(err, blob.ErrUnavailable) {
			t.Fatalf("OpenStore(%q) = %v, %v; want ErrUnavailable", u, st, err)
		}
		for _, want := range []string{
			"open " + loc + ": ",
			"need the program mlgit-blob-cloud, which is not installed",
			`"go install github.com/mlgit/mlgit/cmd/mlgit-blob-cloud@latest"`,
			`"make install"`,
			"MLGIT_BLOB_CLOUD",
		} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("OpenStore(%q) = %q, want it to say %q", u, err, want)
			}
		}
	}

	// A URL or credentials that cannot work are a usage error, program or not.
	for _, u := range []string{"gs://Bad_Bucket/p", "az://container/p", "az://c/p"} {
		if _, err := blob.OpenStore(ctx, u); !errors.Is(err, blob.ErrInvalidURL) {
			t.Errorf("OpenStore(%q) = %v, want ErrInvalidURL", u, err)
		}
	}

	// An override that is not there names the variable.
	bad := filepath.Join(t.TempDir(), "no-such-program")
	t.Setenv(blob.CloudProgramEnv, bad)
	if _, err := blob.OpenStore(ctx, "gs://bucket/p"); !errors.Is(err, blob.ErrUnavailable) ||
		!strings.Contains(err.Error(), "MLGIT_BLOB_CLOUD="+bad+" is not an executable file") {
		t.Errorf("OpenStore with a bad %s = %v", blob.CloudProgramEnv, err)
	}

	// Another program in its place is refused.
	echo, err := filepath.Abs("/bin/echo")
	if err == nil {
		t.Setenv(blob.CloudProgramEnv, echo)
		if _, err := blob.OpenStore(ctx, "gs://bucket/p"); !errors.Is(err, blob.ErrUnavailable) ||
			!strings.Contains(err.Error(), `is not mlgit-blob-cloud (it printed "serve")`) {
			t.Errorf("OpenStore with echo for the program = %v", err)
		}
	}
}
