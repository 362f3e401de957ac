package blob

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"time"
)

// Stores of gs:// and az:// URLs are served by CloudProgram, a separate
// program that links Google's and Azure's clients, so that mlgit itself
// starts fast and stays small. OpenStore starts the program on first use
// (one per environment in a process, shared by the stores opened with that
// environment) and returns a cloudStore that talks to it; see cloud_wire.go
// for the protocol.

// cloudReadyTimeout bounds the wait for the program's ready line.
const cloudReadyTimeout = 30 * time.Second

// cloudStore is a Store served by CloudProgram. If the program ends (it
// crashed, or was killed), the calls in flight fail with ErrUnavailable,
// and the next call opens the store again in a new program.
type cloudStore struct {
	rawURL   string
	location string
	once     sync.Once

	mu sync.Mutex
	p  *cloudProc // the program the store is open in
	id string     // its id there
}

var _ Store = (*cloudStore)(nil)

// openCloudStore opens rawURL in CloudProgram; loc names the store in
// messages until the program has opened it.
func openCloudStore(ctx context.Context, rawURL, loc string) (Store, error) {
	p, err := cloudProcFor(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", loc, err)
	}
	body, _ := json.Marshal(openRequest{URL: rawURL})
	var ans openAnswer
	if err := p.callJSON(ctx, "open", loc, http.MethodPost, "open", nil, body, &ans); err != nil {
		p.release()
		return nil, err
	}
	return &cloudStore{rawURL: rawURL, p: p, id: ans.Store, location: ans.Location}, nil
}

// conn returns the program serving the store and the query naming the
// store and key there, opening the store in a new program if its program
// has ended.
func (s *cloudStore) conn(ctx context.Context, op, what, key string) (*cloudProc, url.Values, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.p.exited() {
		p, err := cloudProcFor(ctx)
		if err != nil {
			return nil, nil, fmt.Errorf("%s %s: %w", op, what, err)
		}
		body, _ := json.Marshal(openRequest{URL: s.rawURL})
		var ans openAnswer
		if err := p.callJSON(ctx, op, what, http.MethodPost, "open", nil, body, &ans); err != nil {
			p.release()
			return nil, nil, err
		}
		s.p.release()
		s.p, s.id = p, ans.Store
	}
	q := url.Values{"store": {s.id}}
	if key != "" {
		q.Set("key", key)
	}
	return s.p, q, nil
}

// Location implements Store: the location the store reports in
// CloudProgram ("gs://bucket/prefix", "az://container/prefix?account=a").
func (s *cloudStore) Location() string { return s.location }

// Close releases the store; when it was the last one open on its
// CloudProgram, the program ends.
func (s *cloudStore) Close() error {
	var err error
	s.once.Do(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		s.mu.Lock()
		p, id := s.p, s.id
		s.mu.Unlock()
		err = p.callJSON(ctx, "close", s.location, http.MethodPost, "close", url.Values{"store": {id}}, nil, nil)
		if p.exited() {
			err = nil // nothing left to release
		}
		p.release()
	})
	return err
}

// Put implements Store. The body streams to the program with the
// announced size; the program sees a short body as a failed read, so a
// failed or short reader stores nothing.
func (s *cloudStore) Put(ctx context.Context, key string, r io.Reader, size int64) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	if size < 0 {
		return fmt.Errorf("put %s: %w: negative size %d", key, ErrSizeMismatch, size)
	}
	er := newExactReader(ctxReader{ctx, r}, size)
	pb := &putBody{r: er}
	var body io.Reader = pb
	if size == 0 {
		// An empty body goes as none: check here that r is empty.
		if _, err := er.Read(make([]byte, 1)); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("put %s: %w", key, err)
		}
		body = http.NoBody
	}
	p, q, err := s.conn(ctx, "put", key, key)
	if err != nil {
		return err
	}
	req, err := p.request(ctx, http.MethodPut, "put", q, body)
	if err != nil {
		return fmt.Errorf("put %s: %w", key, err)
	}
	req.ContentLength = size
	if size > 0 {
		// The program may answer without the body (the object exists).
		req.Header.Set("Expect", "100-continue")
	}
	resp, err := p.client.Do(req)
	if rerr := pb.failed(); rerr != nil && (err != nil || resp.StatusCode/100 != 2) {
		if resp != nil {
			resp.Body.Close()
		}
		// The reader failed, not the store. If the object is there, Put
		// is a no-op, as the stores themselves decide.
		if ctx.Err() == nil {
			if _, serr := s.Stat(ctx, key); serr == nil {
				return nil
			}
		}
		return fmt.Errorf("put %s: %w", key, rerr)
	}
	return p.finish(ctx, "put", key, resp, err, nil)
}

