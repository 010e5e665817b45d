// Package openai is rag's door to a server that speaks the OpenAI API: OpenAI
// itself, llama.cpp's llama-server, vLLM, LM Studio, LocalAI, Ollama's /v1,
// text-embeddings-inference. It wraps the official client
// (github.com/openai/openai-go/v3) for /v1/embeddings, streamed
// /v1/chat/completions and /v1/models, with a deadline on every call, the
// shared retry policy, and the servers' answers turned into the errors rag
// acts on (internal/provider, embed.ErrInputTooLong). It implements
// embed.Embedder and llm.Client.
//
// Servers differ in what they tell about a model's context length, and some
// (Ollama's /v1/embeddings) silently truncate an input that is too long. So
// the embedder keeps every input within the context length itself, with the
// chunker's estimator that overcounts, and the length is taken from what the
// server tells (vLLM's and LM Studio's model listings, llama-server's /props,
// the text of a "too long" refusal), else from the configuration, else a
// conservative default. It does not batch for throughput (ingest does), print,
// or read the environment.
package openai

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/openai/openai-go/v3"
	"github.com/openai/openai-go/v3/option"
	"github.com/openai/openai-go/v3/shared"

	"github.com/ragcli/rag/internal/chunk"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/retry"
)

// Defaults.
const (
	// DefaultEmbedContext is the context length assumed for an embedding model
	// whose server does not tell it: the smallest window of the common
	// embedding models (all-minilm, bge-small, e5-small), so chunks fit every
	// one of them. Raise it with --embed-context (config embed_context).
	DefaultEmbedContext = 512
	// DefaultChatContext is the window assumed for a chat model whose server
	// does not tell it. Raise it with --chat-context (config chat_context).
	DefaultChatContext = 4096
	// MaxBatch is the most inputs OpenAI takes in one embeddings request.
	MaxBatch = 2048

	DialTimeout     = 3 * time.Second
	EmbedTimeout    = 5 * time.Minute
	InfoTimeout     = 30 * time.Second
	ChatIdleTimeout = 5 * time.Minute
)

// Options configure a Client.
type Options struct {
	// BaseURL is the API's base, usually ending in /v1
	// ("http://127.0.0.1:8080/v1", "https://api.openai.com/v1").
	BaseURL string
	Key     provider.Key
	// AllowInsecure lets a key travel over plain HTTP to a remote host.
	AllowInsecure bool
	// Timeout, when set, replaces EmbedTimeout and ChatIdleTimeout.
	Timeout time.Duration
	// EmbedContext and ChatContext, when set, are the context lengths to use
	// whatever the server tells.
	EmbedContext, ChatContext int
	// Dimensions, when set, asks for vectors of that many dimensions
	// (text-embedding-3 models).
	Dimensions int
	// Retry is the policy for transient failures (internal/retry); the zero
	// value is retry.Default.
	Retry retry.Policy
}

// Client talks to one OpenAI-compatible server.
type Client struct {
	api  openai.Client
	http *http.Client
	base *url.URL
	o    Options
}

// New returns a client for o.BaseURL. It refuses a key over plain HTTP to a
// host other than this machine unless o.AllowInsecure.
func New(o Options) (*Client, error) {
	base, err := provider.ParseBaseURL(o.BaseURL, o.Key, o.AllowInsecure)
	if err != nil {
		return nil, err
	}
	hc := provider.HTTPClient(base, DialTimeout, o.chatIdle())
	opts := []option.RequestOption{
		option.WithBaseURL(base.String() + "/"),
		option.WithHTTPClient(hc),
		option.WithMaxRetries(0), // the shared policy retries, not the client
		option.WithAPIKey(o.Key.Value()),
	}
	if !o.Key.Set() {
		// Never let the client fall back on $OPENAI_API_KEY: a key goes only
		// where the user sent it.
		opts = append(opts, option.WithHeaderDel("Authorization"))
	}
	return &Client{api: openai.NewClient(opts...), http: hc, base: base, o: o}, nil
}

