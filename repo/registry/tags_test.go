package registry

import (
	"errors"
	"fmt"
	"math/rand"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/mlgit/mlgit/manifest"
)

// Names MLflow accepts that break naive escaping.
var trickyNames = []string{
	"churn", "my model", "team/churn", "a/b/c", "模型", "Модель-1", "..", ".", "...", ".hidden", "a..b", "a...b",
	"x@{y", "@", "@{", "a@v1", "a#b", "a#production#1", "100%", "%41", "%", "foo.lock", "foo.lock.lock", ".lock",
	"a.lock@", "trailing.", "trailing space ", " leading", "-dash", "dash-", "under_score", "a:b", "a?b*c[d]",
	"back\\slash", "tilde~caret^", "emoji 🚀", "ends.with.dot.", "a/./b", "a/../b", "HEAD", "refs/heads/x", "😀.lock",
	strings.Repeat("x", 200),
}

var keyRe = regexp.MustCompile(`^[A-Za-z0-9._%-]+$`)

// refFormatOK checks a full ref name with Git's rules (git check-ref-format).
func refFormatOK(ref string) error {
	if strings.HasSuffix(ref, "/") || strings.HasPrefix(ref, "/") || strings.Contains(ref, "//") {
		return errors.New("slash")
	}
	if strings.Contains(ref, "..") || strings.Contains(ref, "@{") || ref == "@" || strings.HasSuffix(ref, ".") {
		return errors.New("dots or @{")
	}
	for _, c := range []byte(ref) {
		if c < 0x20 || c == 0x7f || strings.IndexByte(" ~^:?*[\\", c) >= 0 {
			return fmt.Errorf("byte %q", c)
		}
	}
	for _, comp := range strings.Split(ref, "/") {
		if strings.HasPrefix(comp, ".") || strings.HasSuffix(comp, ".lock") {
			return fmt.Errorf("component %q", comp)
		}
	}
	return nil
}

func checkKey(t *testing.T, name string) string {
	t.Helper()
	key := ModelKey(name)
	back, err := ModelName(key)
	if err != nil || back != name {
		t.Fatalf("ModelName(ModelKey(%q)) = %q, %v (key %q)", name, back, err, key)
	}
	if !keyRe.MatchString(key) || key == "." || key == ".." || strings.HasPrefix(key, ".") ||
		strings.HasSuffix(key, ".") || strings.Contains(key, "..") || strings.HasSuffix(key, ".lock") {
		t.Fatalf("key %q of %q is not a safe directory name", key, name)
	}
	for _, tag := range tagNamesOf(key) {
		if err := refFormatOK("refs/tags/" + tag); err != nil {
			t.Fatalf("tag %q (model %q): %v", tag, name, err)
		}
		parsed, err := ParseTagName(tag)
		if err != nil || parsed.Key != key || parsed.String() != tag {
			t.Fatalf("ParseTagName(%q) = %+v, %v", tag, parsed, err)
		}
	}
	return key
}

func tagNamesOf(key string) []string {
	return []string{key + "@v1", key + "@v12!", key + "#production#3", key + "#!champion#4", key + "#champion#10"}
}

func TestModelKeyRoundTrip(t *testing.T) {
	for _, n := range trickyNames {
		checkKey(t, n)
	}
	want := map[string]string{
		"churn":      "churn",
		"my model":   "my%20model",
		"team/churn": "team%2Fchurn",
		"..":         "%2E%2E",
		".":          "%2E",
		"a..b":       "a.%2Eb",
		"foo.lock":   "foo%2Elock",
		"x@{y":       "x%40%7By",
		"a#b":        "a%23b",
		"100%":       "100%25",
		"trailing.":  "trailing%2E",
		"模型":         "%E6%A8%A1%E5%9E%8B",
	}
	for name, key := range want {
		if got := ModelKey(name); got != key {
			t.Errorf("ModelKey(%q) = %q, want %q", name, got, key)
		}
	}
}