// putBody is the body of a put: it keeps the error of the caller's
// reader, which the transport may still be reading when the answer is in.
type putBody struct {
	r   io.Reader
	mu  sync.Mutex
	err error
}

func (b *putBody) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.mu.Lock()
		if b.err == nil {
			b.err = err
		}
		b.mu.Unlock()
	}
	return n, err
}

// failed returns the reader's error (not io.EOF), or nil.
func (b *putBody) failed() error {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.err
}

// Get implements Store. The object streams from the program.
func (s *cloudStore) Get(ctx context.Context, key string) (io.ReadCloser, error) {
	if err := ValidateKey(key); err != nil {
		return nil, err
	}
	p, q, err := s.conn(ctx, "get", key, key)
	if err != nil {
		return nil, err
	}
	resp, err := p.do(ctx, "get", key, http.MethodGet, "get", q, nil)
	if err != nil {
		return nil, err
	}
	return &cloudReader{ctx: ctx, p: p, key: key, resp: resp}, nil
}

// cloudReader reads a GET's body and reports the error of the trailer, or
// of a lost program, in the store's terms.
type cloudReader struct {
	ctx  context.Context
	p    *cloudProc
	key  string
	resp *http.Response
	err  error
}

func (r *cloudReader) Read(b []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.resp.Body.Read(b)
	switch {
	case err == nil:
	case errors.Is(err, io.EOF):
		if t := r.resp.Trailer.Get(cloudTrailer); t != "" {
			err = decodeTrailer(t)
		}
		r.err = err
	default:
		r.err = r.p.transportErr(r.ctx, "read", r.key, err)
		err = r.err
	}
	return n, err
}

func (r *cloudReader) Close() error {
	r.resp.Body.Close()
	return nil
}

// Stat implements Store.
func (s *cloudStore) Stat(ctx context.Context, key string) (int64, error) {
	if err := ValidateKey(key); err != nil {
		return 0, err
	}
	p, q, err := s.conn(ctx, "stat", key, key)
	if err != nil {
		return 0, err
	}
	var ans statAnswer
	if err := p.callJSON(ctx, "stat", key, http.MethodGet, "stat", q, nil, &ans); err != nil {
		return 0, err
	}
	return ans.Size, nil
}

// Exists implements Store: one request; the program answers with the
// store's own Exists.
func (s *cloudStore) Exists(ctx context.Context, keys []string) (map[string]bool, error) {
	for _, k := range keys {
		if err := ValidateKey(k); err != nil {
			return nil, err
		}
	}
	if len(keys) == 0 {
		return map[string]bool{}, ctx.Err()
	}
	p, q, err := s.conn(ctx, "exists", s.location, "")
	if err != nil {
		return nil, err
	}
	body, _ := json.Marshal(keys)
	out := make(map[string]bool, len(keys))
	if err := p.callJSON(ctx, "exists", s.location, http.MethodPost, "exists", q, body, &out); err != nil {
		return nil, err
	}
	for _, k := range keys {
		if _, ok := out[k]; !ok {
			out[k] = false // an entry for every key
		}
	}
	return out, nil
}

