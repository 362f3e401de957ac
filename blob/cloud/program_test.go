package cloud_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/blob"
	"github.com/mlgit/mlgit/blob/blobtest"
	"github.com/mlgit/mlgit/blob/cloud"
	"github.com/mlgit/mlgit/blob/cloud/cloudtest"
	"github.com/mlgit/mlgit/internal/aztest"
	"github.com/mlgit/mlgit/internal/gcstest"
)

// The stores mlgit uses for gs:// and az:// URLs are served by the program
// mlgit-blob-cloud; these tests build it and run the conformance suite and
// the error cases through it, against the emulators.

// openProgram opens rawURL through blob.OpenStore, checks that the store is
// served by the program (not linked in), and closes it when the test ends.
func openProgram(t *testing.T, rawURL string) blob.Store {
	t.Helper()
	st, err := blob.OpenStore(context.Background(), rawURL)
	if err != nil {
		t.Fatal(err)
	}
	switch st.(type) {
	case *cloud.GCS, *cloud.Azure:
		t.Fatalf("OpenStore(%q) returned a %T, want the store served by %s", rawURL, st, blob.CloudProgram)
	}
	t.Cleanup(func() {
		if err := st.(io.Closer).Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return st
}

func TestProgramGCSConformance(t *testing.T) {
	cloudtest.Use(t)
	srv := gcstest.StartServer(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		prefix := fmt.Sprintf("p%d/repo", prefixSeq.Add(1))
		st := openProgram(t, srv.URL(prefix))
		if want := "gs://" + srv.Bucket + "/" + prefix; st.Location() != want {
			t.Fatalf("Location() = %q, want %q", st.Location(), want)
		}
		return st
	})
}

func TestProgramAzureConformance(t *testing.T) {
	cloudtest.Use(t)
	srv := aztest.Shared(t)
	srv.SetEnv(t)
	blobtest.Run(t, func(t *testing.T) blob.Store {
		prefix := fmt.Sprintf("p%d/repo", prefixSeq.Add(1))
		st := openProgram(t, srv.URL(prefix))
		if want := "az://" + srv.Container + "/" + prefix + "?account=" + srv.Account; st.Location() != want {
			t.Fatalf("Location() = %q, want %q", st.Location(), want)
		}
		return st
	})
}

// TestProgramErrorsAsLinked: every error a user can meet reads the same,
// and answers errors.Is the same, through the program as from the store
// linked in.
func TestProgramErrorsAsLinked(t *testing.T) {
	cloudtest.Use(t)
	ctx := context.Background()
	gcs := gcstest.StartServer(t)
	az := aztest.Shared(t)
	az.SetEnv(t)
	t.Setenv("STORAGE_EMULATOR_HOST", "")
	kinds := []error{blob.ErrNotFound, blob.ErrInvalidURL, blob.ErrUnavailable, blob.ErrAccessDenied, blob.ErrInvalidKey}
	same := func(what string, got, want error, kind error) {
		t.Helper()
		if got == nil || want == nil {
			t.Fatalf("%s: through the program %v, linked %v; want errors", what, got, want)
		}
		if got.Error() != want.Error() {
			t.Errorf("%s: through the program %q\nlinked %q", what, got, want)
		}
		if !errors.Is(got, kind) {
			t.Errorf("%s: %v does not wrap %v", what, got, kind)
		}
		for _, k := range kinds {
			if errors.Is(got, k) != errors.Is(want, k) {
				t.Errorf("%s: errors.Is(%v) is %v through the program, %v linked", what, k, errors.Is(got, k), errors.Is(want, k))
			}
		}
	}
	opens := []struct {
		name, url string
		kind      error
	}{
		{"no such bucket", "gs://no-such-bucket/p?endpoint=" + gcs.Endpoint, blob.ErrNotFound},
		{"GCS endpoint refuses", "gs://bucket/p?endpoint=http://127.0.0.1:1", blob.ErrUnavailable},
		{"no such container", "az://no-such-container/p", blob.ErrNotFound},
		{"bad GCS URL", "gs://Bad_Bucket/p", blob.ErrInvalidURL},
	}
	for _, o := range opens {
		_, want := cloud.OpenStore(ctx, o.url)
		st, got := blob.OpenStore(ctx, o.url)
		if st != nil {
			t.Fatalf("%s: OpenStore(%q) succeeded", o.name, o.url)
		}
		same(o.name, got, want, o.kind)
	}
	// Object errors.
	for _, u := range []string{gcs.URL("errs"), az.URL("errs")} {
		direct, err := cloud.OpenStore(ctx, u)
		if err != nil {
			t.Fatal(err)
		}
		st := openProgram(t, u)
		_, want := direct.Stat(ctx, "files/ab/missing")
		_, got := st.Stat(ctx, "files/ab/missing")
		same(u+": Stat of a missing key", got, want, blob.ErrNotFound)
		_, want = direct.Get(ctx, "files/ab/missing")
		_, got = st.Get(ctx, "files/ab/missing")
		same(u+": Get of a missing key", got, want, blob.ErrNotFound)
		want = direct.Put(ctx, "a/../b", strings.NewReader("x"), 1)
		got = st.Put(ctx, "a/../b", strings.NewReader("x"), 1)
		same(u+": Put of a bad key", got, want, blob.ErrInvalidKey)
		want = direct.Put(ctx, "short", strings.NewReader("xy"), 3)
		got = st.Put(ctx, "short", strings.NewReader("xy"), 3)
		same(u+": Put of a short reader", got, want, blob.ErrSizeMismatch)
	}
}

// cloudPrograms returns the pids of the mlgit-blob-cloud processes this
// process started.
func cloudPrograms(t *testing.T) []int {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Skipf("no /proc: %v", err)
	}
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "stat"))
		if err != nil {
			continue
		}
		// pid (comm) state ppid ...
		s := string(b)
		i := strings.LastIndexByte(s, ')')
		if i < 0 || !strings.Contains(s[:i], "("+blob.CloudProgram[:15]) {
			continue
		}
		f := strings.Fields(s[i+1:])
		if len(f) > 1 && f[1] == strconv.Itoa(os.Getpid()) {
			pids = append(pids, pid)
		}
	}
	return pids
}

