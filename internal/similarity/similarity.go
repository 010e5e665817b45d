// Package similarity compares texts by the cosine of their embeddings: the
// matrix of every pair, or a ranking of texts against a query. It is what
// `rag similar` shows, to see what an embedding model thinks is close.
//
// It embeds through an embed.Embedder and computes; it neither prints nor
// reads the index. A cosine is a measure of direction in the model's space,
// not a probability or a percentage: see docs/similar.md.
package similarity

import (
	"cmp"
	"context"
	"fmt"
	"math"
	"slices"

	"github.com/ragcli/rag/internal/embed"
)

// Cosine is the cosine of the angle between a and b, in [-1, 1]; 0 when
// either has no length or their lengths differ.
func Cosine(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		x, y := float64(a[i]), float64(b[i])
		dot += x * y
		na += x * x
		nb += y * y
	}
	if na == 0 || nb == 0 {
		return 0
	}
	return dot / math.Sqrt(na*nb)
}

// Matrix embeds texts as documents (with the model's document prefix, as
// ingest does) and returns the cosine of every pair: m[i][j] compares texts[i]
// with texts[j], and m[i][i] is 1.
func Matrix(ctx context.Context, e embed.Embedder, texts []string) ([][]float64, error) {
	vecs, err := embedAll(ctx, e, texts)
	if err != nil {
		return nil, err
	}
	m := make([][]float64, len(texts))
	for i := range m {
		m[i] = make([]float64, len(texts))
	}
	for i := range vecs {
		for j := i; j < len(vecs); j++ {
			c := Cosine(vecs[i], vecs[j])
			if i == j {
				c = 1
			}
			m[i][j], m[j][i] = c, c
		}
	}
	return m, nil
}

// Ranked is one text's place in a ranking against a query.
type Ranked struct {
	Rank  int     `json:"rank"` // 1 is the closest
	Text  string  `json:"text"`
	Score float64 `json:"score"` // cosine with the query
	Index int     `json:"index"` // position among the texts given, from 0
}

// Rank embeds query as a search query (with the model's query prefix) and
// texts as documents, as rag search does, and returns the texts closest
// first; equal scores keep the order given.
func Rank(ctx context.Context, e embed.Embedder, query string, texts []string) ([]Ranked, error) {
	q, err := embed.For(e).Query(ctx, query)
	if err != nil {
		return nil, fmt.Errorf("embed with %s: %w", e.Model(), err)
	}
	vecs, err := embedAll(ctx, e, texts)
	if err != nil {
		return nil, err
	}
	out := make([]Ranked, len(texts))
	for i, v := range vecs {
		out[i] = Ranked{Text: texts[i], Score: Cosine(q, v), Index: i}
	}
	slices.SortStableFunc(out, func(a, b Ranked) int { return cmp.Compare(b.Score, a.Score) })
	for i := range out {
		out[i].Rank = i + 1
	}
	return out, nil
}

// embedAll embeds texts as documents.
func embedAll(ctx context.Context, e embed.Embedder, texts []string) ([][]float32, error) {
	vecs, err := embed.For(e).Documents(ctx, texts)
	if err != nil {
		return nil, fmt.Errorf("embed with %s: %w", e.Model(), err)
	}
	if len(vecs) != len(texts) {
		return nil, fmt.Errorf("embed with %s: got %d vectors for %d texts", e.Model(), len(vecs), len(texts))
	}
	return vecs, nil
}