func TestModelNameRejectsNonCanonicalKeys(t *testing.T) {
	for _, key := range []string{"", "%61", "%2e", "a b", "a%2", "a%GG", ".x", "a..b", "x.lock", "%FF", "a/b", "a@b", "%0A"} {
		if n, err := ModelName(key); err == nil {
			t.Errorf("ModelName(%q) = %q, want an error", key, n)
		} else if !errors.Is(err, manifest.ErrInvalid) {
			t.Errorf("ModelName(%q): %v does not wrap manifest.ErrInvalid", key, err)
		}
	}
}

// randomName draws names from an alphabet rich in characters that need
// escaping, so that the property test hits the special cases often.
func randomName(rng *rand.Rand) string {
	pieces := []string{".", ".", "..", ".lock", "@", "{", "#", "%", "/", " ", "a", "Z", "9", "-", "_", "é", "模", "🚀", "~", "^", ":", "?", "*", "[", "\\", "lock", "v1", "!"}
	var b strings.Builder
	for n := 1 + rng.Intn(8); n > 0; n-- {
		b.WriteString(pieces[rng.Intn(len(pieces))])
	}
	return b.String()
}

func TestModelKeyProperty(t *testing.T) {
	rng := rand.New(rand.NewSource(1))
	var sample []string
	for i := 0; i < 20000; i++ {
		n := randomName(rng)
		checkKey(t, n)
		if i%100 == 0 {
			sample = append(sample, n)
		}
	}
	// Cross-check a sample with the real git check-ref-format.
	gitCheckRefFormat(t, append(sample, trickyNames...))
}

func gitCheckRefFormat(t *testing.T, names []string) {
	t.Helper()
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("git not installed")
	}
	for i, n := range names {
		forms := tagNamesOf(ModelKey(n))[:3]
		if i%4 != 0 {
			forms = forms[:1] // the key varies, the suffixes do not
		}
		for _, tag := range forms {
			out, err := exec.Command("git", "check-ref-format", "refs/tags/"+tag).CombinedOutput()
			if err != nil {
				t.Fatalf("git check-ref-format refs/tags/%s (model %q): %v %s", tag, n, err, out)
			}
		}
	}
}

func FuzzModelKey(f *testing.F) {
	for _, n := range trickyNames {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, name string) {
		if manifest.ValidateModelName(name) != nil {
			return
		}
		checkKey(t, name)
	})
}

func TestParseTagName(t *testing.T) {
	good := map[string]TagName{
		"churn@v3":                  {Key: "churn", Kind: TagRegistration, Version: 3},
		"refs/tags/churn@v12!":      {Key: "churn", Kind: TagDeregistration, Version: 12},
		"churn#production#7":        {Key: "churn", Kind: TagEvent, Label: "production", Counter: 7},
		"churn#!champion#8":         {Key: "churn", Kind: TagEvent, Label: "!champion", Counter: 8},
		"my%20model#Champion_2#100": {Key: "my%20model", Kind: TagEvent, Label: "Champion_2", Counter: 100},
		"churn@v3#2":                {Key: "churn", Kind: TagRegistration, Version: 3, Gen: 2},
		"churn@v3!#12":              {Key: "churn", Kind: TagDeregistration, Version: 3, Gen: 12},
	}
	for s, want := range good {
		got, err := ParseTagName(s)
		if err != nil || got != want {
			t.Errorf("ParseTagName(%q) = %+v, %v; want %+v", s, got, err, want)
		}
	}
	for _, s := range []string{"v1.0.0", "churn", "churn@v1.2.3", "churn@v0", "churn@v01", "churn@3", "churn@latest",
		"churn#production", "churn#production#0", "churn#production#07", "churn##3", "churn#a b#3", "churn#!#3",
		"churn#prod#x", "@v1", "my model@v1", "churn@v1!!", "churn@v1#1", "churn@v1#0", "churn@v1#02", "churn@v1#", "churn@v1#2!",
		"churn@v1!#", "churn@v1#2#3", "churn@v1#x"} {
		if got, err := ParseTagName(s); err == nil {
			t.Errorf("ParseTagName(%q) = %+v, want an error", s, got)
		}
	}
}

