// Package reranktest provides a fake reranking server for tests. It answers
// POST /v1/rerank and /rerank in the shape llama-server, vLLM and Jina share
// ({model, query, documents, top_n} -> {results: [{index, relevance_score}]}),
// /rerank with {query, texts} as text-embeddings-inference does
// ([{index, score}]), and /v2/rerank as Cohere does (with id and meta).
//
// A document's score is the share of the query's distinct words (as
// ollamatest.Words reads them) that it contains, so tests can predict the
// order. It runs no model and only listens on 127.0.0.1.
package reranktest

import (
	"cmp"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/ollamatest"
)

// Server is a running fake reranker.
type Server struct {
	URL string

	ts *httptest.Server

	mu      sync.Mutex
	key     string
	models  map[string]bool
	latency time.Duration
	calls   int
	last    []string // the documents of the last request
}

// New starts a fake reranker serving models, closed when the test ends; a
// non-empty key is required as a bearer token.
func New(t testing.TB, key string, models ...string) *Server {
	s := NewServer(key, models...)
	t.Cleanup(s.Close)
	return s
}

// NewServer is New for callers without a testing.TB; the caller must Close it.
func NewServer(key string, models ...string) *Server {
	s := &Server{key: key, models: map[string]bool{}}
	for _, m := range models {
		s.models[m] = true
	}
	s.ts = httptest.NewServer(s)
	s.URL = s.ts.URL
	return s
}

// Close stops the server.
func (s *Server) Close() { s.ts.Close() }

// SetLatency delays every answer by d (or until the client gives up).
func (s *Server) SetLatency(d time.Duration) { s.mu.Lock(); s.latency = d; s.mu.Unlock() }

// Calls counts the rerank requests.
func (s *Server) Calls() int { s.mu.Lock(); defer s.mu.Unlock(); return s.calls }

// LastDocuments returns the documents of the last request.
func (s *Server) LastDocuments() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return slices.Clone(s.last)
}

// Score is the fake's relevance of doc to query.
func Score(query, doc string) float64 {
	q := map[string]bool{}
	for _, w := range ollamatest.Words(query) {
		q[w] = true
	}
	if len(q) == 0 {
		return 0
	}
	found := map[string]bool{}
	for _, w := range ollamatest.Words(doc) {
		if q[w] {
			found[w] = true
		}
	}
	return float64(len(found)) / float64(len(q))
}

type request struct {
	Model     string   `json:"model"`
	Query     string   `json:"query"`
	Documents []string `json:"documents"`
	Texts     []string `json:"texts"`
	TopN      int      `json:"top_n"`
}

type result struct {
	Index          int     `json:"index"`
	RelevanceScore float64 `json:"relevance_score"`
}

func fail(w http.ResponseWriter, status int, body any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	s.calls++
	latency, key := s.latency, s.key
	s.mu.Unlock()
	body, _ := io.ReadAll(r.Body) // read first, so a client that gives up cancels the wait
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	cohere := r.URL.Path == "/v2/rerank"
	if r.Method != http.MethodPost || r.URL.Path != "/v1/rerank" && r.URL.Path != "/rerank" && !cohere {
		fail(w, http.StatusNotFound, map[string]any{"error": map[string]any{"message": "File Not Found", "type": "not_found_error", "code": 404}})
		return
	}
	if key != "" && r.Header.Get("Authorization") != "Bearer "+key {
		if cohere {
			fail(w, http.StatusUnauthorized, map[string]string{"id": "fake", "message": "invalid api token"})
		} else {
			fail(w, http.StatusUnauthorized, map[string]any{"error": map[string]any{"message": "Invalid API Key", "type": "authentication_error", "code": 401}})
		}
		return
	}
	var req request
	if err := json.Unmarshal(body, &req); err != nil {
		fail(w, http.StatusBadRequest, map[string]string{"message": err.Error()})
		return
	}
	tei := len(req.Texts) > 0 && r.URL.Path == "/rerank"
	docs := req.Documents
	if tei {
		docs = req.Texts
	} else if len(s.models) > 0 && !s.models[req.Model] {
		msg := fmt.Sprintf("model '%s' not found, make sure the correct model ID was used and that you have access to the model.", req.Model)
		fail(w, http.StatusNotFound, map[string]string{"id": "fake", "message": msg})
		return
	}
	s.mu.Lock()
	s.last = slices.Clone(docs)
	s.mu.Unlock()
	res := make([]result, len(docs))
	for i, d := range docs {
		res[i] = result{Index: i, RelevanceScore: Score(req.Query, d)}
	}
	slices.SortStableFunc(res, func(a, b result) int { return cmp.Compare(b.RelevanceScore, a.RelevanceScore) })
	if req.TopN > 0 && req.TopN < len(res) {
		res = res[:req.TopN]
	}
	w.Header().Set("Content-Type", "application/json")
	switch {
	case tei:
		out := make([]map[string]any, len(res))
		for i, x := range res {
			out[i] = map[string]any{"index": x.Index, "score": x.RelevanceScore}
		}
		json.NewEncoder(w).Encode(out)
	case cohere:
		json.NewEncoder(w).Encode(map[string]any{"id": "fake-rerank", "results": res,
			"meta": map[string]any{"api_version": map[string]string{"version": "2"}, "billed_units": map[string]int{"search_units": 1}}})
	default:
		json.NewEncoder(w).Encode(map[string]any{"model": req.Model, "object": "list", "results": res,
			"usage": map[string]int{"prompt_tokens": 0, "total_tokens": 0}})
	}
}
