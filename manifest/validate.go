package manifest

import (
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits, as MLflow's server enforces them (mlflow/utils/validation.py).
const (
	MaxKeyLength          = 250
	MaxParamValue         = 6000
	MaxTagValue           = 8000
	MaxExperimentTagValue = 5000
	MaxRegistryTagValue   = 5000
	MaxExperimentName     = 500
	MaxAliasLength        = 255
	MaxModelNameLength    = 500
)

// ValidateKey checks a param, metric or tag key with MLflow's rules: letters,
// digits, underscore, dash, period, space, colon and slash only; at most 250
// characters; path-unique (no "..", no leading "/", no "a//b", "a/./b" or
// trailing "/"). what names the field in the error ("param", "metric", "tag").
func ValidateKey(what, key string) error {
	if key == "" {
		return invalid("%s key is empty", what)
	}
	// One pass: characters, length in runes (ASCII on the fast path).
	n, bad := 0, -1
	for i := 0; i < len(key); i++ {
		c := key[i]
		if c >= utf8.RuneSelf {
			n = -1
			break
		}
		if bad < 0 && !keyByte[c] {
			bad = i
		}
		n++
	}
	if n > MaxKeyLength {
		return invalid("%s key %q is %d characters; the limit is %d", what, abbrev(key), n, MaxKeyLength)
	}
	if n >= 0 && bad >= 0 {
		return invalid("%s key %q: names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/); found %q", what, abbrev(key), rune(key[bad]))
	}
	if n < 0 {
		if n := utf8.RuneCountInString(key); n > MaxKeyLength {
			return invalid("%s key %q is %d characters; the limit is %d", what, abbrev(key), n, MaxKeyLength)
		}
		for _, c := range key {
			if isWordChar(c) || strings.ContainsRune("-. :/", c) {
				continue
			}
			return invalid("%s key %q: names may only contain alphanumerics, underscores (_), dashes (-), periods (.), spaces ( ), colons (:) and slashes (/); found %q", what, abbrev(key), c)
		}
	}
	if !cleanRelPath(key) {
		return invalid("%s key %q must be a normalized relative path (no '..', no leading '/', no '//' or './', no trailing '/')", what, abbrev(key))
	}
	return nil
}

// ValidateParam checks a param key and value (value at most 6000 characters).
func ValidateParam(key, value string) error {
	if err := ValidateKey("param", key); err != nil {
		return err
	}
	if utf8.RuneCountInString(value) > MaxParamValue {
		return invalid("param %q: value is %d characters; the limit is %d", key, utf8.RuneCountInString(value), MaxParamValue)
	}
	return nil
}

// Truncate shortens value to at most limit characters, as MLflow does for
// over-long param and tag values (MLFLOW_TRUNCATE_LONG_VALUES, on by
// default). It reports whether it cut anything.
func Truncate(value string, limit int) (string, bool) {
	if utf8.RuneCountInString(value) <= limit {
		return value, false
	}
	n := 0
	for i := range value {
		if n == limit {
			return value[:i], true
		}
		n++
	}
	return value, false
}

// ValidateExperimentName checks an experiment name: non-empty, at most 500
// characters, no control characters.
func ValidateExperimentName(name string) error {
	if strings.TrimSpace(name) == "" {
		return invalid("experiment name is empty")
	}
	if utf8.RuneCountInString(name) > MaxExperimentName {
		return invalid("experiment name is %d characters; the limit is %d", utf8.RuneCountInString(name), MaxExperimentName)
	}
	if hasControl(name) || !utf8.ValidString(name) {
		return invalid("experiment name %q contains control characters or invalid UTF-8", name)
	}
	return nil
}

// ValidateModelName checks a registered model name: non-empty, valid UTF-8,
// no control characters, at most 500 characters. Any other character is
// allowed; the tag escaping makes every such name a valid ref component.
func ValidateModelName(name string) error {
	if name == "" {
		return invalid("model name is empty")
	}
	if !utf8.ValidString(name) || hasControl(name) {
		return invalid("model name %q contains control characters or invalid UTF-8", name)
	}
	if utf8.RuneCountInString(name) > MaxModelNameLength {
		return invalid("model name is %d characters; the limit is %d", utf8.RuneCountInString(name), MaxModelNameLength)
	}
	return nil
}

// ValidateAlias checks a model alias with MLflow's rules: letters, digits,
// underscore and dash; at most 255 characters; "latest" and v<digits> are
// reserved.
func ValidateAlias(alias string) error {
	if alias == "" {
		return invalid("alias is empty")
	}
	if n := utf8.RuneCountInString(alias); n > MaxAliasLength {
		return invalid("alias is %d characters; the limit is %d", n, MaxAliasLength)
	}
	for _, c := range alias {
		if !(isWordChar(c) || c == '-') {
			return invalid("alias %q: only letters, digits, '_' and '-' are allowed", alias)
		}
	}
	if strings.EqualFold(alias, "latest") {
		return invalid("alias %q is reserved", alias)
	}
	if (alias[0] == 'v' || alias[0] == 'V') && len(alias) > 1 && strings.TrimFunc(alias[1:], unicode.IsDigit) == "" {
		return invalid("alias %q is reserved (it looks like a version)", alias)
	}
	return nil
}

// ValidateStageName checks a custom stage name from mlgit.yaml: it starts
// with a letter and has only letters, digits, '_' and '-'.
func ValidateStageName(s string) error {
	if s == "" {
		return invalid("stage name is empty")
	}
	for i, c := range s {
		if c < 128 && (unicode.IsLetter(c) || (i > 0 && (unicode.IsDigit(c) || c == '_' || c == '-'))) {
			continue
		}
		return invalid("stage %q: a stage starts with a letter and has only ASCII letters, digits, '_' and '-'", s)
	}
	return nil
}

// ValidateArtifactPath checks a relative artifact path: non-empty, slash
// separated, no "..", "." or empty segments, not absolute, no backslash, no
// NUL or control characters.
func ValidateArtifactPath(p string) error {
	if p == "" {
		return invalid("artifact path is empty")
	}
	if !utf8.ValidString(p) || hasControl(p) {
		return invalid("artifact path %q contains control characters or invalid UTF-8", p)
	}
	if strings.HasPrefix(p, "/") || strings.Contains(p, "\\") || (len(p) > 1 && p[1] == ':') {
		return invalid("artifact path %q must be relative, with forward slashes", p)
	}
	for _, seg := range strings.Split(p, "/") {
		if seg == "" || seg == "." || seg == ".." {
			return invalid("artifact path %q must not contain empty, '.' or '..' segments", p)
		}
	}
	return nil
}

// isWordChar reports whether c matches Python's \w, which MLflow's name
// patterns use: a letter, a number (any Unicode digit or numeric character,
// such as "²") or an underscore.
// keyByte holds the ASCII characters keys may contain.
var keyByte = func() (t [utf8.RuneSelf]bool) {
	for c := rune(0); c < utf8.RuneSelf; c++ {
		t[c] = isWordChar(c) || strings.ContainsRune("-. :/", c)
	}
	return t
}()

// cleanRelPath reports whether key is a normalized relative slash path
// not starting with "..": path.Clean(key) == key, key != ".", no leading
// ".." or "/" (TestCleanRelPath checks they agree), without allocating.
func cleanRelPath(key string) bool {
	if key == "" || key[0] == '/' || strings.HasPrefix(key, "..") {
		return false
	}
	for rest := key; ; {
		seg, tail, more := strings.Cut(rest, "/")
		if seg == "" || seg == "." || seg == ".." {
			return false
		}
		if !more {
			return true
		}
		rest = tail
	}
}

func isWordChar(c rune) bool {
	return unicode.IsLetter(c) || unicode.IsNumber(c) || c == '_'
}

func hasControl(s string) bool {
	for _, c := range s {
		if unicode.IsControl(c) {
			return true
		}
	}
	return false
}

func abbrev(s string) string {
	if len(s) <= 40 {
		return s
	}
	i := 37
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "..."
}
