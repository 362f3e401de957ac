package repo

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/manifest"
	"github.com/mlgit/mlgit/repo/internal/gitobj"
	"github.com/mlgit/mlgit/repo/journal"
)

// Group commit. Concurrent journal appends of one process share one file
// and one fsync: the first writer to arrive becomes the leader and writes
// its records; writers arriving while it writes queue up; when the leader
// is done it acknowledges its own request and hands leadership to the first
// queued writer, which writes everything queued so far as one journal file
// (records in queue order, one footer and checksum), fsyncs it, renames it
// into the folder, fsyncs the folder and acknowledges every request in it.
// So the number of fsyncs follows the number of waves of concurrent writes,
// not the number of writes, and a writer waits for at most the write in
// flight plus its own.
//
// The file format, the all-or-nothing rename and therefore crash recovery
// and exactly-once replay are those of a single writer: a file holds the
// records of several acknowledged requests, all durable together or (if the
// process dies before the rename) none of them acknowledged.

// maxGroupBytes bounds the records of one group file; a larger queue is
// written as several files, one after the other.
const maxGroupBytes = 16 << 20

type groupCommitter struct {
	mu      sync.Mutex
	queue   []*groupReq
	leading bool

	// requests counts appends written, files the journal files (each
	// one fsync of the file and one of the folder).
	requests atomic.Int64
	files    atomic.Int64

	// spares are journal files this process's checkpoints consumed,
	// parked in journal/tmp to be written again: creating a file costs
	// an inode allocation, which on a busy ext4 costs more than the fsync.
	spareMu  sync.Mutex
	spares   []string
	spareSeq int
}

// maxSpares bounds the parked journal files of a process: enough for what
// a checkpoint consumes at its file threshold.
func maxSpares() int { return 2 * liveFilesFactor * CheckpointMaxFiles }

// initialSpares is how many spares a live Repo makes when it starts (in the
// background), so that writes have some before the first checkpoint and
// slack while checkpoints run.
const initialSpares = 256

// makeSpares creates n empty spares, unless stop closes.
func (r *Repo) makeSpares(n int, stop <-chan struct{}) {
	g := &r.group
	for i := 0; i < n; i++ {
		select {
		case <-stop:
			return
		default:
		}
		g.spareMu.Lock()
		full := len(g.spares) >= maxSpares()
		g.spareSeq++
		spare := filepath.Join(r.journalDir(), "tmp", fmt.Sprintf("spare-%d-%d", os.Getpid(), g.spareSeq))
		g.spareMu.Unlock()
		if full {
			return
		}
		f, err := os.OpenFile(spare, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return
		}
		f.Close()
		g.spareMu.Lock()
		g.spares = append(g.spares, spare)
		g.spareMu.Unlock()
	}
}

type groupReq struct {
	ops    []journal.Op           // records other than metric points
	run    string                 // the run of points
	points []manifest.MetricPoint // metric points, after ops
	seg    []byte                 // points as metric-segment lines
	n      int                    // records
	body   []byte                 // encoded records, without header and footer
	done   chan struct{}
	lead   bool // woken to lead rather than acknowledged
	err    error
}

// JournalStats counts this process's journal appends and the files (each
// one fsync) they went to; with concurrent writers files < appends.
type JournalStats struct {
	Appends int64
	Files   int64
}

// JournalStats returns the group commit counters of this Repo.
func (r *Repo) JournalStats() JournalStats {
	return JournalStats{Appends: r.group.requests.Load(), Files: r.group.files.Load()}
}

// appendJournal makes ops durable: it writes them, possibly together with
// the records of concurrent callers, to a new journal file through a
// temporary name, fsyncs, renames and fsyncs the folder. When it returns
// nil the ops are acknowledged.
func (r *Repo) appendJournal(ops []journal.Op) error {
	return r.appendJournalPoints(ops, "", nil)
}

// appendJournalPoints is appendJournal for ops followed by metric points
// of one run (records in that order).
func (r *Repo) appendJournalPoints(ops []journal.Op, run string, points []manifest.MetricPoint) error {
	if len(ops)+len(points) == 0 {
		return nil
	}
	body, err := journal.EncodeRecords(make([]byte, 0, len(ops)*64+len(points)*(len(run)+40)), ops)
	if err != nil {
		return err
	}
	// Points are encoded once, as segment lines: the records are these
	// lines behind "M<TAB>run<TAB>", and a checkpoint writes them as they
	// are into the run's new segment.
	seg := journal.EncodeSegment(points)
	for rest := seg; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n') + 1
		body = append(body, 'M', '\t')
		body = append(body, run...)
		body = append(body, '\t')
		body = append(body, rest[:i]...)
		rest = rest[i:]
	}
	req := &groupReq{ops: ops, run: run, points: points, seg: seg, n: len(ops) + len(points), body: body, done: make(chan struct{})}
	g := &r.group
	g.mu.Lock()
	g.queue = append(g.queue, req)
	if g.leading {
		g.mu.Unlock()
		<-req.done
		if !req.lead {
			return req.err
		}
		g.mu.Lock()
	} else {
		g.leading = true
	}
	// Lead: write what is queued (this request is first in the queue).
	var batch []*groupReq
	size := 0
	for len(g.queue) > 0 && (len(batch) == 0 || size+len(g.queue[0].body) <= maxGroupBytes) {
		size += len(g.queue[0].body)
		batch = append(batch, g.queue[0])
		g.queue = g.queue[1:]
	}
	if len(g.queue) == 0 {
		g.queue = nil
	}
	g.mu.Unlock()

	err = r.writeGroup(batch)
	g.requests.Add(int64(len(batch)))
	for _, q := range batch {
		q.err = err
		if q != req {
			close(q.done)
		}
	}

	g.mu.Lock()
	if len(g.queue) > 0 {
		next := g.queue[0]
		next.lead = true
		close(next.done)
	} else {
		g.leading = false
	}
	g.mu.Unlock()
	return req.err
}

