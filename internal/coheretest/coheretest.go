// Package coheretest provides a fake Cohere API for tests: /v2/embed (with
// input_type and embedding_types, as cohere-go's V2EmbedRequest and
// EmbedByTypeResponse carry them), /v2/rerank (package reranktest's Cohere
// shape), /v1/models/{model} (context_length), and Cohere's OpenAI
// compatibility API under /compatibility/v1 (package openaitest). Errors are
// Cohere's {"id", "message"} bodies. Embeddings are ollamatest.Embed's; the
// input type is mixed into the vector, as a real model's would differ, so a
// test can tell which one was used. It listens only on 127.0.0.1.
package coheretest

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/openaitest"
	"github.com/ragcli/rag/internal/reranktest"
)

// MaxTexts is the most texts /v2/embed takes in one request.
const MaxTexts = 96

// Model is an embedding model the fake serves.
type Model struct {
	Name          string
	Dim           int // default 1024
	ContextLength int // default 512
}

// Server is a running fake.
type Server struct {
	URL string

	ts     *httptest.Server
	rerank *reranktest.Server
	compat *openaitest.Server

	mu     sync.Mutex
	key    string
	models map[string]Model
}

// New starts a fake with embedding models, the rerank models of rerankers
// and the chat models of chat, requiring key; closed when the test ends.
func New(t testing.TB, key string, embedding []Model, rerankers []string, chat []string) *Server {
	s := NewServer(key, embedding, rerankers, chat)
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and the fakes behind it.
func (s *Server) Close() {
	s.ts.Close()
	s.rerank.Close()
	s.compat.Close()
}

// NewServer is New for callers without a testing.TB; the caller must Close it.
func NewServer(key string, embedding []Model, rerankers []string, chat []string) *Server {
	s := &Server{key: key, models: map[string]Model{}}
	for _, m := range embedding {
		if m.Dim == 0 {
			m.Dim = 1024
		}
		if m.ContextLength == 0 {
			m.ContextLength = 512
		}
		s.models[m.Name] = m
	}
	s.rerank = reranktest.NewServer(key, rerankers...)
	var cm []openaitest.Model
	for _, c := range chat {
		cm = append(cm, openaitest.Model{ID: c})
	}
	s.compat = openaitest.NewServer(openaitest.OpenAI, key, cm...)
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Chat is the fake behind the compatibility API, to script its replies.
func (s *Server) Chat() *openaitest.Server { return s.compat }

// ErrorBody is Cohere's error body.
func ErrorBody(msg string) string {
	b, _ := json.Marshal(map[string]string{"id": "7a5d6c8e-fake", "message": msg})
	return string(b)
}

func fail(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	io.WriteString(w, ErrorBody(msg))
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch {
	case strings.HasPrefix(r.URL.Path, "/compatibility/"):
		proxy(w, r, s.compat.Origin+strings.TrimPrefix(r.URL.Path, "/compatibility"))
		return
	case r.URL.Path == "/v2/rerank":
		proxy(w, r, s.rerank.URL+r.URL.Path)
		return
	}
	if s.key != "" && r.Header.Get("Authorization") != "Bearer "+s.key {
		fail(w, http.StatusUnauthorized, "invalid api token")
		return
	}
	switch {
	case r.URL.Path == "/v2/embed" && r.Method == http.MethodPost:
		s.embed(w, r)
	case strings.HasPrefix(r.URL.Path, "/v1/models/") && r.Method == http.MethodGet:
		name := strings.TrimPrefix(r.URL.Path, "/v1/models/")
		m, ok := s.models[name]
		if !ok {
			fail(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found, make sure the correct model ID was used and that you have access to the model.", name))
			return
		}
		writeJSON(w, map[string]any{"name": m.Name, "endpoints": []string{"embed"}, "finetuned": false, "context_length": m.ContextLength, "features": nil})
	default:
		fail(w, http.StatusNotFound, "Not Found")
	}
}

// proxy passes a request on to another fake.
func proxy(w http.ResponseWriter, r *http.Request, to string) {
	req, _ := http.NewRequestWithContext(r.Context(), r.Method, to, r.Body)
	req.Header = r.Header.Clone()
	resp, err := http.DefaultTransport.RoundTrip(req)
	if err != nil {
		fail(w, http.StatusBadGateway, err.Error())
		return
	}
	defer resp.Body.Close()
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	rc := http.NewResponseController(w)
	buf := make([]byte, 4096)
	for {
		n, err := resp.Body.Read(buf)
		if n > 0 {
			w.Write(buf[:n])
			rc.Flush()
		}
		if err != nil {
			return
		}
	}
}

// EmbedRequest is cohere-go's V2EmbedRequest on the wire (the fields rag sends).
type EmbedRequest struct {
	Model          string   `json:"model"`
	Texts          []string `json:"texts"`
	InputType      string   `json:"input_type"`
	EmbeddingTypes []string `json:"embedding_types"`
	Truncate       string   `json:"truncate,omitempty"`
}

func (s *Server) embed(w http.ResponseWriter, r *http.Request) {
	var req EmbedRequest
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
		fail(w, http.StatusBadRequest, "invalid request: "+err.Error())
		return
	}
	m, ok := s.models[req.Model]
	if !ok {
		fail(w, http.StatusNotFound, fmt.Sprintf("model '%s' not found, make sure the correct model ID was used and that you have access to the model.", req.Model))
		return
	}
	switch req.InputType {
	case "search_document", "search_query", "classification", "clustering", "image":
	default:
		fail(w, http.StatusBadRequest, "invalid request: input_type must be one of search_document, search_query, classification, clustering, image")
		return
	}
	if len(req.Texts) == 0 || len(req.Texts) > MaxTexts {
		fail(w, http.StatusBadRequest, fmt.Sprintf("invalid request: texts must contain between 1 and %d items, received: %d", MaxTexts, len(req.Texts)))
		return
	}
	vecs := make([][]float32, len(req.Texts))
	tokens := 0
	for i, t := range req.Texts {
		n := ollamatest.CountTokens(t)
		if n > m.ContextLength {
			if req.Truncate == "NONE" {
				fail(w, http.StatusBadRequest, fmt.Sprintf("invalid request: text %d is too long: %d tokens exceeds the model's maximum context length of %d tokens; set truncate to START or END to truncate it", i, n, m.ContextLength))
				return
			}
			t, n = ollamatest.TruncateTokens(t, m.ContextLength), m.ContextLength // Cohere's default, END
		}
		vecs[i] = ollamatest.Embed(t, m.Dim)
		if req.InputType == "search_query" {
			// Queries and documents go through different heads; keep the
			// vector of a query close to, but not equal to, the document's.
			vecs[i][0] += 0.01
		}
		tokens += n
	}
	writeJSON(w, map[string]any{
		"id":            "d0c8b1f2-fake",
		"embeddings":    map[string]any{"float": vecs},
		"texts":         req.Texts,
		"meta":          map[string]any{"api_version": map[string]string{"version": "2"}, "billed_units": map[string]int{"input_tokens": tokens}},
		"response_type": "embeddings_by_type",
	})
}

func writeJSON(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}
