package blob

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"
)

// ServeCloudStores is the body of CloudProgram: it serves the stores that
// open opens to the mlgit process that started it, with the protocol
// described in cloud_wire.go, on a Unix socket in a new private folder.
// It prints the ready line on stdout, serves until stdin reaches its end
// (mlgit closed it, or died) or ctx ends, then closes the stores, removes
// the folder and returns.
func ServeCloudStores(ctx context.Context, stdin io.Reader, stdout io.Writer, open func(context.Context, string) (Store, error)) error {
	dir, err := os.MkdirTemp("", "mlgit-blob-")
	if err != nil {
		return err
	}
	sock := filepath.Join(dir, "s")
	if len(sock) > 100 { // sun_path holds about 104 bytes
		os.RemoveAll(dir)
		if dir, err = os.MkdirTemp("/tmp", "mlgit-blob-"); err != nil {
			return err
		}
		sock = filepath.Join(dir, "s")
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o700); err != nil {
		return err
	}
	ln, err := net.Listen("unix", sock)
	if err != nil {
		return err
	}
	cs := &cloudServer{open: open, stores: map[string]Store{}}
	srv := &http.Server{Handler: cs.handler()}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if _, err := fmt.Fprintf(stdout, "%s ready %s %s\n", CloudProgram, cloudProtocol, sock); err != nil {
		srv.Close()
		return err
	}
	eof := make(chan struct{})
	go func() {
		_, _ = io.Copy(io.Discard, stdin)
		close(eof)
	}()
	select {
	case <-eof:
	case <-ctx.Done():
	case err = <-served:
	}
	srv.Close()
	cs.closeAll()
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// cloudServer holds the stores opened for mlgit.
type cloudServer struct {
	open   func(context.Context, string) (Store, error)
	mu     sync.Mutex
	next   int
	stores map[string]Store
}

func (cs *cloudServer) closeAll() {
	cs.mu.Lock()
	defer cs.mu.Unlock()
	for id, st := range cs.stores {
		if c, ok := st.(io.Closer); ok {
			_ = c.Close()
		}
		delete(cs.stores, id)
	}
}

func (cs *cloudServer) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/open", cs.handleOpen)
	mux.HandleFunc("POST /v1/close", cs.withStore(cs.handleClose))
	mux.HandleFunc("PUT /v1/put", cs.withStore(handlePut))
	mux.HandleFunc("GET /v1/get", cs.withStore(handleGet))
	mux.HandleFunc("GET /v1/stat", cs.withStore(handleStat))
	mux.HandleFunc("POST /v1/exists", cs.withStore(handleExists))
	mux.HandleFunc("GET /v1/list", cs.withStore(handleList))
	mux.HandleFunc("POST /v1/delete", cs.withStore(handleDelete))
	return mux
}

// withStore finds the store a request names.
func (cs *cloudServer) withStore(h func(http.ResponseWriter, *http.Request, Store)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		id := r.URL.Query().Get("store")
		cs.mu.Lock()
		st := cs.stores[id]
		cs.mu.Unlock()
		if st == nil {
			writeWireError(w, fmt.Errorf("%s: no open store %q", CloudProgram, id))
			return
		}
		h(w, r, st)
	}
}

func (cs *cloudServer) handleOpen(w http.ResponseWriter, r *http.Request) {
	var req openRequest
	if err := json.NewDecoder(io.LimitReader(r.Body, 1<<20)).Decode(&req); err != nil {
		writeWireError(w, fmt.Errorf("%s: bad open request: %v", CloudProgram, err))
		return
	}
	st, err := cs.open(r.Context(), req.URL)
	if err != nil {
		writeWireError(w, err)
		return
	}
	cs.mu.Lock()
	cs.next++
	id := strconv.Itoa(cs.next)
	cs.stores[id] = st
	cs.mu.Unlock()
	writeJSON(w, openAnswer{Store: id, Location: st.Location()})
}

