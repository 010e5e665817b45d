package cohere_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/cohere"
	"github.com/ragcli/rag/internal/coheretest"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/providertest"
	"github.com/ragcli/rag/internal/rerank"
)

const testKey = "co-test-key-0123456789SECRET"

func fake(t *testing.T) (*coheretest.Server, providertest.Common, string) {
	srv := coheretest.New(t, testKey, []coheretest.Model{{Name: "embed-english-v3.0", Dim: 1024, ContextLength: 512}}, []string{"rerank-v3.5"}, []string{"command-r"})
	f := providertest.NewFaults(srv)
	url := f.Serve(t)
	return srv, providertest.Common{
		Faults: f, Key: testKey, KeyEnv: "COHERE_API_KEY", Timeouts: true,
		ErrorBody: func(status int, msg string) string { return coheretest.ErrorBody(msg) },
	}, url
}

func TestConformanceEmbedding(t *testing.T) {
	_, common, url := fake(t)
	common.Path = "/v2/embed"
	providertest.RunEmbedding(t, providertest.Embedding{
		Common: common,
		New: func(t testing.TB, c providertest.Config) embed.Embedder {
			cl, err := cohere.New(cohere.Options{BaseURL: url, Key: provider.NewKey(testKey, "COHERE_API_KEY"), Timeout: c.Timeout})
			if err != nil {
				t.Fatal(err)
			}
			typ := cohere.SearchDocument
			if c.Query {
				typ = cohere.SearchQuery
			}
			return &cohere.Embedder{Client: cl, Name: c.Model, InputType: typ, ContextLength: cl.ContextLength(context.Background(), c.Model)}
		},
		Model:         "embed-english-v3.0",
		Dim:           1024,
		ContextLength: 512,
		Decode: func(body []byte) ([]string, string, error) {
			var req coheretest.EmbedRequest
			err := json.Unmarshal(body, &req)
			return req.Texts, req.InputType, err
		},
		DocumentType: cohere.SearchDocument,
		QueryType:    cohere.SearchQuery,
		MaxBatch:     cohere.MaxTexts,
	})
}

// Chat goes through Cohere's OpenAI compatibility API.
func TestConformanceChat(t *testing.T) {
	srv, common, url := fake(t)
	common.Path = "/compatibility/v1/chat/completions"
	providertest.RunChat(t, providertest.Chat{
		Common: common,
		New: func(t testing.TB, c providertest.Config) llm.Client {
			cl, err := cohere.New(cohere.Options{BaseURL: url, Key: provider.NewKey(testKey, "COHERE_API_KEY")})
			if err != nil {
				t.Fatal(err)
			}
			ch, err := cl.Chat(openai.Options{Timeout: c.Timeout})
			if err != nil {
				t.Fatal(err)
			}
			return ch
		},
		Model:         "command-r",
		SetReply:      srv.Chat().SetReply,
		SetChunkDelay: func(d time.Duration) { srv.Chat().SetChunkDelay(d) },
		Usage:         true,
	})
}

func TestRerank(t *testing.T) {
	_, _, url := fake(t)
	cl, _ := cohere.New(cohere.Options{BaseURL: url, Key: provider.NewKey(testKey, "COHERE_API_KEY")})
	r, err := cl.Reranker("rerank-v3.5", 0)
	if err != nil {
		t.Fatal(err)
	}
	out, err := rerank.Apply(context.Background(), r, "retry policy", []string{"nothing", "retry", "retry policy"}, func(s string) string { return s }, 40)
	if err != nil || out[0].Item != "retry policy" || out[1].Item != "retry" {
		t.Errorf("%v, %v", out, err)
	}
	cl, _ = cohere.New(cohere.Options{BaseURL: url, Key: provider.NewKey("co-wrong-1234567", "COHERE_API_KEY")})
	r, _ = cl.Reranker("rerank-v3.5", 0)
	if _, err := r.Rerank(context.Background(), "q", []string{"a"}); !errors.As(err, new(*provider.AuthError)) {
		t.Errorf("wrong key: %v", err)
	}
}
