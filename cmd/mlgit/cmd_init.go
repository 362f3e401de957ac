package main

import (
	"fmt"

	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type initOptions struct {
	bare string
	json bool
}

func newInitCmd(a *app) *cobra.Command {
	var o initOptions
	cmd := &cobra.Command{
		Use:   "init [--bare-repo PATH]",
		Short: "Create the tracking branch in this repository",
		Long: `Create the tracking branch (mlgit by default) with mlgit.yaml and the Default
experiment (id 0). Your working tree, index and HEAD are not touched.
Running it again is harmless.

With --bare-repo PATH, create (or reuse) a dedicated bare tracking repository.`,
		Example: `  mlgit init
  mlgit init --branch experiments
  mlgit init --bare-repo /srv/git/tracking.git`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInit(a, o)
		},
	}
	cmd.Flags().StringVar(&o.bare, "bare-repo", "", "create a dedicated bare tracking repository at `PATH`")
	cmd.Flags().BoolVar(&o.json, "json", false, "print the result as JSON")
	return cmd
}

func runInit(a *app, o initOptions) error {
	path, bare := a.repoPath, false
	if o.bare != "" {
		path, bare = o.bare, true
	}
	r, res, err := repo.Init(path, a.repoOptions(), bare)
	if err != nil {
		return err
	}
	defer r.Close()
	if o.json {
		return printJSON(a.Out, res)
	}
	if res.Created {
		fmt.Fprintf(a.Out, "Initialized mlgit tracking branch %q in %s\n", res.Branch, res.GitDir)
	} else {
		fmt.Fprintf(a.Out, "mlgit tracking branch %q already initialized in %s\n", res.Branch, res.GitDir)
	}
	return nil
}
