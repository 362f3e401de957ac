package server

import (
	"bytes"
	"encoding/binary"
	"hash/crc32"
	"io"
	"math"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"runtime/pprof"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/mlgit/mlgit/internal/gittest"
	"github.com/mlgit/mlgit/repo"
)

// BenchmarkArtifactProxy1GiB: a 1 GiB file of float32 weights (N(0, 0.02),
// as scripts/bench-blob.sh makes: incompressible, no repeated chunks) PUT
// through the artifact proxy of a server process and read back with GET,
// over loopback. It reports MB/s both ways (1 MB = 10^6 bytes) and the
// server process's resident memory before, and at its peak during each
// transfer (sampled every 20 ms), to show that memory stays flat.
// MLGIT_BENCH_ARTIFACT_MIB changes the size. Run with -benchtime 1x.
// MLGIT_BENCH_INPROCESS=1 serves from the benchmark process instead (no
// memory figures then), so that -cpuprofile sees the server's side:
//
//	MLGIT_BENCH_INPROCESS=1 go test -run '^$' -bench ArtifactProxy1GiB -benchtime 1x -cpuprofile up.prof ./server/
//
// MLGIT_BENCH_UPLOAD_PROFILE=<file> (with MLGIT_BENCH_INPROCESS=1) writes a
// CPU profile of the uploads alone, without the setup and the downloads,
// and the benchmark then also reports the CPU seconds the process used
// per upload (upload-cpu-s; the machine has GOMAXPROCS cores for it).
func BenchmarkArtifactProxy1GiB(b *testing.B) {
	size := int64(1 << 30)
	if n, err := strconv.ParseInt(os.Getenv("MLGIT_BENCH_ARTIFACT_MIB"), 10, 64); err == nil && n > 0 {
		size = n << 20
	}
	data := weights(size, 7)
	want := crc32.Checksum(data, crc32.MakeTable(crc32.Castagnoli))

	var base string
	pid := 0 // the server process, when it is one
	if os.Getenv("MLGIT_BENCH_INPROCESS") == "1" {
		_, ts := benchEnv(b)
		base = ts.URL
	} else {
		gittest.Setenv(b)
		dir := gittest.NewRepo(b)
		r, _, err := repo.Init(dir, repo.Options{}, false)
		if err != nil {
			b.Fatal(err)
		}
		r.Close()
		var cmd *exec.Cmd
		cmd, base = startChild(b, dir)
		defer func() { cmd.Process.Kill(); cmd.Wait() }()
		pid = cmd.Process.Pid
	}
	id := benchRun(b, base)
	url := base + "/api/2.0/mlflow-artifacts/artifacts/0/" + id + "/artifacts/model/weights.bin"

	var up, down, upCPU time.Duration
	var rssBefore, peakUp, peakDown float64
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if pid != 0 {
			rssBefore, _ = procMemory(pid)
		}

		stop := sampleRSS(pid)
		stopProf := profileUpload(b, os.Getenv("MLGIT_BENCH_UPLOAD_PROFILE"), pid)
		t0 := time.Now()
		req, _ := http.NewRequest(http.MethodPut, url, bytes.NewReader(data))
		req.Header.Set("Content-Type", "application/octet-stream")
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		io.Copy(io.Discard, res.Body)
		res.Body.Close()
		if res.StatusCode != 200 {
			b.Fatalf("PUT: %s", res.Status)
		}
		up += time.Since(t0)
		upCPU += stopProf()
		peakUp = max(peakUp, stop())

		stop = sampleRSS(pid)
		t0 = time.Now()
		res, err = http.Get(url)
		if err != nil {
			b.Fatal(err)
		}
		h := crc32.New(crc32.MakeTable(crc32.Castagnoli))
		n, err := io.Copy(h, res.Body)
		res.Body.Close()
		if err != nil || res.StatusCode != 200 || n != size || h.Sum32() != want {
			b.Fatalf("GET: %s, %d bytes (want %d), crc match %v, %v", res.Status, n, size, h.Sum32() == want, err)
		}
		down += time.Since(t0)
		peakDown = max(peakDown, stop())
	}
	mb := float64(size) * float64(b.N) / 1e6
	b.ReportMetric(mb/up.Seconds(), "upload-MB/s")
	b.ReportMetric(mb/down.Seconds(), "download-MB/s")
	if upCPU > 0 {
		b.ReportMetric(upCPU.Seconds()/float64(b.N), "upload-cpu-s")
	}
	if pid != 0 {
		b.ReportMetric(rssBefore/(1<<20), "rss-before-MiB")
		b.ReportMetric(peakUp/(1<<20), "peak-rss-upload-MiB")
		b.ReportMetric(peakDown/(1<<20), "peak-rss-download-MiB")
	}
}

// profileUpload starts a CPU profile into file (appending the iteration to
// the name after the first) when file is set and the server runs in this
// process; the function returned stops it and returns the CPU time the
// process used meanwhile.
func profileUpload(b *testing.B, file string, pid int) func() time.Duration {
	if file == "" || pid != 0 {
		return func() time.Duration { return 0 }
	}
	if _, err := os.Stat(file); err == nil {
		file += "." + strconv.FormatInt(time.Now().UnixNano(), 36)
	}
	f, err := os.Create(file)
	if err != nil {
		b.Fatal(err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		b.Fatal(err)
	}
	cpu0 := processCPU()
	return func() time.Duration {
		pprof.StopCPUProfile()
		if err := f.Close(); err != nil {
			b.Fatal(err)
		}
		return processCPU() - cpu0
	}
}

// processCPU returns the user plus system CPU time this process used.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// sampleRSS samples the resident memory of process pid every 20 ms until
// the returned function is called, which returns the highest sample (0
// for pid 0).
func sampleRSS(pid int) func() float64 {
	if pid == 0 {
		return func() float64 { return 0 }
	}
	var peak atomic.Uint64
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(20 * time.Millisecond)
		defer t.Stop()
		for {
			if rss, _ := procMemory(pid); uint64(rss) > peak.Load() {
				peak.Store(uint64(rss))
			}
			select {
			case <-done:
				return
			case <-t.C:
			}
		}
	}()
	return func() float64 {
		close(done)
		wg.Wait()
		return float64(peak.Load())
	}
}

// weights returns n bytes of little-endian float32 weights drawn from
// N(0, 0.02), from a fixed seed.
func weights(n int64, seed uint64) []byte {
	out := make([]byte, n)
	const parts = 8 // generated in parallel, each part from its own stream
	var wg sync.WaitGroup
	for p := int64(0); p < parts; p++ {
		lo, hi := n*p/parts/4*4, n*(p+1)/parts/4*4
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(seed, uint64(p)))
			for i := lo; i+4 <= hi; i += 4 {
				binary.LittleEndian.PutUint32(out[i:], math.Float32bits(float32(r.NormFloat64()*0.02)))
			}
		}()
	}
	wg.Wait()
	return out
}
