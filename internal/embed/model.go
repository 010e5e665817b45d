package embed

import (
	"context"
	"fmt"
)

// Model is an Embedder with its model's prefixes applied: the one place that
// decides what text a model sees, for documents (ingest) and queries
// (retrieve) alike.
type Model struct {
	e Embedder
	p Prefixes
}

// For wraps e with the prefixes its model expects (see PrefixesFor).
func For(e Embedder) *Model { return &Model{e: e, p: PrefixesFor(e.Model())} }

// Name is the embedding model's name, as recorded in the index.
func (m *Model) Name() string { return m.e.Model() }

// Prefixes are the prefixes m applies; ingest counts the document prefix
// against a chunk's token budget.
func (m *Model) Prefixes() Prefixes { return m.p }

// Documents embeds texts as documents, one vector per text, in order.
func (m *Model) Documents(ctx context.Context, texts []string) ([][]float32, error) {
	if m.p.Document == "" {
		return m.e.Embed(ctx, texts)
	}
	in := make([]string, len(texts))
	for i, t := range texts {
		in[i] = m.p.Document + t
	}
	return m.e.Embed(ctx, in)
}

// Query embeds one search query.
func (m *Model) Query(ctx context.Context, q string) ([]float32, error) {
	vecs, err := m.e.Embed(ctx, []string{m.p.Query + q})
	if err != nil {
		return nil, err
	}
	if len(vecs) != 1 {
		return nil, fmt.Errorf("embed query: %d vectors for one input", len(vecs))
	}
	return vecs[0], nil
}