// writeGroup writes the records of batch as one journal file.
func (r *Repo) writeGroup(batch []*groupReq) error {
	n, size := 0, 0
	tag := batch[0].run
	if len(batch[0].ops) > 0 {
		tag = batch[0].ops[0].Run
	}
	for _, q := range batch {
		n += q.n
		size += len(q.body)
		for _, o := range q.ops {
			if o.Run != tag {
				tag = "multi"
			}
		}
		if len(q.points) > 0 && q.run != tag {
			tag = "multi"
		}
	}
	data := make([]byte, 0, len(journal.Magic)+size+32)
	data = append(data, journal.Magic...)
	for _, q := range batch {
		data = append(data, q.body...)
	}
	data = journal.AppendFooter(data, n)

	dir := r.journalDir()
	tmpDir := filepath.Join(dir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o755); err != nil {
		return err
	}
	var rb [4]byte
	rand.Read(rb[:])
	name := fmt.Sprintf("%020d-%s-%s.jnl", time.Now().UnixNano(), hex.EncodeToString(rb[:]), tag)
	tmp, f, err := r.group.openTemp(tmpDir, name)
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if err == nil {
		err = f.Truncate(int64(len(data))) // a spare may have been longer
	}
	if err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("write journal: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		os.Remove(tmp)
		return fmt.Errorf("sync journal: %w", err)
	}
	if err := f.Close(); err != nil {
		os.Remove(tmp)
		return err
	}
	// A live view learns the file's records from memory, not from disk;
	// it must know them before any reader can list the file.
	ls := r.live
	if ls != nil {
		ls.addOwn(groupFile(name, int64(len(data)), batch))
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		if ls != nil {
			ls.dropOwn(name)
		}
		return err
	}
	r.group.files.Add(1)
	if journalSyncHook != nil {
		journalSyncHook()
	}
	return gitobj.SyncDir(dir)
}

// openTemp opens the temporary file a journal file is written to: a spare
// if there is one, else a new file.
func (g *groupCommitter) openTemp(tmpDir, name string) (string, *os.File, error) {
	g.spareMu.Lock()
	var spare string
	if n := len(g.spares); n > 0 {
		spare = g.spares[n-1]
		g.spares = g.spares[:n-1]
	}
	g.spareMu.Unlock()
	if spare != "" {
		if f, err := os.OpenFile(spare, os.O_WRONLY, 0); err == nil {
			return spare, f, nil
		}
	}
	tmp := filepath.Join(tmpDir, name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	return tmp, f, err
}

// retireJournalFile removes a journal file a checkpoint consumed; a live
// Repo parks it as a spare instead (still gone from the journal folder
// for every reader: the rename is as atomic as the unlink).
func (r *Repo) retireJournalFile(name string) error {
	p := filepath.Join(r.journalDir(), name)
	g := &r.group
	if r.live != nil {
		g.spareMu.Lock()
		if len(g.spares) < maxSpares() {
			g.spareSeq++
			spare := filepath.Join(r.journalDir(), "tmp", fmt.Sprintf("spare-%d-%d", os.Getpid(), g.spareSeq))
			if err := os.Rename(p, spare); err == nil {
				g.spares = append(g.spares, spare)
				g.spareMu.Unlock()
				return nil
			}
		}
		g.spareMu.Unlock()
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// removeDeadSpares deletes the spares of processes that no longer run.
func (r *Repo) removeDeadSpares() {
	dir := filepath.Join(r.journalDir(), "tmp")
	names, _ := listDir(dir)
	for _, n := range names {
		var pid, seq int
		if _, err := fmt.Sscanf(n, "spare-%d-%d", &pid, &seq); err != nil || pid == os.Getpid() {
			continue
		}
		if syscall.Kill(pid, 0) == syscall.ESRCH {
			os.Remove(filepath.Join(dir, n))
		}
	}
}

func listDir(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// journalSyncHook, if set (tests), runs after each journal file is written.
var journalSyncHook func()

// groupFile makes the live records of a file written from batch.
func groupFile(name string, size int64, batch []*groupReq) *liveFile {
	f := newLiveFile(name, size, nil)
	for _, q := range batch {
		f.add(q.ops)
		if len(q.points) > 0 {
			fr := f.recs(q.run)
			fr.points = append(fr.points, q.points...)
			fr.seg = append(fr.seg, q.seg...)
			f.n += len(q.points)
		}
	}
	return f
}
