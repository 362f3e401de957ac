package manifest

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"gopkg.in/yaml.v3"
)

// slowDecode decodes with yaml.v3's own parser only.
func slowDecode(data []byte, v any) error {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	return dec.Decode(v)
}

// checkSame asserts that the fast path and yaml.v3 agree on data: when the
// fast parser accepts it, both decode to the same value.
func checkSame(t *testing.T, data []byte) {
	checkDirect(t, data)
	n, ok := fastParse(data)
	if !ok {
		return
	}
	for _, mk := range []func() any{
		func() any { return new(Run) }, func() any { return new(Experiment) }, func() any { return new(Config) },
		func() any { return new(RegisteredModel) }, func() any { return new(ModelVersion) }, func() any { return new(LoggedModel) },
	} {
		fast, slow := mk(), mk()
		fastOK := knownFields(n, reflect.TypeOf(fast)) && n.Decode(fast) == nil
		slowOK := slowDecode(data, slow) == nil
		if fastOK && !slowOK {
			t.Fatalf("fast path accepted what yaml.v3 rejects as %T:\n%s", fast, data)
		}
		if fastOK && slowOK {
			a, _ := yaml.Marshal(fast)
			b, _ := yaml.Marshal(slow)
			if !bytes.Equal(a, b) {
				t.Fatalf("fast and yaml.v3 differ for %T:\n%s\nfast:\n%s\nslow:\n%s", fast, data, a, b)
			}
		}
	}
}

func TestFastParseAgreesOnGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	if len(files) < 6 {
		t.Fatalf("only %d goldens", len(files))
	}
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		// The fast path must serve every canonical manifest except those
		// with literal blocks (multi-line strings), which fall back.
		_, ok := fastParse(data)
		literal := bytes.Contains(data, []byte(": |"))
		if ok == literal {
			t.Errorf("%s: fast parser accepted=%v, has literal block=%v", f, ok, literal)
		}
		checkSame(t, data)
	}
}

func FuzzFastParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, p := range files {
		if data, err := os.ReadFile(p); err == nil {
			f.Add(data)
		}
	}
	f.Add([]byte("a: \"x\\ty\"\nb:\n  - c: 1\n    d: '2'\n  - e: []\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		checkSame(t, data)
	})
}

// checkDirect asserts that whatever directDecode accepts, yaml.v3 decodes
// to the same value.
func checkDirect(t *testing.T, data []byte) {
	for _, mk := range []func() any{
		func() any { return new(Run) }, func() any { return new(Experiment) }, func() any { return new(Config) },
		func() any { return new(RegisteredModel) }, func() any { return new(ModelVersion) }, func() any { return new(LoggedModel) },
	} {
		direct, slow := mk(), mk()
		if !directDecode(data, direct) {
			continue
		}
		if err := slowDecode(data, slow); err != nil {
			t.Fatalf("directDecode accepted what yaml.v3 rejects as %T (%v):\n%s", direct, err, data)
		}
		a, _ := yaml.Marshal(direct)
		b, _ := yaml.Marshal(slow)
		if !bytes.Equal(a, b) {
			t.Fatalf("directDecode and yaml.v3 differ for %T:\n%s\nyaml.v3:\n%s\ndirect:\n%s", direct, data, b, a)
		}
	}
}

func TestDirectDecodeServesGoldens(t *testing.T) {
	files, _ := filepath.Glob("testdata/golden/*.yaml")
	for _, f := range files {
		data, _ := os.ReadFile(f)
		if bytes.Contains(data, []byte(": |")) {
			continue
		}
		kind, err := PeekKind(data)
		if err != nil {
			t.Fatal(err)
		}
		var v any
		switch kind {
		case KindRun:
			v = new(Run)
		case KindExperiment:
			v = new(Experiment)
		case KindConfig:
			v = new(Config)
		case KindRegisteredModel:
			v = new(RegisteredModel)
		case KindModelVersion:
			v = new(ModelVersion)
		case KindLoggedModel:
			v = new(LoggedModel)
		case KindMetricBlob:
			v = new(MetricBlob)
		}
		if !directDecode(data, v) {
			t.Errorf("%s: the direct decoder does not serve this canonical manifest", f)
		}
	}
}
