package openai_test

import (
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/openaitest"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/providertest"
)

const testKey = "sk-test-0123456789abcdefSECRET"

var models = []openaitest.Model{
	{ID: "text-embedding-3-small", Embedding: true, Dim: 384, ContextLength: 512},
	{ID: "gpt-4o-mini"},
}

// fake starts flavor's fake behind the fault middleware; key "" for a
// server without keys.
func fake(t *testing.T, flavor openaitest.Flavor, key string) (*openaitest.Server, providertest.Common, string) {
	srv := openaitest.New(t, flavor, key, models...)
	f := providertest.NewFaults(srv.Handler())
	url := f.Serve(t) + "/v1"
	c := providertest.Common{
		Faults:    f,
		Key:       key,
		ErrorBody: func(status int, msg string) string { return openaitest.ErrorBody(flavor, status, msg) },
		Timeouts:  true,
	}
	if key != "" {
		c.KeyEnv = "OPENAI_API_KEY"
	}
	return srv, c, url
}

func newClient(t testing.TB, url string, common providertest.Common, c providertest.Config) *openai.Client {
	key := common.Key
	if c.Key != "" {
		key = c.Key
	}
	cl, err := openai.New(openai.Options{BaseURL: url, Key: provider.NewKey(key, common.KeyEnv), Timeout: c.Timeout})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

func TestConformanceEmbedding(t *testing.T) {
	for _, tc := range []struct {
		flavor openaitest.Flavor
		key    string
	}{
		{openaitest.OpenAI, testKey},
		{openaitest.Ollama, ""}, // truncates silently: the client must refuse first
		{openaitest.LlamaServer, ""},
		{openaitest.VLLM, testKey},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			_, common, url := fake(t, tc.flavor, tc.key)
			common.Path = "/v1/embeddings"
			providertest.RunEmbedding(t, providertest.Embedding{
				Common: common,
				New: func(t testing.TB, c providertest.Config) embed.Embedder {
					return openai.NewEmbedder(newClient(t, url, common, c), c.Model, 512)
				},
				Model:         "text-embedding-3-small",
				Dim:           384,
				ContextLength: 512,
				Decode: func(body []byte) ([]string, string, error) {
					texts, err := openaitest.EmbeddingInputs(body)
					return texts, "", err
				},
				MaxBatch: openai.MaxBatch,
			})
		})
	}
}

func TestConformanceChat(t *testing.T) {
	for _, tc := range []struct {
		flavor openaitest.Flavor
		key    string
	}{
		{openaitest.OpenAI, testKey},
		{openaitest.Ollama, ""},
	} {
		t.Run(string(tc.flavor), func(t *testing.T) {
			srv, common, url := fake(t, tc.flavor, tc.key)
			common.Path = "/v1/chat/completions"
			providertest.RunChat(t, providertest.Chat{
				Common:        common,
				New:           func(t testing.TB, c providertest.Config) llm.Client { return newClient(t, url, common, c) },
				Model:         "gpt-4o-mini",
				SetReply:      srv.SetReply,
				SetChunkDelay: func(d time.Duration) { srv.SetChunkDelay(d) },
				Usage:         true,
			})
		})
	}
}
