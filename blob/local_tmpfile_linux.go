package blob

import (
	"errors"
	"os"
	"path/filepath"
	"strconv"

	"golang.org/x/sys/unix"
)

// openAnon creates a file without a name in folder dir (O_TMPFILE),
// read-only for everyone once linked. It fails with errNoAnon when the
// file system cannot (then callers stage under a name).
func openAnon(dir string) (*os.File, error) {
	fd, err := unix.Open(dir, unix.O_WRONLY|unix.O_TMPFILE|unix.O_CLOEXEC, 0o444)
	switch {
	case err == nil:
		return os.NewFile(uintptr(fd), filepath.Join(dir, "(unnamed)")), nil
	case errors.Is(err, unix.EOPNOTSUPP), errors.Is(err, unix.EISDIR), errors.Is(err, unix.EINVAL):
		return nil, errNoAnon
	}
	return nil, &os.PathError{Op: "open", Path: dir, Err: err}
}

// linkAnon gives the unnamed file f the name path, through its /proc
// entry (linkat with AT_SYMLINK_FOLLOW; AT_EMPTY_PATH would need a
// capability). Like link(2) it never replaces an existing file: that fails
// with an error wrapping fs.ErrExist.
func linkAnon(f *os.File, path string) error {
	err := unix.Linkat(unix.AT_FDCWD, "/proc/self/fd/"+strconv.Itoa(int(f.Fd())), unix.AT_FDCWD, path, unix.AT_SYMLINK_FOLLOW)
	if err != nil {
		return &os.LinkError{Op: "link", Old: f.Name(), New: path, Err: err}
	}
	return nil
}
