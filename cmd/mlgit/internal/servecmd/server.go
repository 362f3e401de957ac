package servecmd

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// NewServerCmd returns mlgit server; runF, when set, replaces its run
// function (tests).
func NewServerCmd(a *cli.App, runF func(context.Context, *cli.ServerOptions) error) *cobra.Command {
	o := &cli.ServerOptions{}
	cmd := &cobra.Command{
		Use:   "server [--host 127.0.0.1] [--port 5000] [--read-only] [--auth-file FILE] [--allowed-hosts HOST,...] [--blob-remote URL] [--sync REMOTE [--sync-interval 30s]]",
		Short: "Serve the MLflow REST API over the repository",
		Long: `Serve the MLflow tracking REST API (/api/2.0/mlflow/..., /ajax-api/2.0/mlflow/...,
the mlflow-artifacts proxy, /health, /version) over this repository, so that
unmodified MLflow code logs into Git:

  mlflow.set_tracking_uri("http://127.0.0.1:5000")

Writes are acknowledged once durable in the store's journal and committed to
the tracking branch at checkpoints (every --checkpoint-interval, at run end,
and on shutdown: SIGINT or SIGTERM stops accepting requests, finishes those in
flight and commits everything acknowledged). Runs that end within
--commit-delay of each other share one commit; ending a run returns once the
end is durable, without waiting for that commit. Uploaded artifacts go to the
local blob cache; downloads fall back to the blob remote (--blob-remote, else
$MLGIT_BLOB_REMOTE, else blobs.remote in mlgit.yaml) when one is set.

Security: the server binds loopback by default and accepts only requests whose
Host header is a loopback name, or one listed with --allowed-hosts (against DNS
rebinding; "*" accepts any). POST and PUT API calls must be JSON (against
cross-site request forgery). --auth-file requires a bearer token
(MLFLOW_TRACKING_TOKEN) or a Basic user (MLFLOW_TRACKING_USERNAME and
MLFLOW_TRACKING_PASSWORD) on every API call; the file holds one
"user <name> <bcrypt-hash>" or "token <name> <hash>" per line (see
docs/server.md). --read-only refuses every write with PERMISSION_DENIED.

Team server: --sync REMOTE (a configured remote such as origin, or a URL or
path) keeps this clone in step with a Git remote that other servers and
clones share. After each checkpoint or registry write the server pushes
(artifacts to the blob remote first, then branch and tags, as mlgit push
does, re-applying its commits on what others pushed and renumbering a model
version the remote took first); every --sync-interval, and when
POST /api/2.0/mlgit/sync is called (a Git host's push webhook; ?wait=true
answers when done), it pulls, so searches and the UI show what others
logged. A remote that is down or refuses does not stop the server: writes
are accepted and committed locally, and the sync is retried with
exponential back-off (capped at 10 sync intervals, at most 5 minutes).
GET /api/2.0/mlgit/status reports the state (last success, last error,
pending commits, next attempt). git runs with the user's credential helpers
and SSH keys. With --sync, a promotion into a stage whose policy says
review: true is proposed (a branch pushed to REMOTE) rather than refused.
See docs/sharing.md, "Team servers".`,
		Example: `  mlgit server
  mlgit server --port 5001 --read-only
  mlgit server --host 0.0.0.0 --allowed-hosts mlflow.internal --auth-file /etc/mlgit/auth
  mlgit server --sync origin --sync-interval 1m --blob-remote s3://ml-artifacts/team
  curl -s http://127.0.0.1:5000/api/2.0/mlgit/status`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Port < 0 || o.Port > 65535 {
				return cli.Usagef("--port %d is not a TCP port (0-65535)", o.Port)
			}
			if o.CheckpointInterval < 0 {
				return cli.Usagef("--checkpoint-interval must not be negative")
			}
			if o.CommitDelay < 0 {
				return cli.Usagef("--commit-delay must not be negative")
			}
			if o.SyncInterval <= 0 {
				return cli.Usagef("--sync-interval must be positive (e.g. 30s)")
			}
			if cmd.Flags().Changed("sync-interval") && o.Sync == "" {
				return cli.Usagef("--sync-interval needs --sync REMOTE")
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return RunServer(cmd.Context(), a, o)
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
	f.DurationVar(&o.CommitDelay, "commit-delay", time.Second, "commit ended runs at most this long after they end, several in one commit (0: before update-run returns)")
	f.BoolVar(&o.Quiet, "quiet", false, "do not log each request")
	f.StringVar(&o.Sync, "sync", "", "push to and pull from the Git `REMOTE` (name, URL or path) in the background")
	f.DurationVar(&o.SyncInterval, "sync-interval", 30*time.Second, "with --sync, pull at least this often")
	return cmd
}

// RunServer runs mlgit server until ctx is done.
func RunServer(ctx context.Context, a *cli.App, o *cli.ServerOptions) error {
	if err := checkSyncRemote(a, o.Sync); err != nil {
		return err
	}
	srv, err := cli.StartServer(ctx, a, o)
	if err != nil {
		return err
	}
	if host, port, err := net.SplitHostPort(srv.Addr); err == nil && net.ParseIP(host) != nil && net.ParseIP(host).IsUnspecified() {
		// 0.0.0.0 or ::, printed as http://[::]:5000, is not an address to
		// open; and requests naming this host by IP or DNS name are
		// refused unless --allowed-hosts lists it: say so now, not at the
		// first refused request.
		fmt.Fprintf(a.Err, "mlgit server: serving %s (branch %s) on port %s of every interface: http://127.0.0.1:%s on this machine\n", srv.RepoDir, srv.Branch, port, port)
		if len(o.AllowedHosts) == 0 {
			fmt.Fprintf(a.Err, "mlgit server: other machines must reach it by a name listed with --allowed-hosts (e.g. --allowed-hosts $(hostname),192.0.2.10): requests naming any other host are refused (DNS rebinding protection)\n")
		}
	} else {
		fmt.Fprintf(a.Err, "mlgit server: serving %s (branch %s) on http://%s\n", srv.RepoDir, srv.Branch, srv.Addr)
	}
	if o.Sync != "" {
		fmt.Fprintf(a.Err, "mlgit server: syncing with %s (pull every %s, push after each commit); state on http://%s/api/2.0/mlgit/status\n", o.Sync, o.SyncInterval, srv.Addr)
	}
	if o.Ready != nil {
		o.Ready(srv.Addr)
	}
	var serveErr error
	select {
	case <-ctx.Done():
		fmt.Fprintln(a.Err, "mlgit server: shutting down")
	case serveErr = <-srv.Errc:
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

// checkSyncRemote refuses a --sync REMOTE that is neither a remote of the
// repository nor a URL or path, before the server starts.
func checkSyncRemote(a *cli.App, remote string) error {
	if remote == "" || strings.ContainsAny(remote, "/:\\") {
		return nil
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	names := r.RemoteNames()
	if slices.Contains(names, remote) {
		return nil
	}
	have := "it has none"
	if len(names) > 0 {
		have = "it has " + strings.Join(names, ", ")
	}
	return cli.Usagef("--sync %s: this repository has no remote of that name (%s); add it with git remote add %s URL, or give a URL or path", remote, have, remote)
}