func (o Options) chatIdle() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return ChatIdleTimeout
}

func (o Options) embedTimeout() time.Duration {
	if o.Timeout > 0 {
		return o.Timeout
	}
	return EmbedTimeout
}

// Host is the base URL, for messages.
func (c *Client) Host() string { return c.base.String() }

func (c *Client) retry(ctx context.Context, fn func(context.Context) error) error {
	return retry.Do(ctx, c.o.Retry, fn)
}

// tooLong recognises each server's refusal of an over-long input, and the
// window it names when it names one.
var (
	tooLongText = regexp.MustCompile(`(?i)maximum context length|exceeds? the (available )?context|context length exceeded|context_length_exceeded|too many tokens|must have less than \d+ tokens|input is too (large|long)|exceed_context_size`)
	limitText   = regexp.MustCompile(`(?i)(?:maximum context length is|must have less than|context length of|n_ctx[" :=]+)\s*(\d+)`)
)

// TooLongError is the server's refusal of an input over the context length.
// It is an embed.ErrInputTooLong; Limit is the window the server named, 0
// when it named none.
type TooLongError struct {
	Msg   string
	Limit int
}

func (e *TooLongError) Error() string             { return fmt.Sprintf("%s: %s", embed.ErrInputTooLong, e.Msg) }
func (e *TooLongError) Is(target error) bool      { return target == embed.ErrInputTooLong }
func (e *TooLongError) Unwrap() error             { return nil }
func (e *TooLongError) Transient() bool           { return false }
func (e *TooLongError) RetryAfter() time.Duration { return 0 }

// classify turns the client's error into one of rag's.
func (c *Client) classify(model string, err error) error {
	if err == nil || errors.Is(err, context.Canceled) {
		return err
	}
	var ae *openai.Error
	if errors.As(err, &ae) {
		msg := ae.Message
		raw := c.o.Key.Redact(ae.RawJSON())
		if strings.TrimSpace(msg) == "" && ae.Response != nil && ae.Response.Body != nil {
			// vLLM's error body is flat: {"object": "error", "message": ...}.
			body, _ := io.ReadAll(io.LimitReader(ae.Response.Body, 64<<10))
			msg = vllmMessage(string(body))
		}
		msg = provider.Message(msg, c.o.Key)
		if code := ae.StatusCode; (code == http.StatusBadRequest || code == http.StatusRequestEntityTooLarge || code == 422) &&
			(tooLongText.MatchString(msg) || tooLongText.MatchString(ae.Type) || tooLongText.MatchString(ae.Code)) {
			return &TooLongError{Msg: msg, Limit: limitOf(msg, raw)}
		}
		var header http.Header
		if ae.Response != nil {
			header = ae.Response.Header
		}
		return provider.AnswerError(c.Host(), ae.StatusCode, header, msg, c.o.Key, model)
	}
	return provider.TransportError("", c.Host(), c.o.Key, err)
}

// vllmMessage reads vLLM's flat error body.
func vllmMessage(raw string) string {
	var v struct {
		Message string `json:"message"`
	}
	json.Unmarshal([]byte(raw), &v)
	return v.Message
}

func limitOf(msg, raw string) int {
	var v struct {
		NCtx int `json:"n_ctx"` // llama-server
	}
	if json.Unmarshal([]byte(raw), &v) == nil && v.NCtx > 0 {
		return v.NCtx
	}
	if m := limitText.FindStringSubmatch(msg); m != nil {
		n, _ := strconv.Atoi(m[1])
		return n
	}
	return 0
}

