package index_test

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/indexbench"
)

// BenchmarkCommit commits batches of 1,000 chunks of about 1 KB of text with
// 384-dimensional vectors into a growing index.
func BenchmarkCommit(b *testing.B) {
	w, err := index.OpenWriter(context.Background(), b.TempDir(), index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
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
		batch := indexbench.Batch(r, next, 100, 170) // ~170 words, ~1 KB
		next += 100
		b.StartTimer()
		if err := w.Commit(batch); err != nil {
			b.Fatal(err)
		}
		n++
	}
	b.ReportMetric(float64(n*1000)/b.Elapsed().Seconds(), "chunks/s")
}

// BenchmarkOpenReaderEachVector opens a snapshot and visits every vector,
// computing a dot product with a query: the scan a vector search makes.
func BenchmarkOpenReaderEachVector(b *testing.B) {
	for _, n := range []int{10_000, 100_000} {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			dir := indexbench.Dir(b, n)
			q := indexbench.RandomUnit(rand.New(rand.NewPCG(3, 3)), indexbench.Dim)
			var sink float32
			for b.Loop() {
				r, err := index.OpenReader(dir)
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
