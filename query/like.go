package query

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// likePattern is a compiled SQL LIKE pattern: '%' matches any sequence of
// characters, '_' exactly one character, everything else itself. There is no
// escape character (SQLite's default), so a backslash is an ordinary
// character.
//
// The pattern is split at '%' into segments. Each segment matches a fixed
// number of characters, so the first is anchored at the start, the last at
// the end, and each middle one is found leftmost-first after the previous:
// a match costs O(len(text) * len(pattern)) at worst, with no backtracking.
type likePattern struct {
	src  string
	fold bool // ILIKE: compare with Unicode simple case folding

	segs     []likeSeg
	anyStart bool // pattern starts with '%'
	anyEnd   bool // pattern ends with '%'
}

type likeSeg struct {
	lit   string // the segment text, for strings.Index when plain
	runes []rune // the segment, '_' is a wildcard
	plain bool   // no '_' and not folding: lit can be searched for directly
}

func compileLike(pattern string, fold bool) *likePattern {
	p := &likePattern{src: pattern, fold: fold}
	parts := strings.Split(pattern, "%")
	p.anyStart = len(parts) > 1 && parts[0] == ""
	p.anyEnd = len(parts) > 1 && parts[len(parts)-1] == ""
	for _, part := range parts {
		// Empty parts only come from adjacent '%' or the ends, except that a
		// pattern without '%' keeps its single (possibly empty) segment.
		if part == "" && len(parts) > 1 {
			continue
		}
		p.segs = append(p.segs, likeSeg{
			lit:   part,
			runes: []rune(part),
			plain: !fold && !strings.Contains(part, "_"),
		})
	}
	return p
}

// match reports whether s matches the whole pattern.
func (p *likePattern) match(s string) bool {
	segs := p.segs
	if len(segs) == 0 {
		// Only '%' characters (or the empty pattern, which has one segment).
		return true
	}
	pos, end := 0, len(s)
	if !p.anyStart {
		e, ok := p.matchAt(s, 0, segs[0])
		if !ok {
			return false
		}
		if len(segs) == 1 && !p.anyEnd {
			return e == len(s)
		}
		pos = e
		segs = segs[1:]
	}
	if !p.anyEnd && len(segs) > 0 {
		last := segs[len(segs)-1]
		start, ok := backRunes(s, len(last.runes))
		if !ok || start < pos {
			return false
		}
		if e, ok := p.matchAt(s, start, last); !ok || e != len(s) {
			return false
		}
		end = start
		segs = segs[:len(segs)-1]
	}
	for _, seg := range segs {
		e, ok := p.find(s[:end], pos, seg)
		if !ok {
			return false
		}
		pos = e
	}
	return true
}

// backRunes returns the byte offset n characters before the end of s.
func backRunes(s string, n int) (int, bool) {
	i := len(s)
	for ; n > 0; n-- {
		if i == 0 {
			return 0, false
		}
		_, w := utf8.DecodeLastRuneInString(s[:i])
		i -= w
	}
	return i, true
}

// matchAt matches seg at byte offset i of s and returns the offset after it.
func (p *likePattern) matchAt(s string, i int, seg likeSeg) (int, bool) {
	for _, pr := range seg.runes {
		if i >= len(s) {
			return 0, false
		}
		r, w := utf8.DecodeRuneInString(s[i:])
		if pr != '_' && r != pr && !(p.fold && foldEqual(r, pr)) {
			return 0, false
		}
		i += w
	}
	return i, true
}

// find returns the end of the leftmost match of seg in s at or after from.
func (p *likePattern) find(s string, from int, seg likeSeg) (int, bool) {
	if seg.plain {
		j := strings.Index(s[from:], seg.lit)
		if j < 0 {
			return 0, false
		}
		return from + j + len(seg.lit), true
	}
	for i := from; i < len(s); {
		if e, ok := p.matchAt(s, i, seg); ok {
			return e, true
		}
		_, w := utf8.DecodeRuneInString(s[i:])
		i += w
	}
	return 0, false
}

// foldEqual reports whether a and b are equal under Unicode simple case
// folding.
func foldEqual(a, b rune) bool {
	if a == b {
		return true
	}
	if a < utf8.RuneSelf && b < utf8.RuneSelf {
		if 'A' <= a && a <= 'Z' {
			a += 'a' - 'A'
		}
		if 'A' <= b && b <= 'Z' {
			b += 'a' - 'A'
		}
		return a == b
	}
	for f := unicode.SimpleFold(a); f != a; f = unicode.SimpleFold(f) {
		if f == b {
			return true
		}
	}
	return false
}
