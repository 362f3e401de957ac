package synccmd

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"text/tabwriter"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/mlgit/mlgit/repo/registry"
	"github.com/spf13/cobra"
)

// mlgit config reads and writes mlgit.yaml on the tracking branch (shared by
// every clone, committed in its canonical form) and, with --local, this
// clone's own settings in <git-dir>/mlgit/config.yaml.
//
// Keys:
//
//	blobs.remote                  the blob remote (a folder, file:///path, s3://, gs:// or az:// URL)
//	stages                        custom stages beyond None, Staging, Production, Archived (comma-separated)
//	metrics.spillAbove            history length (points) past which a run's new segments go to the blob store
//	promotion.<stage>.from        stages a version may come from (comma-separated)
//	promotion.<stage>.require     a filter the version's run must match
//	promotion.<stage>.review      true: promotions to <stage> go through a pull request
//
// With --local only blobs.remote: a personal remote that overrides the
// branch's, under $MLGIT_BLOB_REMOTE and --remote.

// NewConfigCmd returns mlgit config.
func NewConfigCmd(a *cli.App) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "config <command>",
		Short: "Read and change settings (mlgit.yaml on the tracking branch, or this clone's)",
		Long: `Read and change mlgit's settings without editing YAML by hand.

The shared settings live in mlgit.yaml on the tracking branch: set and unset
write it in its canonical form, with the validation mlgit check applies, in a
commit that says what changed (push it like any other commit). --local keeps a
setting in this clone only (<git-dir>/mlgit/config.yaml): today blobs.remote,
a personal blob remote that overrides the branch's.

Keys:
  blobs.remote                 the blob remote: a folder, file:///path, s3://bucket/prefix,
                               gs://bucket/prefix or az://container/prefix
  stages                       custom stages beyond None, Staging, Production, Archived (comma-separated)
  metrics.spillAbove           points in a run's history past which its new segments go to the
                               blob store (default 100000 when blobs.remote is set, else never)
  promotion.<stage>.from       stages a version may be promoted from (comma-separated)
  promotion.<stage>.require    a filter in the search grammar the version's run must match
  promotion.<stage>.review     true: promotions to <stage> are proposed as pull requests`,
		Example: `  mlgit config set blobs.remote s3://ml-artifacts/churn
  mlgit config set stages shadow,canary
  mlgit config set promotion.production.require "metrics.auc >= 0.9"
  mlgit config set promotion.production.review true
  mlgit config set --local blobs.remote /mnt/fast/blobs
  mlgit config list`,
	}
	cmd.AddCommand(newConfigGetCmd(a, nil), newConfigListCmd(a, nil), newConfigSetCmd(a, nil), newConfigUnsetCmd(a, nil))
	return cmd
}

type configGetOptions struct {
	key   string
	local bool
}

