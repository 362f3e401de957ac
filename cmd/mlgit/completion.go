package main

import (
	"sort"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

// Shell completion of what is in the repository: run names and ids,
// experiment names, model names, versions, stages and aliases. mlgit
// completion bash|zsh|fish prints the script; the shell then asks mlgit
// (the hidden __complete command) for candidates, which these functions read
// from the repository in the current directory (or -C).

// positional is what each argument of a command is, by command path.
var positional = map[string][]completeKind{
	"mlgit run show":         {compRun},
	"mlgit run metrics":      {compRun, compMetricKey},
	"mlgit run delete":       {compRun, compRun},
	"mlgit run restore":      {compRun, compRun},
	"mlgit run artifact ls":  {compRun},
	"mlgit run artifact get": {compRun},
	"mlgit exp show":         {compExperiment},
	"mlgit exp delete":       {compExperiment},
	"mlgit exp restore":      {compExperiment},
	"mlgit exp rename":       {compExperiment},
	"mlgit exp tag set":      {compExperiment},
	"mlgit exp tag rm":       {compExperiment},
	"mlgit model show":       {compModel, compVersion},
	"mlgit model versions":   {compModel},
	"mlgit model history":    {compModel},
	"mlgit model delete":     {compModel, compVersion},
	"mlgit model describe":   {compModel},
	"mlgit model rename":     {compModel},
	"mlgit model promote":    {compModel, compVersion, compStage},
	"mlgit model alias set":  {compModel, compAlias, compVersion},
	"mlgit model alias rm":   {compModel, compAlias},
	"mlgit model tag set":    {compModel},
	"mlgit model tag rm":     {compModel},
	"mlgit model resolve":    {compModelRef},
	"mlgit model get":        {compModelRef},
	"mlgit lineage":          {compModelRef},
	"mlgit diff":             {compRun, compRun},
	"mlgit model register":   {compModel},
	"mlgit model check-ref":  {},
}

type completeKind int

const (
	compRun completeKind = iota
	compMetricKey
	compExperiment
	compModel
	compVersion
	compStage
	compAlias
	compModelRef
)

// flagKinds is what a flag of that name holds, on every command that has it.
var flagKinds = map[string]completeKind{
	"run": compRun,
	"exp": compExperiment,
}

// addCompletion attaches the completion functions to every command of root.
func addCompletion(a *cli.App, root *cobra.Command) {
	var walk func(c *cobra.Command)
	walk = func(c *cobra.Command) {
		for _, sub := range c.Commands() {
			walk(sub)
		}
		if kinds := positional[c.CommandPath()]; len(kinds) > 0 && c.ValidArgsFunction == nil {
			c.ValidArgsFunction = func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				i := len(args)
				if i >= len(kinds) {
					i = len(kinds) - 1
					if kinds[i] != compRun { // only runs repeat (delete, restore, diff)
						return nil, cobra.ShellCompDirectiveNoFileComp
					}
				}
				return candidates(a, kinds[i], args), cobra.ShellCompDirectiveNoFileComp
			}
		}
		for name, kind := range flagKinds {
			if c.Flags().Lookup(name) == nil {
				continue
			}
			kind := kind
			_ = c.RegisterFlagCompletionFunc(name, func(cmd *cobra.Command, args []string, toComplete string) ([]string, cobra.ShellCompDirective) {
				return candidates(a, kind, nil), cobra.ShellCompDirectiveNoFileComp
			})
		}
	}
	walk(root)
}

// maxCompletions bounds the runs offered (the most recent first).
const maxCompletions = 200

// candidates lists the values of kind; args are the arguments before the
// one being completed (the model of a version, stage or alias). Errors give
// no candidates: completion never prints one.
func candidates(a *cli.App, kind completeKind, args []string) []string {
	r, err := a.OpenRepo()
	if err != nil {
		return nil
	}
	var out []string
	switch kind {
	case compRun:
		page, err := r.SearchRuns(repo.RunSearch{MaxResults: maxCompletions, View: repo.ViewAll})
		if err != nil {
			return nil
		}
		names := map[string]int{}
		for _, run := range page.Runs {
			names[run.Name]++
		}
		for _, run := range page.Runs {
			desc := run.Status
			if run.Name != "" && names[run.Name] == 1 {
				out = append(out, run.Name+"\t"+run.ID[:8]+" "+desc)
			}
			out = append(out, run.ID+"\t"+run.Name+" "+desc)
		}
	case compMetricKey:
		if len(args) > 0 {
			if id, err := a.ResolveRun(r, args[0]); err == nil {
				if run, err := r.GetRun(id); err == nil {
					out = cli.SortedKeys(run.Metrics)
				}
			}
		}
	case compExperiment:
		exps, err := r.ListExperiments(repo.ViewActive)
		if err != nil {
			return nil
		}
		for _, e := range exps {
			out = append(out, e.Name+"\t"+e.ID)
		}
	case compModel, compModelRef:
		models, err := r.ListModels()
		if err != nil {
			return nil
		}
		for _, m := range models {
			if kind == compModel {
				out = append(out, m.Name)
				continue
			}
			out = append(out, m.Name+"@latest")
			for alias := range m.Aliases {
				out = append(out, m.Name+"@"+alias)
			}
			if st, err := r.Stages(); err == nil {
				for _, s := range st.Names() {
					if s != "None" {
						out = append(out, m.Name+"@"+strings.ToLower(s))
					}
				}
			}
		}
	case compVersion:
		if len(args) == 0 {
			return nil
		}
		vs, err := r.ListVersions(args[0], "")
		if err != nil {
			return nil
		}
		for _, v := range vs {
			out = append(out, strconv.FormatInt(v.Version, 10)+"\t"+v.Stage)
		}
	case compStage:
		st, err := r.Stages()
		if err != nil {
			return nil
		}
		out = st.Names()
	case compAlias:
		if len(args) == 0 {
			return nil
		}
		m, err := r.GetModel(args[0])
		if err != nil {
			return nil
		}
		for alias, v := range m.Aliases {
			out = append(out, alias+"\tv"+strconv.FormatInt(v, 10))
		}
		sort.Strings(out)
	}
	return out
}
