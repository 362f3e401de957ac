//go:build linux

package journal

import (
	"path/filepath"
	"syscall"
	"unsafe"
)

// Watcher reports changes of the journal folder and of the branch ref
// with inotify, so that a live Repo learns what changed without listing the
// folder or reading the ref on every request. The kernel queues an event
// before the system call that caused it returns: a change another process
// made before it acknowledged anything is always in the queue.
type Watcher struct {
	fd      int
	journal int32 // watch descriptors
	refDir  int32
	gitDir  int32
	refName string
	buf     []byte
}

const watchMask = syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_CREATE | syscall.IN_DELETE |
	syscall.IN_CLOSE_WRITE | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// NewWatcher watches the journal folder, the folder of the branch ref
// and the Git directory (for packed-refs). It returns nil when inotify is
// not available; callers then list and read everything on each sync.
func NewWatcher(journalDir, gitDir, refPath string) *Watcher {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &Watcher{fd: fd, refName: filepath.Base(refPath), buf: make([]byte, 64<<10)}
	add := func(p string) (int32, bool) {
		wd, err := syscall.InotifyAddWatch(fd, p, watchMask)
		return int32(wd), err == nil
	}
	var ok1, ok2, ok3 bool
	w.journal, ok1 = add(journalDir)
	w.refDir, ok2 = add(filepath.Dir(refPath))
	w.gitDir, ok3 = add(gitDir)
	if !ok1 || !ok2 || !ok3 {
		syscall.Close(fd)
		return nil
	}
	return w
}

// Close stops watching; a nil Watcher is a no-op.
func (w *Watcher) Close() {
	if w != nil {
		syscall.Close(w.fd)
	}
}

// Kinds of Event.
const (
	EvJournalAdd  = iota // a file appeared in the journal folder (renamed in)
	EvJournalGone        // a file left it (deleted, or renamed away)
	EvRef                // the branch ref or packed-refs changed
	EvLost               // events were lost (queue overflow)
	EvBroken             // a watched folder went away
	EvOther              // anything else: irrelevant
)

// Event is one change Poll reports: its kind (Ev*) and, for journal files
// and refs, the file name.
type Event struct {
	Kind int
	Name string
}

// Poll appends every queued event to evs without blocking.
func (w *Watcher) Poll(evs []Event) []Event {
	for {
		n, err := syscall.Read(w.fd, w.buf)
		if err != nil || n <= 0 {
			return evs // EAGAIN: the queue is empty
		}
		for off := 0; off+syscall.SizeofInotifyEvent <= n; {
			ev := (*syscall.InotifyEvent)(unsafe.Pointer(&w.buf[off]))
			nameBytes := w.buf[off+syscall.SizeofInotifyEvent : off+syscall.SizeofInotifyEvent+int(ev.Len)]
			off += syscall.SizeofInotifyEvent + int(ev.Len)
			name := ""
			for i, c := range nameBytes {
				if c == 0 {
					nameBytes = nameBytes[:i]
					break
				}
			}
			name = string(nameBytes)
			m := ev.Mask
			switch {
			case m&syscall.IN_Q_OVERFLOW != 0:
				evs = append(evs, Event{Kind: EvLost})
			case m&(syscall.IN_IGNORED|syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF|syscall.IN_UNMOUNT) != 0:
				evs = append(evs, Event{Kind: EvBroken})
			case ev.Wd == w.journal && filepath.Ext(name) == ".jnl":
				switch {
				case m&(syscall.IN_MOVED_TO|syscall.IN_CREATE|syscall.IN_CLOSE_WRITE) != 0:
					evs = append(evs, Event{Kind: EvJournalAdd, Name: name})
				case m&(syscall.IN_MOVED_FROM|syscall.IN_DELETE) != 0:
					evs = append(evs, Event{Kind: EvJournalGone, Name: name})
				}
			case ev.Wd == w.refDir && name == w.refName, ev.Wd == w.gitDir && name == "packed-refs":
				evs = append(evs, Event{Kind: EvRef, Name: name})
			default:
				evs = append(evs, Event{Kind: EvOther})
			}
		}
	}
}
