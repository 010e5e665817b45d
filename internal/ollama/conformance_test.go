package ollama_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/providertest"
)

// The shared conformance suite against the Ollama adapter and the fake
// Ollama, through a fault-injecting proxy.
func conformanceServer(t *testing.T) (*ollamatest.Server, providertest.Common) {
	srv := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2"},
	)
	f := providertest.Proxy(srv.URL)
	return srv, providertest.Common{
		Faults:   f,
		Timeouts: true,
		ErrorBody: func(status int, msg string) string {
			b, _ := json.Marshal(map[string]string{"error": msg})
			return string(b)
		},
	}
}

func TestConformanceEmbedding(t *testing.T) {
	_, common := conformanceServer(t)
	common.Path = "/api/embed"
	url := common.Faults.Serve(t)
	providertest.RunEmbedding(t, providertest.Embedding{
		Common: common,
		New: func(t testing.TB, c providertest.Config) embed.Embedder {
			return &ollama.Embedder{Client: conformanceClient(t, url, c), Name: c.Model}
		},
		Model:         "all-minilm",
		Dim:           384,
		ContextLength: 512,
		Decode: func(body []byte) ([]string, string, error) {
			var req struct {
				Input []string `json:"input"`
			}
			err := json.Unmarshal(body, &req)
			return req.Input, "", err
		},
	})
}

func TestConformanceChat(t *testing.T) {
	srv, common := conformanceServer(t)
	common.Path = "/api/chat"
	url := common.Faults.Serve(t)
	providertest.RunChat(t, providertest.Chat{
		Common: common,
		New: func(t testing.TB, c providertest.Config) llm.Client {
			return conformanceClient(t, url, c)
		},
		Model:         "llama3.2",
		SetReply:      func(text string) { srv.SetChatReply(func(api.ChatRequest) string { return text }) },
		SetChunkDelay: func(d time.Duration) { srv.SetChunkDelay(d) },
		Usage:         true,
	})
}

func conformanceClient(t testing.TB, url string, c providertest.Config) *ollama.Client {
	cl, err := ollama.New(url)
	if err != nil {
		t.Fatal(err)
	}
	if c.Timeout > 0 {
		cl.Timing.Embed, cl.Timing.EmbedPerInput, cl.Timing.Load = c.Timeout, 0, 0
		cl.Timing.ChatFirst, cl.Timing.ChatIdle = c.Timeout, c.Timeout
	}
	return cl
}
