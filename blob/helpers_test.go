package blob

import (
	"math/rand/v2"
)

// randBytes returns n deterministic pseudo-random (incompressible) bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewChaCha8([32]byte{byte(seed), byte(seed >> 8), byte(seed >> 16), 1, 2, 3}))
	b := make([]byte, n)
	for i := 0; i < n; i += 8 {
		v := r.Uint64()
		for j := 0; j < 8 && i+j < n; j++ {
			b[i+j] = byte(v >> (8 * j))
		}
	}
	return b
}

// textLike returns n compressible bytes: words from a small vocabulary, as
// in a log or a CSV, with pseudo-random order so chunking still varies.
func textLike(seed uint64, n int) []byte {
	words := []string{"epoch", "loss", "0.125", "accuracy", "train", "val", "step", "lr", "1e-4", "\n", ",", " "}
	r := rand.New(rand.NewPCG(seed, 42))
	b := make([]byte, 0, n+16)
	for len(b) < n {
		b = append(b, words[r.IntN(len(words))]...)
	}
	return b[:n]
}
