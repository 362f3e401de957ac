package gitobj

import (
	"errors"
	"os"
	"path/filepath"
	"sync"

	"github.com/mlgit/mlgit/internal/durable"
)

// Loose objects are written without fsync (a checkpoint writes dozens and
// makes them durable with one syncfs). Whatever writes them, no ref may
// become durable before the objects it names: after a power loss the ref
// would name an object that is not there, and Git calls the repository
// corrupt. So every loose object this process writes (or finds already
// there: another process may have written it and died before making it
// durable) is noted here, and Refs.CAS makes the noted objects of its Git
// directory durable before it writes the ref: SyncObjects.

// unsyncedSet is the noted objects of one Git directory.
type unsyncedSet struct {
	// syncing is held by the one SyncObjects at work, so that a CAS that
	// finds the set empty never overtakes a sync of objects it names.
	syncing sync.Mutex

	mu    sync.Mutex
	paths map[string]bool // object files
}

var unsynced struct {
	mu   sync.Mutex
	sets map[string]*unsyncedSet
}

func unsyncedOf(gitDir string) *unsyncedSet {
	if abs, err := filepath.Abs(gitDir); err == nil {
		gitDir = abs
	}
	unsynced.mu.Lock()
	defer unsynced.mu.Unlock()
	if unsynced.sets == nil {
		unsynced.sets = map[string]*unsyncedSet{}
	}
	s := unsynced.sets[gitDir]
	if s == nil {
		s = &unsyncedSet{paths: map[string]bool{}}
		unsynced.sets[gitDir] = s
	}
	return s
}

// note notes an object file that may not be durable.
func (s *unsyncedSet) note(path string) {
	s.mu.Lock()
	s.paths[path] = true
	s.mu.Unlock()
}

// syncFSAbove is how many noted objects SyncObjects fsyncs one by one;
// above, it makes the whole file system durable at once (syncfs), as a
// checkpoint does.
const syncFSAbove = 256

// syncParallel bounds the fsyncs SyncObjects runs at once: the device
// merges the cache flushes of concurrent fsyncs.
const syncParallel = 16

// SyncObjects makes the noted loose objects of gitDir durable: each file,
// then each folder that holds one (its name in it) and objects/ (a new
// objects/xx folder's name in it).
func SyncObjects(gitDir string) error {
	s := unsyncedOf(gitDir)
	s.syncing.Lock()
	defer s.syncing.Unlock()
	s.mu.Lock()
	taken := s.paths
	s.paths = map[string]bool{}
	s.mu.Unlock()
	if len(taken) == 0 {
		return nil
	}
	if len(taken) > syncFSAbove {
		// An import's batch: one syncfs costs less than thousands of
		// fsyncs.
		err := durable.SyncFS(gitDir)
		if err != nil {
			s.renote(taken)
		}
		return err
	}
	// The files first, then their names: a name durable before its
	// content would leave an empty object after a power loss, which Git
	// calls corrupt (and which WriteObject would take for the object).
	files := make([]string, 0, len(taken))
	dirs := map[string]bool{}
	for p := range taken {
		files = append(files, p)
		dirs[filepath.Dir(p)] = true
	}
	err := syncAll(files, syncFile)
	if err == nil {
		ds := make([]string, 0, len(dirs)+1)
		for d := range dirs {
			ds = append(ds, d)
		}
		ds = append(ds, filepath.Join(gitDir, "objects"))
		err = syncAll(ds, func(d string) error {
			if err := durable.SyncDir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
				return err
			}
			return nil // git gc packed its objects and removed it
		})
	}
	if err != nil {
		s.renote(taken)
	}
	return err
}

// renote notes again the objects a failed SyncObjects took: the next ref
// move tries them again.
func (s *unsyncedSet) renote(taken map[string]bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for p := range taken {
		s.paths[p] = true
	}
}

func syncFile(p string) error {
	f, err := os.Open(p)
	if errors.Is(err, os.ErrNotExist) {
		return nil // packed and pruned meanwhile (git gc): in a synced pack
	}
	if err != nil {
		return err
	}
	defer f.Close()
	return durable.Datasync(f)
}

// syncAll runs syncOne on every path, syncParallel at a time, and returns
// the first error.
func syncAll(paths []string, syncOne func(string) error) error {
	if len(paths) == 1 {
		return syncOne(paths[0])
	}
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first error
	)
	next := make(chan string)
	for w := 0; w < min(syncParallel, len(paths)); w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for p := range next {
				if err := syncOne(p); err != nil {
					mu.Lock()
					if first == nil {
						first = err
					}
					mu.Unlock()
				}
			}
		}()
	}
	for _, p := range paths {
		next <- p
	}
	close(next)
	wg.Wait()
	return first
}