func killPrograms(t *testing.T) {
	t.Helper()
	if err := killProgramsErr(t); err != nil {
		t.Fatal(err)
	}
}

// killProgramsErr is killPrograms for a goroutine other than the test's
// (t.Fatal must not be called there): it returns what went wrong.
func killProgramsErr(t *testing.T) error {
	pids := cloudPrograms(t)
	if len(pids) == 0 {
		return fmt.Errorf("no %s process to kill", blob.CloudProgram)
	}
	for _, pid := range pids {
		sockDirs = append(sockDirs, listenDirs(pid)...)
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
			return err
		}
	}
	return nil
}

// sockDirs are the socket folders of the programs killPrograms killed.
var sockDirs []string

// listenDirs returns the folders of the Unix sockets process pid listens
// on, from /proc/net/unix and the process's open files.
func listenDirs(pid int) []string {
	inodes := map[string]bool{}
	fds, _ := os.ReadDir(fmt.Sprintf("/proc/%d/fd", pid))
	for _, fd := range fds {
		l, err := os.Readlink(fmt.Sprintf("/proc/%d/fd/%s", pid, fd.Name()))
		if ino, ok := strings.CutPrefix(l, "socket:["); ok && err == nil {
			inodes[strings.TrimSuffix(ino, "]")] = true
		}
	}
	b, _ := os.ReadFile("/proc/net/unix")
	var dirs []string
	for line := range strings.SplitSeq(string(b), "\n") {
		f := strings.Fields(line)
		if len(f) == 8 && inodes[f[6]] && strings.Contains(f[7], "mlgit-blob-") {
			dirs = append(dirs, filepath.Dir(f[7]))
		}
	}
	return dirs
}

// slowReader delivers r, calling hook once after the first n bytes.
type slowReader struct {
	r    io.Reader
	n    int
	hook func() error // runs in the transport's goroutine
	err  error        // what hook returned
}

func (s *slowReader) Read(p []byte) (int, error) {
	if s.n <= 0 && s.hook != nil {
		s.err = s.hook()
		s.hook = nil
		if s.err != nil {
			return 0, s.err
		}
	}
	if s.n > 0 && len(p) > s.n {
		p = p[:s.n]
	}
	m, err := s.r.Read(p)
	s.n -= m
	return m, err
}

