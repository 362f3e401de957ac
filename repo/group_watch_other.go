//go:build !linux

package repo

// dirWatcher is not available on this system: a live Repo lists the
// journal folder and reads the branch ref on every sync.
type dirWatcher struct{}

func newDirWatcher(journalDir, gitDir, refPath string) *dirWatcher { return nil }

func (w *dirWatcher) close() {}

const (
	evJournalAdd = iota
	evJournalGone
	evRef
	evLost
	evBroken
	evOther
)

type watchEvent struct {
	kind int
	name string
}

func (w *dirWatcher) poll(evs []watchEvent) []watchEvent { return evs }