func newConfigGetCmd(a *cli.App, runF func(context.Context, *configGetOptions) error) *cobra.Command {
	var o configGetOptions
	cmd := &cobra.Command{
		Use:   "get <key> [--local]",
		Short: "Print one setting (exit 3 when it is not set)",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.key = args[0]
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runConfigGet(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.local, "local", false, "this clone's settings")
	return cmd
}

func runConfigGet(_ context.Context, a *cli.App, o *configGetOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	if _, err := parseConfigKey(o.key, o.local); err != nil {
		return err
	}
	all, err := configValues(r, o.local)
	if err != nil {
		return err
	}
	v, ok := all[o.key]
	if !ok {
		return fmt.Errorf("%w: %s is not set", repo.ErrNotFound, o.key)
	}
	fmt.Fprintln(a.Out, v)
	return nil
}

type configListOptions struct {
	local, asJSON bool
}

func newConfigListCmd(a *cli.App, runF func(context.Context, *configListOptions) error) *cobra.Command {
	var o configListOptions
	cmd := &cobra.Command{
		Use:     "list [--local] [--json]",
		Aliases: []string{"ls"},
		Short:   "Print every setting",
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runConfigList(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.local, "local", false, "this clone's settings")
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runConfigList(_ context.Context, a *cli.App, o *configListOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	all, err := configValues(r, o.local)
	if err != nil {
		return err
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, all)
	}
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	for _, k := range cli.SortedKeys(all) {
		fmt.Fprintf(tw, "%s\t%s\n", k, all[k])
	}
	return tw.Flush()
}

type configSetOptions struct {
	key, value string
	local      bool
}

func newConfigSetCmd(a *cli.App, runF func(context.Context, *configSetOptions) error) *cobra.Command {
	var o configSetOptions
	cmd := &cobra.Command{
		Use:   "set <key> <value> [--local]",
		Short: "Change a setting (a commit on the tracking branch, or --local)",
		Args:  cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.key, o.value = args[0], args[1]
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runConfigSet(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.local, "local", false, "in this clone only")
	return cmd
}

func runConfigSet(_ context.Context, a *cli.App, o *configSetOptions) error {
	return changeConfig(a, o.key, &o.value, o.local)
}

type configUnsetOptions struct {
	key   string
	local bool
}

func newConfigUnsetCmd(a *cli.App, runF func(context.Context, *configUnsetOptions) error) *cobra.Command {
	var o configUnsetOptions
	cmd := &cobra.Command{
		Use:   "unset <key> [--local]",
		Short: "Remove a setting",
		Args:  cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.key = args[0]
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runConfigUnset(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.local, "local", false, "in this clone only")
	return cmd
}

func runConfigUnset(_ context.Context, a *cli.App, o *configUnsetOptions) error {
	return changeConfig(a, o.key, nil, o.local)
}

// configKey is a parsed key: field under promotion.<stage>, or a top key.
type configKey struct {
	top   string // blobs.remote, stages or promotion
	stage string // promotion.<stage>
	field string // from, require or review
}

func parseConfigKey(k string, local bool) (configKey, error) {
	if local {
		if k != "blobs.remote" {
			return configKey{}, cli.Usagef("--local: only blobs.remote can be set per clone, not %q", k)
		}
		return configKey{top: k}, nil
	}
	switch k {
	case "blobs.remote", "stages", "metrics.spillAbove":
		return configKey{top: k}, nil
	}
	if rest, ok := strings.CutPrefix(k, "promotion."); ok {
		i := strings.LastIndexByte(rest, '.')
		if i > 0 {
			stage, field := rest[:i], rest[i+1:]
			switch field {
			case "from", "require", "review":
				return configKey{top: "promotion", stage: strings.ToLower(stage), field: field}, nil
			}
		}
	}
	return configKey{}, cli.Usagef("unknown setting %q: blobs.remote, stages, metrics.spillAbove, promotion.<stage>.from, promotion.<stage>.require or promotion.<stage>.review", k)
}

// configValues flattens the settings into key → value.
func configValues(r *repo.Repo, local bool) (map[string]string, error) {
	out := map[string]string{}
	if local {
		lc, err := cli.ReadLocalConfig(r)
		if err != nil {
			return nil, err
		}
		if lc.Blobs.Remote != "" {
			out["blobs.remote"] = lc.Blobs.Remote
		}
		return out, nil
	}
	cfg, err := r.Config()
	if err != nil {
		return nil, err
	}
	if cfg.Blobs.Remote != "" {
		out["blobs.remote"] = cfg.Blobs.Remote
	}
	if len(cfg.Stages) > 0 {
		out["stages"] = strings.Join(cfg.Stages, ",")
	}
	if cfg.Metrics.SpillAbove > 0 {
		out["metrics.spillAbove"] = strconv.FormatInt(cfg.Metrics.SpillAbove, 10)
	}
	for st, p := range cfg.Promotion {
		if len(p.From) > 0 {
			out["promotion."+st+".from"] = strings.Join(p.From, ",")
		}
		if p.Require != "" {
			out["promotion."+st+".require"] = p.Require
		}
		if p.Review {
			out["promotion."+st+".review"] = "true"
		}
	}
	return out, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// changeConfig sets (value non-nil) or unsets a setting.
func changeConfig(a *cli.App, key string, value *string, local bool) error {
	k, err := parseConfigKey(key, local)
	if err != nil {
		return err
	}
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	what := "unset " + key
	if value != nil {
		what = "set " + key + " = " + *value
	}
	if local {
		lc, err := cli.ReadLocalConfig(r)
		if err != nil {
			return err
		}
		lc.Blobs.Remote = ""
		if value != nil {
			lc.Blobs.Remote = *value
		}
		if err := cli.WriteLocalConfig(r, lc); err != nil {
			return err
		}
		fmt.Fprintf(a.Out, "%s (this clone only)\n", what)
		return nil
	}
	changed := false
	_, err = r.Update(func(tx *repo.Tx) error {
		data, ok, err := tx.Read("mlgit.yaml")
		if err != nil {
			return err
		}
		cfg := manifest.NewConfig()
		if ok {
			if cfg, err = manifest.DecodeConfig(data); err != nil {
				return fmt.Errorf("mlgit.yaml on the tracking branch: %w", err)
			}
		}
		if err := applyConfig(cfg, k, value); err != nil {
			return err
		}
		if err := cfg.Validate(); err != nil {
			return err
		}
		if err := registry.ValidatePolicy(cfg); err != nil {
			return err
		}
		out := cfg.Encode()
		if ok && string(out) == string(data) {
			return nil
		}
		changed = true
		tx.Write("mlgit.yaml", out)
		tx.SetMessage("config: " + what)
		return nil
	})
	if err != nil {
		return err
	}
	if !changed {
		fmt.Fprintf(a.Out, "%s: no change\n", key)
		return nil
	}
	fmt.Fprintf(a.Out, "%s (committed on %s; mlgit push shares it)\n", what, r.Branch())
	return nil
}

// applyConfig changes cfg; value nil unsets.
func applyConfig(cfg *manifest.Config, k configKey, value *string) error {
	switch k.top {
	case "blobs.remote":
		cfg.Blobs.Remote = ""
		if value != nil {
			cfg.Blobs.Remote = strings.TrimSpace(*value)
		}
	case "metrics.spillAbove":
		cfg.Metrics.SpillAbove = 0
		if value != nil {
			n, err := strconv.ParseInt(strings.TrimSpace(*value), 10, 64)
			if err != nil || n < manifest.MinSpillAbove {
				return cli.Usagef("metrics.spillAbove: %q is not a number of points of at least %d (e.g. %d)", *value, manifest.MinSpillAbove, manifest.DefaultSpillAbove)
			}
			cfg.Metrics.SpillAbove = n
		}
	case "stages":
		cfg.Stages = nil
		if value != nil {
			cfg.Stages = splitList(*value)
		}
	case "promotion":
		if cfg.Promotion == nil {
			cfg.Promotion = map[string]manifest.PromotionPolicy{}
		}
		p := cfg.Promotion[k.stage]
		switch k.field {
		case "from":
			p.From = nil
			if value != nil {
				p.From = splitList(*value)
			}
		case "require":
			p.Require = ""
			if value != nil {
				p.Require = *value
			}
		case "review":
			p.Review = false
			if value != nil {
				b, err := strconv.ParseBool(*value)
				if err != nil {
					return cli.Usagef("promotion.%s.review: %q is not true or false", k.stage, *value)
				}
				p.Review = b
			}
		}
		if len(p.From) == 0 && p.Require == "" && !p.Review {
			delete(cfg.Promotion, k.stage)
		} else {
			cfg.Promotion[k.stage] = p
		}
		if len(cfg.Promotion) == 0 {
			cfg.Promotion = nil
		}
	}
	return nil
}
