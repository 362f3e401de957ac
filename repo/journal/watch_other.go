//go:build !linux

package journal

// Watcher is not available on this system: a live Repo lists the
// journal folder and reads the branch ref on every sync.
type Watcher struct{}

func NewWatcher(journalDir, gitDir, refPath string) *Watcher { return nil }

func (w *Watcher) Close() {}

const (
	EvJournalAdd = iota
	EvJournalGone
	EvRef
	EvLost
	EvBroken
	EvOther
)

// Event is one change Poll reports: its kind (Ev*) and, for journal files
// and refs, the file name.
type Event struct {
	Kind int
	Name string
}

func (w *Watcher) Poll(evs []Event) []Event { return evs }
