package server_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/server"
)

// reverser is a reranker that puts the fused candidates in reverse order, or
// fails with err when it is set.
type reverser struct {
	err   atomic.Pointer[error]
	calls atomic.Int64
	seen  atomic.Int64 // candidates of the last call
}

func (r *reverser) Rerank(_ context.Context, _ string, cands []retrieve.Result) ([]retrieve.Result, error) {
	r.calls.Add(1)
	r.seen.Store(int64(len(cands)))
	if p := r.err.Load(); p != nil {
		return cands, *p
	}
	out := slices.Clone(cands)
	slices.Reverse(out)
	return out, nil
}

// TestRerankedSearchAndAsk: with a reranker configured, search and ask get
// its order, and a reranker that fails leaves the fused order with a
// warning, never an error.
func TestRerankedSearchAndAsk(t *testing.T) {
	f := newFixture(t)
	rr := &reverser{}
	cfg := f.config()
	cfg.Rerank, cfg.RerankDepth = rr, 3
	svc, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	req := server.SearchRequest{Query: "rotate the signing key", K: 2, Mode: "hybrid"}
	fused, err := f.svc.Search(t.Context(), req) // the fixture's Service has no reranker
	if err != nil || len(fused.Results) != 2 || fused.Reranked {
		t.Fatalf("fused search: %+v %v", fused, err)
	}
	// The 3 best fused candidates, reversed, cut to k = 2.
	deep, err := f.svc.Search(t.Context(), server.SearchRequest{Query: req.Query, K: 3, Mode: "hybrid"})
	if err != nil || len(deep.Results) != 3 {
		t.Fatalf("fused search, k 3: %+v %v", deep, err)
	}
	cs := connect(t, svc, nil)
	var got server.SearchResponse
	if msg := call(t, cs, "search", map[string]any{"query": req.Query, "k": 2, "mode": "hybrid"}, &got); msg != "" {
		t.Fatalf("tool error: %s", msg)
	}
	if !got.Reranked || len(got.Warnings) != 0 || rr.seen.Load() != 3 {
		t.Errorf("reranked %v, warnings %q, candidates seen %d; want reranked, no warning, 3 candidates", got.Reranked, got.Warnings, rr.seen.Load())
	}
	if len(got.Results) != 2 || got.Results[0].ID != deep.Results[2].ID || got.Results[1].ID != deep.Results[1].ID {
		t.Errorf("reranked results %+v, want the 3rd and 2nd fused ones (%d, %d)", got.Results, deep.Results[2].ID, deep.Results[1].ID)
	}

	// The reranker down: the fused order, a warning, no error, over MCP
	// and over HTTP, for search and for ask.
	down := errors.New("reranker at http://127.0.0.1:9/rerank did not answer within 200ms")
	rr.err.Store(&down)
	got = server.SearchResponse{}
	if msg := call(t, cs, "search", map[string]any{"query": req.Query, "k": 2, "mode": "hybrid"}, &got); msg != "" {
		t.Fatalf("a failing reranker made a tool error: %s", msg)
	}
	if got.Reranked || len(got.Results) != 2 || got.Results[0].ID != fused.Results[0].ID || got.Results[1].ID != fused.Results[1].ID {
		t.Errorf("with the reranker down: %+v, want the fused order %+v", got, fused.Results)
	}
	if len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "did not answer within 200ms; results keep the fused order") {
		t.Errorf("warnings %q, want the reranker's failure", got.Warnings)
	}
	ts := newHTTP(t, svc, server.HTTPOptions{})
	code, body, _ := do(t, "POST", ts.URL+"/v1/search", `{"query": "rotate the signing key", "k": 2, "mode": "hybrid"}`, nil)
	if code != 200 || !strings.Contains(body, "results keep the fused order") || strings.Contains(body, `"reranked"`) {
		t.Errorf("POST /v1/search with the reranker down: %d %s", code, body)
	}
	code, body, _ = do(t, "POST", ts.URL+"/v1/ask", `{"question": "how do I rotate the signing key?", "mode": "hybrid"}`, nil)
	if code != 200 || !strings.Contains(body, `"done"`) || !strings.Contains(body, "results keep the fused order") {
		t.Errorf("POST /v1/ask with the reranker down: %d %s", code, body)
	}
	if rr.calls.Load() != 4 {
		t.Errorf("the reranker was called %d times, want 4 (2 tool searches, 1 HTTP search, 1 ask)", rr.calls.Load())
	}
}
