// Package units spells quantities for people and for JSON the one way
// the CLI, the web UI and the diff all use: byte counts with binary units
// and the special float values in MLflow's JSON spelling.
package units

import (
	"fmt"
	"math"
	"strconv"
)

// Bytes formats a byte count with binary units: "512 B", "1.5 KiB",
// "450.0 MiB", "1.0 GiB", up to EiB.
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return strconv.FormatInt(n, 10) + " B"
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit && exp < 5; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// MLflowSpecial spells NaN and the infinities as MLflow's JSON API does
// ("NaN", "Infinity", "-Infinity"); ok is false for a finite v.
func MLflowSpecial(v float64) (s string, ok bool) {
	switch {
	case math.IsNaN(v):
		return "NaN", true
	case math.IsInf(v, 1):
		return "Infinity", true
	case math.IsInf(v, -1):
		return "-Infinity", true
	}
	return "", false
}
