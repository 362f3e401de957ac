package aztest

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore/streaming"
)

func TestStartServesContainer(t *testing.T) {
	s := Shared(t)
	cc, err := s.Client()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if _, err := cc.GetProperties(ctx, nil); err != nil {
		t.Fatalf("container %s: %v", s.Container, err)
	}
	data := []byte("hello azurite")
	bb := cc.NewBlockBlobClient("a/b")
	if _, err := bb.Upload(ctx, streaming.NopCloser(bytes.NewReader(data)), nil); err != nil {
		t.Fatal(err)
	}
	resp, err := cc.NewBlobClient("a/b").DownloadStream(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || !bytes.Equal(got, data) {
		t.Fatalf("download = %q, %v; want %q", got, err, data)
	}
	if !strings.HasPrefix(s.Endpoint, "http://127.0.0.1:") || !strings.HasSuffix(s.Endpoint, "/"+Account) {
		t.Errorf("Endpoint = %q", s.Endpoint)
	}
	if cs := s.ConnectionString(); !strings.Contains(cs, "BlobEndpoint="+s.Endpoint+";") || !strings.Contains(cs, "AccountName="+Account) {
		t.Errorf("ConnectionString = %q", cs)
	}
	if got := s.URL("/p/q/"); got != "az://"+ContainerName+"/p/q" {
		t.Errorf("URL = %q", got)
	}
}

// TestStartedServersAreSeparate: a server of StartServer and the shared
// one have their own ports, folders and blobs.
func TestStartedServersAreSeparate(t *testing.T) {
	a := StartServer(t)
	b := Shared(t)
	if a.Endpoint == b.Endpoint || a.Dir == b.Dir {
		t.Fatalf("two servers share endpoint or folder: %+v %+v", a, b)
	}
	ctx := context.Background()
	ca, _ := a.Client()
	if _, err := ca.NewBlockBlobClient("only-in-a").Upload(ctx, streaming.NopCloser(strings.NewReader("x")), nil); err != nil {
		t.Fatal(err)
	}
	cb, _ := b.Client()
	if _, err := cb.NewBlobClient("only-in-a").GetProperties(ctx, nil); err == nil {
		t.Fatal("a blob of one server is visible in the other")
	}
}

func TestSetEnv(t *testing.T) {
	s := &Server{Endpoint: "http://127.0.0.1:1/devstoreaccount1", Account: Account, Key: Key, Container: ContainerName}
	t.Setenv("AZURE_STORAGE_ACCOUNT", "other")
	s.SetEnv(t)
	env := map[string]string{}
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		env[k] = v
	}
	if env["AZURE_STORAGE_CONNECTION_STRING"] != s.ConnectionString() || env["AZURE_STORAGE_ACCOUNT"] != "" {
		t.Fatalf("Env = %v", env)
	}
}

func TestMain(m *testing.M) { os.Exit(Main(m)) }

func TestSharedIsStartedOnce(t *testing.T) {
	a := Shared(t)
	b := Shared(t)
	if a != b {
		t.Fatalf("Shared started two servers: %s and %s", a.Endpoint, b.Endpoint)
	}
	cc, err := a.Client()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cc.GetProperties(context.Background(), nil); err != nil {
		t.Fatalf("shared server's container: %v", err)
	}
}

// TestCIInstallsThisVersion: .ci/run installs the Azurite version the
// tests look for, into the folder they look in.
func TestCIInstallsThisVersion(t *testing.T) {
	b, err := os.ReadFile(filepath.Join("..", "..", ".ci", "run"))
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), "\nAZURITE_VERSION="+Version+"\n") {
		t.Fatalf(".ci/run does not install azurite@%s", Version)
	}
	if !strings.Contains(string(b), `/mlgit/azurite-$AZURITE_VERSION"`) || !strings.HasSuffix(CacheDir(), filepath.Join("mlgit", "azurite-"+Version)) {
		t.Fatalf(".ci/run and CacheDir (%s) disagree on the folder", CacheDir())
	}
}
