package cli

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
)

// ServerOptions are the options of mlgit server (and of the server that
// mlgit ui and mlgit run exec --serve start).
type ServerOptions struct {
	Host               string
	Port               int
	BlobRemote         string
	AuthFile           string
	ReadOnly           bool
	AllowedHosts       []string
	CheckpointInterval time.Duration
	// CommitDelay is server.Config.CommitDelay.
	CommitDelay time.Duration
	Quiet       bool
	// Sync, when set, is the Git remote the server pushes to and pulls
	// from every SyncInterval (mlgit server --sync).
	Sync         string
	SyncInterval time.Duration
	// Ready, if set, is called with the listening address once the server
	// accepts connections (tests use it with --port 0).
	Ready func(addr string)
}

func isLoopbackHost(h string) bool {
	if h == "localhost" {
		return true
	}
	ip := net.ParseIP(strings.Trim(h, "[]"))
	return ip != nil && ip.IsLoopback()
}

// RunningServer is a server started by StartServer.
type RunningServer struct {
	// Addr is the listening address (host:port).
	Addr            string
	RepoDir, Branch string
	hs              *http.Server
	s               *server.Server
	log             *slog.Logger
	Errc            chan error
	stopTicker      chan struct{}
	tickerDone      chan struct{}
}

// Stop stops accepting requests, waits up to 30 s for those in flight, and
// commits everything acknowledged with a final checkpoint. It is what
// SIGTERM does, and what mlgit run exec --mlflow will call when its child
// exits.
func (rs *RunningServer) Stop() error {
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

// StartServer opens the repository, listens and serves in the background
// (with periodic checkpoints) until Stop.
func StartServer(ctx context.Context, a *App, o *ServerOptions) (*RunningServer, error) {
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
		CommitDelay: o.CommitDelay,
	}
	if u, _, err := a.BlobRemoteURL(r, o.BlobRemote); err == nil {
		st, err := a.OpenBlobStore(ctx, u, nil)
		if err != nil {
			return nil, err
		}
		cfg.Remote = st
	} else if o.BlobRemote != "" {
		return nil, err
	} else {
		var ue *UsageError
		if !errors.As(err, &ue) {
			return nil, err
		}
	}
	if o.AuthFile != "" {
		auth, err := server.LoadAuthFile(o.AuthFile)
		if err != nil {
			return nil, Usagef("%v", err)
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
	if o.Sync != "" {
		cfg.Sync = &server.SyncConfig{Remote: o.Sync, Interval: o.SyncInterval}
	}
	s, err := server.New(cfg)
	if err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(o.Port)))
	if err != nil {
		return nil, fmt.Errorf("listen: %w", err)
	}
	rs := &RunningServer{
		Addr: ln.Addr().String(), RepoDir: r.WorkTree(), Branch: r.Branch(), s: s, log: log,
		Errc: make(chan error, 1), stopTicker: make(chan struct{}), tickerDone: make(chan struct{}),
	}
	if rs.RepoDir == "" {
		rs.RepoDir = r.GitDir()
	}
	rs.hs = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	go func() { rs.Errc <- rs.hs.Serve(ln) }()
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
