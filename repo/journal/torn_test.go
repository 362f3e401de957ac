package journal

import (
	"bytes"
	"errors"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// journalBytes is a journal file with a few records of every shape.
func journalBytes(t testing.TB) []byte {
	t.Helper()
	run := "0123456789abcdef0123456789abcdef"
	name := "renamed"
	ops := []Op{
		{Op: OpCreate, Run: run, Doc: &manifest.Run{ID: run, ExperimentID: "0", Status: manifest.StatusRunning, LifecycleStage: manifest.LifecycleActive}},
		{Op: OpParam, Run: run, Key: "lr", Value: "0.1"},
		{Op: OpTag, Run: run, Key: "team", Value: "ml"},
		{Op: OpMetric, Run: run, Point: manifest.MetricPoint{Key: "loss", Value: 0.5, Timestamp: 1, Step: 2}},
		{Op: OpDelArtifacts, Run: run, Key: "plots"},
		{Op: OpUpdate, Run: run, Status: manifest.StatusFinished, EndTime: 9, Name: &name},
	}
	b, err := EncodeRecords([]byte(Magic), ops)
	if err != nil {
		t.Fatal(err)
	}
	return AppendFooter(b, len(ops))
}

// TestTornJournalFile: a journal file cut at any byte (a torn write, a
// disk that lost the tail) is detected as corrupt, never read in part; the
// whole file decodes to every record.
func TestTornJournalFile(t *testing.T) {
	data := journalBytes(t)
	ops, err := Decode(data)
	if err != nil || len(ops) != 6 {
		t.Fatalf("whole file: %d records, %v", len(ops), err)
	}
	for n := 0; n < len(data); n++ {
		ops, err := Decode(data[:n])
		if !errors.Is(err, ErrCorrupt) || ops != nil {
			t.Fatalf("cut at %d of %d: %d records, %v", n, len(data), len(ops), err)
		}
	}
	// A flipped byte anywhere in the records is caught too (the footer's
	// checksum; its hex digits read in either case).
	footer := bytes.LastIndex(data, []byte("\nE\t")) + 1
	for i := len(Magic); i < footer; i++ {
		bad := append([]byte(nil), data...)
		bad[i] ^= 0x20
		if ops, err := Decode(bad); err == nil {
			t.Fatalf("byte %d flipped: decoded %d records", i, len(ops))
		}
	}
}

// FuzzDecode: decoding any bytes never panics, and what decodes encodes to
// records that decode the same.
func FuzzDecode(f *testing.F) {
	f.Add(journalBytes(f))
	f.Add([]byte(Magic + "E\t0\t0\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ops, err := Decode(data)
		if err != nil {
			return
		}
		b, err := EncodeRecords([]byte(Magic), ops)
		if err != nil {
			t.Fatal(err)
		}
		again, err := Decode(AppendFooter(b, len(ops)))
		if err != nil || len(again) != len(ops) {
			t.Fatalf("re-encoded: %d records, %v (was %d)", len(again), err, len(ops))
		}
	})
}
