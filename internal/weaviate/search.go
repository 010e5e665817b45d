package weaviate

import (
	"context"
	"sort"
	"strings"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
)

// Hit is one search result: a chunk and its score in the leg that found it
// (BM25 score, 1 - cosine distance for vectors, the fused score for hybrid;
// higher is better).
type Hit struct {
	Chunk
	Score float64
}

// Filter restricts a search to some files. The zero Filter matches all.
type Filter struct {
	// Prefixes are folders or files: a path matches itself and everything
	// below it (prefix + "/").
	Prefixes []string
	// Paths are exact file paths (a glob resolved by the caller against the
	// store's files, say).
	Paths []string
	// None, when set, matches nothing (a glob that matched no file).
	None bool
}

func (f Filter) where() *filters.WhereBuilder {
	var ops []*filters.WhereBuilder
	for _, p := range f.Prefixes {
		p = strings.TrimSuffix(p, "/")
		if p == "" {
			return nil // the root: everything
		}
		ops = append(ops,
			filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(p),
			filters.Where().WithPath([]string{"path"}).WithOperator(filters.Like).WithValueText(likeEscape(p)+"/*"))
	}
	if len(f.Paths) > 0 {
		ops = append(ops, filters.Where().WithPath([]string{"path"}).WithOperator(filters.ContainsAny).WithValueText(f.Paths...))
	}
	switch {
	case f.None:
		return filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText("00000000-0000-0000-0000-000000000000")
	case len(ops) == 0:
		return nil
	case len(ops) == 1:
		return ops[0]
	}
	return filters.Where().WithOperator(filters.Or).WithOperands(ops)
}

// likeEscape keeps Like's wildcards in a literal path from matching
// anything: Weaviate's Like has no escape, so a path holding * or ? gets
// them as ? (one character), a little wider than exact but never narrower.
func likeEscape(p string) string {
	return strings.NewReplacer("*", "?").Replace(p)
}

// Searches return whole chunks unless the context says lean (leanSearch):
// then only each hit's id, path and score, which is all rag's legs need and
// keeps the answer of a top 400 small.
type leanKey struct{}

func leanSearch(ctx context.Context) context.Context { return context.WithValue(ctx, leanKey{}, true) }

func (s *Client) search(ctx context.Context, what string, k int, f Filter, extra []string, with func(*graphql.GetBuilder) *graphql.GetBuilder) ([]Hit, error) {
	fields := chunkFields
	if lean, _ := ctx.Value(leanKey{}).(bool); lean {
		fields = []graphql.Field{{Name: "path"}}
	}
	if f.None || k <= 0 {
		return nil, nil
	}
	var rows []map[string]any
	err := s.do(ctx, what, func(ctx context.Context) error {
		b := s.c.GraphQL().Get().WithClassName(s.chunks).
			WithFields(withAdditional(fields, extra...)...).
			WithLimit(k)
		if s.replicated {
			b = b.WithConsistencyLevel(s.cfg.Consistency)
		}
		if w := f.where(); w != nil {
			b = b.WithWhere(w)
		}
		resp, err := with(b).Do(ctx)
		rows, err = results(resp, err, s.chunks)
		return err
	})
	if err != nil {
		return nil, err
	}
	hits := make([]Hit, 0, len(rows))
	for _, r := range rows {
		h := Hit{Chunk: chunkFrom(r)}
		if d, ok := additionalAny(r, "distance").(float64); ok {
			h.Score = 1 - d
		} else {
			h.Score = float(additionalAny(r, "score"))
		}
		hits = append(hits, h)
	}
	return hits, nil
}

// BM25 ranks chunks by Weaviate's BM25 over the terms property. terms is a
// query already analysed by rag (lexical.Terms joined by spaces); an empty
// one finds nothing.
func (s *Client) BM25(ctx context.Context, terms string, k int, f Filter) ([]Hit, error) {
	if strings.TrimSpace(terms) == "" {
		return nil, nil
	}
	return s.search(ctx, "bm25 search", k, f, []string{"score"}, func(b *graphql.GetBuilder) *graphql.GetBuilder {
		return b.WithBM25(s.c.GraphQL().Bm25ArgBuilder().WithQuery(terms).WithProperties("terms"))
	})
}

// NearVector ranks embedded chunks by cosine similarity to v through the
// HNSW index (approximate).
func (s *Client) NearVector(ctx context.Context, v []float32, k int, f Filter) ([]Hit, error) {
	return s.search(ctx, "vector search", k, f, []string{"distance"}, func(b *graphql.GetBuilder) *graphql.GetBuilder {
		return b.WithNearVector(s.c.GraphQL().NearVectorArgBuilder().WithVector(v))
	})
}

// Hybrid is Weaviate's own fusion of its BM25 over terms and its vector
// search for v: alpha 0 is BM25 only, 1 vector only; fusion is ranked
// (reciprocal rank) or relative-score.
func (s *Client) Hybrid(ctx context.Context, terms string, v []float32, alpha float32, fusion graphql.FusionType, k int, f Filter) ([]Hit, error) {
	return s.search(ctx, "hybrid search", k, f, []string{"score"}, func(b *graphql.GetBuilder) *graphql.GetBuilder {
		h := s.c.GraphQL().HybridArgumentBuilder().WithQuery(terms).WithVector(v).WithAlpha(alpha).
			WithProperties([]string{"terms"}).WithFusionType(fusion)
		return b.WithHybrid(h)
	})
}

// Fusion types of Hybrid.
const (
	Ranked        = graphql.Ranked
	RelativeScore = graphql.RelativeScore
)

func sortChunks(cs []Chunk) {
	sort.SliceStable(cs, func(i, j int) bool { return cs[i].Ordinal < cs[j].Ordinal })
}
