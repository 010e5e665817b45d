package openai_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/openaitest"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/providertest"
)

// realOllama is the URL of a real Ollama server with all-minilm and llama3.2
// (the tiny models of ../shared/tinymodels/serve.sh), from $RAG_REAL_OLLAMA;
// the tests skip without it.
func realOllama(t *testing.T) string {
	u := os.Getenv("RAG_REAL_OLLAMA")
	if u == "" {
		t.Skip("set RAG_REAL_OLLAMA to a real Ollama server's URL (see ../shared/tinymodels/serve.sh)")
	}
	return strings.TrimRight(u, "/")
}

// The conformance suite, with the OpenAI provider against Ollama's own /v1
// endpoints, faults injected by a proxy in front.
func TestRealOllamaV1Conformance(t *testing.T) {
	host := realOllama(t)
	common := func(path string) (providertest.Common, string) {
		f := providertest.Proxy(host)
		url := f.Serve(t) + "/v1"
		return providertest.Common{Faults: f, Path: path, Timeouts: true,
			ErrorBody: func(status int, msg string) string { return openaitest.ErrorBody(openaitest.Ollama, status, msg) }}, url
	}
	t.Run("embedding", func(t *testing.T) {
		c, url := common("/v1/embeddings")
		providertest.RunEmbedding(t, providertest.Embedding{
			Common: c,
			New: func(t testing.TB, cfg providertest.Config) embed.Embedder {
				return openai.NewEmbedder(newClient(t, url, c, cfg), cfg.Model, 512)
			},
			Model: "all-minilm", Dim: 384, ContextLength: 512,
			Decode: func(body []byte) ([]string, string, error) {
				texts, err := openaitest.EmbeddingInputs(body)
				return texts, "", err
			},
		})
	})
	t.Run("chat", func(t *testing.T) {
		c, url := common("/v1/chat/completions")
		providertest.RunChat(t, providertest.Chat{
			Common: c,
			New:    func(t testing.TB, cfg providertest.Config) llm.Client { return newClient(t, url, c, cfg) },
			Model:  "llama3.2",
			Usage:  true,
		})
	})
}

// Ollama's /v1/embeddings truncates an over-long input without a word; the
// provider refuses it first, so no chunk is ever embedded cut short.
func TestRealOllamaV1TruncatesSilently(t *testing.T) {
	host := realOllama(t)
	long := strings.Repeat("word ", 2000)
	body, _ := json.Marshal(map[string]any{"model": "all-minilm", "input": []string{long}})
	resp, err := http.Post(host+"/v1/embeddings", "application/json", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	t.Logf("Ollama /v1/embeddings with a 2,000-word input (context 512): HTTP %d", resp.StatusCode)
	c, err := openai.New(openai.Options{BaseURL: host + "/v1"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = openai.NewEmbedder(c, "all-minilm", 512).Embed(context.Background(), []string{long})
	if !errors.Is(err, embed.ErrInputTooLong) {
		t.Errorf("the provider let an over-long input through: %v", err)
	}
	if n, src := c.ContextLength(context.Background(), "all-minilm", true); src != openai.FromDefault || n != openai.DefaultEmbedContext {
		t.Logf("context length %d from %s", n, src)
	}
	ids, err := c.Models(context.Background())
	if err != nil || !strings.Contains(strings.Join(ids, ","), "all-minilm") {
		t.Errorf("/v1/models: %v, %v", ids, err)
	}
	_, err = openai.NewEmbedder(c, "no-such-model", 512).Embed(context.Background(), []string{"x"})
	if !errors.Is(err, provider.ErrModelMissing) {
		t.Errorf("a missing model: %v", err)
	}
}
