package weaviate

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/shareddata"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// hitChunks reads the chunks of hits from r, in hits' order.
func hitChunks(t *testing.T, r store.Reader, hits []store.Hit) []store.Chunk {
	t.Helper()
	ids := make([]uint64, len(hits))
	for i, h := range hits {
		ids[i] = h.ID
	}
	cs, err := r.Chunks(context.Background(), ids)
	if err != nil {
		t.Fatal(err)
	}
	return cs
}

// lexicalRun ranks every query of coll through the store's lexical leg
// (rag's terms, eval.ChunkDepth chunks) and scores the documents.
func lexicalRun(t *testing.T, s store.Store, coll *eval.Collection, docOf func(string) (string, bool)) (eval.Metrics, time.Duration) {
	t.Helper()
	ctx := context.Background()
	r, err := s.OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	runs := map[string]eval.Ranking{}
	start := time.Now()
	for _, q := range coll.Queries {
		hits, err := r.Lexical(ctx, lexical.Terms(q.Text), eval.ChunkDepth, nil)
		if err != nil {
			t.Fatalf("query %s: %v", q.ID, err)
		}
		cs := hitChunks(t, r, hits)
		paths := make([]string, len(cs))
		for i, c := range cs {
			paths[i] = c.Path
		}
		rk := eval.DocRanking(paths, docOf)
		runs[q.ID] = rk[:min(len(rk), 100)]
	}
	took := time.Since(start)
	m, _ := eval.Score(runs, coll.Qrels)
	return m, took
}

// SciFact test through the real ingest pipeline (256-token chunks, no
// embedder: lexical only) into the local index and into a Weaviate node,
// then every query through each store's lexical leg: the same chunks and
// terms, BM25 by SQLite FTS5 against BM25 by Weaviate over the whitespace-
// tokenized terms property. Prints nDCG@10 and Recall@100 of both (run with
// RAG_TEST_WEAVIATE_EVAL=1; docs/design.md has the figures).
func TestSciFactLexical(t *testing.T) {
	if os.Getenv("RAG_TEST_WEAVIATE_EVAL") == "" {
		t.Skip("set RAG_TEST_WEAVIATE_EVAL=1 to measure SciFact through Weaviate's BM25 (a few minutes)")
	}
	dir := shareddata.Dir(t, "scifact")
	n := weaviatetest.Start(t, weaviatetest.Options{})
	coll, err := eval.LoadBEIR(dir, "test")
	if err != nil {
		t.Fatal(err)
	}
	work := t.TempDir()
	corpus := filepath.Join(work, "corpus")
	docOf, err := eval.WriteCorpus(coll, corpus)
	if err != nil {
		t.Fatal(err)
	}
	offline := func(context.Context, string) (embed.Embedder, int, error) { return nil, 0, embed.ErrUnavailable }
	stores := []struct {
		name string
		s    store.Store
	}{
		{"local FTS5", local.New(filepath.Join(work, "index"))},
		{"Weaviate BM25", New(Config{Host: n.HTTPAddr, Base: "SciFact"})},
	}
	for _, st := range stores {
		start := time.Now()
		_, err := ingest.Run(context.Background(), ingest.Options{Roots: []string{corpus}, Store: st.s,
			Index: index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, Embedder: offline})
		if err != nil {
			t.Fatalf("ingest into %s: %v", st.name, err)
		}
		ingestTook := time.Since(start)
		r, _ := st.s.OpenReader(context.Background())
		stats, _ := r.Stats(context.Background())
		r.Close()
		// Twice: the second run shows whether the first saw the index
		// settled (Weaviate updates its BM25 statistics in the background).
		for run := 1; run <= 2; run++ {
			m, took := lexicalRun(t, st.s, coll, docOf)
			t.Logf("FIGURE SciFact test, %s, run %d: nDCG@10 %.4f, Recall@100 %.4f; %d chunks; ingest %s, %d queries %s",
				st.name, run, m.NDCG10, m.Recall100, stats.Chunks, ingestTook.Round(time.Second), len(coll.Queries), took.Round(time.Millisecond))
		}
	}
}
