package ollama

import (
	"context"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/ragcli/rag/internal/provider"
)

// The official client (github.com/ollama/ollama/api) turns an error answer
// into an api.StatusError without its headers, so a 429's or 503's
// Retry-After would be lost. The client takes our *http.Client, though: its
// transport (retryAfterTransport) reads the header of such an answer into a
// holder that the request's context carries, set per request by do and
// chatOnce, and classify hands the wait to the retry policy in the
// StatusError, as the OpenAI and Cohere providers do.
//
// Ollama v0.17.4 itself answers a full queue with 503 "server busy, please
// try again.  maximum pending requests exceeded" and no Retry-After
// (server/sched.go ErrMaxQueue, server/routes.go handleScheduleError), and
// never 429; a proxy or gateway in front of it may send either with a
// Retry-After, and that wait is then honoured.

// retryAfter holds the Retry-After of a request's error answer.
type retryAfter struct{ d atomic.Int64 }

func (h *retryAfter) get() time.Duration {
	if h == nil {
		return 0
	}
	return time.Duration(h.d.Load())
}

type retryAfterKey struct{}

// withRetryAfter gives ctx a holder for its request's Retry-After.
func withRetryAfter(ctx context.Context) (context.Context, *retryAfter) {
	h := &retryAfter{}
	return context.WithValue(ctx, retryAfterKey{}, h), h
}

// retryAfterTransport records the Retry-After of a 429 or 503 answer in the
// holder of the request's context.
type retryAfterTransport struct{ base http.RoundTripper }

func (t retryAfterTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.base.RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusTooManyRequests && resp.StatusCode != http.StatusServiceUnavailable {
		return resp, err
	}
	if h, ok := req.Context().Value(retryAfterKey{}).(*retryAfter); ok {
		h.d.Store(int64(provider.ParseRetryAfter(resp.Header, time.Now())))
	}
	return resp, nil
}
