package index

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const benchDim = 384

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

var benchWords = strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega retry policy exporter timeout cache index vector chunk")

func benchText(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = benchWords[r.IntN(len(benchWords))]
	}
	return strings.Join(ws, " ")
}

// benchBatch is files of 10 chunks each, numbered from file first.
func benchBatch(r *rand.Rand, first, files, words int) *Batch {
	b := &Batch{}
	for f := first; f < first+files; f++ {
		p := Put{File: File{Path: fmt.Sprintf("/bench/doc-%07d.md", f), Size: 4096, ModTime: int64(f), Hash: fmt.Sprint(f)}}
		for c := range 10 {
			text := benchText(r, words)
			p.Chunks = append(p.Chunks, Chunk{Title: "doc", StartLine: 10*c + 1, EndLine: 10*c + 9, Text: text, Terms: text})
			p.Vectors = append(p.Vectors, randomUnit(r, benchDim))
		}
		b.Puts = append(b.Puts, p)
	}
	return b
}

// BenchmarkCommit commits batches of 1,000 chunks of about 1 KB of text with
// 384-dimensional vectors into a growing index.
func BenchmarkCommit(b *testing.B) {
	w, err := OpenWriter(context.Background(), b.TempDir(), Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close()
	r := rand.New(rand.NewPCG(1, 1))
	// Batches are made outside the timer; each holds 100 files of 10 chunks.
	next := 0
	var n int
	for b.Loop() {
		b.StopTimer()
		batch := benchBatch(r, next, 100, 170) // ~170 words, ~1 KB
		next += 100
		b.StartTimer()
		if err := w.Commit(batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*1000)/b.Elapsed().Seconds(), "chunks/s")
}

// benchIndex returns an index of n chunks (files of 10, random unit vectors of
// 384 dimensions, short texts), built once and kept in os.TempDir()/rag-bench-N
// for later runs. cmd/rag's benchmarks build and share the same folders.
func benchIndex(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("rag-bench-%d", n))
	if _, err := os.Stat(filepath.Join(dir, DBFile)); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), fmt.Sprintf("rag-bench-%d-building-", n))
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	w, err := OpenWriter(context.Background(), tmp, Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 2))
	for f := 0; f < n/10; f += 500 {
		if err := w.Commit(benchBatch(r, f, min(500, n/10-f), 12)); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	// Renamed into place whole, so a half-built index is never reused; if a
	// concurrent build got there first, its index is as good.
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, DBFile)); err2 != nil {
			b.Fatal(err)
		}
	}
	return dir
}

// BenchmarkOpenReaderEachVector opens a snapshot and visits every vector,
// computing a dot product with a query: the scan a vector search makes.
func BenchmarkOpenReaderEachVector(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			dir := benchIndex(b, n)
			q := randomUnit(rand.New(rand.NewPCG(3, 3)), benchDim)
			var sink float32
			for b.Loop() {
				r, err := OpenReader(dir)
				if err != nil {
					b.Fatal(err)
				}
				seen := 0
				err = r.EachVector(func(_ uint64, v []float32) error {
					var s float32
					for i := range q {
						s += q[i] * v[i]
					}
					sink += s
					seen++
					return nil
				})
				r.Close()
				if err != nil {
					b.Fatal(err)
				}
				if seen != n {
					b.Fatalf("visited %d vectors, want %d", seen, n)
				}
			}
			_ = sink
			b.ReportMetric(float64(n)*float64(b.N)/b.Elapsed().Seconds(), "vectors/s")
		})
	}
}
