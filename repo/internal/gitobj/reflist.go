package gitobj

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"syscall"

	"github.com/go-git/go-git/v5/plumbing"
)

// RefValue is a ref as stored: its value and, when packed-refs recorded
// it, the commit it peels to.
type RefValue struct {
	Name   string // full ref name
	Hash   plumbing.Hash
	Peeled plumbing.Hash // zero when unknown
}

// ListWithPrefixes returns the refs whose full names start with one of
// the prefixes (each "refs/tags/<something>", no '/' after refs/tags/). It
// reads only the loose refs whose file names match and the packed-refs
// lines in the matching ranges (binary search in the sorted file), so its
// cost grows with the refs it returns, not with all refs. Loose refs win
// over packed ones, as in Git.
func (rf Refs) ListWithPrefixes(prefixes ...string) ([]RefValue, error) {
	found := map[string]RefValue{}
	// Loose first: pack-refs writes packed-refs before it deletes loose
	// refs, so a ref that disappears between the two reads is in packed.
	byDir := map[string][]string{}
	for _, p := range prefixes {
		dir, base := filepath.Split(p)
		byDir[dir] = append(byDir[dir], base)
	}
	for dir, bases := range byDir {
		names, err := readDirNames(filepath.Join(rf.gitDir, filepath.FromSlash(dir)))
		if err != nil {
			return nil, err
		}
		for _, n := range names {
			if !hasAnyPrefix(n, bases) || strings.HasSuffix(n, ".lock") {
				continue
			}
			full := dir + n
			h, ok, err := rf.readLoose(full)
			if err != nil {
				return nil, err
			}
			if ok {
				found[full] = RefValue{Name: full, Hash: h}
			}
		}
	}
	packed, err := rf.packedWithPrefixes(prefixes)
	if err != nil {
		return nil, err
	}
	for _, v := range packed {
		if _, loose := found[v.Name]; !loose {
			found[v.Name] = v
		}
	}
	out := make([]RefValue, 0, len(found))
	for _, v := range found {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

func hasAnyPrefix(s string, prefixes []string) bool {
	for _, p := range prefixes {
		if strings.HasPrefix(s, p) {
			return true
		}
	}
	return false
}

// readDirNames lists a directory without sorting (nil if it is missing).
func readDirNames(dir string) ([]string, error) {
	f, err := os.Open(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	defer f.Close()
	names, err := f.Readdirnames(-1)
	if err != nil && !errors.Is(err, io.EOF) {
		return nil, err
	}
	return names, nil
}

// readLoose reads a loose ref file; ok is false when it vanished or is a
// directory (a hand-made ref like refs/tags/churn#x/y).
func (rf Refs) readLoose(name string) (plumbing.Hash, bool, error) {
	b, err := os.ReadFile(filepath.Join(rf.gitDir, filepath.FromSlash(name)))
	if errors.Is(err, os.ErrNotExist) || errors.Is(err, syscall.EISDIR) {
		return plumbing.ZeroHash, false, nil
	}
	if err != nil {
		return plumbing.ZeroHash, false, err
	}
	s := strings.TrimSpace(string(b))
	if !plumbing.IsHash(s) {
		return plumbing.ZeroHash, false, nil
	}
	return plumbing.NewHash(s), true, nil
}

// packedWithPrefixes returns the packed-refs entries under the prefixes.
func (rf Refs) packedWithPrefixes(prefixes []string) ([]RefValue, error) {
	buf, done, err := mapFile(filepath.Join(rf.gitDir, "packed-refs"))
	if err != nil || buf == nil {
		return nil, err
	}
	defer done()
	start, sorted := packedHeader(buf)
	var out []RefValue
	for _, p := range prefixes {
		if !sorted {
			out = append(out, scanPacked(buf, start, len(buf), p, false)...)
			continue
		}
		at := searchPacked(buf, start, p)
		out = append(out, scanPacked(buf, at, len(buf), p, true)...)
	}
	return out, nil
}

// mapFile maps a file read-only (nil, no error when it does not exist).
// Git itself mmaps packed-refs; reading a few pages of a large file is what
// keeps prefix lookups cheap.
func mapFile(path string) ([]byte, func(), error) {
	f, err := os.Open(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, nil
	}
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if fi.Size() == 0 {
		return nil, nil, nil
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(fi.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		b, err := io.ReadAll(f)
		return b, func() {}, err
	}
	return b, func() { syscall.Munmap(b) }, nil
}

// packedHeader returns where the records start and whether the file says
// it is sorted ("# pack-refs with: ... sorted").
func packedHeader(buf []byte) (int, bool) {
	if !bytes.HasPrefix(buf, []byte("# pack-refs with:")) {
		return 0, false
	}
	nl := bytes.IndexByte(buf, '\n')
	if nl < 0 {
		return len(buf), false
	}
	traits := strings.Fields(string(buf[len("# pack-refs with:"):nl]))
	sorted := false
	for _, t := range traits {
		if t == "sorted" {
			sorted = true
		}
	}
	return nl + 1, sorted
}

// recordStart returns the start of the record (ref line) containing offset
// i: the start of its line, or of the line before when i is on a "^" line.
func recordStart(buf []byte, start, i int) int {
	for i > start && buf[i-1] != '\n' {
		i--
	}
	if i < len(buf) && buf[i] == '^' && i > start {
		i--
		for i > start && buf[i-1] != '\n' {
			i--
		}
	}
	return i
}

// nextRecord returns the start of the record after the one at i.
func nextRecord(buf []byte, i int) int {
	for {
		nl := bytes.IndexByte(buf[i:], '\n')
		if nl < 0 {
			return len(buf)
		}
		i += nl + 1
		if i >= len(buf) || buf[i] != '^' {
			return i
		}
	}
}

// refnameAt returns the ref name of the record at i ("<hex> <name>\n").
func refnameAt(buf []byte, i int) []byte {
	line := buf[i:]
	if nl := bytes.IndexByte(line, '\n'); nl >= 0 {
		line = line[:nl]
	}
	if sp := bytes.IndexByte(line, ' '); sp >= 0 {
		return line[sp+1:]
	}
	return nil
}

// searchPacked finds the first record whose name is >= prefix.
func searchPacked(buf []byte, start int, prefix string) int {
	lo, hi := start, len(buf)
	p := []byte(prefix)
	for lo < hi {
		mid := lo + (hi-lo)/2
		rec := recordStart(buf, start, mid)
		if rec < lo {
			rec = lo
		}
		if bytes.Compare(refnameAt(buf, rec), p) < 0 {
			lo = nextRecord(buf, rec)
		} else {
			hi = rec
		}
	}
	return lo
}

// scanPacked collects records from i on whose names start with prefix;
// with stopEarly it stops at the first record past the prefix range.
func scanPacked(buf []byte, i, end int, prefix string, stopEarly bool) []RefValue {
	var out []RefValue
	p := []byte(prefix)
	lastMatched := false // whether the record before a "^" line is ours
	for i < end {
		nl := bytes.IndexByte(buf[i:], '\n')
		line := buf[i:]
		next := len(buf)
		if nl >= 0 {
			line, next = buf[i:i+nl], i+nl+1
		}
		i = next
		if len(line) == 0 || line[0] == '#' {
			continue
		}
		if line[0] == '^' {
			if lastMatched && len(line) >= 41 && out[len(out)-1].Peeled.IsZero() {
				out[len(out)-1].Peeled = plumbing.NewHash(string(line[1:41]))
			}
			continue
		}
		lastMatched = false
		if len(line) < 42 || line[40] != ' ' {
			continue
		}
		name := line[41:]
		if !bytes.HasPrefix(name, p) {
			if stopEarly && bytes.Compare(name, p) > 0 {
				break
			}
			continue
		}
		out = append(out, RefValue{Name: string(name), Hash: plumbing.NewHash(string(line[:40]))})
		lastMatched = true
	}
	return out
}
