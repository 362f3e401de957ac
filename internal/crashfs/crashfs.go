// Package crashfs simulates power losses for tests. A Recorder watches a
// folder tree through durable.Hook while the code under test runs on the
// real file system, and keeps, at each durability point, what a power loss
// at that moment would leave on disk under POSIX's rules and nothing more:
//
//   - a file's content is what its last fsync saw (a file never synced
//     since it was created is empty after the loss, however much was
//     written to it);
//   - a folder's entries (names created, renamed or removed in it) are
//     what its last fsync saw (a name that was never synced is gone; a
//     removal that was never synced is undone);
//   - syncfs makes everything durable.
//
// Files are followed by inode, as the disk does: a file renamed after its
// fsync keeps its content under the new name once that folder is synced.
// Materialize writes the state at any durability point to a fresh folder,
// where the test opens the store as the next process after the loss would.
package crashfs

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"

	"github.com/mlgit/mlgit/internal/durable"
)

type entry struct {
	ino uint64
	dir bool
}

// state is what is durable: folders' entries and files' contents, by
// inode.
type state struct {
	dirs  map[uint64]map[string]entry
	files map[uint64][]byte
}

func (s state) clone() state {
	c := state{dirs: make(map[uint64]map[string]entry, len(s.dirs)), files: make(map[uint64][]byte, len(s.files))}
	for k, v := range s.dirs {
		c.dirs[k] = v // replaced whole, never changed in place
	}
	for k, v := range s.files {
		c.files[k] = v
	}
	return c
}

// Recorder records the durable states of a tree.
type Recorder struct {
	root    string
	rootIno uint64

	mu     sync.Mutex
	states []state // states[0] at Start; one more per durability point
	labels []string
	err    error
}

// Start snapshots root (everything in it is taken as durable) and installs
// the hook; Stop removes it.
func Start(root string) (*Recorder, error) {
	root, err := filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	st := state{dirs: map[uint64]map[string]entry{}, files: map[uint64][]byte{}}
	ino, err := snapshot(root, st)
	if err != nil {
		return nil, err
	}
	r := &Recorder{root: root, rootIno: ino, states: []state{st}, labels: []string{"start"}}
	durable.Hook = r.hook
	return r, nil
}

// Stop uninstalls the hook and returns the first error the hook met.
func (r *Recorder) Stop() error {
	durable.Hook = nil
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.err
}

// Points is the number of durability points recorded plus one: crash
// points are 0 (before the first) to Points()-1 (after the last).
func (r *Recorder) Points() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.states)
}

// Label says which durability point ended at crash point i.
func (r *Recorder) Label(i int) string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.labels[i]
}

func (r *Recorder) hook(k durable.Kind, path string) {
	if path != r.root && !strings.HasPrefix(path, r.root+string(filepath.Separator)) {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	st := r.states[len(r.states)-1].clone()
	rel, _ := filepath.Rel(r.root, path)
	var err error
	switch k {
	case durable.File:
		var fi os.FileInfo
		if fi, err = os.Stat(path); err == nil {
			var data []byte
			if data, err = os.ReadFile(path); err == nil {
				st.files[inoOf(fi)] = data
			}
		}
		rel = "fsync " + rel
	case durable.Dir:
		var fi os.FileInfo
		if fi, err = os.Stat(path); err == nil {
			var ents map[string]entry
			if ents, err = readDir(path); err == nil {
				st.dirs[inoOf(fi)] = ents
			}
		}
		rel = "fsync dir " + rel
	case durable.FS:
		st = state{dirs: map[uint64]map[string]entry{}, files: map[uint64][]byte{}}
		_, err = snapshot(r.root, st)
		rel = "syncfs"
	}
	if err != nil && r.err == nil {
		r.err = fmt.Errorf("crashfs: %s: %w", rel, err)
	}
	r.states = append(r.states, st)
	r.labels = append(r.labels, rel)
}

func inoOf(fi os.FileInfo) uint64 { return fi.Sys().(*syscall.Stat_t).Ino }

func readDir(path string) (map[string]entry, error) {
	des, err := os.ReadDir(path)
	if err != nil {
		return nil, err
	}
	ents := make(map[string]entry, len(des))
	for _, de := range des {
		fi, err := de.Info()
		if err != nil {
			continue // removed meanwhile
		}
		ents[de.Name()] = entry{ino: inoOf(fi), dir: de.IsDir()}
	}
	return ents, nil
}

// snapshot records the whole tree at path as durable and returns the
// root's inode.
func snapshot(path string, st state) (uint64, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return 0, err
	}
	ino := inoOf(fi)
	if !fi.IsDir() {
		if fi.Mode().IsRegular() {
			data, err := os.ReadFile(path)
			if err != nil {
				return 0, err
			}
			st.files[ino] = data
		}
		return ino, nil
	}
	ents, err := readDir(path)
	if err != nil {
		return 0, err
	}
	st.dirs[ino] = ents
	for name := range ents {
		if _, err := snapshot(filepath.Join(path, name), st); err != nil && !os.IsNotExist(err) {
			return 0, err
		}
	}
	return ino, nil
}

// Materialize writes the durable state at crash point i (0 <= i <
// Points()) into dst, a folder that must not exist.
func (r *Recorder) Materialize(i int, dst string) error {
	r.mu.Lock()
	st := r.states[i]
	r.mu.Unlock()
	return write(st, r.rootIno, dst)
}

func write(st state, ino uint64, dst string) error {
	if err := os.Mkdir(dst, 0o755); err != nil {
		return err
	}
	ents := st.dirs[ino] // a folder never synced since it was made is empty
	names := make([]string, 0, len(ents))
	for n := range ents {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		e := ents[n]
		p := filepath.Join(dst, n)
		if e.dir {
			if err := write(st, e.ino, p); err != nil {
				return err
			}
			continue
		}
		// A file never synced since it was made is empty.
		if err := os.WriteFile(p, st.files[e.ino], 0o644); err != nil {
			return err
		}
	}
	return nil
}
