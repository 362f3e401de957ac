package gitobj

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/mlgit/mlgit/internal/durable"

	"github.com/go-git/go-git/v5/plumbing"
)

// Refs reads and updates refs directly in the Git directory, honouring
// Git's locking protocol: a writer creates <ref>.lock with O_EXCL, checks the
// current value, writes the new value into the lock file, fsyncs it and
// renames it over the ref. git pack-refs and git gc take the same lock
// before deleting a loose ref, so neither side can lose the other's update.
type Refs struct {
	gitDir string
}

// NewRefs returns the refs of gitDir.
func NewRefs(gitDir string) Refs { return Refs{gitDir: gitDir} }

// Read returns the value of a ref (loose, then packed-refs). It returns the
// zero hash and no error when the ref does not exist.
func (rf Refs) Read(name string) (plumbing.Hash, error) {
	// A concurrent pack-refs may delete the loose ref between our two reads;
	// it writes packed-refs first, so loose-then-packed never misses a value.
	b, err := os.ReadFile(filepath.Join(rf.gitDir, filepath.FromSlash(name)))
	if err == nil {
		s := strings.TrimSpace(string(b))
		if strings.HasPrefix(s, "ref: ") {
			return rf.Read(strings.TrimPrefix(s, "ref: "))
		}
		if !plumbing.IsHash(s) {
			return plumbing.ZeroHash, fmt.Errorf("ref %s holds %q, not an object id", name, s)
		}
		return plumbing.NewHash(s), nil
	}
	// A directory (refs/mlgit holds refs/mlgit/remotes/...) is no ref.
	if !errors.Is(err, os.ErrNotExist) && !isNotDir(err) && !errors.Is(err, syscall.EISDIR) {
		return plumbing.ZeroHash, err
	}
	return rf.readPacked(name)
}

func isNotDir(err error) bool {
	var pe *os.PathError
	return errors.As(err, &pe) && strings.Contains(pe.Err.Error(), "not a directory")
}