// List implements Store. Entries stream from the program as it lists.
func (s *cloudStore) List(ctx context.Context, prefix string, fn func(key string, size int64, modTime time.Time) error) error {
	if err := validatePrefix(prefix); err != nil {
		return err
	}
	what := s.location + " " + prefix
	p, q, err := s.conn(ctx, "list", what, "")
	if err != nil {
		return err
	}
	q.Set("prefix", prefix)
	resp, err := p.do(ctx, "list", what, http.MethodGet, "list", q, nil)
	if err != nil {
		return err
	}
	defer resp.Body.Close() // before the end: drops the connection, which stops the listing
	dec := json.NewDecoder(bufio.NewReaderSize(resp.Body, 64<<10))
	for {
		var l listLine
		if err := dec.Decode(&l); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return p.transportErr(ctx, "list", what, err)
		}
		switch {
		case l.Err != nil:
			return l.Err.err()
		case l.End:
			return ctx.Err()
		}
		if err := fn(l.Key, l.Size, l.ModTime); err != nil {
			return err
		}
	}
}

// Delete implements Store.
func (s *cloudStore) Delete(ctx context.Context, key string) error {
	if err := ValidateKey(key); err != nil {
		return err
	}
	p, q, err := s.conn(ctx, "delete", key, key)
	if err != nil {
		return err
	}
	return p.callJSON(ctx, "delete", key, http.MethodPost, "delete", q, nil, nil)
}

// cloudProc is a running CloudProgram.
type cloudProc struct {
	key    string // the environment it was started with
	path   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	client *http.Client
	stderr *tailBuffer
	done   chan struct{} // closed when the process has ended
	err    error         // how it ended, once done is closed

	refs int // open stores and opens in flight; guarded by cloudProcs.mu
}

// cloudProcs are the running programs of this process, by environment.
var cloudProcs struct {
	mu sync.Mutex
	m  map[string]*cloudProc
}

// cloudProcFor returns the program for this process's environment,
// starting it if none runs, with one more reference.
func cloudProcFor(ctx context.Context) (*cloudProc, error) {
	env := os.Environ()
	key := strings.Join(env, "\x00")
	cloudProcs.mu.Lock()
	defer cloudProcs.mu.Unlock()
	if p := cloudProcs.m[key]; p != nil && !p.exited() {
		p.refs++
		return p, nil
	}
	p, err := startCloudProc(ctx, env)
	if err != nil {
		return nil, err
	}
	p.key = key
	p.refs = 1
	if cloudProcs.m == nil {
		cloudProcs.m = map[string]*cloudProc{}
	}
	cloudProcs.m[key] = p
	return p, nil
}

// release drops a reference; the last one ends the program.
func (p *cloudProc) release() {
	cloudProcs.mu.Lock()
	p.refs--
	last := p.refs <= 0
	if last && cloudProcs.m[p.key] == p {
		delete(cloudProcs.m, p.key)
	}
	cloudProcs.mu.Unlock()
	if last {
		p.stop()
	}
}

