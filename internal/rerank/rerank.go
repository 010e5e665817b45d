// Package rerank reorders retrieved passages by a reranking model's scores.
// It speaks the rerank shape that llama-server, vLLM, Jina and Cohere share
// (POST {model, query, documents, top_n}, answered with
// {results: [{index, relevance_score}]}) and text-embeddings-inference's
// (POST /rerank {query, texts}, answered with [{index, score}]). Apply
// reranks the first candidates of a fused ranking and keeps the fused order
// when the reranker fails or is slow: reranking improves a search, it never
// fails one. It does not fuse, cut the top k or print.
package rerank

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/ragcli/rag/internal/provider"
)

// Defaults.
const (
	DefaultCandidates = 40
	// DefaultTimeout bounds one rerank call; past it the fused order stands.
	DefaultTimeout = 10 * time.Second
)

// Result is one document's rerank score; Index is its place in the request.
type Result struct {
	Index int
	Score float64
}

// Reranker scores documents against a query, best first.
type Reranker interface {
	Rerank(ctx context.Context, query string, docs []string) ([]Result, error)
}

// Shapes of request.
const (
	Shared = "shared" // {model, query, documents, top_n}: llama-server, vLLM, Jina, Cohere
	TEI    = "tei"    // {query, texts}: text-embeddings-inference's /rerank
)

// Options configure a Client.
type Options struct {
	// URL is the rerank endpoint itself, e.g. http://127.0.0.1:8080/v1/rerank
	// or https://api.cohere.com/v2/rerank.
	URL           string
	Model         string
	Shape         string // Shared (default) or TEI
	Key           provider.Key
	AllowInsecure bool
	Timeout       time.Duration // DefaultTimeout when 0
}

// Client is a Reranker over HTTP.
type Client struct {
	u    *url.URL
	http *http.Client
	o    Options
}

// New returns a client for o.URL.
func New(o Options) (*Client, error) {
	u, err := provider.ParseBaseURL(o.URL, o.Key, o.AllowInsecure)
	if err != nil {
		return nil, err
	}
	o.Timeout = cmp.Or(o.Timeout, DefaultTimeout)
	return &Client{u: u, http: provider.HTTPClient(u, 3*time.Second, o.Timeout), o: o}, nil
}

// Host is the endpoint, for messages.
func (c *Client) Host() string { return c.u.String() }

// Model is the reranking model.
func (c *Client) Model() string { return c.o.Model }

type request struct {
	Model     string   `json:"model,omitempty"`
	Query     string   `json:"query"`
	Documents []string `json:"documents,omitempty"`
	Texts     []string `json:"texts,omitempty"`
	TopN      int      `json:"top_n,omitempty"`
}

type result struct {
	Index          int      `json:"index"`
	RelevanceScore *float64 `json:"relevance_score"`
	Score          *float64 `json:"score"`
}

// Rerank implements Reranker, bounded by the client's timeout.
func (c *Client) Rerank(ctx context.Context, query string, docs []string) ([]Result, error) {
	if len(docs) == 0 {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.o.Timeout)
	defer cancel()
	req := request{Model: c.o.Model, Query: query, Documents: docs, TopN: len(docs)}
	if c.o.Shape == TEI {
		req = request{Query: query, Texts: docs}
	}
	body, _ := json.Marshal(req)
	hr, err := http.NewRequestWithContext(ctx, http.MethodPost, c.u.String(), bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	hr.Header.Set("Content-Type", "application/json")
	hr.Header.Set("Accept", "application/json")
	if c.o.Key.Set() {
		hr.Header.Set("Authorization", "Bearer "+c.o.Key.Value())
	}
	resp, err := c.http.Do(hr)
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	defer resp.Body.Close()
	raw, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return nil, c.transportError(ctx, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, c.statusError(resp, raw)
	}
	var rs []result
	if bytes.HasPrefix(bytes.TrimSpace(raw), []byte("[")) {
		err = json.Unmarshal(raw, &rs)
	} else {
		var wrapped struct {
			Results []result `json:"results"`
		}
		err = json.Unmarshal(raw, &wrapped)
		rs = wrapped.Results
	}
	if err != nil {
		return nil, fmt.Errorf("reranker at %s: read answer: %w", c.Host(), err)
	}
	out := make([]Result, 0, len(rs))
	seen := make([]bool, len(docs))
	for _, r := range rs {
		s := r.RelevanceScore
		if s == nil {
			s = r.Score
		}
		if r.Index < 0 || r.Index >= len(docs) || seen[r.Index] || s == nil {
			return nil, fmt.Errorf("reranker at %s: an answer for document %d of %d", c.Host(), r.Index, len(docs))
		}
		seen[r.Index] = true
		out = append(out, Result{Index: r.Index, Score: *s})
	}
	slices.SortStableFunc(out, func(a, b Result) int { return cmp.Compare(b.Score, a.Score) })
	return out, nil
}

// transportError names the reranker's own deadline, which the warning
// shows; the rest is every provider's reading (provider.TransportError).
func (c *Client) transportError(ctx context.Context, err error) error {
	var ne net.Error
	if !errors.Is(err, context.Canceled) && (errors.Is(ctx.Err(), context.DeadlineExceeded) || errors.As(err, &ne) && ne.Timeout()) {
		return fmt.Errorf("reranker at %s did not answer within %s: %w", c.Host(), c.o.Timeout, context.DeadlineExceeded)
	}
	return provider.TransportError("the reranker", c.Host(), c.o.Key, err)
}

func (c *Client) statusError(resp *http.Response, raw []byte) error {
	var e struct {
		Message string `json:"message"`
		Error   any    `json:"error"`
	}
	json.Unmarshal(raw, &e)
	msg := e.Message
	switch v := e.Error.(type) {
	case string:
		msg = cmp.Or(msg, v)
	case map[string]any:
		if m, ok := v["message"].(string); ok {
			msg = cmp.Or(msg, m)
		}
	}
	msg = provider.Message(cmp.Or(strings.TrimSpace(msg), string(raw)), c.o.Key)
	return provider.AnswerError(c.Host(), resp.StatusCode, resp.Header, msg, c.o.Key, c.o.Model)
}

// Scored is an item of a ranking and its rerank score; Reranked is false for
// an item the reranker did not score (past the candidates, or on failure).
type Scored[T any] struct {
	Item     T
	Score    float64
	Reranked bool
}

// Apply reranks the first candidates items of a fused ranking by r's scores
// and puts the rest after them in their fused order. When r fails (down,
// slow past its deadline, a bad answer) the fused order is returned whole,
// with the error, for the caller to warn about; a cancelled ctx is returned
// as is.
func Apply[T any](ctx context.Context, r Reranker, query string, items []T, text func(T) string, candidates int) ([]Scored[T], error) {
	out := make([]Scored[T], len(items))
	for i, it := range items {
		out[i] = Scored[T]{Item: it}
	}
	if r == nil || len(items) == 0 {
		return out, nil
	}
	n := min(len(items), cmp.Or(candidates, DefaultCandidates))
	docs := make([]string, n)
	for i := range n {
		docs[i] = text(items[i])
	}
	res, err := r.Rerank(ctx, query, docs)
	if err == nil && len(res) != n {
		err = fmt.Errorf("the reranker scored %d of %d passages", len(res), n)
	}
	if err != nil {
		return out, err
	}
	ranked := make([]Scored[T], 0, len(items))
	for _, rs := range res {
		ranked = append(ranked, Scored[T]{Item: items[rs.Index], Score: rs.Score, Reranked: true})
	}
	return append(ranked, out[n:]...), nil
}
