package manifest

import (
	"errors"
	"fmt"
	"path"
	"strings"
	"testing"
	"unicode/utf8"
)

// checkErr asserts that err is nil when ok, and otherwise ErrInvalid with a
// message containing say.
func checkErr(t *testing.T, call string, err error, ok bool, say string) {
	t.Helper()
	switch {
	case ok && err != nil:
		t.Errorf("%s = %v, want nil", call, err)
	case !ok && !errors.Is(err, ErrInvalid):
		t.Errorf("%s = %v, want ErrInvalid", call, err)
	case !ok && !strings.Contains(err.Error(), say):
		t.Errorf("%s = %q, want it to mention %q", call, err, say)
	}
}

func TestValidateKey(t *testing.T) {
	tests := []struct {
		key string
		ok  bool
	}{
		// MLflow's characters: \w (Unicode letters, numbers, _), - . space : /
		{"loss", true},
		{"val/acc", true},
		{"train loss", true},
		{"epoch:3", true},
		{"mlflow.source.git.commit", true},
		{"a-b_c.d", true},
		{"größe", true},
		{"损失", true},
		{"x²", true}, // a Unicode number (No), which Python's \w matches
		{"٣", true},  // an Arabic-Indic digit
		{".hidden", true},
		{"a..b", true},
		{"a/.b", true},
		{" ", true},
		{"C:/x", true},
		{strings.Repeat("k", MaxKeyLength), true},
		{strings.Repeat("é", MaxKeyLength), true}, // 250 characters, 500 bytes
		{strings.Repeat("k", MaxKeyLength+1), false},
		{strings.Repeat("é", MaxKeyLength+1), false},
		{"", false},
		// Not path-unique (MLflow's path_not_unique).
		{".", false},
		{"..", false},
		{"../a", false},
		{"..a", false},
		{"/a", false},
		{"//a", false},
		{"a//b", false},
		{"a/./b", false},
		{"./a", false},
		{"a/..", false},
		{"a/../b", false},
		{"a/", false},
		// Characters outside the set.
		{"a\tb", false},
		{"a\nb", false},
		{"loss\n", false}, // MLflow's "$" would accept a trailing newline; mlgit does not
		{"a\x00b", false},
		{"a\\b", false},
		{"a!b", false},
		{"a@b", false},
		{"a,b", false},
		{"a=b", false},
		{"a+b", false},
		{"a#b", false},
		{"a\u00a0b", false}, // no-break space is not a space
		{"\xff", false},
	}
	for _, tc := range tests {
		err := ValidateKey("metric", tc.key)
		checkErr(t, "ValidateKey(metric, "+quoteShort(tc.key)+")", err, tc.ok, "metric key")
	}
	for _, what := range []string{"param", "tag", "experiment tag"} {
		if err := ValidateKey(what, "a//b"); err == nil || !strings.HasPrefix(err.Error(), "invalid: "+what+" key") {
			t.Errorf("ValidateKey(%q, a//b) = %v, want it to name the %s key", what, err, what)
		}
	}
	// Long keys are abbreviated in messages, on a character boundary.
	err := ValidateKey("param", strings.Repeat("é", 300))
	if err == nil || !utf8.ValidString(err.Error()) || strings.Count(err.Error(), "é") > 40 {
		t.Errorf("ValidateKey(300 × é) = %q", err)
	}
}

func quoteShort(s string) string {
	if len(s) > 20 {
		return fmt.Sprintf("%q… (%d chars)", s[:10], utf8.RuneCountInString(s))
	}
	return fmt.Sprintf("%q", s)
}

