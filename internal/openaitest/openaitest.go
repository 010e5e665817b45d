// Package openaitest provides a fake OpenAI-compatible server for tests: the
// /v1/embeddings, /v1/chat/completions (streamed as server-sent events, with
// stream_options.include_usage) and /v1/models endpoints, with the request
// and response shapes of the official client's types (github.com/openai/openai-go/v3:
// EmbeddingNewParams, CreateEmbeddingResponse, ChatCompletionNewParams,
// ChatCompletionChunk, Model) and the error bodies the real servers send.
//
// Servers that speak this API differ where it matters to rag, and a Flavor
// picks one: OpenAI refuses an over-long input with "maximum context length",
// llama-server with an exceed_context_size_error and tells its window on
// /props, vLLM tells max_model_len in /v1/models, LM Studio max_context_length
// in /api/v0/models, and Ollama's /v1/embeddings silently truncates.
//
// Embeddings are ollamatest.Embed's deterministic feature hashes and tokens are
// ollamatest.CountTokens's words. It does not run models and only listens on
// 127.0.0.1.
package openaitest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/ollamatest"
)

// Flavor is which OpenAI-compatible server the fake behaves as.
type Flavor string

// Flavors.
const (
	OpenAI      Flavor = "openai"
	LlamaServer Flavor = "llama-server"
	VLLM        Flavor = "vllm"
	LMStudio    Flavor = "lmstudio"
	Ollama      Flavor = "ollama" // /v1 truncates over-long inputs silently
)

// Model is a model the fake serves.
type Model struct {
	ID            string
	Embedding     bool
	Dim           int // default 384
	ContextLength int // tokens; default 512 for embedding, 8192 for chat
}

// Server is a running fake. Its methods are safe for concurrent use.
type Server struct {
	URL    string // base URL with /v1, as OPENAI_BASE_URL takes it
	Origin string // scheme://host:port
	Flavor Flavor

	ts *httptest.Server

	mu         sync.Mutex
	key        string
	models     map[string]Model
	reply      string
	chunkDelay time.Duration
	noStreamOp bool
	lastChat   map[string]any
	calls      map[string]int
}

// New starts a fake of flavor with models, closed when the test ends. An
// empty key accepts any request (a local server); otherwise a request must
// carry "Authorization: Bearer key".
func New(t testing.TB, flavor Flavor, key string, models ...Model) *Server {
	s := NewServer(flavor, key, models...)
	t.Cleanup(s.Close)
	return s
}

// NewServer is New for callers without a testing.TB; the caller must Close it.
func NewServer(flavor Flavor, key string, models ...Model) *Server {
	s := &Server{Flavor: flavor, key: key, models: map[string]Model{}, calls: map[string]int{},
		reply: "According to the sources, the answer is in the first document [1]."}
	for _, m := range models {
		if m.Dim == 0 {
			m.Dim = 384
		}
		if m.ContextLength == 0 {
			m.ContextLength = 8192
			if m.Embedding {
				m.ContextLength = 512
			}
		}
		s.models[m.ID] = m
	}
	s.ts = httptest.NewServer(s)
	s.Origin = s.ts.URL
	s.URL = s.ts.URL + "/v1"
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// Handler is the fake's HTTP handler, to put a middleware in front.
func (s *Server) Handler() http.Handler { return s }

// SetReply scripts the text of every following chat answer.
func (s *Server) SetReply(text string) { s.mu.Lock(); s.reply = text; s.mu.Unlock() }

// SetChunkDelay pauses d before each streamed piece.
func (s *Server) SetChunkDelay(d time.Duration) { s.mu.Lock(); s.chunkDelay = d; s.mu.Unlock() }

// RejectStreamOptions makes the server refuse stream_options with a 400, as
// some older compatible servers do.
func (s *Server) RejectStreamOptions(on bool) { s.mu.Lock(); s.noStreamOp = on; s.mu.Unlock() }

// LastChat is the last chat request's JSON body, decoded.
func (s *Server) LastChat() map[string]any { s.mu.Lock(); defer s.mu.Unlock(); return s.lastChat }

// Calls counts the requests to path.
func (s *Server) Calls(path string) int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls[path] }

// apiError is the body of every error answer: openai-go's apierror.Error
// under "error" (OpenAI, Ollama, LM Studio, llama-server).
type apiError struct {
	Message string  `json:"message"`
	Type    string  `json:"type"`
	Param   *string `json:"param"`
	Code    any     `json:"code"`
	// llama-server adds the counts to its context-size error.
	NPromptTokens int `json:"n_prompt_tokens,omitempty"`
	NCtx          int `json:"n_ctx,omitempty"`
}

