package cli

import (
	"fmt"
	"sort"
	"text/tabwriter"
	"time"
)

// Plural returns one when n is 1 and many otherwise.
func Plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}

// FmtTime formats a time in Unix milliseconds for tables.
func FmtTime(ms int64) string {
	if ms == 0 {
		return "-"
	}
	return time.UnixMilli(ms).UTC().Format("2006-01-02 15:04:05")
}

// SortedKeys returns the keys of m in order.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// PrintMap prints a titled key: value list, in key order.
func PrintMap(a *App, title string, m map[string]string) {
	if len(m) == 0 {
		return
	}
	fmt.Fprintf(a.Out, "%s:\n", title)
	tw := tabwriter.NewWriter(a.Out, 0, 4, 2, ' ', 0)
	for _, k := range SortedKeys(m) {
		fmt.Fprintf(tw, "  %s\t%s\n", k, m[k])
	}
	tw.Flush()
}

// ShortID is the first eight characters of an id, for tables.
func ShortID(s string) string {
	if len(s) > 8 {
		return s[:8]
	}
	return s
}

// ShortHash is the first twelve characters of a commit id, as push, pull
// and restore print them.
func ShortHash(h string) string {
	if len(h) > 12 {
		return h[:12]
	}
	return h
}

// FirstArg is args[0], or "" when there are no arguments.
func FirstArg(args []string) string {
	if len(args) > 0 {
		return args[0]
	}
	return ""
}