// stop ends the program: it exits when its stdin closes.
func (p *cloudProc) stop() {
	p.stdin.Close()
	select {
	case <-p.done:
	case <-time.After(5 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.done
	}
	p.client.CloseIdleConnections()
}

func (p *cloudProc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// errNoCloudProgram says that CloudProgram is not installed and how to
// install it.
func errNoCloudProgram() error {
	where := "in PATH"
	if exe, err := os.Executable(); err == nil {
		where = "next to " + exe + " or in PATH"
	}
	version := "latest"
	if bi, ok := debug.ReadBuildInfo(); ok && bi.Main.Path == "github.com/mlgit/mlgit" &&
		bi.Main.Version != "" && bi.Main.Version != "(devel)" {
		version = bi.Main.Version
	}
	return fmt.Errorf("%w: gs:// and az:// stores need the program %s, which is not installed (looked %s); "+
		"install it with \"go install %s@%s\" (or \"make install\" in a checkout of mlgit), or set %s to its path",
		ErrUnavailable, CloudProgram, where, cloudPackage, version, CloudProgramEnv)
}

// findCloudProgram returns the path of CloudProgram: CloudProgramEnv if
// set, else the one next to the running program, else the one in PATH.
func findCloudProgram() (string, error) {
	if p := os.Getenv(CloudProgramEnv); p != "" {
		if !isExecutableFile(p) {
			return "", fmt.Errorf("%w: %s=%s is not an executable file; unset it or point it at %s", ErrUnavailable, CloudProgramEnv, p, CloudProgram)
		}
		return p, nil
	}
	if exe, err := os.Executable(); err == nil {
		dirs := []string{filepath.Dir(exe)}
		if real, err := filepath.EvalSymlinks(exe); err == nil && filepath.Dir(real) != dirs[0] {
			dirs = append(dirs, filepath.Dir(real))
		}
		for _, d := range dirs {
			if p := filepath.Join(d, CloudProgram); isExecutableFile(p) {
				return p, nil
			}
		}
	}
	if p, err := exec.LookPath(CloudProgram); err == nil {
		return p, nil
	}
	return "", errNoCloudProgram()
}

func isExecutableFile(p string) bool {
	fi, err := os.Stat(p)
	return err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0
}

// startCloudProc starts CloudProgram with env and waits for its ready line.
func startCloudProc(ctx context.Context, env []string) (*cloudProc, error) {
	path, err := findCloudProgram()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(path, "serve")
	cmd.Env = env
	cmd.Stderr = &tailBuffer{max: 4 << 10}
	setCloudProcAttr(cmd)
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("%w: start %s: %v", ErrUnavailable, path, err)
	}
	p := &cloudProc{path: path, cmd: cmd, stdin: stdin, stderr: cmd.Stderr.(*tailBuffer), done: make(chan struct{})}
	lines := make(chan string, 1)
	go func() {
		line, _ := bufio.NewReader(stdout).ReadString('\n')
		lines <- line
	}()
	// Wait closes stdout, so it starts only once the ready line is read
	// (or the read has ended): a program that prints a line and exits at
	// once is then seen to print it.
	wait := func() {
		go func() {
			p.err = cmd.Wait()
			close(p.done)
		}()
	}
	fail := func(why string) (*cloudProc, error) {
		stdin.Close()
		_ = cmd.Process.Kill()
		<-p.done
		return nil, fmt.Errorf("%w: %s %s%s", ErrUnavailable, path, why, p.stderr.suffix())
	}
	timer := time.NewTimer(cloudReadyTimeout)
	defer timer.Stop()
	var line string
	select {
	case line = <-lines:
		wait()
	case <-ctx.Done():
		stdin.Close()
		_ = cmd.Process.Kill()
		<-lines
		wait()
		<-p.done
		return nil, context.Cause(ctx)
	case <-timer.C:
		_ = cmd.Process.Kill()
		<-lines
		wait()
		return fail(fmt.Sprintf("did not get ready within %s", cloudReadyTimeout))
	}
	if line == "" {
		<-p.done
		return fail(fmt.Sprintf("ended before it was ready (%v)", p.err))
	}
	f := strings.SplitN(strings.TrimSuffix(line, "\n"), " ", 4)
	if len(f) != 4 || f[0] != CloudProgram || f[1] != "ready" {
		return fail(fmt.Sprintf("is not %s (it printed %q)", CloudProgram, strings.TrimSpace(line)))
	}
	if f[2] != cloudProtocol {
		return fail(fmt.Sprintf("speaks protocol %s, this mlgit speaks %s; install the %s of this mlgit's version", f[2], cloudProtocol, CloudProgram))
	}
	sock := f[3]
	if dir := filepath.Dir(sock); strings.HasPrefix(filepath.Base(dir), "mlgit-blob-") {
		// The program removes its folder when it ends; if it is killed,
		// this process does.
		go func() {
			<-p.done
			_ = os.RemoveAll(dir)
		}()
	}
	p.client = &http.Client{Transport: &http.Transport{
		DialContext: func(ctx context.Context, _, _ string) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, "unix", sock)
		},
		MaxIdleConns:          256,
		MaxIdleConnsPerHost:   256,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: 10 * time.Second,
		DisableCompression:    true,
		WriteBufferSize:       64 << 10,
		ReadBufferSize:        64 << 10,
	}}
	return p, nil
}

