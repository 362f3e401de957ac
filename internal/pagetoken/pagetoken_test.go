package pagetoken

import (
	"encoding/base64"
	"errors"
	"testing"
)

func TestRoundTrip(t *testing.T) {
	for _, n := range []int{0, 1, 100, 1 << 40} {
		got, err := Decode(Encode(n))
		if err != nil || got != n {
			t.Errorf("Decode(Encode(%d)) = %d, %v", n, got, err)
		}
	}
}

// TestMLflowFormat: tokens are base64({"offset": N}), what MLflow's stores
// write, so tokens of either decode in both.
func TestMLflowFormat(t *testing.T) {
	if got, want := Encode(50), base64.StdEncoding.EncodeToString([]byte(`{"offset":50}`)); got != want {
		t.Fatalf("Encode(50) = %q, want %q", got, want)
	}
	mlflow := base64.StdEncoding.EncodeToString([]byte(`{"offset": 1000}`))
	if n, err := Decode(mlflow); err != nil || n != 1000 {
		t.Fatalf("Decode(MLflow's token) = %d, %v", n, err)
	}
	if n, err := Decode(""); err != nil || n != 0 {
		t.Fatalf(`Decode("") = %d, %v`, n, err)
	}
}

func TestInvalid(t *testing.T) {
	for _, tok := range []string{
		"not base64!",
		base64.StdEncoding.EncodeToString([]byte(`not json`)),
		base64.StdEncoding.EncodeToString([]byte(`{}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"offset": -1}`)),
		base64.StdEncoding.EncodeToString([]byte(`{"offset": "3"}`)),
		base64.StdEncoding.EncodeToString([]byte(`[3]`)),
	} {
		if n, err := Decode(tok); !errors.Is(err, ErrInvalid) {
			t.Errorf("Decode(%q) = %d, %v; want ErrInvalid", tok, n, err)
		}
	}
}