// ErrorBody is the error body the real server of flavor sends.
func ErrorBody(flavor Flavor, status int, msg string) string {
	var b []byte
	if flavor == VLLM {
		// vLLM's ErrorResponse is flat.
		b, _ = json.Marshal(map[string]any{"object": "error", "message": msg, "type": http.StatusText(status), "param": nil, "code": status})
	} else {
		b, _ = json.Marshal(map[string]any{"error": apiError{Message: msg, Type: errorType(status)}})
	}
	return string(b)
}

func errorType(status int) string {
	switch status {
	case 401, 403, 404, 400:
		return "invalid_request_error"
	case 429:
		return "rate_limit_exceeded"
	}
	return "server_error"
}

func (s *Server) fail(w http.ResponseWriter, status int, e apiError) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	if s.Flavor == VLLM {
		json.NewEncoder(w).Encode(map[string]any{"object": "error", "message": e.Message, "type": cmp.Or(e.Type, "BadRequestError"), "param": nil, "code": status})
		return
	}
	json.NewEncoder(w).Encode(map[string]any{"error": e})
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls[r.URL.Path]++
	key := s.key
	s.mu.Unlock()
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		shown := "none"
		if a := strings.TrimPrefix(r.Header.Get("Authorization"), "Bearer "); len(a) > 8 {
			shown = a[:3] + "*****" + a[len(a)-4:] // as OpenAI shows a wrong key
		}
		s.fail(w, http.StatusUnauthorized, apiError{Message: fmt.Sprintf("Incorrect API key provided: %s. You can find your API key at https://platform.openai.com/account/api-keys.", shown), Type: "invalid_request_error", Code: "invalid_api_key"})
		return
	}
	switch {
	case r.URL.Path == "/v1/embeddings" && r.Method == http.MethodPost:
		s.embeddings(w, r)
	case r.URL.Path == "/v1/chat/completions" && r.Method == http.MethodPost:
		s.chat(w, r)
	case r.URL.Path == "/v1/models" && r.Method == http.MethodGet:
		s.listModels(w)
	case r.URL.Path == "/props" && r.Method == http.MethodGet && s.Flavor == LlamaServer:
		s.props(w)
	case strings.HasPrefix(r.URL.Path, "/api/v0/models") && r.Method == http.MethodGet && s.Flavor == LMStudio:
		s.lmstudioModels(w, strings.TrimPrefix(strings.TrimPrefix(r.URL.Path, "/api/v0/models"), "/"))
	default:
		s.fail(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("Invalid URL (%s %s)", r.Method, r.URL.Path), Type: "invalid_request_error"})
	}
}

func (s *Server) lookup(w http.ResponseWriter, id string) (Model, bool) {
	s.mu.Lock()
	m, ok := s.models[id]
	s.mu.Unlock()
	if ok {
		return m, true
	}
	switch s.Flavor {
	case Ollama:
		s.fail(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("model %q not found, try pulling it first", id), Type: "api_error"})
	case VLLM:
		s.fail(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("The model `%s` does not exist.", id), Type: "NotFoundError"})
	default:
		s.fail(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("The model `%s` does not exist or you do not have access to it.", id), Type: "invalid_request_error", Code: "model_not_found"})
	}
	return Model{}, false
}

// embeddingRequest is openai.EmbeddingNewParams on the wire.
type embeddingRequest struct {
	Input          json.RawMessage `json:"input"`
	Model          string          `json:"model"`
	Dimensions     int             `json:"dimensions,omitempty"`
	EncodingFormat string          `json:"encoding_format,omitempty"`
	User           string          `json:"user,omitempty"`
}

// EmbeddingInputs decodes the input of an embeddings request body: a string
// or an array of strings.
func EmbeddingInputs(body []byte) ([]string, error) {
	var req embeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		return nil, err
	}
	var one string
	if json.Unmarshal(req.Input, &one) == nil {
		return []string{one}, nil
	}
	var many []string
	err := json.Unmarshal(req.Input, &many)
	return many, err
}

// embeddingResponse is openai.CreateEmbeddingResponse on the wire.
type embeddingResponse struct {
	Object string      `json:"object"`
	Data   []embedding `json:"data"`
	Model  string      `json:"model"`
	Usage  struct {
		PromptTokens int `json:"prompt_tokens"`
		TotalTokens  int `json:"total_tokens"`
	} `json:"usage"`
}

type embedding struct {
	Object    string    `json:"object"`
	Embedding []float32 `json:"embedding"`
	Index     int       `json:"index"`
}