// Embed embeds texts with model in one request each MaxBatch, never
// truncating: the server's refusal is an embed.ErrInputTooLong.
func (c *Client) Embed(ctx context.Context, model string, texts []string) ([][]float32, error) {
	out := make([][]float32, 0, len(texts))
	for len(texts) > 0 {
		n := min(len(texts), MaxBatch)
		vecs, err := c.embedBatch(ctx, model, texts[:n])
		if err != nil {
			return nil, err
		}
		out = append(out, vecs...)
		texts = texts[n:]
	}
	return out, nil
}

func (c *Client) embedBatch(ctx context.Context, model string, texts []string) ([][]float32, error) {
	params := openai.EmbeddingNewParams{
		Input:          openai.EmbeddingNewParamsInputUnion{OfArrayOfStrings: texts},
		Model:          openai.EmbeddingModel(model),
		EncodingFormat: openai.EmbeddingNewParamsEncodingFormatFloat,
	}
	if c.o.Dimensions > 0 {
		params.Dimensions = openai.Int(int64(c.o.Dimensions))
	}
	var resp *openai.CreateEmbeddingResponse
	err := c.retry(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, c.o.embedTimeout())
		defer cancel()
		var err error
		resp, err = c.api.Embeddings.New(ctx, params)
		return c.classify(model, err)
	})
	if err != nil {
		return nil, err
	}
	if len(resp.Data) != len(texts) {
		return nil, fmt.Errorf("%s returned %d embeddings for %d inputs", c.Host(), len(resp.Data), len(texts))
	}
	out := make([][]float32, len(texts))
	for _, d := range resp.Data {
		if d.Index < 0 || int(d.Index) >= len(out) || out[d.Index] != nil {
			return nil, fmt.Errorf("%s returned an embedding with index %d for %d inputs", c.Host(), d.Index, len(texts))
		}
		v := make([]float32, len(d.Embedding))
		for i, x := range d.Embedding {
			v[i] = float32(x)
		}
		out[d.Index] = v
	}
	return out, nil
}

// Models lists the server's model IDs.
func (c *Client) Models(ctx context.Context) ([]string, error) {
	entries, err := c.modelEntries(ctx)
	if err != nil {
		return nil, err
	}
	ids := make([]string, len(entries))
	for i, e := range entries {
		ids[i] = e.ID
	}
	return ids, nil
}

func (c *Client) modelEntries(ctx context.Context) ([]openai.Model, error) {
	var page []openai.Model
	err := c.retry(ctx, func(ctx context.Context) error {
		ctx, cancel := context.WithTimeout(ctx, InfoTimeout)
		defer cancel()
		p, err := c.api.Models.List(ctx)
		if err != nil {
			return c.classify("", err)
		}
		page = p.Data
		return nil
	})
	return page, err
}

// Context sources, as ContextLength reports them.
const (
	FromConfig  = "configured"
	FromModels  = "the server's model listing"
	FromProps   = "llama-server's /props"
	FromDefault = "default"
)

// ContextLength returns model's context length in tokens and where it came
// from: the configured value, else what the server tells, else the default.
// embedding picks the embedding or the chat setting and default.
func (c *Client) ContextLength(ctx context.Context, model string, embedding bool) (int, string) {
	conf, def := c.o.ChatContext, DefaultChatContext
	if embedding {
		conf, def = c.o.EmbedContext, DefaultEmbedContext
	}
	if conf > 0 {
		return conf, FromConfig
	}
	if n := c.toldContext(ctx, model); n > 0 {
		return n, FromModels
	}
	if n := c.propsContext(ctx); n > 0 {
		return n, FromProps
	}
	return def, FromDefault
}

// toldContext reads the window from the model listings that carry one:
// vLLM's max_model_len in /v1/models, LM Studio's max_context_length in
// /api/v0/models/ID, context_length of OpenRouter-style listings.
func (c *Client) toldContext(ctx context.Context, model string) int {
	entries, err := c.modelEntries(ctx)
	if err == nil {
		for _, e := range entries {
			if e.ID == model {
				if n := contextField(e.RawJSON()); n > 0 {
					return n
				}
			}
		}
	}
	var lm map[string]any
	if c.getJSON(ctx, c.origin()+"/api/v0/models/"+url.PathEscape(model), &lm) == nil {
		if b, err := json.Marshal(lm); err == nil {
			return contextField(string(b))
		}
	}
	return 0
}

