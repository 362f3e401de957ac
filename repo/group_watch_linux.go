//go:build linux

package repo

import (
	"path/filepath"
	"syscall"
	"unsafe"
)

// dirWatcher reports changes of the journal folder and of the branch ref
// with inotify, so that a live Repo learns what changed without listing the
// folder or reading the ref on every request. The kernel queues an event
// before the system call that caused it returns: a change another process
// made before it acknowledged anything is always in the queue.
type dirWatcher struct {
	fd      int
	journal int32 // watch descriptors
	refDir  int32
	gitDir  int32
	refName string
	buf     []byte
}

const watchMask = syscall.IN_MOVED_TO | syscall.IN_MOVED_FROM | syscall.IN_CREATE | syscall.IN_DELETE |
	syscall.IN_CLOSE_WRITE | syscall.IN_DELETE_SELF | syscall.IN_MOVE_SELF

// newDirWatcher watches the journal folder, the folder of the branch ref
// and the Git directory (for packed-refs). It returns nil when inotify is
// not available; callers then list and read everything on each sync.
func newDirWatcher(journalDir, gitDir, refPath string) *dirWatcher {
	fd, err := syscall.InotifyInit1(syscall.IN_NONBLOCK | syscall.IN_CLOEXEC)
	if err != nil {
		return nil
	}
	w := &dirWatcher{fd: fd, refName: filepath.Base(refPath), buf: make([]byte, 64<<10)}
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

func (w *dirWatcher) close() {
	if w != nil {
		syscall.Close(w.fd)
	}
}

// Kinds of watchEvent.
const (
	evJournalAdd  = iota // a file appeared in the journal folder (renamed in)
	evJournalGone        // a file left it (deleted, or renamed away)
	evRef                // the branch ref or packed-refs changed
	evLost               // events were lost (queue overflow)
	evBroken             // a watched folder went away
	evOther              // anything else: irrelevant
)

type watchEvent struct {
	kind int
	name string
}

// poll appends every queued event to evs without blocking.
func (w *dirWatcher) poll(evs []watchEvent) []watchEvent {
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
				evs = append(evs, watchEvent{kind: evLost})
			case m&(syscall.IN_IGNORED|syscall.IN_DELETE_SELF|syscall.IN_MOVE_SELF|syscall.IN_UNMOUNT) != 0:
				evs = append(evs, watchEvent{kind: evBroken})
			case ev.Wd == w.journal && filepath.Ext(name) == ".jnl":
				switch {
				case m&(syscall.IN_MOVED_TO|syscall.IN_CREATE|syscall.IN_CLOSE_WRITE) != 0:
					evs = append(evs, watchEvent{kind: evJournalAdd, name: name})
				case m&(syscall.IN_MOVED_FROM|syscall.IN_DELETE) != 0:
					evs = append(evs, watchEvent{kind: evJournalGone, name: name})
				}
			case ev.Wd == w.refDir && name == w.refName, ev.Wd == w.gitDir && name == "packed-refs":
				evs = append(evs, watchEvent{kind: evRef, name: name})
			default:
				evs = append(evs, watchEvent{kind: evOther})
			}
		}
	}
}
