// Package retrieve finds the chunks of an index that best answer a query. The
// vector leg embeds the query and ranks every stored vector with chromem-go's
// exhaustive cosine search. It reads the index and returns results; it does not
// print or build prompts.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"strconv"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
)

// Result is one retrieved chunk and how well it matched.
type Result struct {
	index.Chunk
	Score float64 // cosine similarity for the vector leg
}

// ErrEmptyQuery: there is nothing to search for.
var ErrEmptyQuery = errors.New("the query is empty")

// Search returns up to k chunks of the index most similar to query. k larger
// than the index returns every chunk.
func Search(ctx context.Context, r *index.Reader, e embed.Embedder, query string, k int) ([]Result, error) {
	if query == "" {
		return nil, ErrEmptyQuery
	}
	if k <= 0 {
		return nil, fmt.Errorf("k must be at least 1, got %d", k)
	}
	if r.Meta().Dim == 0 {
		return nil, nil // an index with no vectors yet
	}
	vecs, err := e.Embed(ctx, []string{query})
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	q := vecs[0]
	if len(q) != r.Meta().Dim {
		return nil, fmt.Errorf("query vector has dimension %d, the index %d", len(q), r.Meta().Dim)
	}
	coll, err := chromem.NewDB().CreateCollection("rag", nil, nil)
	if err != nil {
		return nil, fmt.Errorf("create vector collection: %w", err)
	}
	err = r.EachVector(func(id uint64, v []float32) error {
		return coll.AddDocument(ctx, chromem.Document{ID: strconv.FormatUint(id, 10), Embedding: v})
	})
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	if coll.Count() == 0 {
		return nil, nil
	}
	k = min(k, coll.Count())
	hits, err := coll.QueryEmbedding(ctx, q, k, nil, nil)
	if err != nil {
		return nil, fmt.Errorf("query vectors: %w", err)
	}
	ids := make([]uint64, len(hits))
	for i, h := range hits {
		if ids[i], err = strconv.ParseUint(h.ID, 10, 64); err != nil {
			return nil, fmt.Errorf("vector id %q: %w", h.ID, err)
		}
	}
	chunks, err := r.Chunks(ids)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(hits))
	for i, h := range hits {
		out[i] = Result{Chunk: chunks[i], Score: float64(h.Similarity)}
	}
	return out, nil
}
