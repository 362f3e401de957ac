package servecmd

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"runtime"
	"time"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/spf13/cobra"
)

// UIOptions are the options of mlgit ui.
type UIOptions struct {
	Port     int
	NoOpen   bool
	ReadOnly bool
	// Open opens url in a browser (default: openBrowser).
	Open func(url string) error
	// Ready, if set, is called with the URL once the server accepts
	// connections (tests).
	Ready func(url string)
}

// NewUICmd returns mlgit ui; runF, when set, replaces its run function
// (tests).
func NewUICmd(a *cli.App, runF func(context.Context, *UIOptions) error) *cobra.Command {
	o := &UIOptions{}
	cmd := &cobra.Command{
		Use:   "ui [--port 5000] [--no-open] [--read-only]",
		Short: "Open the web UI on this repository",
		Long: `Start mlgit's server on the loopback interface and open its web UI in a
browser: experiments, runs, charts, compare, artifacts, the model registry,
the activity of the tracking branch and diffs. The URL is printed either way;
the browser is opened with xdg-open (Linux, when a display is set) or open
(macOS), unless --no-open.

It is mlgit server --host 127.0.0.1 with the UI in front: the MLflow API is on
the same port, so MLflow clients can log while you watch. Stop it with
Ctrl-C: everything acknowledged is committed first.`,
		Example: `  mlgit ui
  mlgit ui --port 8080 --no-open
  mlgit ui --read-only`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.Port < 0 || o.Port > 65535 {
				return cli.Usagef("--port %d is not a TCP port (0-65535)", o.Port)
			}
			if runF != nil {
				return runF(cmd.Context(), o)
			}
			return RunUI(cmd.Context(), a, o)
		},
	}
	f := cmd.Flags()
	f.IntVar(&o.Port, "port", 5000, "TCP port on 127.0.0.1 (0: any free port)")
	f.BoolVar(&o.NoOpen, "no-open", false, "print the URL without opening a browser")
	f.BoolVar(&o.ReadOnly, "read-only", false, "browse only: refuse every write")
	return cmd
}

// RunUI runs mlgit ui until ctx is done.
func RunUI(ctx context.Context, a *cli.App, o *UIOptions) error {
	open := o.Open
	if open == nil {
		open = openBrowser
	}
	so := &cli.ServerOptions{Host: "127.0.0.1", Port: o.Port, ReadOnly: o.ReadOnly, CheckpointInterval: 30 * time.Second, CommitDelay: time.Second, Quiet: true}
	so.Ready = func(addr string) {
		url := "http://" + addr + "/"
		fmt.Fprintf(a.Out, "mlgit ui: %s\n", url)
		if !o.NoOpen {
			if err := open(url); err != nil {
				fmt.Fprintf(a.Err, "mlgit ui: open the URL above in a browser (%v)\n", err)
			}
		}
		if o.Ready != nil {
			o.Ready(url)
		}
	}
	return RunServer(ctx, a, so)
}

// openBrowser opens url with the desktop's handler, without waiting for it.
func openBrowser(url string) error {
	var name string
	var args []string
	switch runtime.GOOS {
	case "darwin":
		name = "open"
	case "windows":
		name, args = "rundll32", []string{"url.dll,FileProtocolHandler"}
	default:
		if os.Getenv("DISPLAY") == "" && os.Getenv("WAYLAND_DISPLAY") == "" {
			return fmt.Errorf("no display")
		}
		name = "xdg-open"
	}
	path, err := exec.LookPath(name)
	if err != nil {
		return fmt.Errorf("no %s", name)
	}
	cmd := exec.Command(path, append(args, url)...)
	if err := cmd.Start(); err != nil {
		return err
	}
	go cmd.Wait()
	return nil
}
