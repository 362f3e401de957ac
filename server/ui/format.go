package ui

import (
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/mlgit/mlgit/internal/units"
)

// shortHash is the 10-character abbreviation of a commit or digest.
func shortHash(h string) string {
	if len(h) > 10 {
		return h[:10]
	}
	return h
}

// when formats a time (a time.Time or MLflow milliseconds) as UTC
// "2006-01-02 15:04:05"; zero is "".
func when(v any) string {
	var t time.Time
	switch x := v.(type) {
	case time.Time:
		t = x
	case int64:
		if x == 0 {
			return ""
		}
		t = time.UnixMilli(x)
	case int:
		if x == 0 {
			return ""
		}
		t = time.UnixMilli(int64(x))
	default:
		return ""
	}
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format("2006-01-02 15:04:05")
}

// duration formats end-start (milliseconds) as "1h02m", "3m05s", "4.2s";
// a run without an end is "".
func duration(start, end int64) string {
	if start == 0 || end == 0 || end < start {
		return ""
	}
	d := time.Duration(end-start) * time.Millisecond
	switch {
	case d >= time.Hour:
		return fmt.Sprintf("%dh%02dm", int(d.Hours()), int(d.Minutes())%60)
	case d >= time.Minute:
		return fmt.Sprintf("%dm%02ds", int(d.Minutes()), int(d.Seconds())%60)
	default:
		return strconv.FormatFloat(d.Seconds(), 'f', 1, 64) + "s"
	}
}

// humanBytes formats a size in bytes with binary units.
func humanBytes(n int64) string { return units.Bytes(n) }

// formatNum formats a metric value: up to 6 significant digits, NaN and
// infinities spelled as MLflow's JSON does.
func formatNum(v float64) string {
	if s, ok := units.MLflowSpecial(v); ok {
		return s
	}
	return strconv.FormatFloat(v, 'g', 6, 64)
}

// pathEscape escapes one path segment (a model name, a run id).
func pathEscape(s string) string { return url.PathEscape(s) }
