package server_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/server"
)

var docs = map[string]string{
	"notes/security.md": "# Keys\n\nTo rotate the signing key, run keyctl rotate\nand restart the service.\n",
	"notes/network.md":  "# Timeouts\n\nThe exporter retries a failed batch three times\nwith a timeout of ten seconds.\n",
	"notes/cats.txt":    "Cats purr and sleep all day long.\n",
	"code/main.go":      "package main\n\n// rotateKey replaces the signing key.\nfunc rotateKey() {}\n",
}

type fixture struct {
	root  string // the ingested folder
	index string
	fake  *ollamatest.Server
	c     *ollama.Client
	svc   *server.Service
}

// newFixture ingests docs with the fake Ollama and opens a Service on them.
func newFixture(t *testing.T) *fixture {
	t.Helper()
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	c, err := ollama.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &fixture{root: filepath.Join(dir, "docs"), index: filepath.Join(dir, "index"), fake: fake, c: c}
	for name, text := range docs {
		f.write(t, name, text)
	}
	f.ingest(t)
	svc, err := server.Open(f.config())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	f.svc = svc
	return f
}

func (f *fixture) config() server.Config {
	return server.Config{
		IndexDir:  f.index,
		Embedder:  func(model string) embed.Embedder { return &ollama.Embedder{Client: f.c, Name: model} },
		Chat:      f.c,
		ChatModel: "llama3.2",
	}
}

func (f *fixture) write(t *testing.T, name, text string) {
	t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) ingest(t testing.TB) *ingest.Report {
	t.Helper()
	rep, err := ingest.Run(context.Background(), ingest.Options{
		Roots:    []string{f.root},
		IndexDir: f.index,
		Index:    index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256},
		Embedder: func(ctx context.Context, model string) (embed.Embedder, int, error) {
			return &ollama.Embedder{Client: f.c, Name: model}, 512, nil
		},
		LockWait: 30e9,
	})
	if err != nil {
		t.Fatal(err)
	}
	return rep
}
