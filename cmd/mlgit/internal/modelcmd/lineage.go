package modelcmd

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/mlgit/mlgit/cmd/mlgit/internal/cli"
	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo"
	"github.com/spf13/cobra"
)

type lineageOptions struct {
	ref    string // a model reference or a run
	asJSON bool
}

// NewLineageCmd returns mlgit lineage; runF, when set, replaces its run
// function (tests).
func NewLineageCmd(a *cli.App, runF func(context.Context, *lineageOptions) error) *cobra.Command {
	var o lineageOptions
	cmd := &cobra.Command{
		Use:   "lineage <ref|run> [--json]",
		Short: "Trace a model version or run back to its run, code, data and parent model",
		Long: `Trace where a model version (name@production, name@v3, ...) or a run came from:
the run that produced it, with its params and final metrics; the code commit it
was trained from and whether the checkout was dirty; its input datasets (name,
digest, source); and the model version it fine-tuned (mlgit run start
--parent-model), traced the same way.`,
		Example: `  mlgit lineage churn@production
  mlgit lineage 3f2a9c1e --json`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.ref = args[0]
			if runF != nil {
				return runF(cmd.Context(), &o)
			}
			return runLineage(cmd.Context(), a, &o)
		},
	}
	cmd.Flags().BoolVar(&o.asJSON, "json", false, "print JSON")
	return cmd
}

func runLineage(_ context.Context, a *cli.App, o *lineageOptions) error {
	r, err := a.OpenRepo()
	if err != nil {
		return err
	}
	l, err := r.Lineage(o.ref)
	if err != nil {
		return err
	}
	if o.asJSON {
		return cli.PrintJSON(a.Out, l)
	}
	drawLineage(a.Out, l, a.OutTTY)
	return nil
}

// treeNode is one line of a drawn tree and its children.
type treeNode struct {
	text     string
	children []*treeNode
}

func (n *treeNode) add(text string) *treeNode {
	c := &treeNode{text: text}
	n.children = append(n.children, c)
	return c
}

// lineageTree turns a lineage into a tree of lines.
func lineageTree(l *repo.Lineage) *treeNode {
	var root *treeNode
	var at *treeNode
	if v := l.Version; v != nil {
		text := fmt.Sprintf("model %s v%d", v.Model, v.Version)
		var notes []string
		if v.Stage != "" {
			notes = append(notes, v.Stage)
		}
		if len(v.Aliases) > 0 {
			notes = append(notes, "aliases: "+strings.Join(v.Aliases, ", "))
		}
		if len(notes) > 0 {
			text += " (" + strings.Join(notes, "; ") + ")"
		}
		root = &treeNode{text: text}
		if v.Digest != "" {
			root.add("digest " + v.Digest)
		}
		if v.Source != "" {
			root.add("source " + v.Source)
		}
		at = root
	}
	if run := l.Run; run != nil {
		text := fmt.Sprintf("run %s", run.ID)
		if run.Name != "" {
			text += fmt.Sprintf(" %q", run.Name)
		}
		text += " " + run.Status
		if run.Experiment != "" {
			text += fmt.Sprintf(" in experiment %q", run.Experiment)
		}
		var rn *treeNode
		if at == nil {
			root = &treeNode{text: text}
			rn = root
		} else {
			rn = at.add(text)
		}
		if len(run.Params) > 0 {
			p := rn.add("params")
			for _, k := range cli.SortedKeys(run.Params) {
				p.add(k + " = " + run.Params[k])
			}
		}
		if len(run.Metrics) > 0 {
			m := rn.add("metrics (final)")
			for _, k := range cli.SortedKeys(run.Metrics) {
				m.add(k + " = " + manifest.FormatFloat(float64(run.Metrics[k])))
			}
		}
		if c := run.Code; c != nil {
			text := "code " + c.Commit
			if c.Dirty {
				text += " (dirty)"
			}
			if c.Branch != "" {
				text += " on " + c.Branch
			}
			if c.Subject != "" {
				text += fmt.Sprintf(" %q", c.Subject)
			}
			cn := rn.add(text)
			if len(c.Command) > 0 {
				cn.add("command " + strings.Join(c.Command, " "))
			}
		}
		if len(run.Inputs) > 0 {
			in := rn.add("inputs")
			for _, d := range run.Inputs {
				text := d.Name + " " + d.Digest
				if d.Source != "" {
					text += " " + d.Source
				}
				if d.Context != "" {
					text += " (" + d.Context + ")"
				}
				in.add(text)
			}
		}
		at = rn
	}
	if root == nil {
		root = &treeNode{text: "(nothing recorded)"}
		at = root
	}
	for _, n := range l.Notes {
		at.add("note: " + n)
	}
	if l.Parent != nil {
		p := at.add("fine-tuned from")
		p.children = append(p.children, lineageTree(l.Parent))
	}
	return root
}

// drawLineage prints the lineage as a tree: box-drawing characters on a
// terminal, ASCII otherwise.
func drawLineage(w io.Writer, l *repo.Lineage, tty bool) {
	branch, last, pipe := "|-- ", "`-- ", "|   "
	if tty {
		branch, last, pipe = "├── ", "└── ", "│   "
	}
	var draw func(n *treeNode, prefix string)
	draw = func(n *treeNode, prefix string) {
		for i, c := range n.children {
			conn, next := branch, pipe
			if i == len(n.children)-1 {
				conn, next = last, "    "
			}
			fmt.Fprintln(w, prefix+conn+c.text)
			draw(c, prefix+next)
		}
	}
	root := lineageTree(l)
	fmt.Fprintln(w, root.text)
	draw(root, "")
}