func contextField(raw string) int {
	var m map[string]any
	if json.Unmarshal([]byte(raw), &m) != nil {
		return 0
	}
	for _, k := range []string{"max_model_len", "max_context_length", "context_length", "context_window"} {
		if f, ok := m[k].(float64); ok && f > 0 {
			return int(f)
		}
	}
	return 0
}

// propsContext reads llama-server's /props.
func (c *Client) propsContext(ctx context.Context) int {
	var p struct {
		Settings struct {
			NCtx int `json:"n_ctx"`
		} `json:"default_generation_settings"`
	}
	if c.getJSON(ctx, c.origin()+"/props", &p) != nil {
		return 0
	}
	return p.Settings.NCtx
}

// origin is the base URL without its /v1 path: where llama-server and LM
// Studio serve their own endpoints.
func (c *Client) origin() string {
	u := *c.base
	u.Path = strings.TrimSuffix(u.Path, "/v1")
	return u.String()
}

// getJSON reads a server's own (non-OpenAI) endpoint, with the key, once,
// quickly: these are hints, never needed.
func (c *Client) getJSON(ctx context.Context, u string, v any) error {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	if c.o.Key.Set() {
		req.Header.Set("Authorization", "Bearer "+c.o.Key.Value())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s", resp.Status)
	}
	return json.NewDecoder(io.LimitReader(resp.Body, 1<<20)).Decode(v)
}

// ErrChatIdle: the server stopped streaming an answer for the idle timeout.
var ErrChatIdle = errors.New("no answer within the idle timeout")

// Chat streams one answer from /v1/chat/completions, asking for token usage
// in the stream (stream_options.include_usage) and asking again without it
// from a server that refuses the option.
func (c *Client) Chat(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	params := openai.ChatCompletionNewParams{Model: shared.ChatModel(req.Model)}
	for _, m := range req.Messages {
		switch m.Role {
		case "system":
			params.Messages = append(params.Messages, openai.SystemMessage(m.Content))
		case "assistant":
			params.Messages = append(params.Messages, openai.AssistantMessage(m.Content))
		default:
			params.Messages = append(params.Messages, openai.UserMessage(m.Content))
		}
	}
	if req.Temperature != nil {
		params.Temperature = openai.Float(*req.Temperature)
	}
	if f := strings.TrimSpace(string(req.Format)); f != "" {
		var schema map[string]any
		if json.Unmarshal(req.Format, &schema) == nil {
			params.ResponseFormat.OfJSONSchema = &shared.ResponseFormatJSONSchemaParam{
				JSONSchema: shared.ResponseFormatJSONSchemaJSONSchemaParam{Name: "answer", Schema: schema},
			}
		} else {
			params.ResponseFormat.OfJSONObject = &shared.ResponseFormatJSONObjectParam{}
		}
	}
	params.StreamOptions.IncludeUsage = openai.Bool(true)
	var out llm.Response
	started := false
	err := c.retry(ctx, func(ctx context.Context) error {
		var err error
		out, started, err = c.stream(ctx, req.Model, params, onDelta)
		if err != nil && !started && streamOptionsRefused(err) {
			params.StreamOptions = openai.ChatCompletionStreamOptionsParam{}
			out, started, err = c.stream(ctx, req.Model, params, onDelta)
		}
		if started && err != nil {
			// Part of the answer is out: another try would repeat it.
			return permanent{err}
		}
		return err
	})
	var p permanent
	if errors.As(err, &p) {
		err = p.err
	}
	return out, err
}

// permanent stops the retry of a chat whose answer has begun.
type permanent struct{ err error }