func (rf Refs) readPacked(name string) (plumbing.Hash, error) {
	f, err := os.Open(filepath.Join(rf.gitDir, "packed-refs"))
	if errors.Is(err, os.ErrNotExist) {
		return plumbing.ZeroHash, nil
	}
	if err != nil {
		return plumbing.ZeroHash, err
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	suffix := []byte(" " + name)
	for sc.Scan() {
		l := sc.Bytes()
		if len(l) > 41 && l[0] != '#' && l[0] != '^' && bytes.Equal(l[40:], suffix) {
			return plumbing.NewHash(string(l[:40])), nil
		}
	}
	return plumbing.ZeroHash, sc.Err()
}

// LockTimeout bounds how long an update waits for another process's lock.
const LockTimeout = 10 * time.Second

// cas moves ref name from old to new (old zero: the ref must not exist).
// It returns ErrCASMismatch when the ref moved, so the caller can re-apply
// its change to the new tip. A reflog line is appended as git does.
func (rf Refs) CAS(name string, old, new plumbing.Hash, who, msg string) error {
	// The objects the ref names are durable before the ref is.
	if err := SyncObjects(rf.gitDir); err != nil {
		return err
	}
	f, lock, err := rf.lockRef(name)
	if err != nil {
		return err
	}
	committed := false
	defer func() {
		if !committed {
			f.Close()
			os.Remove(lock)
		}
	}()
	cur, err := rf.Read(name)
	if err != nil {
		return err
	}
	if cur != old {
		return ErrCASMismatch
	}
	if _, err := f.WriteString(new.String() + "\n"); err != nil {
		return err
	}
	if err := durable.Sync(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(lock, strings.TrimSuffix(lock, ".lock")); err != nil {
		return err
	}
	committed = true
	// The move is durable once the ref's folder is: a checkpoint deletes
	// the journal files it folded only after that.
	if err := durable.SyncDir(filepath.Dir(lock)); err != nil {
		return err
	}
	rf.appendReflog(name, old, new, who, msg)
	return nil
}

// lockRef takes Git's lock on ref name: it creates <ref>.lock with O_EXCL,
// waiting up to LockTimeout and removing a lock left by a dead process.
func (rf Refs) lockRef(name string) (*os.File, string, error) {
	path := filepath.Join(rf.gitDir, filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, "", err
	}
	lock := path + ".lock"
	deadline := time.Now().Add(LockTimeout)
	for {
		f, err := os.OpenFile(lock, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
		if err == nil {
			// Holding flock on our own lock file tells other mlgit
			// processes that its owner is alive (see removeStaleLock).
			syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB)
			return f, lock, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return nil, "", fmt.Errorf("lock ref %s: %w", name, err)
		}
		if removeStaleLock(lock) {
			continue
		}
		if time.Now().After(deadline) {
			return nil, "", fmt.Errorf("%w: %s is held by another process; if none is running, remove it", ErrLocked, lock)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// Delete removes ref name if it still holds old, as git update-ref -d
// does: under the ref's lock, it drops the entry from packed-refs (under
// packed-refs.lock) and then the loose file and its reflog.
func (rf Refs) Delete(name string, old plumbing.Hash) error {
	f, lock, err := rf.lockRef(name)
	if err != nil {
		return err
	}
	defer func() {
		f.Close()
		os.Remove(lock)
	}()
	cur, err := rf.Read(name)
	if err != nil {
		return err
	}
	if cur != old {
		return ErrCASMismatch
	}
	if err := rf.removePacked(name); err != nil {
		return err
	}
	path := strings.TrimSuffix(lock, ".lock")
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	os.Remove(filepath.Join(rf.gitDir, "logs", filepath.FromSlash(name)))
	return nil
}

// removePacked rewrites packed-refs without name (and its peeled line).
func (rf Refs) removePacked(name string) error {
	path := filepath.Join(rf.gitDir, "packed-refs")
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	if !bytes.Contains(data, []byte(" "+name+"\n")) {
		return nil
	}
	f, lock, err := rf.lockRef("packed-refs")
	if err != nil {
		return err
	}
	done := false
	defer func() {
		if !done {
			f.Close()
			os.Remove(lock)
		}
	}()
	// Re-read under the lock: another writer may have changed it.
	if data, err = os.ReadFile(path); err != nil {
		return err
	}
	var out bytes.Buffer
	skipPeeled := false
	for _, line := range bytes.SplitAfter(data, []byte("\n")) {
		if len(line) == 0 {
			continue
		}
		if line[0] == '^' {
			if !skipPeeled {
				out.Write(line)
			}
			continue
		}
		skipPeeled = false
		if len(line) > 41 && string(bytes.TrimRight(line[41:], "\n")) == name {
			skipPeeled = true
			continue
		}
		out.Write(line)
	}
	if _, err := f.Write(out.Bytes()); err != nil {
		return err
	}
	if err := durable.Sync(f); err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	done = true
	if err := os.Rename(lock, path); err != nil {
		return err
	}
	return durable.SyncDir(filepath.Dir(path))
}

// ErrCASMismatch is what CAS and Delete return when the ref no longer
// holds the expected value.
var ErrCASMismatch = errors.New("ref moved")

// staleLockAge is how old a ref lock must be before it can be stale. Git
// and mlgit hold ref locks for milliseconds.
const staleLockAge = 2 * time.Second

// removeStaleLock removes a <ref>.lock left behind by a process that died
// (kill -9) between creating and renaming it. A lock is stale when it is
// older than staleLockAge and nobody holds flock on it: a live mlgit owner
// always does, and git never holds a ref lock that long.
func removeStaleLock(lock string) bool {
	fi, err := os.Stat(lock)
	if err != nil || time.Since(fi.ModTime()) < staleLockAge {
		return false
	}
	f, err := os.Open(lock)
	if err != nil {
		return false
	}
	defer f.Close()
	if syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB) != nil {
		return false
	}
	fi2, err := os.Stat(lock)
	if err != nil || !os.SameFile(fi, fi2) {
		return false
	}
	return os.Remove(lock) == nil
}

// appendReflog records the update in logs/<ref>, as git update-ref does.
// It is best effort: a failure here never fails the update.
func (rf Refs) appendReflog(name string, old, new plumbing.Hash, who, msg string) {
	if who == "" {
		return
	}
	p := filepath.Join(rf.gitDir, "logs", filepath.FromSlash(name))
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return
	}
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o644)
	if err != nil {
		return
	}
	defer f.Close()
	if i := strings.IndexByte(msg, '\n'); i >= 0 {
		msg = msg[:i]
	}
	fmt.Fprintf(f, "%s %s %s\t%s\n", old, new, who, msg)
}

// CreateTag creates refs/tags/<name> pointing at h; it fails with ErrExists
// if the tag exists.
func (rf Refs) CreateTag(name string, h plumbing.Hash) error {
	err := rf.CAS("refs/tags/"+name, plumbing.ZeroHash, h, "", "")
	if errors.Is(err, ErrCASMismatch) {
		return fmt.Errorf("tag %s: %w", name, ErrExists)
	}
	return err
}
