package gitobj

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/internal/gitexec"
)

// LsRefsLocal lists refs with the given prefixes from a repository on this
// machine by speaking Git's protocol v2 ls-refs to `git upload-pack`,
// which filters by ref-prefix on the serving side: the exchange carries
// only the asked-for refs, however many other tags the remote holds.
// (git ls-remote sends only "refs/tags/" as prefix and filters patterns on
// the client.) The output has git ls-remote's format, peeled tags as
// "<oid>\t<ref>^{}" lines.
func LsRefsLocal(ctx context.Context, path string, prefixes []string) ([]byte, error) {
	cmd := gitexec.Git{Env: []string{"GIT_PROTOCOL=version=2"}}.Command(ctx, "upload-pack", "--strict", path)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	defer cmd.Wait()
	defer stdin.Close()
	rd := bufio.NewReader(stdout)
	// Capability advertisement, up to a flush packet.
	caps, err := readPkts(rd)
	if err != nil {
		return nil, fmt.Errorf("upload-pack %s: %v: %s", path, err, strings.TrimSpace(stderr.String()))
	}
	if len(caps) == 0 || caps[0] != "version 2" || !hasCap(caps, "ls-refs") {
		return nil, ErrNoV2
	}
	var req bytes.Buffer
	writePkt(&req, "command=ls-refs\n")
	req.WriteString("0001")
	writePkt(&req, "peel\n")
	for _, p := range prefixes {
		writePkt(&req, "ref-prefix "+p+"\n")
	}
	req.WriteString("0000")
	if _, err := stdin.Write(req.Bytes()); err != nil {
		return nil, err
	}
	lines, err := readPkts(rd)
	if err != nil {
		return nil, fmt.Errorf("ls-refs %s: %v", path, err)
	}
	stdin.Write([]byte("0000"))
	var out bytes.Buffer
	for _, l := range lines {
		f := strings.Fields(l)
		if len(f) < 2 {
			continue
		}
		fmt.Fprintf(&out, "%s\t%s\n", f[0], f[1])
		for _, attr := range f[2:] {
			if p, ok := strings.CutPrefix(attr, "peeled:"); ok {
				fmt.Fprintf(&out, "%s\t%s^{}\n", p, f[1])
			}
		}
	}
	return out.Bytes(), nil
}

// ErrNoV2 is what LsRefsLocal returns when the remote cannot filter refs on
// its side; callers fall back to git ls-remote.
var ErrNoV2 = fmt.Errorf("remote does not speak protocol v2 ls-refs")

func hasCap(caps []string, c string) bool {
	for _, x := range caps {
		if x == c || strings.HasPrefix(x, c+"=") {
			return true
		}
	}
	return false
}

func writePkt(w *bytes.Buffer, s string) {
	fmt.Fprintf(w, "%04x%s", len(s)+4, s)
}

// readPkts reads pkt-lines up to a flush packet.
func readPkts(rd *bufio.Reader) ([]string, error) {
	var out []string
	var hdr [4]byte
	for {
		if _, err := io.ReadFull(rd, hdr[:]); err != nil {
			return nil, err
		}
		n, err := strconv.ParseUint(string(hdr[:]), 16, 16)
		if err != nil {
			return nil, fmt.Errorf("bad pkt-line header %q", hdr[:])
		}
		if n == 0 {
			return out, nil
		}
		if n <= 4 {
			continue // delim or response-end
		}
		buf := make([]byte, n-4)
		if _, err := io.ReadFull(rd, buf); err != nil {
			return nil, err
		}
		out = append(out, strings.TrimSuffix(string(buf), "\n"))
	}
}

// LocalRemotePath returns the filesystem path of remote when it is a local
// repository (a path, a file:// URL, or a configured remote with such a
// URL), else "".
func LocalRemotePath(ctx context.Context, dir, remote string) string {
	u := remote
	if !strings.ContainsAny(remote, "/:\\") {
		out, err := Git(ctx, dir, "config", "--get", "remote."+remote+".url")
		if err != nil {
			return ""
		}
		u = strings.TrimSpace(string(out))
	}
	if strings.HasPrefix(u, "file://") {
		pu, err := url.Parse(u)
		if err != nil {
			return ""
		}
		u = pu.Path
	} else if strings.Contains(u, "://") || (strings.Contains(u, ":") && !strings.HasPrefix(u, "/") && !strings.HasPrefix(u, ".")) {
		return "" // ssh, http(s), git: the system git's transports and credentials
	}
	if !filepath.IsAbs(u) {
		u = filepath.Join(dir, u)
	}
	if fi, err := os.Stat(u); err != nil || !fi.IsDir() {
		return ""
	}
	return u
}

// Git runs the system git in dir (internal/gitexec), returning stdout;
// when git fails, its stderr goes into the error after the exit status.
func Git(ctx context.Context, dir string, args ...string) ([]byte, error) {
	out, err := gitexec.In(dir).Run(ctx, nil, args...)
	if err != nil {
		var ge *gitexec.Error
		if !errors.As(err, &ge) {
			return nil, err
		}
		var ee *exec.ExitError
		if errors.As(ge.Err, &ee) {
			return nil, fmt.Errorf("%v: %s", ee, ge.Stderr)
		}
		return nil, ge.Err
	}
	return out, nil
}
