package manifest

import (
	"bytes"
	"errors"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// decoders decodes data as each kind in turn.
var decoders = map[string]func([]byte) (encoder, error){
	KindConfig:          func(b []byte) (encoder, error) { return DecodeConfig(b) },
	KindExperiment:      func(b []byte) (encoder, error) { return DecodeExperiment(b) },
	KindRun:             func(b []byte) (encoder, error) { return DecodeRun(b) },
	KindRegisteredModel: func(b []byte) (encoder, error) { return DecodeRegisteredModel(b) },
	KindModelVersion:    func(b []byte) (encoder, error) { return DecodeModelVersion(b) },
	KindLoggedModel:     func(b []byte) (encoder, error) { return DecodeLoggedModel(b) },
}

func addGoldenSeeds(f *testing.F, pattern string) {
	files, err := filepath.Glob(filepath.Join("testdata", "golden", pattern))
	if err != nil || len(files) == 0 {
		f.Fatalf("no seed files %s: %v", pattern, err)
	}
	for _, file := range files {
		b, err := os.ReadFile(file)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// FuzzDecode checks that no input makes decoding panic, and that whatever
// decodes re-encodes to a canonical, stable form:
// encode(decode(encode(x))) == encode(x), and canonical input is its own
// encoding.
func FuzzDecode(f *testing.F) {
	addGoldenSeeds(f, "*.yaml")
	for _, s := range []string{
		"apiVersion: mlgit/v1\nkind: Run\nid: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e\nexperimentId: 0\nstatus: RUNNING\nlifecycleStage: active\nstartTime: 1\nmetrics: {m: {value: -0.0, min: .NaN, max: +.inf, count: 1}}\n",
		"apiVersion: mlgit/v1\nkind: Run\nid: 9b1d0c2e3f4a5b6c7d8e9f0a1b2c3d4e\nexperimentId: '0'\nstatus: RUNNING\nlifecycleStage: active\nstartTime: 1\nname: !!binary /w==\nparams: {a10: x, a9: y, a_: z}\n",
		"apiVersion: mlgit/v1\nkind: Config\npromotion: {Production: {}}\n",
		"apiVersion: mlgit/v1\nkind: Experiment\nid: &x \"1\"\nname: *x\nlifecycleStage: active\ncreationTime: 0\nlastUpdateTime: 0\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		verr := Validate(data)
		canonical, cerr := Canonical(data)
		if canonical && cerr != nil {
			t.Fatalf("Canonical = true with error %v", cerr)
		}
		if (verr == nil) != (cerr == nil) {
			t.Fatalf("Validate = %v but Canonical error = %v", verr, cerr)
		}
		if verr != nil && !errors.Is(verr, ErrSyntax) && !errors.Is(verr, ErrInvalid) {
			t.Fatalf("Validate error %v is neither ErrSyntax nor ErrInvalid", verr)
		}
		for kind, decode := range decoders {
			v, err := decode(data)
			if err != nil {
				if !errors.Is(err, ErrSyntax) && !errors.Is(err, ErrInvalid) {
					t.Fatalf("Decode%s error %v is neither ErrSyntax nor ErrInvalid", kind, err)
				}
				continue
			}
			enc := v.Encode()
			if canonical && !bytes.Equal(enc, data) {
				t.Fatalf("Canonical input re-encodes differently:\n%s\n---\n%s", data, enc)
			}
			v2, err := decode(enc)
			if err != nil {
				t.Fatalf("%s decoded from\n%s\nencodes to\n%s\nwhich does not decode: %v", kind, data, enc, err)
			}
			if enc2 := v2.Encode(); !bytes.Equal(enc2, enc) {
				t.Fatalf("%s encoding is not stable:\n%s\n---\n%s", kind, enc, enc2)
			}
			if ok, err := Canonical(enc); !ok || err != nil {
				t.Fatalf("Canonical(encode(x)) = %v, %v", ok, err)
			}
		}
	})
}

// FuzzSegment checks that ParseSegment never panics, reports only
// ErrSyntax (or the callback's error), and accepts only what EncodeSegment
// writes: parsed points re-encode to the identical bytes.
func FuzzSegment(f *testing.F) {
	addGoldenSeeds(f, "*.tsv")
	for _, s := range []string{
		"", "loss\t0\t0\t0\n", "a b:c/d\t-1\t-9223372036854775808\t-0\n", "x\t1\t2\tNaN\ny\t3\t4\t-Inf\n",
		"loss\t01\t0\t0\n", "loss\t0\t0\t1E5\n", "loss\t0\t0\t0", "loss\t0\t0\t0\r\n", "\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		var points []MetricPoint
		err := ParseSegment(bytes.NewReader(data), func(p MetricPoint) error {
			points = append(points, p)
			return nil
		})
		if err != nil {
			if !errors.Is(err, ErrSyntax) || !strings.Contains(err.Error(), "segment line ") {
				t.Fatalf("ParseSegment error %v is not ErrSyntax naming a line", err)
			}
			return
		}
		if enc := EncodeSegment(points); !bytes.Equal(enc, data) {
			t.Fatalf("ParseSegment accepted non-canonical input:\n%q\nre-encodes as\n%q", data, enc)
		}
	})
}

// FuzzFloat checks that FormatFloat and ParseFloat round-trip every
// float64 bit pattern except NaN payloads, and that the YAML form of a
// metric summary keeps the value too.
func FuzzFloat(f *testing.F) {
	for _, v := range []float64{0, math.Copysign(0, -1), 0.1, sum02, 1e-300, 5e-324, math.MaxFloat64, math.Inf(1), math.Inf(-1), math.NaN(), 1e6, 123456} {
		f.Add(math.Float64bits(v))
	}
	f.Fuzz(func(t *testing.T, bits uint64) {
		v := math.Float64frombits(bits)
		s := FormatFloat(v)
		back, err := ParseFloat(s)
		if err != nil {
			t.Fatalf("ParseFloat(FormatFloat(%v) = %q): %v", v, s, err)
		}
		if math.IsNaN(v) {
			if !math.IsNaN(back) || s != "NaN" {
				t.Fatalf("NaN became %q, %v", s, back)
			}
		} else if math.Float64bits(back) != bits {
			t.Fatalf("%v (%#x) became %q, %v", v, bits, s, back)
		}
		r := &Run{Header: Header{APIVersion, KindRun}, ID: goldenRunID, ExperimentID: "0", Status: StatusRunning, LifecycleStage: LifecycleActive,
			Metrics: map[string]MetricSummary{"m": {Value: v, Min: v, Max: v, Count: 1}}}
		enc := r.Encode()
		r2, err := DecodeRun(enc)
		if err != nil {
			t.Fatalf("DecodeRun: %v\n%s", err, enc)
		}
		if got := r2.Metrics["m"]; !sameFloat(got.Value, v) || !sameFloat(got.Min, v) || !sameFloat(got.Max, v) {
			t.Fatalf("%v became %+v in YAML:\n%s", v, got, enc)
		}
	})
}

// FuzzString checks that any string survives the YAML round trip
// unchanged in every position a free-form string can take: a scalar field,
// a map value, a sequence item.
func FuzzString(f *testing.F) {
	for _, s := range []string{
		"", " ", "x ", " x", "a\nb", "a\n", "a\n\n", "\n", "\r\n", "a\tb", "yes", "no", "on", "~", "null", "0644", "1e3",
		".nan", "-.inf", "0x1f", "- x", "? x", "a: b", "#x", "x #y", "&a", "*a", "!t", "|", ">", "%x", "@x", "`x",
		"'", "\"", "{", "[", "]", ",", "\u2028", "\u0085", "\ufeff", "\x00", "\x7f", "é", "\xff", strings.Repeat("word ", 30),
		"---", "...", "a\n---\nb", "  lead\n  indent", "trail \nspace",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		r := &Run{
			Header: Header{APIVersion, KindRun}, ID: goldenRunID, ExperimentID: "0", Status: StatusRunning, LifecycleStage: LifecycleActive,
			Name: s, Source: &Source{Command: []string{s, "x"}}, Params: map[string]string{"p": s}, Tags: map[string]string{"t": s},
		}
		enc := r.Encode()
		r2, err := DecodeRun(enc)
		if err != nil {
			if len(s) > MaxParamValue {
				return
			}
			t.Fatalf("DecodeRun: %v\n%s", err, enc)
		}
		if r2.Name != s || r2.Source == nil || len(r2.Source.Command) != 2 || r2.Source.Command[0] != s || r2.Params["p"] != s || r2.Tags["t"] != s {
			t.Fatalf("%q did not survive:\n%s\nname %q command %q param %q tag %q", s, enc, r2.Name, r2.Source.Command, r2.Params["p"], r2.Tags["t"])
		}
		if !bytes.Equal(r2.Encode(), enc) {
			t.Fatalf("encoding of %q is not stable", s)
		}
	})
}