func (p permanent) Error() string   { return p.err.Error() }
func (p permanent) Unwrap() error   { return p.err }
func (p permanent) Transient() bool { return false }

func streamOptionsRefused(err error) bool {
	var se *provider.StatusError
	return errors.As(err, &se) && se.Code == http.StatusBadRequest && strings.Contains(se.Msg, "stream_options")
}

func (c *Client) stream(ctx context.Context, model string, params openai.ChatCompletionNewParams, onDelta func(string) error) (llm.Response, bool, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	idle := time.AfterFunc(c.o.chatIdle(), func() { cancel(ErrChatIdle) })
	defer idle.Stop()

	var out llm.Response
	var b strings.Builder
	started, finished := false, false
	s := c.api.Chat.Completions.NewStreaming(ctx, params)
	defer s.Close()
	var cbErr error
	for s.Next() {
		idle.Reset(c.o.chatIdle())
		ch := s.Current()
		if ch.Usage.PromptTokens > 0 || ch.Usage.CompletionTokens > 0 {
			out.PromptTokens, out.OutputTokens = int(ch.Usage.PromptTokens), int(ch.Usage.CompletionTokens)
		}
		for _, choice := range ch.Choices {
			if choice.FinishReason != "" {
				finished = true
				out.CutAtLimit = choice.FinishReason == "length"
			}
			if d := choice.Delta.Content; d != "" {
				started = true
				b.WriteString(d)
				if onDelta != nil {
					if cbErr = onDelta(d); cbErr != nil {
						break
					}
				}
			}
		}
		if cbErr != nil {
			break
		}
	}
	out.Content = b.String()
	if cbErr != nil {
		return out, true, permanent{cbErr}
	}
	err := s.Err()
	if err == nil && !finished {
		// A stream cut short is never a whole answer.
		if err = context.Cause(ctx); err == nil {
			err = io.ErrUnexpectedEOF
		}
	}
	if err != nil {
		if errors.Is(context.Cause(ctx), ErrChatIdle) {
			return out, started, fmt.Errorf("%s stopped answering: %w", c.Host(), ErrChatIdle)
		}
		return out, started, c.classify(model, err)
	}
	return out, started, nil
}

// Embedder is an embed.Embedder for one model on one server. It refuses an
// input its estimate puts over the context length before the server sees it,
// since some servers truncate silently, and lowers the length to what a
// server's refusal names.
type Embedder struct {
	Client *Client
	Name   string
	limit  atomic.Int64
}

// NewEmbedder returns the embedder of model with a context length of
// contextLength tokens (DefaultEmbedContext when 0).
func NewEmbedder(c *Client, model string, contextLength int) *Embedder {
	e := &Embedder{Client: c, Name: model}
	if contextLength <= 0 {
		contextLength = DefaultEmbedContext
	}
	e.limit.Store(int64(contextLength))
	return e
}

// ContextLength is the window the embedder keeps inputs within.
func (e *Embedder) ContextLength() int { return int(e.limit.Load()) }

// Embed implements embed.Embedder.
func (e *Embedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	limit := e.ContextLength()
	for i, t := range texts {
		if n := chunk.EstimateTokens(t); n > limit {
			return nil, fmt.Errorf("%w: input %d is about %d tokens, over %s's %d", embed.ErrInputTooLong, i, n, e.Name, limit)
		}
	}
	vecs, err := e.Client.Embed(ctx, e.Name, texts)
	var tl *TooLongError
	if errors.As(err, &tl) && tl.Limit > 0 && int64(tl.Limit) < e.limit.Load() {
		e.limit.Store(int64(tl.Limit))
	}
	return vecs, err
}

// Model implements embed.Embedder.
func (e *Embedder) Model() string { return e.Name }

var (
	_ embed.Embedder = (*Embedder)(nil)
	_ llm.Client     = (*Client)(nil)
)
