package audit_test

import (
	"context"
	"testing"

	"github.com/ragcli/rag/internal/audit"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/indexbench"
)

// BenchmarkAudit100k audits the cached synthetic index of 100,000 chunks
// (internal/indexbench; built on first use). docs/audit.md has the figures.
func BenchmarkAudit100k(b *testing.B) {
	dir := indexbench.Dir(b, 100_000)
	for b.Loop() {
		r, err := index.OpenReader(dir)
		if err != nil {
			b.Fatal(err)
		}
		rep, err := audit.Run(context.Background(), audit.Snapshot(r), audit.Options{})
		r.Close()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(len(rep.NearDuplicates)+len(rep.Contradictions)), "pairs")
	}
}

// BenchmarkAllPairsCosine10k is the alternative audit.Run does not take:
// comparing every pair of stored vectors, here of 10,000 chunks. Its cost
// grows with the square of the chunks (docs/audit.md).
func BenchmarkAllPairsCosine10k(b *testing.B) {
	dir := indexbench.Dir(b, 10_000)
	r, err := index.OpenReader(dir)
	if err != nil {
		b.Fatal(err)
	}
	defer r.Close()
	var vecs [][]float32
	if err := r.EachVector(func(_ uint64, v []float32) error { vecs = append(vecs, v); return nil }); err != nil {
		b.Fatal(err)
	}
	for b.Loop() {
		near := 0
		for i := range vecs {
			for j := i + 1; j < len(vecs); j++ {
				var dot float32
				for k, x := range vecs[i] {
					dot += x * vecs[j][k]
				}
				if dot > 0.9 {
					near++
				}
			}
		}
		b.ReportMetric(float64(near), "pairs")
	}
}