func TestValidateParam(t *testing.T) {
	tests := []struct {
		name, key, value string
		ok               bool
		say              string
	}{
		{"empty value", "lr", "", true, ""},
		{"at the limit", "lr", strings.Repeat("v", MaxParamValue), true, ""},
		{"at the limit in characters", "lr", strings.Repeat("ü", MaxParamValue), true, ""},
		{"over the limit", "lr", strings.Repeat("v", MaxParamValue+1), false, `param "lr": value is 6001 characters; the limit is 6000`},
		{"over in characters", "lr", strings.Repeat("ü", MaxParamValue+1), false, "6001 characters"},
		{"bad key", "l r!", "x", false, "param key"},
		{"empty key", "", "x", false, "param key is empty"},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateParam("+tc.name+")", ValidateParam(tc.key, tc.value), tc.ok, tc.say)
	}
}

func TestTruncate(t *testing.T) {
	tests := []struct {
		in    string
		limit int
		want  string
		cut   bool
	}{
		{"", 0, "", false},
		{"abc", 5, "abc", false},
		{"abc", 3, "abc", false},
		{"abcdef", 3, "abc", true},
		{"abc", 0, "", true},
		{"héllo", 2, "hé", true}, // cuts characters, not bytes
		{"日本語テキスト", 3, "日本語", true},
		{"ab\xffcd", 3, "ab\xff", true}, // an invalid byte counts as one character
	}
	for _, tc := range tests {
		got, cut := Truncate(tc.in, tc.limit)
		if got != tc.want || cut != tc.cut {
			t.Errorf("Truncate(%q, %d) = %q, %v; want %q, %v", tc.in, tc.limit, got, cut, tc.want, tc.cut)
		}
	}
	long := strings.Repeat("ä", MaxParamValue+10)
	got, cut := Truncate(long, MaxParamValue)
	if !cut || utf8.RuneCountInString(got) != MaxParamValue || ValidateParam("p", got) != nil {
		t.Errorf("Truncate to MaxParamValue gave %d characters, cut=%v", utf8.RuneCountInString(got), cut)
	}
}

func TestValidateAlias(t *testing.T) {
	tests := []struct {
		alias string
		ok    bool
		say   string
	}{
		{"champion", true, ""},
		{"challenger", true, ""},
		{"prod-1", true, ""},
		{"prod_2", true, ""},
		{"v", true, ""},        // no digits: not a version
		{"V", true, ""},        //
		{"version2", true, ""}, // more than one letter before the digits
		{"v1a", true, ""},      // not only digits after v
		{"va", true, ""},       //
		{"x3", true, ""},       //
		{"v²", true, ""},       // ² is a number but not a decimal digit (\d)
		{"modèle", true, ""},   // \w is Unicode-aware
		{strings.Repeat("a", MaxAliasLength), true, ""},
		{strings.Repeat("é", MaxAliasLength), true, ""},
		{"", false, "alias is empty"},
		{strings.Repeat("a", MaxAliasLength+1), false, "256 characters"},
		{"latest", false, "reserved"},
		{"LATEST", false, "reserved"},
		{"Latest", false, "reserved"},
		{"v3", false, "looks like a version"},
		{"V10", false, "looks like a version"},
		{"v0", false, "looks like a version"},
		{"v007", false, "looks like a version"},
		{"v٣", false, "looks like a version"}, // Python's \d matches any decimal digit
		{"a b", false, "only letters"},
		{"a.b", false, "only letters"},
		{"a/b", false, "only letters"},
		{"a:b", false, "only letters"},
		{"@champion", false, "only letters"},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateAlias("+quoteShort(tc.alias)+")", ValidateAlias(tc.alias), tc.ok, tc.say)
	}
}

func TestValidateModelName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"churn", true},
		{"Churn Model", true},
		{"team/churn", true},
		{"churn:v2", true},
		{"模型", true},
		{"a..b", true},
		{"..", true}, // any character is allowed; the ref escaping handles it
		{strings.Repeat("m", MaxModelNameLength), true},
		{strings.Repeat("模", MaxModelNameLength), true},
		{strings.Repeat("m", MaxModelNameLength+1), false},
		{"", false},
		{"churn\n", false},
		{"a\tb", false},
		{"a\x00b", false},
		{"\x7f", false},
		{"\xff", false},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateModelName("+quoteShort(tc.name)+")", ValidateModelName(tc.name), tc.ok, "model name")
	}
}