// request makes a request of the program.
func (p *cloudProc) request(ctx context.Context, method, path string, q url.Values, body io.Reader) (*http.Request, error) {
	u := "http://" + CloudProgram + "/v1/" + path
	if len(q) > 0 {
		u += "?" + q.Encode()
	}
	return http.NewRequestWithContext(ctx, method, u, body)
}

// do sends a request and returns the answer if it is a success, else the
// error in the store's terms: op and what name the operation and its
// object in messages.
func (p *cloudProc) do(ctx context.Context, op, what, method, path string, q url.Values, body []byte) (*http.Response, error) {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := p.request(ctx, method, path, q, rd)
	if err != nil {
		return nil, fmt.Errorf("%s %s: %w", op, what, err)
	}
	resp, err := p.client.Do(req)
	if err != nil {
		return nil, p.transportErr(ctx, op, what, err)
	}
	if resp.StatusCode/100 != 2 {
		return nil, p.finish(ctx, op, what, resp, nil, nil)
	}
	return resp, nil
}

// callJSON sends a request and decodes a successful answer into out (if
// not nil).
func (p *cloudProc) callJSON(ctx context.Context, op, what, method, path string, q url.Values, body []byte, out any) error {
	var rd io.Reader
	if body != nil {
		rd = bytes.NewReader(body)
	}
	req, err := p.request(ctx, method, path, q, rd)
	if err != nil {
		return fmt.Errorf("%s %s: %w", op, what, err)
	}
	resp, err := p.client.Do(req)
	return p.finish(ctx, op, what, resp, err, out)
}

// finish reads an answer: nil (and out filled) for a success, else the
// error it carries, or the error of a lost program.
func (p *cloudProc) finish(ctx context.Context, op, what string, resp *http.Response, err error, out any) error {
	if err != nil {
		return p.transportErr(ctx, op, what, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 == 2 {
		if out == nil {
			_, _ = io.Copy(io.Discard, resp.Body)
			return nil
		}
		if err := json.NewDecoder(resp.Body).Decode(out); err != nil {
			return p.transportErr(ctx, op, what, err)
		}
		return nil
	}
	var w wireError
	if err := json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(&w); err != nil || w.Message == "" {
		if ctx.Err() != nil {
			return fmt.Errorf("%s %s: %w", op, what, context.Cause(ctx))
		}
		return fmt.Errorf("%s %s: %w: %s answered %s", op, what, ErrUnavailable, CloudProgram, resp.Status)
	}
	return w.err()
}

// transportErr is the error of a request that got no answer: the caller's
// context ended, or the program is gone.
func (p *cloudProc) transportErr(ctx context.Context, op, what string, err error) error {
	if ctx.Err() != nil {
		return fmt.Errorf("%s %s: %w", op, what, context.Cause(ctx))
	}
	// Give an ending process a moment to be reaped, so the message can
	// say how it ended.
	select {
	case <-p.done:
	case <-time.After(200 * time.Millisecond):
	}
	if p.exited() {
		return fmt.Errorf("%s %s: %w: %s (pid %d) ended: %v%s", op, what, ErrUnavailable, CloudProgram, p.cmd.Process.Pid, p.err, p.stderr.suffix())
	}
	return fmt.Errorf("%s %s: %w: lost the connection to %s (pid %d): %v", op, what, ErrUnavailable, CloudProgram, p.cmd.Process.Pid, err)
}

// tailBuffer keeps the last max bytes written to it: the program's
// diagnostics, for messages when it fails.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	b   []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.b = append(t.b, p...)
	if len(t.b) > t.max {
		t.b = append(t.b[:0], t.b[len(t.b)-t.max:]...)
	}
	return len(p), nil
}

// suffix is ": <last diagnostics>" or "".
func (t *tailBuffer) suffix() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	s := strings.TrimSpace(string(t.b))
	if s == "" {
		return ""
	}
	return ": " + s
}
