package journal

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"math"
	"strconv"
	"strings"

	"github.com/mlgit/mlgit/manifest"
)

// The journal is a folder of immutable files, <git-dir>/mlgit/journal/*.jnl.
// A write is acknowledged once its file is fsynced and renamed into the
// folder (and the folder fsynced), or, for a writer with a log (wal.go),
// once the file's bytes are fdatasynced in the log; so it survives kill -9
// at any instant, and a power loss. A reader never sees a partial file. A checkpoint folds all files into one
// commit; before moving the branch it records an intent (the new commit
// and the files it consumes), and after the move it deletes the files. On
// the next checkpoint an intent whose commit reached the branch deletes its
// files, one that did not is discarded: every write is applied exactly once.
//
// File format, one record a line:
//
//	mlgit-journal v1
//	M<TAB>run<TAB>key<TAB>step<TAB>timestamp<TAB>value   a metric point
//	J<TAB>{json}                                        any other op
//	E<TAB>count<TAB>crc32                               end: records and checksum of all lines above
//
// File names are <unix-nanos>-<random>-<run id or "multi">.jnl, so they sort
// in write order and a reader of one run opens only its files.
const Magic = "mlgit-journal v1\n"

// Op names of journal records (and of the JSON field "op").
const (
	OpCreate    = "create"
	OpParam     = "param"
	OpTag       = "tag"
	OpDelTag    = "deltag"
	OpUpdate    = "update"
	OpDelete    = "delete"
	OpRestore   = "restore"
	OpInputs    = "inputs"
	OpOutputs   = "outputs"
	OpArtifacts = "artifacts"
	// OpDelArtifacts removes the artifact at Key, or every one below the
	// folder Key, from the run's index (the artifact proxy's DELETE).
	OpDelArtifacts = "delartifacts"
	OpMetric       = "metric"
)

// Op is one journal record.
type Op struct {
	Op        string                 `json:"op"`
	Run       string                 `json:"run"`
	Doc       *manifest.Run          `json:"doc,omitempty"`
	Key       string                 `json:"key,omitempty"`
	Value     string                 `json:"value,omitempty"`
	Status    string                 `json:"status,omitempty"`
	EndTime   int64                  `json:"end_time,omitempty"`
	Name      *string                `json:"name,omitempty"`
	Exit      *int                   `json:"exit,omitempty"`
	Time      int64                  `json:"time,omitempty"`
	Inputs    []manifest.Dataset     `json:"inputs,omitempty"`
	Outputs   []manifest.ModelOutput `json:"outputs,omitempty"`
	Artifacts []manifest.Artifact    `json:"artifacts,omitempty"`
	Point     manifest.MetricPoint   `json:"-"`
}

// AppendRecord appends one record line.
func AppendRecord(b []byte, o Op) ([]byte, error) {
	if o.Op == OpMetric {
		return AppendPointRecord(b, o.Run, o.Point), nil
	}
	j, err := json.Marshal(o)
	if err != nil {
		return nil, err
	}
	b = append(b, 'J', '\t')
	b = append(b, j...)
	return append(b, '\n'), nil
}

var ErrCorrupt = errors.New("corrupt journal file")

func Decode(data []byte) ([]Op, error) { return DecodeOpts(data, false) }