// FuzzParseTagName: a name that parses is canonical (formatting the parse
// gives it back), and parsing never panics.
func FuzzParseTagName(f *testing.F) {
	for _, s := range []string{"churn@v3", "churn@v12!", "churn#production#7", "churn#!champion#8", "churn@v3#2", "churn@v3!#2", "a%20b@v1"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tn, err := ParseTagName(s)
		if err != nil {
			return
		}
		if got := tn.String(); got != strings.TrimPrefix(s, "refs/tags/") {
			t.Fatalf("ParseTagName(%q) formats as %q", s, got)
		}
	})
}

// TestStateFromTagsGenerations: the latest registration generation decides
// whether a version is deleted.
func TestStateFromTagsGenerations(t *testing.T) {
	refs := []TagRef{
		{Name: "churn@v1", Commit: hx(1)}, {Name: "churn@v1!", Commit: hx(1)}, {Name: "churn@v1#2", Commit: hx(1)}, // restored
		{Name: "churn@v2", Commit: hx(2)}, {Name: "churn@v2!", Commit: hx(2)}, {Name: "churn@v2#2", Commit: hx(2)}, {Name: "churn@v2!#2", Commit: hx(2)}, // deleted again
		{Name: "churn@v3", Commit: hx(3)}, {Name: "churn@v3!", Commit: hx(3)}, // deleted
		{Name: "churn#production#1", Commit: hx(1)}, {Name: "churn#champion#2", Commit: hx(2)},
		{Name: "churn@v9#2", Commit: hx(9)}, // no first registration: ignored
	}
	st := StateFromTags("churn", refs, NewStages())
	v1, v2, v3 := st.Versions[1], st.Versions[2], st.Versions[3]
	if v1.Deleted || v1.Gen != 2 || !v2.Deleted || v2.Gen != 2 || !v3.Deleted || v3.Gen != 1 || st.Versions[9] != nil {
		t.Fatalf("versions %+v %+v %+v", v1, v2, v3)
	}
	if v1.Stage != "production" || len(st.Aliases) != 0 || len(st.Warnings) != 1 {
		t.Errorf("stage %s, aliases %v, warnings %v", v1.Stage, st.Aliases, st.Warnings)
	}
	if got := v1.DeregistrationTag("churn").String(); got != "churn@v1!#2" {
		t.Errorf("deregistration of v1: %s", got)
	}
	if got := v3.RegistrationTag("churn").String(); got != "churn@v3#2" {
		t.Errorf("re-registration of v3: %s", got)
	}
}

func hx(n int) string { return fmt.Sprintf("%040x", n) }

