package shell

import (
	"os/exec"
	"testing"
)

func TestQuote(t *testing.T) {
	for in, want := range map[string]string{
		"churn":        "churn",
		"a/b@v3":       "a/b@v3",
		"":             "''",
		"two words":    "'two words'",
		"it's":         `'it'\''s'`,
		"$HOME;rm -rf": "'$HOME;rm -rf'",
	} {
		if got := Quote(in); got != want {
			t.Errorf("Quote(%q) = %s, want %s", in, got, want)
		}
		// The shell reads the word back as s.
		out, err := exec.Command("sh", "-c", "printf %s "+Quote(in)).Output()
		if err != nil || string(out) != in {
			t.Errorf("sh read %s as %q (%v), want %q", Quote(in), out, err, in)
		}
	}
}
