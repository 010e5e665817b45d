// Package indexbench builds the synthetic indexes rag's benchmarks measure:
// n chunks in files of 10, random unit vectors of Dim dimensions, short texts
// from a small vocabulary. It is for benchmarks only; rag never imports it.
package indexbench

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
)

// Dim is the vectors' dimension, all-minilm's.
const Dim = 384

// RandomUnit returns a random vector of length 1.
func RandomUnit(r *rand.Rand, dim int) []float32 {
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

// Words is the vocabulary of the synthetic texts.
var Words = strings.Fields("alpha beta gamma delta epsilon zeta eta theta iota kappa lambda mu nu xi omicron pi rho sigma tau upsilon phi chi psi omega retry policy exporter timeout cache index vector chunk")

func text(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = Words[r.IntN(len(Words))]
	}
	return strings.Join(ws, " ")
}

// Batch is files first..first+files-1 of 10 chunks each, of the given number
// of words, with their vectors.
func Batch(r *rand.Rand, first, files, words int) *index.Batch {
	b := &index.Batch{}
	for f := first; f < first+files; f++ {
		p := index.Put{File: index.File{Path: fmt.Sprintf("/bench/doc-%07d.md", f), Size: 4096, ModTime: int64(f), Hash: fmt.Sprint(f)}}
		for c := range 10 {
			t := text(r, words)
			p.Chunks = append(p.Chunks, index.Chunk{Title: "doc", StartLine: 10*c + 1, EndLine: 10*c + 9, Text: t, Terms: lexical.Document(t)})
			p.Vectors = append(p.Vectors, RandomUnit(r, Dim))
		}
		b.Puts = append(b.Puts, p)
	}
	return b
}

// Dir returns an index of n chunks, built once and kept in
// os.TempDir()/rag-bench-N for later runs of any package's benchmarks. It is
// renamed into place whole, so a half-built index is never reused; if a
// concurrent build got there first, its index is as good.
func Dir(tb testing.TB, n int) string {
	tb.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("rag-bench-%d", n))
	if _, err := os.Stat(filepath.Join(dir, index.DBFile)); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), fmt.Sprintf("rag-bench-%d-building-", n))
	if err != nil {
		tb.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	w, err := index.OpenWriter(context.Background(), tmp, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		tb.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 2))
	for f := 0; f < n/10; f += 500 { // 5,000 chunks a commit
		if err := w.Commit(Batch(r, f, min(500, n/10-f), 12)); err != nil {
			tb.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		tb.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, index.DBFile)); err2 != nil {
			tb.Fatal(err)
		}
	}
	return dir
}
