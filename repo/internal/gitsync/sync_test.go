package gitsync

import "testing"

func TestPackBytes(t *testing.T) {
	for _, c := range []struct {
		stderr string
		want   int64
	}{
		{"Writing objects: 100% (3/3), 1.50 KiB | 1.50 MiB/s, done.\n", 1536},
		{"Writing objects:  50% (1/2)\rWriting objects: 100% (2/2), 250 bytes | 250.00 KiB/s, done.\n", 250},
		{"Everything up-to-date\n", 0},
	} {
		if got := packBytes(c.stderr); got != c.want {
			t.Errorf("packBytes(%q) = %d, want %d", c.stderr, got, c.want)
		}
	}
}

func TestRemoteSyntax(t *testing.T) {
	for u, want := range map[string]bool{
		"git@host:team/repo.git": true,
		"host:repo":              true,
		"https://host/repo.git":  false,
		"/srv/git/repo.git":      false,
		"./dir:with-colon":       false,
	} {
		if got := isSCPLike(u); got != want {
			t.Errorf("isSCPLike(%q) = %v", u, got)
		}
	}
	if !pushRaced("! [rejected]        mlgit -> mlgit (fetch first)") || pushRaced("fatal: Authentication failed") {
		t.Error("pushRaced")
	}
}
