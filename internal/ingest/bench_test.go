package ingest_test

import (
	"context"
	"github.com/ragcli/rag/internal/shareddata"
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
)

func benchOptions(b *testing.B, srv *ollamatest.Server, root, idx string) ingest.Options {
	c, err := ollama.New(srv.URL)
	if err != nil {
		b.Fatal(err)
	}
	return ingest.Options{
		Roots:    []string{root},
		IndexDir: idx,
		Index:    index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256},
		Embedder: func(ctx context.Context, model string) (embed.Embedder, int, error) {
			info, err := c.Show(ctx, model)
			return &ollama.Embedder{Client: c, Name: model}, info.ContextLength, err
		},
		Parallel: runtime.GOMAXPROCS(0),
	}
}

// BenchmarkIngestOtelDocs measures the pipeline's own cost (walk, extract,
// chunk, store) on the OpenTelemetry docs, with a fake embedder that answers
// at once over loopback HTTP. It reports chunks per second.
//
//	go test -run '^$' -bench IngestOtelDocs -benchtime 3x ./internal/ingest/
func BenchmarkIngestOtelDocs(b *testing.B) {
	root := shareddata.Dir(b, "otel-docs")
	srv := ollamatest.NewServer(ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	defer srv.Close()
	var chunks int
	var elapsed time.Duration
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		idx := filepath.Join(b.TempDir(), "index")
		opts := benchOptions(b, srv, root, idx)
		b.StartTimer()
		start := time.Now()
		rep, err := ingest.Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		elapsed += time.Since(start)
		chunks = rep.ChunksEmbedded
	}
	b.ReportMetric(float64(chunks)*float64(b.N)/elapsed.Seconds(), "chunks/s")
	b.ReportMetric(float64(chunks), "chunks")
}

// BenchmarkNoopReingestOtelDocs measures a re-ingest of an unchanged tree:
// no file is read, no embedding call is made.
func BenchmarkNoopReingestOtelDocs(b *testing.B) {
	root := shareddata.Dir(b, "otel-docs")
	srv := ollamatest.NewServer(ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	defer srv.Close()
	idx := filepath.Join(b.TempDir(), "index")
	opts := benchOptions(b, srv, root, idx)
	if _, err := ingest.Run(context.Background(), opts); err != nil {
		b.Fatal(err)
	}
	calls := srv.Calls("/api/embed")
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		rep, err := ingest.Run(context.Background(), opts)
		if err != nil {
			b.Fatal(err)
		}
		if rep.ChunksEmbedded != 0 || rep.Added+rep.Updated != 0 {
			b.Fatalf("no-op re-ingest changed the index: %+v", rep)
		}
	}
	if srv.Calls("/api/embed") != calls {
		b.Fatalf("no-op re-ingest called /api/embed")
	}
}
