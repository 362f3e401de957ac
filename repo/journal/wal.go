package journal

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/internal/durable"
)

// The write-ahead log of a long-lived writer (mlgit server). Without it a
// group of appends costs an fsync of its journal file, a rename and an
// fsync of the folder. With it, the group's bytes are appended to the
// process's log with one fdatasync, which acknowledges them; the journal
// file is then written and renamed into the folder without any fsync, for
// readers (the page cache serves them, and survives the death of the
// process). Only a power loss can lose such a file, and the log restores
// it (RecoverWALs).
//
// Layout, in <journal>/wal/:
//
//	<id>.lock          flock-ed by the owner for its lifetime: a lock that
//	                   can be taken means the owner is gone
//	<id>.<gen>.wal     "mlgit-wal v1 <id>.<gen>\n", then frames
//	                   "W<TAB>name<TAB>length\n" + a journal file's bytes
//
//	<id>.folded.<nanos>  names of the log's journal files a checkpoint
//	                   folded, written durably once its branch move is
//	                   durable and before its intent goes (MarkFolded)
//
// The journal files of a log are named <nanos>-w<id>.<random>-<tag>.jnl.
// Any checkpoint folds them like any other file; it marks those it folds.
// After a power loss, recovery restores from a dead log each file that is
// missing or damaged unless a mark, or an intent whose commit reached the
// branch, names it: such a file's records are on the branch. A file
// neither names is restored from its frame, whatever the loss left of it
// (the files of a log are never fsynced: their frames are). The owner's
// checkpoints start a new generation first (RotateWAL) and, once their
// commit is durable, delete the older generations and the marks that name
// none of the current generation's files (DropOldWALs), which bounds both.

// walState is a Writer's log.
type walState struct {
	dir  string // <journal>/wal
	id   string
	lock *os.File

	mu    sync.Mutex
	gen   int
	f     *os.File
	names []string // journal files of the current generation
	old   []string // earlier generations' paths, not yet dropped
}

// WALFrame is one journal file a log holds.
type WALFrame struct {
	Name string
	Data []byte
}

// StartWAL makes g acknowledge appends through a write-ahead log in
// journal/wal (see above). It does nothing if g has one already.
func (g *Writer) StartWAL() error {
	if g.wal != nil {
		return nil
	}
	dir := filepath.Join(g.dir, "wal")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	var rb [3]byte
	rand.Read(rb[:])
	w := &walState{dir: dir, id: strconv.Itoa(os.Getpid()) + "x" + hex.EncodeToString(rb[:])}
	lock, err := os.OpenFile(filepath.Join(dir, w.id+".lock"), os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		return err
	}
	w.lock = lock
	if err := w.newGen(); err != nil {
		lock.Close()
		return err
	}
	g.wal = w
	return nil
}

// walMagic starts a log file, followed by the file's own <id>.<gen> and a
// line feed. A power loss can leave a new file's durable name pointing at
// an inode whose durable content is an older, deleted file's (a file
// system without a journal reuses inodes; so does the crash simulation):
// recovery trusts a file only if it names itself.
const walMagic = "mlgit-wal v1 "

// newGen opens the next generation's file, its header and its name
// durable before any frame is acknowledged in it.
func (w *walState) newGen() error {
	w.gen++
	self := fmt.Sprintf("%s.%d", w.id, w.gen)
	p := filepath.Join(w.dir, self+".wal")
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	if _, err = f.WriteString(walMagic + self + "\n"); err == nil {
		err = durable.Datasync(f)
	}
	if err == nil {
		err = durable.SyncDir(w.dir)
	}
	if err != nil {
		f.Close()
		os.Remove(p)
		return err
	}
	if w.f != nil {
		w.f.Close()
		w.old = append(w.old, filepath.Join(w.dir, fmt.Sprintf("%s.%d.wal", w.id, w.gen-1)))
	}
	w.f, w.names = f, nil
	return nil
}

