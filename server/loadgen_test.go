package server

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"strconv"
	"sync/atomic"
	"testing"
	"time"
)

// The load generator of the benchmarks. Go's net/http client costs about as
// much CPU per request as the server's handling of a small request, and
// the benchmarks' clients share the machine's two cores with the server:
// with it, a trivial JSON handler does ~34,000 requests/s here, against the
// 50,000-77,000 expected of the same handler with a light load
// generator. rawConn is such a generator (as wrk or hey): one keep-alive
// HTTP/1.1 connection per client, the request bytes written as they are,
// the response's status checked and its body read (Content-Length or
// chunked) and discarded. BenchmarkBaselineHandler16 measures the trivial
// handler with it, so each run shows where the machine stands.
// MLGIT_BENCH_CLIENT=nethttp switches the benchmarks back to net/http.

// useNetHTTP reports whether the benchmarks use Go's net/http client.
func useNetHTTP() bool { return os.Getenv("MLGIT_BENCH_CLIENT") == "nethttp" }

// poster sends POST requests over one connection.
type poster interface {
	post(b testing.TB, url string, body []byte)
	close()
}

func newPoster() poster {
	if useNetHTTP() {
		return &netPoster{hc: benchClient()}
	}
	return &rawConn{}
}

type netPoster struct{ hc *http.Client }

func (p *netPoster) post(b testing.TB, url string, body []byte) { post(b, p.hc, url, body) }
func (p *netPoster) close()                                     { p.hc.CloseIdleConnections() }

// rawConn is a keep-alive HTTP/1.1 client connection.
type rawConn struct {
	url  string // the last URL, parsed into host and uri
	host string
	uri  string
	conn net.Conn
	br   *bufio.Reader
	req  []byte
	// keep makes readResponse keep the body in body instead of
	// discarding it.
	keep bool
	body []byte
}

func (c *rawConn) close() {
	if c.conn != nil {
		c.conn.Close()
		c.conn = nil
	}
}

func (c *rawConn) post(b testing.TB, rawURL string, body []byte) {
	if err := c.do(rawURL, body); err != nil {
		c.close()
		b.Error(err)
	}
}

func (c *rawConn) do(rawURL string, body []byte) error {
	if rawURL != c.url {
		u, err := url.Parse(rawURL)
		if err != nil {
			return err
		}
		if u.Host != c.host {
			c.close()
		}
		c.url, c.host, c.uri = rawURL, u.Host, u.RequestURI()
	}
	if c.conn == nil {
		conn, err := net.Dial("tcp", c.host)
		if err != nil {
			return err
		}
		c.conn = conn
		c.br = bufio.NewReaderSize(conn, 16<<10)
	}
	c.req = append(c.req[:0], "POST "...)
	c.req = append(c.req, c.uri...)
	c.req = append(c.req, " HTTP/1.1\r\nHost: "...)
	c.req = append(c.req, c.host...)
	c.req = append(c.req, "\r\nContent-Type: application/json\r\nContent-Length: "...)
	c.req = strconv.AppendInt(c.req, int64(len(body)), 10)
	c.req = append(c.req, "\r\n\r\n"...)
	c.req = append(c.req, body...)
	if _, err := c.conn.Write(c.req); err != nil {
		return err
	}
	return c.readResponse(rawURL)
}

