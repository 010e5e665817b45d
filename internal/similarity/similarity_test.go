package similarity_test

import (
	"context"
	"math"
	"testing"

	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/similarity"
)

func TestCosine(t *testing.T) {
	tests := []struct {
		name string
		a, b []float32
		want float64
	}{
		{"same", []float32{1, 2}, []float32{2, 4}, 1},
		{"opposite", []float32{1, 0}, []float32{-3, 0}, -1},
		{"orthogonal", []float32{1, 0}, []float32{0, 5}, 0},
		{"zero length", []float32{0, 0}, []float32{1, 0}, 0},
		{"other dimension", []float32{1}, []float32{1, 0}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := similarity.Cosine(tt.a, tt.b); math.Abs(got-tt.want) > 1e-12 {
				t.Errorf("Cosine = %v, want %v", got, tt.want)
			}
		})
	}
}

func embedder(t *testing.T, model string) *ollama.Embedder {
	srv := ollamatest.New(t, ollamatest.Model{Name: model, Embedding: true, Dim: 384})
	c, err := ollama.New(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	return &ollama.Embedder{Client: c, Name: model}
}

func TestMatrixIsSymmetricWithOnes(t *testing.T) {
	texts := []string{"apple pie", "apple tart", "motor car", "red car"}
	m, err := similarity.Matrix(context.Background(), embedder(t, "all-minilm"), texts)
	if err != nil {
		t.Fatal(err)
	}
	for i := range texts {
		if m[i][i] != 1 {
			t.Errorf("m[%d][%d] = %v, want 1", i, i, m[i][i])
		}
		for j := range texts {
			if m[i][j] != m[j][i] {
				t.Errorf("m[%d][%d] = %v but m[%d][%d] = %v", i, j, m[i][j], j, i, m[j][i])
			}
		}
	}
	// Texts sharing a word are closer than texts sharing none, under the fake's feature hash.
	if !(m[0][1] > m[0][2]) {
		t.Errorf("apple/apple %v should exceed apple/car %v", m[0][1], m[0][2])
	}
}

func TestRankUsesTheQueryPrefix(t *testing.T) {
	// nomic-embed-text gets "search_query: " on the query and
	// "search_document: " on the texts: a text that is the query itself is
	// therefore not at cosine 1.
	res, err := similarity.Rank(context.Background(), embedder(t, "nomic-embed-text"), "dog", []string{"car", "dog"})
	if err != nil {
		t.Fatal(err)
	}
	if res[0].Text != "dog" || res[0].Rank != 1 || res[0].Index != 1 {
		t.Fatalf("first = %+v, want dog at rank 1 from index 1", res[0])
	}
	if res[0].Score >= 0.999 {
		t.Errorf("score %v: the prefixes were not applied", res[0].Score)
	}
	plain, err := similarity.Rank(context.Background(), embedder(t, "all-minilm"), "dog", []string{"car", "dog"})
	if err != nil {
		t.Fatal(err)
	}
	if math.Abs(plain[0].Score-1) > 1e-6 {
		t.Errorf("without prefixes the same text scores %v, want 1", plain[0].Score)
	}
}
