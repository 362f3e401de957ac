package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/internal/durable"

	"github.com/mlgit/mlgit/manifest"
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

// Writer appends journal files to one journal folder with group commit.
type Writer struct {
	dir string
	obs Observer

	mu      sync.Mutex
	queue   []*Request
	leading bool

	// requests counts appends written, files the journal files (each
	// one fsync of the file and one of the folder).
	requests atomic.Int64
	files    atomic.Int64
	// created counts the journal files a write had to create, for want
	// of a spare.
	created atomic.Int64
	// solo counts the groups of a single request.
	solo atomic.Int64

	// wal, when set (StartWAL), acknowledges appends (wal.go).
	wal *walState

	// tmpMade tells that journal/tmp exists, so that a group does not
	// stat it.
	tmpMade atomic.Bool

	// spares are journal files this process's checkpoints consumed,
	// parked in journal/tmp to be written again: creating a file costs
	// an inode allocation, which on a busy ext4 costs more than an
	// fdatasync.
	spareMu   sync.Mutex
	spares    []string
	spareSeq  int
	maxSpares int
	// keep is how many spares KeepSpares keeps at least; refill wakes it
	// when a write takes the count below a quarter of that.
	keep   atomic.Int64
	refill chan struct{}
}

// Observer learns of the journal files a Writer writes, before any reader
// can list them (a live view keeps their records in memory).
type Observer interface {
	// Written is told of a file's records after it is written and before
	// it is renamed into the folder.
	Written(name string, size int64, reqs []*Request)
	// Unwritten is told when that rename failed.
	Unwritten(name string)
}

// NewWriter returns a Writer of journal folder dir.
func NewWriter(dir string) *Writer { return &Writer{dir: dir, refill: make(chan struct{}, 1)} }

// SetObserver sets (nil: clears) who learns of written files. While a
// Writer is observed, Retire parks files as spares (SetMaxSpares).
func (g *Writer) SetObserver(o Observer) { g.obs = o }

// SetMaxSpares bounds the consumed files g parks for reuse.
func (g *Writer) SetMaxSpares(n int) { g.maxSpares = n }

