// Command logreg is the demo's training program: logistic regression by
// gradient descent on generated data. It streams per-epoch metrics to
// `mlgit run log --metrics-from -` when MLGIT_RUN_ID is set (as under
// `mlgit run exec`), and writes its final metrics to metrics.json in the
// DVC convention.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
)

func main() {
	lr := flag.Float64("lr", 0.1, "learning rate")
	epochs := flag.Int("epochs", 20, "epochs")
	l2 := flag.Float64("l2", 0.0, "L2 regularization")
	seed := flag.Int64("seed", 1, "data seed")
	n := flag.Int("n", 2000, "samples")
	out := flag.String("metrics", "metrics.json", "final metrics file")
	modelDir := flag.String("out", "", "write the trained model to `DIR`/model (weights.json and an MLflow MLmodel file)")
	flag.Parse()

	rng := rand.New(rand.NewSource(*seed))
	const dim = 8
	trueW := make([]float64, dim)
	for i := range trueW {
		trueW[i] = rng.NormFloat64()
	}
	x := make([][]float64, *n)
	y := make([]float64, *n)
	for i := range x {
		x[i] = make([]float64, dim)
		z := 0.0
		for j := range x[i] {
			x[i][j] = rng.NormFloat64()
			z += trueW[j] * x[i][j]
		}
		if rng.Float64() < sigmoid(z+0.3*rng.NormFloat64()) {
			y[i] = 1
		}
	}
	split := *n * 8 / 10

	var sink io.WriteCloser
	var logger *exec.Cmd
	if os.Getenv("MLGIT_RUN_ID") != "" {
		mlgit := os.Getenv("MLGIT")
		if mlgit == "" {
			mlgit = "mlgit"
		}
		logger = exec.Command(mlgit, "run", "log", "--metrics-from", "-")
		logger.Stdout, logger.Stderr = os.Stderr, os.Stderr
		var err error
		if sink, err = logger.StdinPipe(); err == nil {
			err = logger.Start()
		}
		if err != nil {
			fmt.Fprintln(os.Stderr, "logreg: cannot stream metrics:", err)
			sink, logger = nil, nil
		}
	}
	w := make([]float64, dim)
	b := 0.0
	var trainLoss, valAcc, valLoss float64
	for epoch := 1; epoch <= *epochs; epoch++ {
		gw := make([]float64, dim)
		gb := 0.0
		trainLoss = 0
		for i := 0; i < split; i++ {
			p := predict(w, b, x[i])
			trainLoss += logLoss(p, y[i])
			for j := range gw {
				gw[j] += (p - y[i]) * x[i][j]
			}
			gb += p - y[i]
		}
		for j := range w {
			w[j] -= *lr * (gw[j]/float64(split) + *l2*w[j])
		}
		b -= *lr * gb / float64(split)
		trainLoss /= float64(split)
		valAcc, valLoss = evaluate(w, b, x[split:], y[split:])
		if sink != nil {
			fmt.Fprintf(sink, "train_loss=%g@%d\nval_loss=%g@%d\nval_acc=%g@%d\n", trainLoss, epoch, valLoss, epoch, valAcc, epoch)
		}
	}
	if sink != nil {
		sink.Close()
		if err := logger.Wait(); err != nil {
			fmt.Fprintln(os.Stderr, "logreg: metric logging failed:", err)
			os.Exit(1)
		}
	}
	final := map[string]any{"val": map[string]float64{"acc": valAcc, "loss": valLoss}, "train": map[string]float64{"loss": trainLoss}}
	f, err := os.Create(*out)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	bw := bufio.NewWriter(f)
	enc := json.NewEncoder(bw)
	enc.SetIndent("", "  ")
	err = enc.Encode(final)
	if err == nil {
		err = bw.Flush()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := f.Close(); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if *modelDir != "" {
		if err := saveModel(filepath.Join(*modelDir, "model"), w, b); err != nil {
			fmt.Fprintln(os.Stderr, "logreg: save model:", err)
			os.Exit(1)
		}
	}
	fmt.Printf("lr=%g epochs=%d l2=%g: val_acc=%.4f val_loss=%.4f\n", *lr, *epochs, *l2, valAcc, valLoss)
}

// saveModel writes the weights and an MLmodel file like MLflow's, so that
// mlgit model register records its flavor, signature and size.
func saveModel(dir string, w []float64, b float64) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	weights, err := json.MarshalIndent(map[string]any{"weights": w, "bias": b}, "", "  ")
	if err != nil {
		return err
	}
	if err := os.WriteFile(filepath.Join(dir, "weights.json"), append(weights, '\n'), 0o644); err != nil {
		return err
	}
	mlmodel := fmt.Sprintf(`artifact_path: model
flavors:
  logreg:
    format: json
    data: weights.json
model_size_bytes: %d
signature:
  inputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1, %d]}}]'
  outputs: '[{"type": "tensor", "tensor-spec": {"dtype": "float64", "shape": [-1]}}]'
`, len(weights)+1, len(w))
	return os.WriteFile(filepath.Join(dir, "MLmodel"), []byte(mlmodel), 0o644)
}

func sigmoid(z float64) float64 { return 1 / (1 + math.Exp(-z)) }

func predict(w []float64, b float64, x []float64) float64 {
	z := b
	for j := range w {
		z += w[j] * x[j]
	}
	return sigmoid(z)
}

func logLoss(p, y float64) float64 {
	p = math.Min(math.Max(p, 1e-12), 1-1e-12)
	return -(y*math.Log(p) + (1-y)*math.Log(1-p))
}

func evaluate(w []float64, b float64, x [][]float64, y []float64) (acc, loss float64) {
	for i := range x {
		p := predict(w, b, x[i])
		loss += logLoss(p, y[i])
		if (p >= 0.5) == (y[i] == 1) {
			acc++
		}
	}
	return acc / float64(len(x)), loss / float64(len(x))
}
