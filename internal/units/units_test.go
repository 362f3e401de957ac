package units

import (
	"math"
	"testing"
)

func TestBytes(t *testing.T) {
	for n, want := range map[int64]string{
		-1:            "-1 B",
		0:             "0 B",
		1023:          "1023 B",
		1024:          "1.0 KiB",
		1536:          "1.5 KiB",
		450 << 20:     "450.0 MiB",
		1 << 30:       "1.0 GiB",
		1 << 50:       "1.0 PiB",
		1 << 60:       "1.0 EiB",
		math.MaxInt64: "8.0 EiB",
	} {
		if got := Bytes(n); got != want {
			t.Errorf("Bytes(%d) = %q, want %q", n, got, want)
		}
	}
}

func TestMLflowSpecial(t *testing.T) {
	for v, want := range map[float64]string{math.Inf(1): "Infinity", math.Inf(-1): "-Infinity", 1.5: ""} {
		if got, ok := MLflowSpecial(v); got != want || ok != (want != "") {
			t.Errorf("MLflowSpecial(%v) = %q, %v", v, got, ok)
		}
	}
	if got, ok := MLflowSpecial(math.NaN()); got != "NaN" || !ok {
		t.Errorf("MLflowSpecial(NaN) = %q, %v", got, ok)
	}
}