// readResponse reads one response, failing on a status other than 200.
func (c *rawConn) readResponse(rawURL string) error {
	c.body = c.body[:0]
	line, err := c.br.ReadSlice('\n')
	if err != nil {
		return err
	}
	if !bytes.HasPrefix(line, []byte("HTTP/1.1 200 ")) {
		return fmt.Errorf("POST %s: %s", rawURL, bytes.TrimSpace(line))
	}
	length, chunked := int64(-1), false
	for {
		line, err := c.br.ReadSlice('\n')
		if err != nil {
			return err
		}
		if len(line) <= 2 {
			break
		}
		k, v, ok := bytes.Cut(line, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.ParseInt(string(v), 10, 64)
			if err != nil {
				return err
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		}
	}
	switch {
	case chunked:
		for {
			line, err := c.br.ReadSlice('\n')
			if err != nil {
				return err
			}
			size, _, _ := bytes.Cut(bytes.TrimSpace(line), []byte(";"))
			n, err := strconv.ParseInt(string(size), 16, 64)
			if err != nil {
				return fmt.Errorf("bad chunk size %q", line)
			}
			if c.keep {
				buf := make([]byte, n)
				if _, err := io.ReadFull(c.br, buf); err != nil {
					return err
				}
				c.body = append(c.body, buf...)
				n2, err := c.br.Discard(2)
				if err != nil || n2 != 2 {
					return fmt.Errorf("bad chunk end: %v", err)
				}
			} else if _, err := c.br.Discard(int(n) + 2); err != nil { // data and CRLF
				return err
			}
			if n == 0 {
				return nil // no trailers from our server
			}
		}
	case length >= 0 && c.keep:
		c.body = append(c.body, make([]byte, length)...)
		_, err := io.ReadFull(c.br, c.body[len(c.body)-int(length):])
		return err
	case length >= 0:
		_, err := io.CopyN(io.Discard, c.br, length)
		return err
	default:
		return fmt.Errorf("POST %s: response without length", rawURL)
	}
}

// BenchmarkBaselineHandler16 is the calibration of the targets ("a minimal
// Go JSON handler does 50,000-77,000 requests/s on this machine"): a
// handler that reads the body and answers {}, under BenchmarkLogMetric16's
// harness (16 clients, same load generator, same process).
func BenchmarkBaselineHandler16(b *testing.B) {
	ts := httptest.NewServer(trivialHandler)
	defer ts.Close()
	body := baselineBody
	var lat latencies
	el := clients(b, 16, ts.URL+"/api/2.0/mlflow/runs/log-metric", func(int64) []byte { return body }, &lat)
	lat.report(b)
	b.ReportMetric(float64(b.N)/el.Seconds(), "req/s")
}

// trivialHandler is the calibration's server: it reads the body and
// answers {}.
var trivialHandler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	w.Header().Set("Content-Type", "application/json")
	w.Write([]byte("{}"))
})

// baselineBody is the log-metric body sent to the trivial handler.
var baselineBody = []byte(`{"run_id":"0123456789abcdef0123456789abcdef","key":"m","value":1,"timestamp":1,"step":1}`)

// serverTimer wraps a server's handler and records, while on, the time
// from the handler's entry to its response written to the connection: the
// response is held until the handler returns, then written with its
// Content-Length and flushed, so the figure includes the write to the
// socket (net/http would write it right after the handler returns
// anyway). What it leaves out is the server's reading and parsing of the
// request before the handler, and the time on the wire and in the
// client.
type serverTimer struct {
	h   http.Handler
	on  atomic.Bool
	lat latencies
}

func (t *serverTimer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	hw := &heldResponse{ResponseWriter: w}
	t.h.ServeHTTP(hw, r)
	if hw.status == 0 {
		hw.status = http.StatusOK
	}
	w.Header().Set("Content-Length", strconv.Itoa(len(hw.body)))
	w.WriteHeader(hw.status)
	w.Write(hw.body)
	http.NewResponseController(w).Flush()
	if t.on.Load() {
		d := time.Since(start)
		t.lat.mu.Lock()
		t.lat.d = append(t.lat.d, d)
		t.lat.mu.Unlock()
	}
}

// heldResponse holds a response's status and body; its headers go to
// the wrapped writer's, and Unwrap gives http.ResponseController the
// connection (read deadlines).
type heldResponse struct {
	http.ResponseWriter
	status int
	body   []byte
}

func (h *heldResponse) WriteHeader(status int) {
	if h.status == 0 {
		h.status = status
	}
}

func (h *heldResponse) Write(p []byte) (int, error) {
	if h.status == 0 {
		h.status = http.StatusOK
	}
	h.body = append(h.body, p...)
	return len(p), nil
}

func (h *heldResponse) Unwrap() http.ResponseWriter { return h.ResponseWriter }
