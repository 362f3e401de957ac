package manifest

import (
	"math"
	"strings"
	"testing"
)

func bareRun() *Run {
	return &Run{Header: Header{APIVersion, KindRun}, ID: goldenRunID, ExperimentID: "0", Status: StatusRunning, LifecycleStage: LifecycleActive}
}

const bareRunYAML = "apiVersion: mlgit/v1\nkind: Run\nid: " + goldenRunID + "\nexperimentId: \"0\"\nstatus: RUNNING\nlifecycleStage: active\nstartTime: 0\n"

// TestEncodeStrings pins the style of every kind of string (spec rule
// 3.10), so that a yaml.v3 upgrade that changes one shows up here.
func TestEncodeStrings(t *testing.T) {
	tests := []struct{ in, want string }{
		{"plain", "plain"},
		{"two words", "two words"},
		{"-x", "-x"},
		{"a:b", "a:b"},
		{"a#b", "a#b"},
		{"größe", "größe"},
		{"", `""`},
		{"~", `"~"`},
		{"null", `"null"`},
		{"true", `"true"`},
		{"False", `"False"`},
		{"yes", `"yes"`},
		{"on", `"on"`},
		{"N", `"N"`},
		{"0644", `"0644"`},
		{"0.1", `"0.1"`},
		{"1e3", `"1e3"`},
		{"0x1f", `"0x1f"`},
		{"1_000", `"1_000"`},
		{".nan", `".nan"`},
		{"-.inf", `"-.inf"`},
		{"2024-06-01", `"2024-06-01"`},
		{"1:20", `"1:20"`},
		{"a: b", `'a: b'`},
		{"a #b", `'a #b'`},
		{"#x", `'#x'`},
		{"- x", `'- x'`},
		{"-", `'-'`},
		{"x ", `'x '`},
		{" x", `' x'`},
		{"'", `''''`},
		{`"`, `'"'`},
		{"@x", `'@x'`},
		{"`x", "'`x'"},
		{"a\tb", `"a\tb"`},
		{"\x01", `"\x01"`},
		{"\xff", "!!binary /w=="},
		{"a\nb", "|-\n    a\n    b"},
		{"a\nb\n", "|\n    a\n    b"},
		{"a\n\n", "|+\n    a\n"},
		{"a\n  b", "|-\n    a\n      b"},
		{" a\nb", `" a\nb"`},
		{"\na", `"\na"`},
		{"\n", `"\n"`},
		{"a \nb", `"a \nb"`},
		{strings.Repeat("word ", 30) + "end", strings.Repeat("word ", 30) + "end"},
	}
	for _, tc := range tests {
		r := bareRun()
		r.Params = map[string]string{"k": tc.in}
		got := string(r.Encode())
		want := bareRunYAML + "params:\n  k: " + tc.want + "\n"
		if got != want {
			t.Errorf("%q encodes as\n%s\nwant\n%s", tc.in, got, want)
			continue
		}
		back, err := DecodeRun([]byte(got))
		if err != nil || back.Params["k"] != tc.in {
			t.Errorf("%q reads back as %q, %v", tc.in, back.Params["k"], err)
		}
	}
}

// TestEncodeRules checks the rules of spec section 3 that the goldens do
// not show on their own.
func TestEncodeRules(t *testing.T) {
	r := bareRun()
	r.Params = map[string]string{"b": "1", "a10": "2", "a9": "3", "a_": "4", "B": "5", "é": "6", "a": "7", "a/b": "8", "a.b": "9"}
	want := bareRunYAML + "params:\n" +
		"  B: \"5\"\n  a: \"7\"\n  a.b: \"9\"\n  a/b: \"8\"\n  a10: \"2\"\n  a9: \"3\"\n  a_: \"4\"\n  b: \"1\"\n  é: \"6\"\n"
	if got := string(r.Encode()); got != want {
		t.Errorf("map keys not in byte order:\n%s\nwant\n%s", got, want)
	}

	r = bareRun()
	r.Source = &Source{}
	if got := string(r.Encode()); got != bareRunYAML+"source: {}\n" {
		t.Errorf("present but empty source encodes as\n%s", got)
	}
	r.Source = &Source{Exit: new(int)}
	if got := string(r.Encode()); got != bareRunYAML+"source:\n  exit: 0\n" {
		t.Errorf("exit code 0 encodes as\n%s", got)
	}

	c := NewConfig()
	c.Blobs = BlobConfig{}
	c.Stages = []string{}
	c.Promotion = map[string]PromotionPolicy{}
	if got := string(c.Encode()); got != "apiVersion: mlgit/v1\nkind: Config\n" {
		t.Errorf("empty optional fields not omitted:\n%s", got)
	}

	negZero := math.Copysign(0, -1)
	r = bareRun()
	r.Metrics = map[string]MetricSummary{"m": {Value: negZero, Min: -1e-7, Max: 1e21, Count: 1, Step: -1}}
	want = bareRunYAML + "metrics:\n  m:\n    value: -0.0\n    step: -1\n    timestamp: 0\n    min: -1e-07\n    max: 1e+21\n    count: 1\n"
	got := string(r.Encode())
	if got != want {
		t.Errorf("floats encode as\n%s\nwant\n%s", got, want)
	}
	back, err := DecodeRun([]byte(got))
	if err != nil || !math.Signbit(back.Metrics["m"].Value) {
		t.Errorf("negative zero reads back as %v, %v", back.Metrics["m"].Value, err)
	}

	// Go randomises map iteration; the encoding must not depend on it.
	r = goldenRun()
	first := string(r.Encode())
	for i := 0; i < 50; i++ {
		if string(r.Encode()) != first {
			t.Fatal("Encode is not deterministic")
		}
	}
}
