package resource

import (
	"bytes"
	"compress/gzip"
	"context"
	"crypto/sha512"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"syscall"
	"testing"
	"time"
)

// patternReader yields n deterministic, poorly compressible bytes without
// holding them in memory.
type patternReader struct {
	rng *rand.ChaCha8
	n   int64
}

func newPattern(n int64) *patternReader {
	return &patternReader{rng: rand.NewChaCha8([32]byte{1}), n: n}
}

func (p *patternReader) Read(b []byte) (int, error) {
	if p.n <= 0 {
		return 0, io.EOF
	}
	if int64(len(b)) > p.n {
		b = b[:p.n]
	}
	p.rng.Read(b)
	p.n -= int64(len(b))
	return len(b), nil
}

func patternHash(n int64) string {
	h := sha512.New()
	io.Copy(h, newPattern(n))
	return "sha512-" + hex.EncodeToString(h.Sum(nil))
}

// BenchmarkFetchAllVsSequential fetches 40 files of 8 MiB from a loopback
// server that waits 50 ms before each response, once with FetchAll and
// once one by one; it reports both wall times and their ratio.
func BenchmarkFetchAllVsSequential(b *testing.B) {
	const files, size = 40, 8 << 20
	payload, _ := io.ReadAll(newPattern(size))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		time.Sleep(50 * time.Millisecond)
		w.Header().Set("Content-Length", strconv.Itoa(len(payload)))
		w.Write(payload)
	}))
	defer srv.Close()
	f, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	jobs := make([]Job, files)
	for i := range jobs {
		// Distinct URLs, so nothing is de-duplicated.
		jobs[i] = Job{Request: Request{URL: fmt.Sprintf("%s/f%d", srv.URL, i)}, Dest: filepath.Join(dir, fmt.Sprint(i))}
	}
	ctx := context.Background()
	var all, seq time.Duration
	for b.Loop() {
		start := time.Now()
		if err := f.FetchAll(ctx, jobs); err != nil {
			b.Fatal(err)
		}
		all += time.Since(start)
		start = time.Now()
		for _, j := range jobs {
			if err := f.FetchToFile(ctx, j.Request, j.Dest, j.FileOptions); err != nil {
				b.Fatal(err)
			}
		}
		seq += time.Since(start)
	}
	b.ReportMetric(float64(all.Milliseconds())/float64(b.N), "fetchall-ms/op")
	b.ReportMetric(float64(seq.Milliseconds())/float64(b.N), "sequential-ms/op")
	b.ReportMetric(float64(seq)/float64(all), "speedup")
}

// BenchmarkFetch1GiBPeakRSS fetches 1 GiB over loopback with sha512
// verification into a file and reports the process's peak RSS. The server
// streams from a generator, so the figure is the fetch pipeline's (plus
// the test binary's baseline). Run it alone: peak RSS is per process.
func BenchmarkFetch1GiBPeakRSS(b *testing.B) {
	const size = 1 << 30
	want := patternHash(size)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(size))
		io.Copy(w, newPattern(size))
	}))
	defer srv.Close()
	f, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	dest := filepath.Join(b.TempDir(), "big")
	b.SetBytes(size)
	for b.Loop() {
		if err := f.FetchToFile(context.Background(), Request{URL: srv.URL, Hash: want}, dest, FileOptions{}); err != nil {
			b.Fatal(err)
		}
		os.Remove(dest)
	}
	var ru syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	b.ReportMetric(float64(ru.Maxrss)/1024, "peak-RSS-MiB")
}

// BenchmarkPipelineVsCp compares the full pipeline on a local source
// (gunzip + sha512 + temp file + fsync + rename) with `cp` of the same
// uncompressed bytes followed by `sync` of the copy, and reports both
// throughputs and their ratio.
func BenchmarkPipelineVsCp(b *testing.B) {
	const size = 256 << 20
	dir := b.TempDir()
	plain := filepath.Join(dir, "plain")
	pf, err := os.Create(plain)
	if err != nil {
		b.Fatal(err)
	}
	io.Copy(pf, newPattern(size))
	pf.Close()
	var gz bytes.Buffer
	zw, _ := gzip.NewWriterLevel(&gz, gzip.BestSpeed)
	io.Copy(zw, newPattern(size))
	zw.Close()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", strconv.Itoa(gz.Len()))
		w.Write(gz.Bytes())
	}))
	defer srv.Close()
	f, err := New(Options{})
	if err != nil {
		b.Fatal(err)
	}
	req := Request{URL: srv.URL, Compression: "gzip", Hash: patternHash(size)}
	var ours, cp time.Duration
	for b.Loop() {
		start := time.Now()
		if err := f.FetchToFile(context.Background(), req, filepath.Join(dir, "ours"), FileOptions{}); err != nil {
			b.Fatal(err)
		}
		ours += time.Since(start)
		start = time.Now()
		if out, err := exec.Command("cp", plain, filepath.Join(dir, "copy")).CombinedOutput(); err != nil {
			b.Fatalf("cp: %v %s", err, out)
		}
		if out, err := exec.Command("sync", filepath.Join(dir, "copy")).CombinedOutput(); err != nil {
			b.Fatalf("sync: %v %s", err, out)
		}
		cp += time.Since(start)
	}
	mb := float64(size) / 1e6 * float64(b.N)
	b.ReportMetric(mb/ours.Seconds(), "pipeline-MB/s")
	b.ReportMetric(mb/cp.Seconds(), "cp-MB/s")
	b.ReportMetric(cp.Seconds()/ours.Seconds(), "pipeline/cp")
}
