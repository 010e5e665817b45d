// Package cohere is rag's door to Cohere's API: embeddings with the input
// type Cohere's models need (search_document for chunks, search_query for
// queries), reranking through /v2/rerank (package rerank), and chat through
// Cohere's OpenAI compatibility API (package openai). Embed requests ask for
// truncate NONE, so an over-long input is refused, never silently cut, and
// inputs over the model's context length are refused before they are sent.
// It implements embed.Embedder.
package cohere

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"time"

	"github.com/ragcli/rag/internal/chunk"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/openai"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/rerank"
	"github.com/ragcli/rag/internal/retry"
)

// Defaults.
const (
	// DefaultBaseURL is Cohere's API. Choosing the cohere provider is
	// choosing this host.
	DefaultBaseURL = "https://api.cohere.com"
	// DefaultContext is embed-v3's window, used when /v1/models does not say.
	DefaultContext = 512
	// MaxTexts is the most texts one /v2/embed request takes.
	MaxTexts = 96

	SearchDocument = "search_document"
	SearchQuery    = "search_query"

	DialTimeout  = 3 * time.Second
	EmbedTimeout = 2 * time.Minute
)

// Options configure a Client.
type Options struct {
	BaseURL       string // DefaultBaseURL when empty
	Key           provider.Key
	AllowInsecure bool
	Timeout       time.Duration // per call; EmbedTimeout when 0
	// Retry is the policy for transient failures (internal/retry); the zero
	// value is retry.Default.
	Retry retry.Policy
}

// Client talks to Cohere.
type Client struct {
	base *url.URL
	http *http.Client
	o    Options
}

// New returns a client.
func New(o Options) (*Client, error) {
	if o.BaseURL == "" {
		o.BaseURL = DefaultBaseURL
	}
	base, err := provider.ParseBaseURL(o.BaseURL, o.Key, o.AllowInsecure)
	if err != nil {
		return nil, err
	}
	if o.Timeout <= 0 {
		o.Timeout = EmbedTimeout
	}
	return &Client{base: base, http: provider.HTTPClient(base, DialTimeout, o.Timeout), o: o}, nil
}

// Host is the base URL, for messages.
func (c *Client) Host() string { return c.base.String() }

// Reranker returns the /v2/rerank client for model, bounded by timeout.
func (c *Client) Reranker(model string, timeout time.Duration) (*rerank.Client, error) {
	return rerank.New(rerank.Options{URL: c.Host() + "/v2/rerank", Model: model, Key: c.o.Key, AllowInsecure: c.o.AllowInsecure, Timeout: timeout})
}

// Chat returns a chat client for Cohere's OpenAI compatibility API.
func (c *Client) Chat(o openai.Options) (*openai.Client, error) {
	o.BaseURL, o.Key, o.AllowInsecure = c.Host()+"/compatibility/v1", c.o.Key, c.o.AllowInsecure
	return openai.New(o)
}

var tooLongText = regexp.MustCompile(`(?i)too long|too many tokens|exceeds? the model's maximum context|maximum context length`)

// call posts body to path and decodes the answer into out, under the retry policy.
func (c *Client) call(ctx context.Context, method, path, model string, body, out any) error {
	try := func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
		defer cancel()
		var rd io.Reader
		if body != nil {
			b, err := json.Marshal(body)
			if err != nil {
				return err
			}
			rd = bytes.NewReader(b)
		}
		req, err := http.NewRequestWithContext(ctx, method, c.Host()+path, rd)
		if err != nil {
			return err
		}
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("Accept", "application/json")
		if c.o.Key.Set() {
			req.Header.Set("Authorization", "Bearer "+c.o.Key.Value())
		}
		resp, err := c.http.Do(req)
		if err != nil {
			return c.transportError(err)
		}
		defer resp.Body.Close()
		raw, err := io.ReadAll(io.LimitReader(resp.Body, 256<<20))
		if err != nil {
			return c.transportError(err)
		}
		if resp.StatusCode != http.StatusOK {
			return c.statusError(resp, raw, model)
		}
		if err := json.Unmarshal(raw, out); err != nil {
			return fmt.Errorf("cohere at %s: read answer: %w", c.Host(), err)
		}
		return nil
	}
	return retry.Do(ctx, c.o.Retry, try)
}

func (c *Client) transportError(err error) error {
	return provider.TransportError("cohere", c.Host(), c.o.Key, err)
}

func (c *Client) statusError(resp *http.Response, raw []byte, model string) error {
	var e struct {
		Message string `json:"message"`
	}
	json.Unmarshal(raw, &e)
	msg := provider.Message(cmp.Or(strings.TrimSpace(e.Message), string(raw)), c.o.Key)
	if resp.StatusCode == http.StatusBadRequest && tooLongText.MatchString(msg) {
		return fmt.Errorf("%w: %s", embed.ErrInputTooLong, msg)
	}
	return provider.AnswerError(c.Host(), resp.StatusCode, resp.Header, msg, c.o.Key, model)
}

type embedRequest struct {
	Model          string   `json:"model"`
	Texts          []string `json:"texts"`
	InputType      string   `json:"input_type"`
	EmbeddingTypes []string `json:"embedding_types"`
	Truncate       string   `json:"truncate"`
}

type embedResponse struct {
	Embeddings struct {
		Float [][]float32 `json:"float"`
	} `json:"embeddings"`
}

// Embed embeds texts with model as inputType, MaxTexts per request.
func (c *Client) Embed(ctx context.Context, model, inputType string, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for len(texts) > 0 {
		n := min(len(texts), MaxTexts)
		var resp embedResponse
		req := embedRequest{Model: model, Texts: texts[:n], InputType: inputType, EmbeddingTypes: []string{"float"}, Truncate: "NONE"}
		if err := c.call(ctx, http.MethodPost, "/v2/embed", model, req, &resp); err != nil {
			return nil, err
		}
		if len(resp.Embeddings.Float) != n {
			return nil, fmt.Errorf("cohere returned %d embeddings for %d texts", len(resp.Embeddings.Float), n)
		}
		out = append(out, resp.Embeddings.Float...)
		texts = texts[n:]
	}
	return out, nil
}

// ContextLength is model's window from /v1/models/{model}, DefaultContext
// when Cohere does not say.
func (c *Client) ContextLength(ctx context.Context, model string) int {
	var m struct {
		ContextLength int `json:"context_length"`
	}
	if err := c.call(ctx, http.MethodGet, "/v1/models/"+url.PathEscape(model), model, nil, &m); err != nil || m.ContextLength <= 0 {
		return DefaultContext
	}
	return m.ContextLength
}

// Embedder is an embed.Embedder for one model and one input type.
type Embedder struct {
	Client *Client
	Name   string
	// InputType is SearchDocument for what is indexed, SearchQuery for queries.
	InputType string
	// ContextLength bounds every input (DefaultContext when 0).
	ContextLength int
}

// Embed implements embed.Embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	limit := e.ContextLength
	if limit <= 0 {
		limit = DefaultContext
	}
	for i, t := range texts {
		if n := chunk.EstimateTokens(t); n > limit {
			return nil, fmt.Errorf("%w: input %d is about %d tokens, over %s's %d", embed.ErrInputTooLong, i, n, e.Name, limit)
		}
	}
	if len(texts) == 0 {
		return [][]float32{}, nil
	}
	return e.Client.Embed(ctx, e.Name, e.InputType, texts)
}

// Model implements embed.Embedder.
func (e *Embedder) Model() string { return e.Name }

var _ embed.Embedder = (*Embedder)(nil)
