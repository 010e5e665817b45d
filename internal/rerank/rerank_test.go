package rerank_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/provider"
	"github.com/ragcli/rag/internal/rerank"
	"github.com/ragcli/rag/internal/reranktest"
)

var fused = []string{
	"the exporter sends spans",              // 0: no query word but "spans"
	"retry policy of the exporter",          // 1: retry, policy
	"timeouts",                              // 2: none
	"retry policy with backoff and timeout", // 3: retry, policy, backoff
	"backoff",                               // 4: backoff
}

func id(s string) string { return s }

func TestOrderFollowsScores(t *testing.T) {
	for _, shape := range []struct{ path, shape string }{{"/v1/rerank", rerank.Shared}, {"/rerank", rerank.TEI}, {"/v2/rerank", rerank.Shared}} {
		srv := reranktest.New(t, "", "bge-reranker")
		c, err := rerank.New(rerank.Options{URL: srv.URL + shape.path, Model: "bge-reranker", Shape: shape.shape})
		if err != nil {
			t.Fatal(err)
		}
		out, err := rerank.Apply(context.Background(), c, "retry policy backoff", fused, id, 40)
		if err != nil {
			t.Fatalf("%s: %v", shape.path, err)
		}
		var got []string
		for i, s := range out {
			got = append(got, s.Item)
			if want := reranktest.Score("retry policy backoff", s.Item); !s.Reranked || s.Score != want {
				t.Errorf("%s: %q scored %v (reranked %v), want %v", shape.path, s.Item, s.Score, s.Reranked, want)
			}
			if i > 0 && out[i-1].Score < s.Score {
				t.Errorf("%s: not in score order at %d", shape.path, i)
			}
		}
		want := []string{fused[3], fused[1], fused[4], fused[0], fused[2]}
		if !slices.Equal(got, want) {
			t.Errorf("%s: order\n%q\nwant\n%q", shape.path, got, want)
		}
	}
}

func TestCandidatesCapped(t *testing.T) {
	srv := reranktest.New(t, "")
	c, _ := rerank.New(rerank.Options{URL: srv.URL + "/v1/rerank"})
	out, err := rerank.Apply(context.Background(), c, "backoff", fused, id, 2)
	if err != nil {
		t.Fatal(err)
	}
	if n := len(srv.LastDocuments()); n != 2 {
		t.Errorf("the reranker got %d documents, want the 2 candidates", n)
	}
	// The two candidates reranked (neither mentions backoff: fused order
	// between them), then the rest in fused order, unscored.
	var got []string
	for _, s := range out {
		got = append(got, s.Item)
	}
	if !slices.Equal(got, fused) {
		t.Errorf("got %q", got)
	}
	if !out[0].Reranked || !out[1].Reranked || out[2].Reranked || out[4].Reranked {
		t.Error("Reranked marks the wrong items")
	}
}

func TestTimeoutKeepsFusedOrder(t *testing.T) {
	srv := reranktest.New(t, "")
	srv.SetLatency(5 * time.Second)
	c, _ := rerank.New(rerank.Options{URL: srv.URL + "/v1/rerank", Timeout: 100 * time.Millisecond})
	out, err := rerank.Apply(context.Background(), c, "retry policy backoff", fused, id, 40)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("a slow reranker: %v, want a deadline error", err)
	}
	for i, s := range out {
		if s.Item != fused[i] || s.Reranked {
			t.Fatalf("the fused order was not kept: %d is %q", i, s.Item)
		}
	}
}

func TestDownKeepsFusedOrder(t *testing.T) {
	srv := reranktest.New(t, "")
	url := srv.URL
	srv.Close()
	c, _ := rerank.New(rerank.Options{URL: url + "/v1/rerank"})
	out, err := rerank.Apply(context.Background(), c, "q", fused, id, 40)
	if err == nil || len(out) != len(fused) || out[0].Item != fused[0] {
		t.Errorf("a reranker that is down: %v, %d items", err, len(out))
	}
}

