package main

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/mlgit/mlgit/server"
	"github.com/spf13/cobra"
)

type serverOptions struct {
	Host               string
	Port               int
	BlobRemote         string
	AuthFile           string
	ReadOnly           bool
	AllowedHosts       []string
	CheckpointInterval time.Duration
	Quiet              bool
	// Ready, if set, is called with the listening address once the server
	// accepts connections (tests use it with --port 0).
	Ready func(addr string)
}

func newServerCmd(a *app, runF func(context.Context, *serverOptions) error) *cobra.Command {
	o := &serverOptions{}
	cmd := &cobra.Command{
		Use:   "server [--host 127.0.0.1] [--port 5000] [--read-only] [--auth-file FILE] [--allowed-hosts HOST,...] [--blob-remote URL]",
		Short: "Serve the MLflow REST API over the repository",
		Long: `Serve the MLflow tracking REST API (/api/2.0/mlflow/..., /ajax-api/2.0/mlflow/...,
the mlflow-artifacts proxy, /health, /version) over this repository, so that
unmodified MLflow code logs into Git:

  mlflow.set_tracking_uri("http://127.0.0.1:5000")

Writes are acknowledged once durable in the store's journal and committed to
the tracking branch at checkpoints (every --checkpoint-interval, at run end,
and on shutdown: SIGINT or SIGTERM stops accepting requests, finishes those in
flight and commits everything acknowledged). Uploaded artifacts go to the
local blob cache; downloads fall back to the blob remote (--blob-remote, else
$MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml) when one is set.

Security: the server binds loopback by default and accepts only requests whose
Host header is a loopback name, or one listed with --allowed-hosts (against DNS
rebinding; "*" accepts any). POST and PUT API calls must be JSON (against
cross-site request forgery). --auth-file requires a bearer token
(MLFLOW_TRACKING_TOKEN) or a Basic user (MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD) on every API call; the file holds one
"user <name> <bcrypt-hash>" or "token <name> <hash>" per line (see
docs/server.md). --read-only refuses every write with PERMISSION_DENIED.`,
		Example: `  mlgit server
  mlgit server --port 5001 --read-only
  mlgit server --host 0.0.0.0 --allowed-hosts mlflow.internal --auth-file /etc/mlgit/auth`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Port < 0 || o.Port > 65535 {
				return usagef("--port %d is not a TCP port (0-65535)", o.Port)
			}
			if o.CheckpointInterval < 0 {
				return usagef("--checkpoint-interval must not be negative")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return runServer(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.Host, "host", "127.0.0.1", "address to listen on")
	f.IntVar(&o.Port, "port", 5000, "TCP port to listen on (0: any free port)")
	f.StringVar(&o.BlobRemote, "blob-remote", "", "blob remote `URL` downloads fall back to (default $MLGIT_BLOB_REMOTE, else blobs.remote)")
	f.StringVar(&o.AuthFile, "auth-file", "", "require authentication with the users and tokens of `FILE`")
	f.BoolVar(&o.ReadOnly, "read-only", false, "refuse every write with PERMISSION_DENIED")
	f.StringSliceVar(&o.AllowedHosts, "allowed-hosts", nil, "extra Host header values to accept: `NAME` or NAME:PORT, or * for any")
	f.DurationVar(&o.CheckpointInterval, "checkpoint-interval", 30*time.Second, "commit journaled writes at least this often (0: only at run end and shutdown)")
	f.BoolVar(&o.Quiet, "quiet", false, "do not log each request")
	return cmd
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

func runServer(ctx context.Context, a *app, o *serverOptions) error {
	srv, err := startServer(ctx, a, o)
	if err != nil {
		return err
	}
	if host, port, err := net.SplitHostPort(srv.Addr); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		// 0.0.0.0 or ::, printed as http://[::]:5000, is not an address to
		// open; and requests naming this host by IP or DNS name are
		// refused unless --allowed-hosts lists it: say so now, not at the
		// first refused request.
		fmt.Fprintf(a.Err, "mlgit server: serving %s (branch %s) on port %s of every interface: http://127.0.0.1:%s on this machine\n", srv.repoDir, srv.branch, port, port)
		if len(o.AllowedHosts) == 0 {
			fmt.Fprintf(a.Err, "mlgit server: other machines must reach it by a name listed with --allowed-hosts (e.g. --allowed-hosts $(hostname),192.0.2.10): requests naming any other host are refused (DNS rebinding protection)\n")
		}
	} else {
		fmt.Fprintf(a.Err, "mlgit server: serving %s (branch %s) on http://%s\n", srv.repoDir, srv.branch, srv.Addr)
	}
	if o.Ready != nil {
		o.Ready(srv.Addr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.Err, "mlgit server: shutting down")
	case serveErr = <-srv.errc:
	}
	if err := srv.Stop(); err != nil {
		return err
	}
	fmt.Fprintln(a.Err, "mlgit server: everything acknowledged is committed")
	if serveErr != nil && !errors.Is(serveErr, http.ErrServerClosed) {
		return serveErr
	}
	return nil
}

// runningServer is a server started by startServer.
type runningServer struct {
	// Addr is the listening address (host:port).
	Addr            string
	repoDir, branch string
	hs              *http.Server
	s               *server.Server
	log             *slog.Logger
	errc            chan error
	stopTicker      chan struct{}
	tickerDone      chan struct{}
}

// Stop stops accepting requests, waits up to 30 s for those in flight, and
// commits everything acknowledged with a final checkpoint. It is what
// SIGTERM does, and what mlgit run exec --mlflow will call when its child
// exits.
func (rs *runningServer) Stop() error {
	close(rs.stopTicker)
	<-rs.tickerDone
	sctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := rs.hs.Shutdown(sctx); err != nil {
		rs.log.Error("shutdown", "err", err)
	}
	if err := rs.s.Close(); err != nil {
		return fmt.Errorf("final checkpoint: %w", err)
	}
	return nil
}

// startServer opens the repository, listens and serves in the background
// (with periodic checkpoints) until Stop.
func startServer(ctx context.Context, a *app, o *serverOptions) (*runningServer, error) {
	// A server's git commands (pushing a proposal made from the web UI)
	// must fail rather than wait for a password typed on a terminal.
	if os.Getenv("GIT_TERMINAL_PROMPT") == "" {
		os.Setenv("GIT_TERMINAL_PROMPT", "0")
	}
	r, err := a.OpenRepo()
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.NewTextHandler(a.Err, nil))
	cfg := server.Config{
		Repo:        r,
		ReadOnly:    o.ReadOnly,
		Logger:      log,
		Version:     a.Version,
		LogRequests: !o.Quiet,
	}
	if u, _, err := a.blobRemoteURL(r, o.BlobRemote); err == nil {
		st, err := a.openBlobStore(ctx, u, nil)
		if err != nil {
			return nil, err
		}
		cfg.Remote = st
	} else if o.BlobRemote != "" {
		return nil, err
	} else {
		var ue *usageError
		if !errors.As(err, &ue) {
			return nil, err
		}
	}
	if o.AuthFile != "" {
		auth, err := server.LoadAuthFile(o.AuthFile)
		if err != nil {
			return nil, usagef("%v", err)
		}
		cfg.Auth = auth
	}
	host := strings.Trim(o.Host, "[]")
	if len(o.AllowedHosts) > 0 || !isLoopbackHost(host) {
		cfg.AllowedHosts = append([]string{"localhost", "127.0.0.1", "::1"}, o.AllowedHosts...)
		if ip := net.ParseIP(host); host != "" && (ip == nil || !ip.IsUnspecified()) {
			cfg.AllowedHosts = append(cfg.AllowedHosts, host)
		}
	}
	if !isLoopbackHost(host) && cfg.Auth == nil {
		fmt.Fprintf(a.Err, "mlgit server: warning: listening on %s without --auth-file: anyone who can reach it can write\n", o.Host)
	}
	s, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	rs := &runningServer{
		Addr: ln.Addr().String(), repoDir: r.WorkTree(), branch: r.Branch(), s: s, log: log,
		errc: make(chan error, 1), stopTicker: make(chan struct{}), tickerDone: make(chan struct{}),
	}
	if rs.repoDir == "" {
		rs.repoDir = r.GitDir()
	}
	rs.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { rs.errc <- rs.hs.Serve(ln) }()
	go func() {
		defer close(rs.tickerDone)
		if o.CheckpointInterval == 0 {
			<-rs.stopTicker
			return
		}
		t := time.NewTicker(o.CheckpointInterval)
		defer t.Stop()
		for {
			select {
			case <-rs.stopTicker:
				return
			case <-t.C:
				if err := s.Checkpoint(); err != nil {
					log.Error("periodic checkpoint failed", "err", err)
				}
			}
		}
	}()
	return rs, nil
}
