package openai_test

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/openaitest"
	"github.com/ragcli/rag/internal/provider"
)

func TestContextLengthFromEachServer(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		flavor openaitest.Flavor
		conf   int
		want   int
		source string
	}{
		{openaitest.VLLM, 0, 512, openai.FromModels},
		{openaitest.LMStudio, 0, 512, openai.FromModels},
		{openaitest.LlamaServer, 0, 512, openai.FromProps},
		{openaitest.OpenAI, 0, openai.DefaultEmbedContext, openai.FromDefault},
		{openaitest.Ollama, 0, openai.DefaultEmbedContext, openai.FromDefault},
		{openaitest.VLLM, 2048, 2048, openai.FromConfig},
	}
	for _, tt := range tests {
		served := models
		if tt.flavor == openaitest.LlamaServer {
			served = models[:1] // llama-server serves one model
		}
		srv := openaitest.New(t, tt.flavor, "", served...)
		c, err := openai.New(openai.Options{BaseURL: srv.URL, EmbedContext: tt.conf})
		if err != nil {
			t.Fatal(err)
		}
		n, src := c.ContextLength(ctx, "text-embedding-3-small", true)
		if n != tt.want || src != tt.source {
			t.Errorf("%s (configured %d): %d from %s, want %d from %s", tt.flavor, tt.conf, n, src, tt.want, tt.source)
		}
	}
}

// A server that names its window in the refusal lowers the embedder's limit,
// so the next long input is refused before it is sent.
func TestLimitLearnedFromRefusal(t *testing.T) {
	for _, flavor := range []openaitest.Flavor{openaitest.OpenAI, openaitest.VLLM, openaitest.LlamaServer} {
		srv := openaitest.New(t, flavor, "", models...)
		c, _ := openai.New(openai.Options{BaseURL: srv.URL})
		e := openai.NewEmbedder(c, "text-embedding-3-small", 4096)
		long := strings.Repeat("w ", 600)
		_, err := e.Embed(context.Background(), []string{long})
		if !errors.Is(err, embed.ErrInputTooLong) {
			t.Fatalf("%s: %v, want ErrInputTooLong", flavor, err)
		}
		if got := e.ContextLength(); got != 512 {
			t.Errorf("%s: limit %d after the refusal, want the server's 512", flavor, got)
		}
		calls := srv.Calls("/v1/embeddings")
		if _, err := e.Embed(context.Background(), []string{long}); !errors.Is(err, embed.ErrInputTooLong) || srv.Calls("/v1/embeddings") != calls {
			t.Errorf("%s: the second long input reached the server (%v)", flavor, err)
		}
	}
}

func TestStreamOptionsRefused(t *testing.T) {
	srv := openaitest.New(t, openaitest.OpenAI, "", models...)
	srv.RejectStreamOptions(true)
	srv.SetReply("a b c d e f")
	c, _ := openai.New(openai.Options{BaseURL: srv.URL})
	resp, err := c.Chat(context.Background(), llm.Request{Model: "gpt-4o-mini", Messages: []llm.Message{{Role: "user", Content: "q"}}}, nil)
	if err != nil || resp.Content != "a b c d e f" {
		t.Fatalf("%q, %v", resp.Content, err)
	}
	if _, ok := srv.LastChat()["stream_options"]; ok {
		t.Error("the retry still sent stream_options")
	}
}

func TestChatRequestShape(t *testing.T) {
	srv := openaitest.New(t, openaitest.OpenAI, "", models...)
	c, _ := openai.New(openai.Options{BaseURL: srv.URL})
	temp := 0.0
	_, err := c.Chat(context.Background(), llm.Request{Model: "gpt-4o-mini", Temperature: &temp, Format: []byte(`{"type":"object"}`),
		Messages: []llm.Message{{Role: "system", Content: "s"}, {Role: "user", Content: "q"}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	got := srv.LastChat()
	if got["stream"] != true || got["temperature"] != 0.0 {
		t.Errorf("stream %v, temperature %v", got["stream"], got["temperature"])
	}
	if so, _ := got["stream_options"].(map[string]any); so["include_usage"] != true {
		t.Errorf("stream_options %v, want include_usage", got["stream_options"])
	}
	if rf, _ := got["response_format"].(map[string]any); rf["type"] != "json_schema" {
		t.Errorf("response_format %v", got["response_format"])
	}
}

func TestDimensions(t *testing.T) {
	srv := openaitest.New(t, openaitest.OpenAI, "", models...)
	c, _ := openai.New(openai.Options{BaseURL: srv.URL, Dimensions: 64})
	v, err := openai.NewEmbedder(c, "text-embedding-3-small", 0).Embed(context.Background(), []string{"x"})
	if err != nil || len(v[0]) != 64 {
		t.Fatalf("%d dims, %v; want 64", len(v[0]), err)
	}
}

func TestKeyStaysHome(t *testing.T) {
	t.Setenv("OPENAI_API_KEY", "sk-from-the-environment")
	var leaked []string
	other := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		leaked = append(leaked, r.Header.Get("Authorization"))
	}))
	defer other.Close()
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if a := r.Header.Get("Authorization"); a != "" && a != "Bearer "+testKey {
			leaked = append(leaked, a)
		}
		http.Redirect(w, r, other.URL+r.URL.Path, http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c, _ := openai.New(openai.Options{BaseURL: redirect.URL + "/v1", Key: provider.NewKey(testKey, "OPENAI_API_KEY")})
	_, err := c.Models(context.Background())
	if err == nil {
		t.Error("a redirect to another host was followed")
	}
	if strings.Contains(err.Error(), testKey) {
		t.Errorf("key in the error: %v", err)
	}
	// Without a key of its own the client sends none, not $OPENAI_API_KEY.
	c, _ = openai.New(openai.Options{BaseURL: redirect.URL + "/v1"})
	c.Models(context.Background())
	if len(leaked) > 0 {
		t.Errorf("a key reached a server it was not meant for: %d times", len(leaked))
	}

	if _, err := openai.New(openai.Options{BaseURL: "http://gpu-box.lan:8000/v1", Key: provider.NewKey(testKey, "OPENAI_API_KEY")}); !errors.Is(err, provider.ErrInsecure) {
		t.Errorf("a key over plain HTTP to a remote host: %v, want ErrInsecure", err)
	}
	if _, err := openai.New(openai.Options{BaseURL: "http://gpu-box.lan:8000/v1", Key: provider.NewKey(testKey, "K"), AllowInsecure: true}); err != nil {
		t.Errorf("with AllowInsecure: %v", err)
	}
}

func TestModels(t *testing.T) {
	srv := openaitest.New(t, openaitest.OpenAI, testKey, models...)
	c, _ := openai.New(openai.Options{BaseURL: srv.URL, Key: provider.NewKey(testKey, "K")})
	ids, err := c.Models(context.Background())
	if err != nil || strings.Join(ids, ",") != "gpt-4o-mini,text-embedding-3-small" {
		t.Errorf("%v, %v", ids, err)
	}
	c, _ = openai.New(openai.Options{BaseURL: srv.URL, Key: provider.NewKey("sk-wrong-key-123456", "MY_KEY")})
	_, err = c.Models(context.Background())
	var ae *provider.AuthError
	if !errors.As(err, &ae) || ae.KeyEnv != "MY_KEY" || strings.Contains(err.Error(), "sk-wrong-key-123456") {
		t.Errorf("wrong key: %v", err)
	}
}