func TestKeyAndErrors(t *testing.T) {
	const key = "co-secret-key-0123456789"
	srv := reranktest.New(t, key, "rerank-v3.5")
	c, _ := rerank.New(rerank.Options{URL: srv.URL + "/v2/rerank", Model: "rerank-v3.5", Key: provider.NewKey("co-wrong-key-99999", "COHERE_API_KEY")})
	_, err := c.Rerank(context.Background(), "q", []string{"a"})
	var ae *provider.AuthError
	if !errors.As(err, &ae) || ae.KeyEnv != "COHERE_API_KEY" || strings.Contains(err.Error(), "co-wrong") {
		t.Errorf("wrong key: %v", err)
	}
	c, _ = rerank.New(rerank.Options{URL: srv.URL + "/v2/rerank", Model: "nope", Key: provider.NewKey(key, "COHERE_API_KEY")})
	if _, err := c.Rerank(context.Background(), "q", []string{"a"}); !errors.Is(err, provider.ErrModelMissing) {
		t.Errorf("unknown model: %v", err)
	}
	if _, err := rerank.New(rerank.Options{URL: "http://rerank.lan/v1/rerank", Key: provider.NewKey(key, "K")}); !errors.Is(err, provider.ErrInsecure) {
		t.Errorf("plain HTTP to a remote host with a key: %v", err)
	}
}

// TestKeyForEveryShape: the llama-server/vLLM/Jina shape and TEI's take a
// key as Cohere's does: sent as a bearer token to the configured URL alone
// (a redirect to another origin is refused before the key travels), a
// missing or wrong one an AuthError that names its variable and says
// whether a key was sent, never the key itself.
func TestKeyForEveryShape(t *testing.T) {
	const key = "rr-secret-key-0123456789"
	srv := reranktest.New(t, key)
	for _, shape := range []struct{ path, shape string }{{"/v1/rerank", rerank.Shared}, {"/rerank", rerank.TEI}} {
		c, err := rerank.New(rerank.Options{URL: srv.URL + shape.path, Shape: shape.shape, Key: provider.NewKey(key, "RAG_RERANK_API_KEY")})
		if err != nil {
			t.Fatal(err)
		}
		if _, err := c.Rerank(context.Background(), "retry", []string{"retry", "other"}); err != nil {
			t.Errorf("%s with the right key: %v", shape.path, err)
		}
		for _, k := range []provider.Key{provider.NewKey("", "RAG_RERANK_API_KEY"), provider.NewKey("rr-wrong-key-99999", "RAG_RERANK_API_KEY")} {
			c, _ := rerank.New(rerank.Options{URL: srv.URL + shape.path, Shape: shape.shape, Key: k})
			_, err := c.Rerank(context.Background(), "retry", []string{"retry"})
			ae, ok := errors.AsType[*provider.AuthError](err)
			if !ok || ae.Status != 401 || ae.KeyEnv != "RAG_RERANK_API_KEY" || ae.Sent != k.Set() {
				t.Errorf("%s, key set %v: %v (%+v)", shape.path, k.Set(), err, ae)
			}
			if strings.Contains(err.Error(), "rr-wrong") || strings.Contains(fmt.Sprintf("%+v %#v", c, c), "rr-") {
				t.Errorf("%s: the key printed", shape.path)
			}
		}
	}

	// A reranker URL that redirects elsewhere: the key does not follow.
	other := reranktest.New(t, key)
	redirect := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Redirect(w, r, other.URL+"/v1/rerank", http.StatusTemporaryRedirect)
	}))
	defer redirect.Close()
	c, _ := rerank.New(rerank.Options{URL: redirect.URL + "/v1/rerank", Key: provider.NewKey(key, "RAG_RERANK_API_KEY")})
	if _, err := c.Rerank(context.Background(), "retry", []string{"retry"}); err == nil || other.Calls() != 0 {
		t.Errorf("a redirect to another origin: %v, %d calls reached it", err, other.Calls())
	}

	// Plain HTTP to another machine: refused with a key unless allowed;
	// without a key there is nothing to leak.
	if _, err := rerank.New(rerank.Options{URL: "http://10.1.2.3:8081/v1/rerank", Key: provider.NewKey(key, "K"), AllowInsecure: true}); err != nil {
		t.Errorf("--allow-insecure-remote: %v", err)
	}
	if _, err := rerank.New(rerank.Options{URL: "http://10.1.2.3:8081/v1/rerank"}); err != nil {
		t.Errorf("no key: %v", err)
	}
}