func (cs *cloudServer) handleClose(w http.ResponseWriter, r *http.Request, st Store) {
	id := r.URL.Query().Get("store")
	cs.mu.Lock()
	delete(cs.stores, id)
	cs.mu.Unlock()
	if c, ok := st.(io.Closer); ok {
		if err := c.Close(); err != nil {
			writeWireError(w, err)
			return
		}
	}
	w.WriteHeader(http.StatusNoContent)
}

func handlePut(w http.ResponseWriter, r *http.Request, st Store) {
	body := &errReader{r: r.Body}
	err := st.Put(r.Context(), r.URL.Query().Get("key"), body, r.ContentLength)
	if body.read {
		// Read what the store left, so the answer is not lost to a
		// connection closed on unread data. A store that did not start
		// reading (it has the object) leaves the body unsent: mlgit
		// waits for "100 Continue" before sending it.
		_, _ = io.Copy(io.Discard, r.Body)
	}
	if err != nil {
		writeWireError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

// errReader records whether it was read and the error of reading.
type errReader struct {
	r    io.Reader
	read bool
	err  error
}

func (e *errReader) Read(p []byte) (int, error) {
	e.read = true
	n, err := e.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		e.err = err
	}
	return n, err
}

func handleGet(w http.ResponseWriter, r *http.Request, st Store) {
	rc, err := st.Get(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		writeWireError(w, err)
		return
	}
	defer rc.Close()
	w.Header().Set("Trailer", cloudTrailer)
	w.Header().Set("Content-Type", "application/octet-stream")
	w.WriteHeader(http.StatusOK)
	er := &errReader{r: rc}
	_, _ = io.Copy(w, er)
	if er.err != nil {
		w.Header().Set(cloudTrailer, encodeTrailer(er.err))
	}
}

func handleStat(w http.ResponseWriter, r *http.Request, st Store) {
	n, err := st.Stat(r.Context(), r.URL.Query().Get("key"))
	if err != nil {
		writeWireError(w, err)
		return
	}
	writeJSON(w, statAnswer{Size: n})
}

func handleExists(w http.ResponseWriter, r *http.Request, st Store) {
	var keys []string
	if err := json.NewDecoder(r.Body).Decode(&keys); err != nil {
		writeWireError(w, fmt.Errorf("%s: bad exists request: %v", CloudProgram, err))
		return
	}
	out, err := st.Exists(r.Context(), keys)
	if err != nil {
		writeWireError(w, err)
		return
	}
	writeJSON(w, out)
}

func handleList(w http.ResponseWriter, r *http.Request, st Store) {
	w.Header().Set("Content-Type", "application/jsonl")
	enc := json.NewEncoder(w)
	flusher, _ := w.(http.Flusher)
	last := time.Now()
	err := st.List(r.Context(), r.URL.Query().Get("prefix"), func(key string, size int64, mod time.Time) error {
		if err := enc.Encode(listLine{Key: key, Size: size, ModTime: mod}); err != nil {
			return err
		}
		if flusher != nil && time.Since(last) > 100*time.Millisecond {
			flusher.Flush() // a slow listing still shows progress
			last = time.Now()
		}
		return nil
	})
	end := listLine{End: true}
	if err != nil {
		we := toWire(err)
		end = listLine{Err: &we}
	}
	_ = enc.Encode(end)
}

func handleDelete(w http.ResponseWriter, r *http.Request, st Store) {
	if err := st.Delete(r.Context(), r.URL.Query().Get("key")); err != nil {
		writeWireError(w, err)
		return
	}
	w.WriteHeader(http.StatusNoContent)
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	_ = json.NewEncoder(w).Encode(v)
}

// writeWireError answers with err; the status is for people reading a
// trace, the body is what mlgit reads.
func writeWireError(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	switch {
	case errors.Is(err, ErrNotFound):
		status = http.StatusNotFound
	case errors.Is(err, ErrInvalidKey), errors.Is(err, ErrSizeMismatch), errors.Is(err, ErrInvalidURL):
		status = http.StatusBadRequest
	case errors.Is(err, ErrAccessDenied):
		status = http.StatusForbidden
	case errors.Is(err, ErrUnavailable):
		status = http.StatusBadGateway
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(toWire(err))
}