// MakeSpares creates n empty spares, unless stop closes.
func (g *Writer) MakeSpares(n int, stop <-chan struct{}) {
	for i := 0; i < n; i++ {
		select {
		case <-stop:
			return
		default:
		}
		g.spareMu.Lock()
		full := len(g.spares) >= g.maxSpares
		g.spareSeq++
		spare := filepath.Join(g.dir, "tmp", fmt.Sprintf("spare-%d-%d", os.Getpid(), g.spareSeq))
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

// KeepSpares makes n spares, then, until stop closes, makes more in the
// background whenever writes have taken the spares below n/4, back up to
// n. A journal file's name is a new inode when there is no spare, and
// creating one costs more CPU than the group's fdatasync on ext4 without
// a journal (the allocator scans the inode table for recently deleted
// inodes): a write should never wait for it. Between checkpoints a busy
// store writes a file per group (about a thousand a second), more than it
// starts with; each checkpoint parks the files it folded as spares again.
func (g *Writer) KeepSpares(n int, stop <-chan struct{}) {
	g.keep.Store(int64(n))
	for {
		g.spareMu.Lock()
		want := n - len(g.spares)
		g.spareMu.Unlock()
		if want > 0 {
			g.MakeSpares(want, stop)
		}
		select {
		case <-stop:
			return
		case <-g.refill:
		}
	}
}

// tookSpare wakes KeepSpares when the spares left are below a quarter of
// what it keeps.
func (g *Writer) tookSpare(left int) {
	if k := g.keep.Load(); k > 0 && int64(left) < k/4 {
		select {
		case g.refill <- struct{}{}:
		default:
		}
	}
}

// Spares returns how many spares this Writer has made or parked, and the
// ones it holds now.
func (g *Writer) Spares() (made int, held []string) {
	g.spareMu.Lock()
	defer g.spareMu.Unlock()
	return g.spareSeq, append([]string(nil), g.spares...)
}

// openTemp opens the temporary file a journal file is written to: a spare
// if there is one, else a new file.
func (g *Writer) openTemp(tmpDir, name string) (string, *os.File, error) {
	spare := g.takeSpare()
	if spare != "" {
		if f, err := os.OpenFile(spare, os.O_WRONLY, 0); err == nil {
			return spare, f, nil
		}
	}
	g.created.Add(1)
	tmp := filepath.Join(tmpDir, name)
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	return tmp, f, err
}

// Request is one append: records, then metric points of one run.
type Request struct {
	Ops    []Op                   // records other than metric points
	Run    string                 // the run of points
	Points []manifest.MetricPoint // metric points, after Ops
	Seg    []byte                 // Points as metric-segment lines
	n      int                    // records
	body   []byte                 // encoded records, without header and footer
	done   chan struct{}
	lead   bool // woken to lead rather than acknowledged
	err    error
}

// takeSpare returns a spare's path, or "" if there is none.
func (g *Writer) takeSpare() string {
	g.spareMu.Lock()
	var spare string
	n := len(g.spares)
	if n > 0 {
		spare = g.spares[n-1]
		g.spares = g.spares[:n-1]
		n--
	}
	g.spareMu.Unlock()
	g.tookSpare(n)
	return spare
}

// Counts returns how many appends this Writer wrote and to how many files
// (each one fsync); with concurrent writers files < appends.
func (g *Writer) Counts() (appends, files int64) { return g.requests.Load(), g.files.Load() }

// Created returns how many journal files writes created for want of a
// spare.
func (g *Writer) Created() int64 { return g.created.Load() }

// Solo returns how many groups held a single request.
func (g *Writer) Solo() int64 { return g.solo.Load() }

// Append makes ops durable: it writes them, possibly together with the
// records of concurrent callers, to a new journal file through a temporary
// name, fsyncs, renames and fsyncs the folder. When it returns nil the ops
// are acknowledged.
func (g *Writer) Append(ops []Op) error {
	return g.AppendPoints(ops, "", nil)
}

// AppendPoints is Append for ops followed by metric points of one run
// (records in that order).
func (g *Writer) AppendPoints(ops []Op, run string, points []manifest.MetricPoint) error {
	if len(ops)+len(points) == 0 {
		return nil
	}
	body, err := EncodeRecords(make([]byte, 0, len(ops)*64+len(points)*(len(run)+40)), ops)
	if err != nil {
		return err
	}
	// Points are encoded once, as segment lines: the records are these
	// lines behind "M<TAB>run<TAB>", and a checkpoint writes them as they
	// are into the run's new segment.
	seg := EncodeSegment(points)
	for rest := seg; len(rest) > 0; {
		i := bytes.IndexByte(rest, '\n') + 1
		body = append(body, 'M', '\t')
		body = append(body, run...)
		body = append(body, '\t')
		body = append(body, rest[:i]...)
		rest = rest[i:]
	}
	req := &Request{Ops: ops, Run: run, Points: points, Seg: seg, n: len(ops) + len(points), body: body, done: make(chan struct{})}
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
	var batch []*Request
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

	if len(batch) == 1 {
		g.solo.Add(1)
	}
	err = g.writeGroup(batch)
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
func (g *Writer) writeGroup(batch []*Request) error {
	n, size := 0, 0
	tag := batch[0].Run
	if len(batch[0].Ops) > 0 {
		tag = batch[0].Ops[0].Run
	}
	for _, q := range batch {
		n += q.n
		size += len(q.body)
		for _, o := range q.Ops {
			if o.Run != tag {
				tag = "multi"
			}
		}
		if len(q.Points) > 0 && q.Run != tag {
			tag = "multi"
		}
	}
	data := make([]byte, 0, len(Magic)+size+32)
	data = append(data, Magic...)
	for _, q := range batch {
		data = append(data, q.body...)
	}
	data = AppendFooter(data, n)

	dir := g.dir
	tmpDir := filepath.Join(dir, "tmp")
	if !g.tmpMade.Load() {
		if err := os.MkdirAll(tmpDir, 0o755); err != nil {
			return err
		}
		g.tmpMade.Store(true)
	}
	if w := g.wal; w != nil {
		return g.writeGroupWAL(w, batch, data, tag)
	}
	var rb [4]byte
	rand.Read(rb[:])
	name := fmt.Sprintf("%020d-%s-%s.jnl", time.Now().UnixNano(), hex.EncodeToString(rb[:]), tag)
	tmp, f, err := g.openTemp(tmpDir, name)
	if errors.Is(err, os.ErrNotExist) {
		g.tmpMade.Store(false) // the folder was removed: make it again next time
	}
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
	if err := durable.Sync(f); err != nil {
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
	obs := g.obs
	if obs != nil {
		obs.Written(name, int64(len(data)), batch)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		os.Remove(tmp)
		if obs != nil {
			obs.Unwritten(name)
		}
		return err
	}
	g.files.Add(1)
	if SyncHook != nil {
		SyncHook()
	}
	return durable.SyncDir(dir)
}

// writeGroupWAL acknowledges a group through the log: one fdatasync of
// the log, then the journal file written (into a spare if there is one)
// and renamed into the folder without fsync. After a power loss a
// recycled file may show its old content under the new name: recovery
// rewrites every file of a dead log from its frames and removes the log's
// files it has no frame for (RecoverWALs).
//
// Leadership passes to the next group only once this group's file is
// published: letting the next group's append and fdatasync overlap the
// publication shortens a commit cycle a little, but makes groups smaller,
// and a group's system calls are most of log-metric's CPU (tried with
// BenchmarkGroupCommitPaced16: about 20% more files, and more CPU per
// append than the cycle saved).
func (g *Writer) writeGroupWAL(w *walState, batch []*Request, data []byte, tag string) error {
	dir := g.dir
	var rb [2]byte
	rand.Read(rb[:])
	name := fmt.Sprintf("%020d-w%s.%s-%s.jnl", time.Now().UnixNano(), w.id, hex.EncodeToString(rb[:]), tag)
	publish := func() error {
		tmp, err := g.writeTemp(filepath.Join(dir, "tmp"), name, data)
		if err != nil {
			return fmt.Errorf("write journal: %w", err)
		}
		obs := g.obs
		if obs != nil {
			obs.Written(name, int64(len(data)), batch)
		}
		if err := rename(tmp, filepath.Join(dir, name)); err != nil {
			os.Remove(tmp)
			if obs != nil {
				obs.Unwritten(name)
			}
			return err
		}
		return nil
	}
	if err := w.append(name, data, publish); err != nil {
		return err
	}
	g.files.Add(1)
	if SyncHook != nil {
		SyncHook()
	}
	return nil
}

// rename renames a file to a name that is not a folder's. os.Rename
// first stats the new name, to refuse renaming onto a folder: a system
// call more per journal file.
func rename(from, to string) error {
	if err := syscall.Rename(from, to); err != nil {
		return &os.LinkError{Op: "rename", Old: from, New: to, Err: err}
	}
	return nil
}

// writeTemp writes data, without fsync, to a spare if there is one, else
// to a new file tmpDir/name, and returns its path. It uses the system
// calls directly: a journal file is written once and closed, and an
// os.File's registration with the poller costs a system call more.
func (g *Writer) writeTemp(tmpDir, name string, data []byte) (string, error) {
	spare := g.takeSpare()
	path, fd, err := spare, -1, error(nil)
	if spare != "" {
		fd, err = syscall.Open(spare, syscall.O_WRONLY|syscall.O_CLOEXEC, 0)
	}
	if spare == "" || err != nil {
		g.created.Add(1)
		path = filepath.Join(tmpDir, name)
		fd, err = syscall.Open(path, syscall.O_WRONLY|syscall.O_CREAT|syscall.O_EXCL|syscall.O_CLOEXEC, 0o644)
		if errors.Is(err, syscall.ENOENT) {
			g.tmpMade.Store(false)
		}
		if err != nil {
			return "", &os.PathError{Op: "open", Path: path, Err: err}
		}
	}
	for rest := data; len(rest) > 0 && err == nil; {
		var n int
		n, err = syscall.Write(fd, rest)
		switch {
		case errors.Is(err, syscall.EINTR):
			err = nil
		case err == nil && n == 0:
			err = io.ErrShortWrite
		case err == nil:
			rest = rest[n:]
		}
	}
	if err == nil {
		// A spare may have been longer.
		err = syscall.Ftruncate(fd, int64(len(data)))
	}
	if cerr := syscall.Close(fd); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(path)
		return "", &os.PathError{Op: "write", Path: path, Err: err}
	}
	return path, nil
}

// Retire removes a journal file a checkpoint consumed; an observed Writer
// parks it as a spare instead (still gone from the journal folder for
// every reader: the rename is as atomic as the unlink).
func (g *Writer) Retire(name string) error {
	p := filepath.Join(g.dir, name)
	if g.obs != nil {
		g.spareMu.Lock()
		if len(g.spares) < g.maxSpares {
			g.spareSeq++
			spare := filepath.Join(g.dir, "tmp", fmt.Sprintf("spare-%d-%d", os.Getpid(), g.spareSeq))
			if err := rename(p, spare); err == nil {
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

// RemoveDeadSpares deletes the spares of processes that no longer run.
func (g *Writer) RemoveDeadSpares() {
	dir := filepath.Join(g.dir, "tmp")
	names, _ := ListDir(dir)
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

// ListDir lists a folder without sorting.
func ListDir(dir string) ([]string, error) {
	d, err := os.Open(dir)
	if err != nil {
		return nil, err
	}
	defer d.Close()
	return d.Readdirnames(-1)
}

// SyncHook, if set (tests), runs after each journal file is written.
var SyncHook func()