func TestStateFromTags(t *testing.T) {
	stages := NewStages("qa")
	refs := []TagRef{
		{Name: "churn@v1", Commit: hx(1)},
		{Name: "churn@v2", Commit: hx(2)},
		{Name: "churn@v3", Commit: hx(3)},
		{Name: "churn@v4", Commit: hx(4)},
		{Name: "churn#staging#1", Commit: hx(1)},
		{Name: "churn#production#2", Commit: hx(1)},
		{Name: "churn#production#3", Commit: hx(2)},
		{Name: "churn#archived#4", Commit: hx(1)},
		{Name: "churn#champion#5", Commit: hx(2)},
		{Name: "churn#qa#6", Commit: hx(3)},
		{Name: "churn#champion#7", Commit: hx(1)},   // moves champion to v1
		{Name: "churn#challenger#8", Commit: hx(3)}, // then removed
		{Name: "churn#!challenger#9", Commit: hx(3)},
		{Name: "churn#production#10", Commit: hx(4)},
		{Name: "churn@v4!", Commit: hx(4)},           // v4 deleted: production falls back to v2
		{Name: "churn#qa#11", Commit: hx(99)},        // no such version: ignored
		{Name: "churn#bogus", Commit: hx(1)},         // unparsable: ignored
		{Name: "churn@v1.2.3", Commit: hx(1)},        // GTO-style: ignored
		{Name: "churnx@v1", Commit: hx(7)},           // another model
		{Name: "churn#Production#12", Commit: hx(5)}, // no version, upper case label is a stage
	}
	st := StateFromTags("churn", refs, stages)
	if st.MaxCounter != 12 || st.MaxVersion != 4 {
		t.Fatalf("max counter %d, max version %d", st.MaxCounter, st.MaxVersion)
	}
	wantStage := map[int64]string{1: "archived", 2: "production", 3: "qa", 4: "production"}
	for v, s := range wantStage {
		if got := st.Versions[v].Stage; got != s {
			t.Errorf("v%d stage %q, want %q", v, got, s)
		}
	}
	if !st.Versions[4].Deleted {
		t.Error("v4 not deleted")
	}
	if fmt.Sprint(st.Aliases) != "map[champion:1]" {
		t.Errorf("aliases %v", st.Aliases)
	}
	for _, w := range []string{"churn#bogus", "churn@v1.2.3", "churn#qa#11", "churn#Production#12"} {
		if !strings.Contains(strings.Join(st.Warnings, "\n"), w) {
			t.Errorf("no warning for %s in %q", w, st.Warnings)
		}
	}
	resolve := func(sel string) (int64, error) {
		s, err := ParseSelector(sel, stages)
		if err != nil {
			return 0, err
		}
		v, err := st.Resolve("churn", s)
		if err != nil {
			return 0, err
		}
		return v.Version, nil
	}
	for sel, want := range map[string]int64{"production": 2, "Production": 2, "qa": 3, "archived": 1, "champion": 1, "latest": 3, "v2": 2, "V3": 3} {
		got, err := resolve(sel)
		if err != nil || got != want {
			t.Errorf("churn@%s = v%d, %v; want v%d", sel, got, err, want)
		}
	}
	for sel, msg := range map[string]string{
		"staging":    "no version of model \"churn\" is in stage staging (stages in use: archived (v1), production (v2), qa (v3))",
		"challenger": "has no alias \"challenger\" (aliases: champion -> v1)",
		"v4":         "version 4 of model \"churn\" was deleted (versions: 1, 2, 3)",
		"v9":         "has no version 9 (versions: 1, 2, 3)",
	} {
		_, err := resolve(sel)
		if !errors.Is(err, ErrNotFound) || !strings.Contains(err.Error(), msg) {
			t.Errorf("churn@%s: %v; want ErrNotFound with %q", sel, err, msg)
		}
	}
	// Order of the input does not matter.
	shuffled := append([]TagRef(nil), refs...)
	rand.New(rand.NewSource(2)).Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
	st2 := StateFromTags("churn", shuffled, stages)
	if fmt.Sprint(st2.Aliases) != fmt.Sprint(st.Aliases) || st2.Versions[2].Stage != "production" {
		t.Error("state depends on input order")
	}
}

func TestStateEqualCountersTieBreakByName(t *testing.T) {
	// Two clones both used counter 5: the tag with the greater name wins.
	refs := []TagRef{
		{Name: "m@v1", Commit: hx(1)}, {Name: "m@v2", Commit: hx(2)},
		{Name: "m#production#5", Commit: hx(1)}, {Name: "m#staging#5", Commit: hx(1)},
		{Name: "m#champion#6", Commit: hx(2)}, {Name: "m#champion#6x", Commit: hx(1)},
	}
	st := StateFromTags("m", refs, NewStages())
	if st.Versions[1].Stage != "staging" {
		t.Errorf("v1 stage %q, want staging (name order breaks the tie)", st.Versions[1].Stage)
	}
	if st.Aliases["champion"] != 2 {
		t.Errorf("champion -> v%d", st.Aliases["champion"])
	}
}

func TestParseLsRemote(t *testing.T) {
	out := hx(10) + "\trefs/tags/churn#production#2\n" +
		hx(1) + "\trefs/tags/churn#production#2^{}\n" +
		hx(11) + "\trefs/tags/churn@v1\n" +
		hx(1) + "\trefs/tags/churn@v1^{}\n" +
		hx(2) + "\trefs/tags/churn@v2\n" + // lightweight
		hx(3) + "\trefs/heads/main\n"
	refs := ParseLsRemote(out)
	want := []TagRef{
		{Name: "churn#production#2", Object: hx(10), Commit: hx(1)},
		{Name: "churn@v1", Object: hx(11), Commit: hx(1)},
		{Name: "churn@v2", Object: hx(2), Commit: hx(2)},
	}
	if fmt.Sprint(refs) != fmt.Sprint(want) {
		t.Fatalf("got %v\nwant %v", refs, want)
	}
}