func (s *Server) embeddings(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req embeddingRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, http.StatusBadRequest, apiError{Message: "We could not parse the JSON body of your request.", Type: "invalid_request_error"})
		return
	}
	inputs, err := EmbeddingInputs(body)
	if err != nil || len(inputs) == 0 {
		s.fail(w, http.StatusBadRequest, apiError{Message: "'input' : input must be a string or an array of strings", Type: "invalid_request_error"})
		return
	}
	m, ok := s.lookup(w, req.Model)
	if !ok {
		return
	}
	if !m.Embedding {
		s.fail(w, http.StatusBadRequest, apiError{Message: fmt.Sprintf("model %q does not support embeddings", req.Model), Type: "invalid_request_error"})
		return
	}
	if req.EncodingFormat != "" && req.EncodingFormat != "float" {
		s.fail(w, http.StatusBadRequest, apiError{Message: "the fake only answers encoding_format float", Type: "invalid_request_error"})
		return
	}
	resp := embeddingResponse{Object: "list", Model: req.Model}
	for i, text := range inputs {
		n := ollamatest.CountTokens(text)
		if n > m.ContextLength {
			switch s.Flavor {
			case Ollama:
				text, n = ollamatest.TruncateTokens(text, m.ContextLength), m.ContextLength
			case LlamaServer:
				s.fail(w, http.StatusBadRequest, apiError{Message: "the request exceeds the available context size, try increasing it", Type: "exceed_context_size_error", NPromptTokens: n, NCtx: m.ContextLength})
				return
			case VLLM:
				s.fail(w, http.StatusBadRequest, apiError{Message: fmt.Sprintf("This model's maximum context length is %d tokens. However, you requested %d tokens in the input for embedding generation. Please reduce the length of the input.", m.ContextLength, n), Type: "BadRequestError"})
				return
			default:
				s.fail(w, http.StatusBadRequest, apiError{Message: fmt.Sprintf("This model's maximum context length is %d tokens, however you requested %d tokens (%d in your prompt; 0 for the completion). Please reduce your prompt; or completion length.", m.ContextLength, n, n), Type: "invalid_request_error"})
				return
			}
		}
		v := ollamatest.Embed(text, m.Dim)
		if req.Dimensions > 0 && req.Dimensions < len(v) {
			// A Matryoshka model's leading dimensions keep the meaning; the
			// fake's cut bag of words would lose words, so it embeds at the
			// size asked for instead.
			v = ollamatest.Embed(text, req.Dimensions)
		}
		resp.Data = append(resp.Data, embedding{Object: "embedding", Embedding: v, Index: i})
		resp.Usage.PromptTokens += n
	}
	resp.Usage.TotalTokens = resp.Usage.PromptTokens
	writeJSON(w, resp)
}

func normalize(v []float32) []float32 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	out := make([]float32, len(v))
	if sum == 0 {
		return out
	}
	n := float32(1 / math.Sqrt(sum))
	for i, x := range v {
		out[i] = x * n
	}
	return out
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// chatRequest is the part of openai.ChatCompletionNewParams the fake reads.
type chatRequest struct {
	Model    string `json:"model"`
	Messages []struct {
		Role    string `json:"role"`
		Content any    `json:"content"`
	} `json:"messages"`
	Stream        bool `json:"stream"`
	StreamOptions *struct {
		IncludeUsage bool `json:"include_usage"`
	} `json:"stream_options"`
}

// chunk is openai.ChatCompletionChunk on the wire.
type chunk struct {
	ID      string        `json:"id"`
	Object  string        `json:"object"`
	Created int64         `json:"created"`
	Model   string        `json:"model"`
	Choices []chunkChoice `json:"choices"`
	Usage   *usage        `json:"usage"`
}

type chunkChoice struct {
	Index int `json:"index"`
	Delta struct {
		Role    string `json:"role,omitempty"`
		Content string `json:"content,omitempty"`
	} `json:"delta"`
	FinishReason *string `json:"finish_reason"`
}

// usage is openai.CompletionUsage.
type usage struct {
	PromptTokens     int `json:"prompt_tokens"`
	CompletionTokens int `json:"completion_tokens"`
	TotalTokens      int `json:"total_tokens"`
}