// append makes one journal file's bytes durable in the log, and
// publish then makes the file visible in the journal folder, still under
// the log's lock: a checkpoint's RotateWAL waits for it, so a file whose
// frame is in a generation the checkpoint drops is always among the files
// it lists and folds (else recovery would find the file without a frame).
func (w *walState) append(name string, data []byte, publish func() error) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	frame := make([]byte, 0, len(name)+32+len(data))
	frame = append(frame, 'W', '\t')
	frame = append(frame, name...)
	frame = append(frame, '\t')
	frame = strconv.AppendInt(frame, int64(len(data)), 10)
	frame = append(frame, '\n')
	frame = append(frame, data...)
	if _, err := w.f.Write(frame); err != nil {
		return fmt.Errorf("write journal log: %w", err)
	}
	if err := durable.Datasync(w.f); err != nil {
		return fmt.Errorf("sync journal log: %w", err)
	}
	w.names = append(w.names, name)
	return publish()
}

// StopWAL ends g's log, once every file it acknowledged is durable by
// itself (one syncfs) or folded: the log and its lock are removed. No
// append may be in flight.
func (g *Writer) StopWAL() error {
	w := g.wal
	if w == nil {
		return nil
	}
	g.wal = nil
	if err := durable.SyncFS(g.dir); err != nil {
		return err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.f.Close()
	for _, p := range append(w.old, filepath.Join(w.dir, fmt.Sprintf("%s.%d.wal", w.id, w.gen))) {
		os.Remove(p)
	}
	os.Remove(w.lock.Name())
	w.lock.Close()
	return durable.SyncDir(w.dir)
}

// WALGen is the mark of a checkpoint's start in a Writer's log.
type WALGen struct{ w *walState }

// RotateWAL starts a new generation of g's log (nil without one), at the
// start of a checkpoint: the older generations go once it is durable.
func (g *Writer) RotateWAL() (*WALGen, error) {
	w := g.wal
	if w == nil {
		return nil, nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.newGen(); err != nil {
		return nil, err
	}
	return &WALGen{w: w}, nil
}

// DropOldWALs deletes the generations before the one RotateWAL started,
// once the checkpoint made their files durable or folded them, and the
// marks that name none of the current generation's files.
func (g *Writer) DropOldWALs(gen *WALGen) error {
	if gen == nil {
		return nil
	}
	w := gen.w
	w.mu.Lock()
	old := w.old
	w.old = nil
	cur := make(map[string]bool, len(w.names))
	for _, n := range w.names {
		cur[n] = true
	}
	w.mu.Unlock()
	marks, err := filepath.Glob(filepath.Join(w.dir, w.id+".folded.*"))
	if err != nil {
		return err
	}
	for _, m := range marks {
		names, err := readMark(m)
		if err != nil {
			continue
		}
		needed := false
		for _, n := range names {
			needed = needed || cur[n]
		}
		if !needed {
			old = append(old, m)
		}
	}
	for _, p := range old {
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
	}
	return durable.SyncDir(w.dir)
}

// MarkFolded records durably, for each log, the names of its journal
// files among names (those a checkpoint folded): call it once the
// checkpoint's branch move is durable, before its intent is removed (or,
// when it committed nothing, once the files are durable).
func MarkFolded(journalDir string, names []string) error {
	by := map[string][]string{}
	for _, n := range names {
		if id := walID(n); id != "" {
			by[id] = append(by[id], n)
		}
	}
	if len(by) == 0 {
		return nil
	}
	dir := filepath.Join(journalDir, "wal")
	for id, ns := range by {
		var rb [4]byte
		rand.Read(rb[:])
		p := filepath.Join(dir, fmt.Sprintf("%s.folded.%d-%s", id, time.Now().UnixNano(), hex.EncodeToString(rb[:])))
		f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err != nil {
			return err
		}
		_, err = f.WriteString(strings.Join(ns, "\n") + "\n")
		if err == nil {
			err = durable.Sync(f)
		}
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(p)
			return fmt.Errorf("mark folded journal files: %w", err)
		}
	}
	return durable.SyncDir(dir)
}

func readMark(p string) ([]string, error) {
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	return strings.Fields(string(data)), nil
}

// walID returns the log id in a journal file name, "" if none.
func walID(name string) string {
	_, rest, ok := strings.Cut(name, "-")
	if !ok || !strings.HasPrefix(rest, "w") {
		return ""
	}
	field, _, ok := strings.Cut(rest[1:], "-")
	if !ok {
		return ""
	}
	id, _, _ := strings.Cut(field, ".")
	return id
}

// walOwnerAlive reports whether the owner of log id holds its lock.
func walOwnerAlive(dir, id string) bool {
	f, err := os.Open(filepath.Join(dir, id+".lock"))
	if err != nil {
		return false // no lock: the log was stopped or recovered
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_SH|syscall.LOCK_NB); err != nil {
		return true
	}
	syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
	return false
}

// DeadWAL is the log of a process that is gone.
type DeadWAL struct {
	ID    string
	Paths []string // its generations, oldest first, its marks, its lock file last
}

// Owns reports whether journal file name was written through this log.
func (d DeadWAL) Owns(name string) bool { return walID(name) == d.ID }

// Folded returns the names the log's marks say were folded.
func (d DeadWAL) Folded() (map[string]bool, error) {
	out := map[string]bool{}
	for _, p := range d.Paths {
		if !strings.Contains(filepath.Base(p), ".folded.") {
			continue
		}
		names, err := readMark(p)
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			out[n] = true
		}
	}
	return out, nil
}