func TestValidateExperimentName(t *testing.T) {
	tests := []struct {
		name string
		ok   bool
	}{
		{"Default", true},
		{"churn/xgboost", true},
		{"/Users/ada/churn", true},
		{"名前", true},
		{strings.Repeat("e", MaxExperimentName), true},
		{strings.Repeat("e", MaxExperimentName+1), false},
		{"", false},
		{"   ", false},
		{"a\nb", false},
		{"\xff", false},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateExperimentName("+quoteShort(tc.name)+")", ValidateExperimentName(tc.name), tc.ok, "experiment name")
	}
}

func TestValidateStageName(t *testing.T) {
	tests := []struct {
		stage string
		ok    bool
	}{
		{"None", true},
		{"Staging", true},
		{"Production", true},
		{"Archived", true},
		{"canary", true},
		{"A1", true},
		{"blue_green-2", true},
		{"", false},
		{"1st", false},
		{"_x", false},
		{"-x", false},
		{"a b", false},
		{"a.b", false},
		{"Étape", false}, // ASCII only
		{"stagé", false},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateStageName("+quoteShort(tc.stage)+")", ValidateStageName(tc.stage), tc.ok, "stage")
	}
}

func TestValidateArtifactPath(t *testing.T) {
	tests := []struct {
		path string
		ok   bool
	}{
		{"model.pkl", true},
		{"MLmodel", true},
		{"model/data/model.xgb", true},
		{"a b/c d.txt", true},
		{".hidden", true},
		{"a..b", true},
		{"dir/.env", true},
		{"données/été.csv", true},
		{"ab:c", true},
		{"", false},
		{"/abs", false},
		{"//server/share", false},
		{"..", false},
		{"../x", false},
		{"a/../b", false},
		{"a/..", false},
		{".", false},
		{"./a", false},
		{"a/./b", false},
		{"a//b", false},
		{"a/", false},
		{"C:\\x", false},
		{"C:x", false},
		{"c:/x", false},
		{"a:b", false}, // a second-character colon is read as a drive letter
		{"a\\b", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\xff", false},
	}
	for _, tc := range tests {
		checkErr(t, "ValidateArtifactPath("+quoteShort(tc.path)+")", ValidateArtifactPath(tc.path), tc.ok, "artifact path")
	}
}

func TestIDs(t *testing.T) {
	runIDs := map[string]bool{
		"3f2a9c1e5b7d4f60a1b2c3d4e5f60718":     true,
		"00000000000000000000000000000000":     true,
		"3F2A9C1E5B7D4F60A1B2C3D4E5F60718":     false,
		"3f2a9c1e5b7d4f60a1b2c3d4e5f6071":      false,
		"3f2a9c1e5b7d4f60a1b2c3d4e5f607180":    false,
		"3f2a9c1e-5b7d-4f60-a1b2-c3d4e5f60718": false,
		"3f2a9c1e5b7d4f60a1b2c3d4e5f6071g":     false,
		"":                                     false,
	}
	for id, ok := range runIDs {
		if ValidRunID(id) != ok {
			t.Errorf("ValidRunID(%q) = %v", id, !ok)
		}
	}
	expIDs := map[string]bool{
		"0": true, "1": true, "4821937465019283746": true, "9999999999999999999": true, "007": true,
		"": false, "-1": false, "+1": false, "1.0": false, "abc": false, "12345678901234567890": false, " 1": false,
	}
	for id, ok := range expIDs {
		if ValidExperimentID(id) != ok {
			t.Errorf("ValidExperimentID(%q) = %v", id, !ok)
		}
	}
	hex64 := strings.Repeat("0123456789abcdef", 4)
	digests := map[string]bool{
		"sha256:" + hex64:                  true,
		"sha256:" + strings.ToUpper(hex64): false,
		"sha256:" + hex64[:63]:             false,
		"sha256:" + hex64 + "0":            false,
		"SHA256:" + hex64:                  false,
		"sha512:" + hex64:                  false,
		hex64:                              false,
		"sha256:" + hex64[:62] + "zz":      false,
		"":                                 false,
	}
	for d, ok := range digests {
		if ValidDigest(d) != ok {
			t.Errorf("ValidDigest(%q) = %v", d, !ok)
		}
	}
	modelIDs := map[string]bool{
		"m-7c3e1a9b5d2f4e6081a2b3c4d5e6f708":  true,
		"7c3e1a9b5d2f4e6081a2b3c4d5e6f708":    false,
		"M-7c3e1a9b5d2f4e6081a2b3c4d5e6f708":  false,
		"m-7C3E1A9B5D2F4E6081A2B3C4D5E6F708":  false,
		"m-7c3e1a9b5d2f4e6081a2b3c4d5e6f70":   false,
		"m-7c3e1a9b5d2f4e6081a2b3c4d5e6f7080": false,
	}
	for id, ok := range modelIDs {
		if ValidLoggedModelID(id) != ok {
			t.Errorf("ValidLoggedModelID(%q) = %v", id, !ok)
		}
	}
}

func TestSortArtifacts(t *testing.T) {
	d := func(c string) string { return "sha256:" + strings.Repeat(c, 64) }
	in := []Artifact{
		{Path: "b", Digest: d("1"), Size: 1, Mode: "0644"},
		{Path: "a/z", Digest: d("2"), Size: 2, Mode: "0644"},
		{Path: "B", Digest: d("3"), Size: 3, Mode: "0755"},
		{Path: "b", Digest: d("4"), Size: 4, Mode: "0755"}, // replaces the first "b"
		{Path: "a-z", Digest: d("5"), Size: 5, Mode: "0644"},
	}
	got := SortArtifacts(in)
	want := []string{"B", "a-z", "a/z", "b"} // byte order: '-' < '/'
	if len(got) != len(want) {
		t.Fatalf("SortArtifacts returned %d entries, want %d: %+v", len(got), len(want), got)
	}
	for i, p := range want {
		if got[i].Path != p {
			t.Errorf("entry %d is %q, want %q", i, got[i].Path, p)
		}
	}
	if got[3].Digest != d("4") || got[3].Size != 4 {
		t.Errorf("duplicate path kept %+v, want the last entry", got[3])
	}
	if in[0].Digest != d("1") {
		t.Error("SortArtifacts modified its input")
	}
	if err := checkArtifacts(got); err != nil {
		t.Errorf("sorted artifacts do not validate: %v", err)
	}
}

// TestCleanRelPath: cleanRelPath agrees with the path.Clean rule it
// replaces, on every key built from a small alphabet up to length 5.
func TestCleanRelPath(t *testing.T) {
	old := func(k string) bool {
		return k != "" && path.Clean(k) == k && k != "." && !strings.HasPrefix(k, "..") && !strings.HasPrefix(k, "/")
	}
	alpha := []string{"a", ".", "/", "b"}
	var walk func(k string, depth int)
	walk = func(k string, depth int) {
		if got, want := cleanRelPath(k), old(k); got != want {
			t.Fatalf("cleanRelPath(%q) = %v, path.Clean rule says %v", k, got, want)
		}
		if depth == 5 {
			return
		}
		for _, c := range alpha {
			walk(k+c, depth+1)
		}
	}
	walk("", 0)
}

func FuzzCleanRelPath(f *testing.F) {
	for _, s := range []string{"a/b", "../a", "a/./b", "a//b", "a/", ".", "..a", "a/..", "a/..b"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, k string) {
		want := k != "" && path.Clean(k) == k && k != "." && !strings.HasPrefix(k, "..") && !strings.HasPrefix(k, "/")
		if got := cleanRelPath(k); got != want {
			t.Fatalf("cleanRelPath(%q) = %v, want %v", k, got, want)
		}
	})
}