// DecodeOpts decodes a journal file; with skipMetrics, metric
// records are checked by the file checksum but not parsed or returned
// (validating a write needs params and tags, not the metric history).
func DecodeOpts(data []byte, skipMetrics bool) ([]Op, error) {
	if !bytes.HasPrefix(data, []byte(Magic)) {
		return nil, fmt.Errorf("%w: bad header", ErrCorrupt)
	}
	if len(data) == 0 || data[len(data)-1] != '\n' {
		return nil, fmt.Errorf("%w: truncated", ErrCorrupt)
	}
	end := bytes.LastIndexByte(data[:len(data)-1], '\n') + 1
	footer := strings.Split(strings.TrimSuffix(string(data[end:]), "\n"), "\t")
	if len(footer) != 3 || footer[0] != "E" {
		return nil, fmt.Errorf("%w: no end record", ErrCorrupt)
	}
	n, err1 := strconv.Atoi(footer[1])
	sum, err2 := strconv.ParseUint(footer[2], 16, 32)
	if err1 != nil || err2 != nil || uint32(sum) != crc32.ChecksumIEEE(data[:end]) {
		return nil, fmt.Errorf("%w: checksum mismatch", ErrCorrupt)
	}
	ops := make([]Op, 0, n)
	body := data[len(Magic):end]
	for len(body) > 0 {
		i := bytes.IndexByte(body, '\n')
		line := body[:i]
		body = body[i+1:]
		if len(line) < 2 || line[1] != '\t' {
			return nil, fmt.Errorf("%w: bad record", ErrCorrupt)
		}
		switch line[0] {
		case 'M':
			if skipMetrics {
				n--
				continue
			}
			rest := line[2:]
			t := bytes.IndexByte(rest, '\t')
			if t < 0 {
				return nil, fmt.Errorf("%w: bad metric record", ErrCorrupt)
			}
			p, err := manifest.ParseSegmentLine(rest[t+1:])
			if err != nil {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			ops = append(ops, Op{Op: OpMetric, Run: string(rest[:t]), Point: p})
		case 'J':
			var o Op
			if err := json.Unmarshal(line[2:], &o); err != nil {
				return nil, fmt.Errorf("%w: %v", ErrCorrupt, err)
			}
			ops = append(ops, o)
		default:
			return nil, fmt.Errorf("%w: unknown record %q", ErrCorrupt, line[0])
		}
	}
	if len(ops) != n {
		return nil, fmt.Errorf("%w: %d records, footer says %d", ErrCorrupt, len(ops), n)
	}
	return ops, nil
}

// AppendPointRecord appends the record of a metric point.
func AppendPointRecord(b []byte, run string, p manifest.MetricPoint) []byte {
	b = append(b, 'M', '\t')
	b = append(b, run...)
	b = append(b, '\t')
	return AppendSegmentLine(b, p)
}

// AppendSegmentLine is manifest.AppendSegmentLine without allocating
// (TestAppendSegmentLine checks they agree).
func AppendSegmentLine(b []byte, p manifest.MetricPoint) []byte {
	b = append(b, p.Key...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, p.Step, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, p.Timestamp, 10)
	b = append(b, '\t')
	switch v := p.Value; {
	case math.IsNaN(v):
		b = append(b, "NaN"...)
	case math.IsInf(v, 1):
		b = append(b, "Inf"...)
	case math.IsInf(v, -1):
		b = append(b, "-Inf"...)
	default:
		b = strconv.AppendFloat(b, v, 'g', -1, 64)
	}
	return append(b, '\n')
}

// EncodeSegment is manifest.EncodeSegment without allocating per point.
func EncodeSegment(points []manifest.MetricPoint) []byte {
	b := make([]byte, 0, len(points)*32)
	for _, p := range points {
		b = AppendSegmentLine(b, p)
	}
	return b
}

// EncodeRecords appends the record lines of ops to b.
func EncodeRecords(b []byte, ops []Op) ([]byte, error) {
	if b == nil {
		b = make([]byte, 0, len(ops)*48)
	}
	for _, o := range ops {
		var err error
		if b, err = AppendRecord(b, o); err != nil {
			return nil, err
		}
	}
	return b, nil
}

// AppendFooter appends the end record: the count of records and
// the CRC32 of everything before it.
func AppendFooter(b []byte, n int) []byte {
	sum := crc32.ChecksumIEEE(b)
	b = append(b, 'E', '\t')
	b = strconv.AppendInt(b, int64(n), 10)
	b = append(b, '\t')
	b = strconv.AppendUint(b, uint64(sum), 16)
	return append(b, '\n')
}
