package main

import (
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
)

// startSSHD starts the system's sshd on a free loopback port, accepting a
// throwaway key for the current user, and points git at it
// (GIT_SSH_COMMAND). It returns the ssh:// URL prefix of the server.
func startSSHD(t *testing.T) string {
	t.Helper()
	sshd, err := exec.LookPath("sshd")
	if err != nil {
		if _, err := os.Stat("/usr/sbin/sshd"); err != nil {
			t.Skip("sshd not found: install the Debian package openssh-server (.ci/run does) to test the SSH transport")
		}
		sshd = "/usr/sbin/sshd"
	}
	if _, err := exec.LookPath("ssh-keygen"); err != nil {
		t.Skip("ssh-keygen not found: install the Debian package openssh-client")
	}
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	for _, k := range []string{"host", "user"} {
		if out, err := exec.Command("ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", filepath.Join(dir, k)).CombinedOutput(); err != nil {
			t.Fatalf("ssh-keygen: %v %s", err, out)
		}
	}
	pub, err := os.ReadFile(filepath.Join(dir, "user.pub"))
	if err != nil {
		t.Fatal(err)
	}
	auth := filepath.Join(dir, "authorized_keys")
	if err := os.WriteFile(auth, pub, 0o600); err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	cfg := filepath.Join(dir, "sshd_config")
	conf := fmt.Sprintf(`Port %d
ListenAddress 127.0.0.1
HostKey %s
AuthorizedKeysFile %s
PidFile %s
StrictModes no
UsePAM no
PasswordAuthentication no
KbdInteractiveAuthentication no
PubkeyAuthentication yes
PermitRootLogin prohibit-password
AcceptEnv GIT_PROTOCOL
`, port, filepath.Join(dir, "host"), auth, filepath.Join(dir, "sshd.pid"))
	if err := os.WriteFile(cfg, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	os.MkdirAll("/run/sshd", 0o755) // privilege separation folder, when root
	cmd := exec.Command(sshd, "-D", "-e", "-f", cfg)
	var logb strings.Builder
	cmd.Stderr = &logb
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("sshd log:\n%s", logb.String())
		}
	})
	waitListening(t, fmt.Sprintf("127.0.0.1:%d", port))
	t.Setenv("GIT_SSH_COMMAND", fmt.Sprintf("ssh -i %s -p %d -o BatchMode=yes -o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null -o LogLevel=ERROR",
		filepath.Join(dir, "user"), port))
	return fmt.Sprintf("ssh://%s@127.0.0.1:%d", u.Username, port)
}

// TestSyncOverSSH: push, pull and resolve --remote through a real sshd,
// as a team with a bare repository on a server does.
func TestSyncOverSSH(t *testing.T) {
	gittest.Setenv(t)
	base := startSSHD(t)
	exe := mlgitExe(t)
	bare := filepath.Join(t.TempDir(), "team.git")
	gittest.Git(t, filepath.Dir(bare), "init", "-q", "--bare", bare)
	url := base + bare
	a := seedClone(t, exe, url)
	mustProc(t, exe, a, "run", "exec", "--name", "from-a", "--", "true")
	os.MkdirAll(filepath.Join(a, "m"), 0o755)
	os.WriteFile(filepath.Join(a, "m", "model.pkl"), []byte("weights"), 0o644)
	mustProc(t, exe, a, "model", "register", "churn", "--from", filepath.Join(a, "m"))
	mustProc(t, exe, a, "model", "promote", "churn", "1", "Production")
	if out := mustProc(t, exe, a, "push"); !strings.Contains(out, "pushed") {
		t.Fatalf("push: %s", out)
	}
	start := time.Now()
	out := mustProc(t, exe, a, "model", "resolve", "churn@production", "--remote", "origin")
	if !strings.Contains(out, "churn v1") {
		t.Fatalf("resolve --remote over ssh: %s", out)
	}
	t.Logf("resolve --remote over ssh: %v", time.Since(start))

	b := t.TempDir()
	gittest.Git(t, b, "init", "-q", "-b", "main")
	gittest.Git(t, b, "remote", "add", "origin", url)
	if out := mustProc(t, exe, b, "pull"); !strings.Contains(out, "created branch mlgit from origin/mlgit") {
		t.Fatalf("pull: %s", out)
	}
	mustProc(t, exe, b, "run", "exec", "--name", "from-b", "--", "true")
	mustProc(t, exe, b, "push")
	mustProc(t, exe, a, "pull")
	if got := remoteRuns(t, bare); strings.Join(got, ",") != "from-a,from-b" {
		t.Fatalf("remote runs %q", got)
	}
	if tags := gittest.Git(t, a, "ls-remote", "--tags", "origin", "churn*"); !strings.Contains(tags, "refs/tags/churn@v1") || !strings.Contains(tags, "refs/tags/churn#production#1") {
		t.Fatalf("tags over ssh: %s", tags)
	}
	gittest.Git(t, bare, "fsck", "--strict")
}