// DeadWALs lists the logs in journal folder dir whose owners are gone,
// except this Writer's own.
func (g *Writer) DeadWALs() ([]DeadWAL, error) {
	dir := filepath.Join(g.dir, "wal")
	names, err := ListDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	own := ""
	if w := g.wal; w != nil {
		own = w.id
	}
	gens := map[string][]string{}
	locks := map[string]bool{}
	marks := map[string][]string{}
	for _, n := range names {
		if id, ok := strings.CutSuffix(n, ".lock"); ok {
			locks[id] = true
			continue
		}
		if id, _, ok := strings.Cut(n, ".folded."); ok {
			marks[id] = append(marks[id], n)
			continue
		}
		if rest, ok := strings.CutSuffix(n, ".wal"); ok {
			if id, _, ok := strings.Cut(rest, "."); ok {
				gens[id] = append(gens[id], n)
			}
		}
	}
	var out []DeadWAL
	ids := make([]string, 0, len(gens)+len(locks))
	for id := range gens {
		ids = append(ids, id)
	}
	for id := range locks {
		if _, ok := gens[id]; !ok {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	for _, id := range ids {
		if id == own || walOwnerAlive(dir, id) {
			continue
		}
		gs := gens[id]
		sort.Slice(gs, func(i, j int) bool { return genOf(gs[i]) < genOf(gs[j]) })
		d := DeadWAL{ID: id}
		for _, n := range gs {
			d.Paths = append(d.Paths, filepath.Join(dir, n))
		}
		for _, m := range marks[id] {
			d.Paths = append(d.Paths, filepath.Join(dir, m))
		}
		if locks[id] {
			d.Paths = append(d.Paths, filepath.Join(dir, id+".lock"))
		}
		out = append(out, d)
	}
	return out, nil
}

func genOf(name string) int {
	parts := strings.Split(name, ".")
	if len(parts) < 3 {
		return 0
	}
	n, _ := strconv.Atoi(parts[len(parts)-2])
	return n
}

// Frames returns the journal files a dead log holds, in write order, up to
// its first torn or damaged frame (an append that was never acknowledged).
// A generation file whose header names another file is skipped; one
// without a header (written before logs had one) is read from its start.
func (d DeadWAL) Frames() ([]WALFrame, error) {
	var out []WALFrame
	for _, p := range d.Paths {
		if !strings.HasSuffix(p, ".wal") {
			continue
		}
		data, err := os.ReadFile(p)
		if err != nil {
			return nil, err
		}
		if rest, ok := bytes.CutPrefix(data, []byte(walMagic)); ok {
			self, body, _ := bytes.Cut(rest, []byte("\n"))
			if string(self)+".wal" != filepath.Base(p) {
				continue // another (deleted) log's content under this name
			}
			data = body
		}
		for len(data) > 0 {
			nl := bytes.IndexByte(data, '\n')
			if nl < 0 {
				break
			}
			head := strings.Split(string(data[:nl]), "\t")
			if len(head) != 3 || head[0] != "W" {
				break
			}
			n, err := strconv.Atoi(head[2])
			if err != nil || n < 0 || n > len(data)-nl-1 {
				break
			}
			body := data[nl+1 : nl+1+n]
			if _, err := Decode(body); err != nil || strings.ContainsAny(head[1], "/\\") || !strings.HasSuffix(head[1], ".jnl") {
				break
			}
			out = append(out, WALFrame{Name: head[1], Data: body})
			data = data[nl+1+n:]
		}
	}
	return out, nil
}