// TestProgramKilledMidTransfer: when mlgit-blob-cloud dies during a read or
// a write, the store returns an error that says so (ErrUnavailable) within
// seconds and stores nothing; its next call runs in a new program.
func TestProgramKilledMidTransfer(t *testing.T) {
	cloudtest.Use(t)
	ctx := context.Background()
	srv := gcstest.StartServer(t)
	direct, err := cloud.OpenStore(ctx, srv.URL("killed"))
	if err != nil {
		t.Fatal(err)
	}
	data := blobtest.Data(3, 24<<20)
	if err := direct.Put(ctx, "big", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatal(err)
	}

	// A read.
	st, err := blob.OpenStore(ctx, srv.URL("killed"))
	if err != nil {
		t.Fatal(err)
	}
	rc, err := st.Get(ctx, "big")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(rc, make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	killPrograms(t)
	if len(sockDirs) == 0 {
		t.Fatal("found no socket folder of the killed program")
	}
	start := time.Now()
	n, err := io.Copy(io.Discard, rc)
	rc.Close()
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), blob.CloudProgram) {
		t.Fatalf("reading on after the program died: %d bytes, %v; want ErrUnavailable naming %s", n, err, blob.CloudProgram)
	}
	if d := time.Since(start); d > 10*time.Second {
		t.Fatalf("the read took %s to fail", d)
	}
	if !strings.Contains(err.Error(), "ended") {
		t.Errorf("the read's error %q does not say the program ended", err)
	}
	// The next call opens the store again in a new program.
	if n, err := st.Stat(ctx, "big"); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat after the program died = %d, %v; want %d from a new program", n, err, len(data))
	}

	// A write, killed after 4 MiB of 24 were sent.
	r := &slowReader{r: bytes.NewReader(data), n: 4 << 20, hook: func() error { return killProgramsErr(t) }}
	err = st.Put(ctx, "partial", r, int64(len(data)))
	if r.err != nil {
		t.Fatalf("killing the program mid-write: %v", r.err)
	}
	if !errors.Is(err, blob.ErrUnavailable) || !strings.Contains(err.Error(), blob.CloudProgram) {
		t.Fatalf("Put while the program died = %v, want ErrUnavailable naming %s", err, blob.CloudProgram)
	}
	if _, err := direct.Stat(ctx, "partial"); !errors.Is(err, blob.ErrNotFound) {
		t.Fatalf("Stat of the interrupted object = %v, want ErrNotFound", err)
	}
	// Again, and it completes.
	if err := st.Put(ctx, "partial", bytes.NewReader(data), int64(len(data))); err != nil {
		t.Fatalf("Put again after the program died: %v", err)
	}
	if n, err := direct.Stat(ctx, "partial"); err != nil || n != int64(len(data)) {
		t.Fatalf("Stat of the object put again = %d, %v", n, err)
	}
	if err := st.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if pids := cloudPrograms(t); len(pids) != 0 {
		t.Fatalf("%s processes %v still run after Close", blob.CloudProgram, pids)
	}
	// The killed programs' socket folders are gone too.
	for _, dir := range sockDirs {
		if _, err := os.Stat(dir); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("socket folder %s of a killed program: %v, want it removed", dir, err)
		}
	}
}

// TestProgramEndsOnClose: closing the last store ends the program.
func TestProgramEndsOnClose(t *testing.T) {
	cloudtest.Use(t)
	ctx := context.Background()
	srv := gcstest.StartServer(t)
	a, err := blob.OpenStore(ctx, srv.URL("a"))
	if err != nil {
		t.Fatal(err)
	}
	b, err := blob.OpenStore(ctx, srv.URL("b"))
	if err != nil {
		t.Fatal(err)
	}
	if pids := cloudPrograms(t); len(pids) != 1 {
		t.Fatalf("%d programs for two stores of one environment, want 1", len(pids))
	}
	if err := a.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if err := b.Put(ctx, "k", strings.NewReader("v"), 1); err != nil {
		t.Fatalf("Put on the store still open: %v", err)
	}
	if err := b.(io.Closer).Close(); err != nil {
		t.Fatal(err)
	}
	if pids := cloudPrograms(t); len(pids) != 0 {
		t.Fatalf("%s processes %v still run after the last Close", blob.CloudProgram, pids)
	}
}

// vmHWM returns the peak resident memory of process pid, from /proc.
func vmHWM(t *testing.T, pid int) int64 {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for line := range strings.SplitSeq(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(v), " kB"), 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return kb << 10
		}
	}
	t.Fatalf("no VmHWM in /proc/%d/status", pid)
	return 0
}

// TestProgramStreamsInFlatMemory puts one object far larger than any
// buffer through mlgit-blob-cloud and reads it back: neither this process's
// heap nor the program's resident memory grows with the object's size.
func TestProgramStreamsInFlatMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("streams hundreds of MiB")
	}
	cloudtest.Use(t)
	srv := gcstest.StartServer(t)
	st := openProgram(t, srv.URL("flat"))
	ctx := context.Background()
	size := int64(gcsStreamMiB()) << 20
	src := func() io.Reader { return io.LimitReader(rand.NewChaCha8([32]byte{9}), size) }
	upPeak := peakHeap(t, func() error { return st.Put(ctx, "one/big", src(), size) })
	downPeak := peakHeap(t, func() error {
		rc, err := st.Get(ctx, "one/big")
		if err != nil {
			return err
		}
		defer rc.Close()
		return equalStreams(rc, src())
	})
	pids := cloudPrograms(t)
	if len(pids) != 1 {
		t.Fatalf("%d programs, want 1", len(pids))
	}
	rss := vmHWM(t, pids[0])
	t.Logf("%d MiB object through %s: peak heap here %d MiB up, %d MiB down; program's peak RSS %d MiB",
		size>>20, blob.CloudProgram, upPeak>>20, downPeak>>20, rss>>20)
	if upPeak > 64<<20 || downPeak > 64<<20 {
		t.Errorf("peak heap %d MiB up, %d MiB down for a %d MiB object", upPeak>>20, downPeak>>20, size>>20)
	}
	if rss > 160<<20 || rss > size/2 {
		t.Errorf("%s's peak RSS is %d MiB for a %d MiB object", blob.CloudProgram, rss>>20, size>>20)
	}
}