func (s *Server) chat(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	var req chatRequest
	if err := json.Unmarshal(body, &req); err != nil {
		s.fail(w, http.StatusBadRequest, apiError{Message: "We could not parse the JSON body of your request.", Type: "invalid_request_error"})
		return
	}
	var raw map[string]any
	json.Unmarshal(body, &raw)
	s.mu.Lock()
	s.lastChat = raw
	reply, delay, noOpts := s.reply, s.chunkDelay, s.noStreamOp
	s.mu.Unlock()
	m, ok := s.lookup(w, req.Model)
	if !ok {
		return
	}
	if m.Embedding {
		s.fail(w, http.StatusBadRequest, apiError{Message: fmt.Sprintf("%q does not support chat", req.Model), Type: "invalid_request_error"})
		return
	}
	if req.StreamOptions != nil && noOpts {
		s.fail(w, http.StatusBadRequest, apiError{Message: "Unrecognized request argument supplied: stream_options", Type: "invalid_request_error"})
		return
	}
	prompt := 0
	for _, msg := range req.Messages {
		if c, ok := msg.Content.(string); ok {
			prompt += ollamatest.CountTokens(c)
		}
	}
	u := &usage{PromptTokens: prompt, CompletionTokens: ollamatest.CountTokens(reply)}
	u.TotalTokens = u.PromptTokens + u.CompletionTokens
	stop := "stop"
	if !req.Stream {
		writeJSON(w, map[string]any{
			"id": "chatcmpl-fake", "object": "chat.completion", "created": time.Now().Unix(), "model": req.Model,
			"choices": []any{map[string]any{"index": 0, "message": map[string]any{"role": "assistant", "content": reply}, "finish_reason": stop}},
			"usage":   u,
		})
		return
	}
	w.Header().Set("Content-Type", "text/event-stream")
	w.Header().Set("Cache-Control", "no-cache")
	w.WriteHeader(http.StatusOK)
	rc := http.NewResponseController(w)
	send := func(c chunk) bool {
		b, _ := json.Marshal(c)
		if _, err := fmt.Fprintf(w, "data: %s\n\n", b); err != nil {
			return false
		}
		return rc.Flush() == nil
	}
	base := chunk{ID: "chatcmpl-fake", Object: "chat.completion.chunk", Created: time.Now().Unix(), Model: req.Model}
	for i, piece := range pieces(reply) {
		if delay > 0 {
			select {
			case <-time.After(delay):
			case <-r.Context().Done():
				return
			}
		}
		c := base
		ch := chunkChoice{}
		if i == 0 {
			ch.Delta.Role = "assistant"
		}
		ch.Delta.Content = piece
		c.Choices = []chunkChoice{ch}
		if !send(c) {
			return
		}
	}
	end := base
	end.Choices = []chunkChoice{{FinishReason: &stop}}
	send(end)
	if req.StreamOptions != nil && req.StreamOptions.IncludeUsage {
		last := base
		last.Choices = []chunkChoice{}
		last.Usage = u
		send(last)
	}
	fmt.Fprint(w, "data: [DONE]\n\n")
	rc.Flush()
}

// pieces cuts text after every third space, keeping every byte.
func pieces(text string) []string {
	var out []string
	spaces, last := 0, 0
	for i, r := range text {
		if r == ' ' {
			if spaces++; spaces%3 == 0 {
				out = append(out, text[last:i+1])
				last = i + 1
			}
		}
	}
	if last < len(text) || len(out) == 0 {
		out = append(out, text[last:])
	}
	return out
}

func (s *Server) sorted() []Model {
	s.mu.Lock()
	defer s.mu.Unlock()
	var ms []Model
	for _, m := range s.models {
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Model) int { return cmp.Compare(a.ID, b.ID) })
	return ms
}

// listModels answers /v1/models with openai.Model entries; vLLM adds
// max_model_len.
func (s *Server) listModels(w http.ResponseWriter) {
	var data []map[string]any
	for _, m := range s.sorted() {
		e := map[string]any{"id": m.ID, "object": "model", "created": 1700000000, "owned_by": "organization-owner"}
		if s.Flavor == VLLM {
			e["max_model_len"] = m.ContextLength
			e["owned_by"] = "vllm"
		}
		data = append(data, e)
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}

// props answers llama-server's /props: its one model's window.
func (s *Server) props(w http.ResponseWriter) {
	ms := s.sorted()
	n := 0
	if len(ms) > 0 {
		n = ms[0].ContextLength
	}
	writeJSON(w, map[string]any{
		"default_generation_settings": map[string]any{"n_ctx": n, "params": map[string]any{}},
		"total_slots":                 1,
		"model_path":                  "/models/model.gguf",
	})
}

// lmstudioModels answers LM Studio's /api/v0/models[/ID].
func (s *Server) lmstudioModels(w http.ResponseWriter, id string) {
	entry := func(m Model) map[string]any {
		typ := "llm"
		if m.Embedding {
			typ = "embeddings"
		}
		return map[string]any{"id": m.ID, "object": "model", "type": typ, "state": "loaded", "max_context_length": m.ContextLength}
	}
	if id != "" {
		s.mu.Lock()
		m, ok := s.models[id]
		s.mu.Unlock()
		if !ok {
			s.fail(w, http.StatusNotFound, apiError{Message: fmt.Sprintf("Model %q not found", id)})
			return
		}
		writeJSON(w, entry(m))
		return
	}
	var data []map[string]any
	for _, m := range s.sorted() {
		data = append(data, entry(m))
	}
	writeJSON(w, map[string]any{"object": "list", "data": data})
}
