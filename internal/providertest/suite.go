package providertest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/provider"
)

// Config is what the suite asks of a provider's constructor.
type Config struct {
	Model string
	// Query asks for the embedder of queries rather than documents (input
	// type search_query where the API has one).
	Query bool
	// Timeout, when set, is the deadline of each call to the server.
	Timeout time.Duration
	// Key, when set, replaces the harness's key (to try a wrong one).
	Key string
}

// Common is what both suites need to know about a provider and its fake.
type Common struct {
	// Faults is in front of the fake; every request of the provider goes
	// through it.
	Faults *Faults
	// Path is the request path of the call under test, e.g. "/v1/embeddings".
	Path string
	// Key is the API key the provider sends, "" when it takes none; KeyEnv
	// names the variable it is read from, for the hint of a rejected key.
	Key, KeyEnv string
	// ErrorBody is the body the real server sends with status and message.
	ErrorBody func(status int, msg string) string
	// Timeouts says whether the constructor honours Config.Timeout; without
	// it a hang is bounded by the caller's deadline only.
	Timeouts bool
	// Every provider retries transient failures (429, 5xx) under the shared
	// policy (internal/retry) and honours a 429's or 503's Retry-After: the
	// suite has no switch to skip that.
}

// Embedding describes an embedding provider to the suite.
type Embedding struct {
	Common
	New   func(t testing.TB, c Config) embed.Embedder
	Model string
	Dim   int
	// ContextLength is the fake's limit in tokens as ollamatest.CountTokens
	// counts them (one per word).
	ContextLength int
	// Decode reads a recorded request body: the texts and the input type
	// ("" when the API has none).
	Decode func(body []byte) (texts []string, inputType string, err error)
	// DocumentType and QueryType are the input types the document and the
	// query embedders must send; both "" for an API without input types,
	// whose texts (with the caller's prefixes) must then arrive verbatim.
	DocumentType, QueryType string
	// MaxBatch is the API's most inputs per request, 0 for no limit: a
	// longer list must be split, in order.
	MaxBatch int
}

// Chat describes a chat provider to the suite.
type Chat struct {
	Common
	New   func(t testing.TB, c Config) llm.Client
	Model string
	// SetReply scripts the fake's answer; SetChunkDelay pauses between its
	// streamed pieces. Both nil for a real server, whose answer is the
	// model's own: the suite then checks the stream, not the text.
	SetReply      func(text string)
	SetChunkDelay func(d time.Duration)
	// Usage says whether the server reports token counts in a stream.
	Usage bool
}

// watchdog fails the test if fn does not return within limit: a call that
// should be bounded by a deadline but is not.
func watchdog[T any](t *testing.T, limit time.Duration, fn func() (T, error)) (T, error) {
	t.Helper()
	type result struct {
		v   T
		err error
	}
	ch := make(chan result, 1)
	go func() {
		v, err := fn()
		ch <- result{v, err}
	}()
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(limit):
		t.Fatalf("call still running after %s: not bounded by its deadline", limit)
		var zero T
		return zero, nil
	}
}

// leaks collects every text the provider produced, to check for the key.
type leaks struct{ texts []string }

func (l *leaks) add(v ...any) {
	for _, x := range v {
		switch x := x.(type) {
		case nil:
		case error:
			l.texts = append(l.texts, x.Error(), fmt.Sprintf("%+v", x), fmt.Sprintf("%#v", x))
		default:
			l.texts = append(l.texts, fmt.Sprintf("%v", x), fmt.Sprintf("%+v", x), fmt.Sprintf("%#v", x))
		}
	}
}

func (l *leaks) check(t *testing.T, c Common) {
	if c.Key == "" {
		return
	}
	for _, s := range l.texts {
		if strings.Contains(s, c.Key) {
			t.Errorf("the API key appears in output: %.200q", s)
		}
	}
	for _, r := range c.Faults.Requests("") {
		auth := r.Header.Get("Authorization")
		if auth != "" && auth != "Bearer "+c.Key && auth != "bearer "+c.Key {
			t.Errorf("%s: Authorization header %q is not the bearer key", r.Path, "[redacted]")
		}
		if strings.Contains(string(r.Body), c.Key) || strings.Contains(r.Query, c.Key) || strings.Contains(r.Path, c.Key) {
			t.Errorf("%s: the API key was sent in the request's URL or body", r.Path)
		}
	}
}

func errorBody(c Common, status int, msg string) string { return c.ErrorBody(status, msg) }

// RunEmbedding runs the conformance suite against an embedder.
func RunEmbedding(t *testing.T, h Embedding) {
	var lk leaks
	bg := context.Background()
	newEmb := func(t *testing.T, c Config) embed.Embedder {
		if c.Model == "" {
			c.Model = h.Model
		}
		e := h.New(t, c)
		lk.add(e)
		return e
	}
	requests := func(from int) []Request { return h.Faults.Requests(h.Path)[from:] }

	t.Run("batching", func(t *testing.T) {
		e := newEmb(t, Config{})
		texts := []string{"alpha beta", "gamma delta", "epsilon", "zeta eta theta", "iota"}
		n := len(h.Faults.Requests(h.Path))
		vecs, err := e.Embed(bg, texts)
		lk.add(err)
		if err != nil {
			t.Fatal(err)
		}
		if len(vecs) != len(texts) {
			t.Fatalf("%d vectors for %d texts", len(vecs), len(texts))
		}
		if got := len(requests(n)); got != 1 {
			t.Errorf("%d texts took %d requests, want one batched request", len(texts), got)
		}
		for i, v := range vecs {
			if len(v) != h.Dim {
				t.Errorf("vector %d has %d dimensions, want %d", i, len(v), h.Dim)
			}
		}
		// Order: each vector is the one the text gets alone.
		for i := range texts {
			one, err := e.Embed(bg, texts[i:i+1])
			if err != nil {
				t.Fatal(err)
			}
			if cos(one[0], vecs[i]) < 0.999 {
				t.Errorf("vector %d of the batch is not text %d's", i, i)
			}
		}
		if h.MaxBatch > 0 {
			many := make([]string, h.MaxBatch*2+3)
			for i := range many {
				many[i] = fmt.Sprintf("text number %d", i)
			}
			n := len(h.Faults.Requests(h.Path))
			vecs, err := e.Embed(bg, many)
			if err != nil {
				t.Fatal(err)
			}
			if len(vecs) != len(many) {
				t.Fatalf("%d vectors for %d texts", len(vecs), len(many))
			}
			if got := len(requests(n)); got != 3 {
				t.Errorf("%d texts with at most %d per request took %d requests, want 3", len(many), h.MaxBatch, got)
			}
			last, _ := e.Embed(bg, many[len(many)-1:])
			if cos(last[0], vecs[len(vecs)-1]) < 0.999 {
				t.Error("the split batch lost the order of its texts")
			}
		}
		empty, err := e.Embed(bg, nil)
		if err != nil || len(empty) != 0 {
			t.Errorf("Embed(nil) = %d vectors, %v; want none, no error", len(empty), err)
		}
	})

	t.Run("input types", func(t *testing.T) {
		const doc = "search_document: the text exactly as given \u00e9"
		for _, query := range []bool{false, true} {
			e := newEmb(t, Config{Query: query})
			n := len(h.Faults.Requests(h.Path))
			if _, err := e.Embed(bg, []string{doc}); err != nil {
				t.Fatal(err)
			}
			reqs := requests(n)
			if len(reqs) != 1 {
				t.Fatalf("%d requests, want 1", len(reqs))
			}
			texts, typ, err := h.Decode(reqs[0].Body)
			if err != nil {
				t.Fatal(err)
			}
			if !slices.Equal(texts, []string{doc}) {
				t.Errorf("server got %q, want the text verbatim (the caller's prefix, no other change)", texts)
			}
			want := h.DocumentType
			if query {
				want = h.QueryType
			}
			if typ != want {
				t.Errorf("query=%v: input type %q, want %q", query, typ, want)
			}
		}
	})

	t.Run("over-long input", func(t *testing.T) {
		e := newEmb(t, Config{})
		long := strings.Repeat("word ", h.ContextLength*2)
		vecs, err := e.Embed(bg, []string{"short", long})
		lk.add(err)
		if !errors.Is(err, embed.ErrInputTooLong) {
			t.Fatalf("over-long input: %d vectors, error %v; want embed.ErrInputTooLong (never truncated)", len(vecs), err)
		}
		vecs, err = e.Embed(bg, []string{"short"})
		if err != nil || len(vecs) != 1 {
			t.Errorf("a short input after the refusal: %v", err)
		}
	})

	t.Run("401", func(t *testing.T) {
		e := newEmb(t, Config{})
		h.Faults.FailNext(h.Path, http.StatusUnauthorized, nil, errorBody(h.Common, 401, "invalid api key "+h.Key), 1)
		_, err := e.Embed(bg, []string{"x"})
		lk.add(err)
		checkAuth(t, h.Common, err)
	})

	t.Run("404 model", func(t *testing.T) {
		e := newEmb(t, Config{Model: "no-such-model"})
		_, err := e.Embed(bg, []string{"x"})
		lk.add(err)
		if !errors.Is(err, provider.ErrModelMissing) {
			t.Errorf("unknown model: %v; want provider.ErrModelMissing", err)
		}
	})

	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprintf("%d with Retry-After is honoured", code), func(t *testing.T) {
			e := newEmb(t, Config{})
			n := len(h.Faults.Requests(h.Path))
			h.Faults.FailNext(h.Path, code, http.Header{"Retry-After": {"1"}}, errorBody(h.Common, code, "rate limit reached"), 1)
			vecs, err := e.Embed(bg, []string{"x"})
			lk.add(err)
			if err != nil || len(vecs) != 1 {
				t.Fatalf("after a %d: %v", code, err)
			}
			checkWaited(t, requests(n), time.Second)
		})
	}

	t.Run("500 then success", func(t *testing.T) {
		e := newEmb(t, Config{})
		n := len(h.Faults.Requests(h.Path))
		h.Faults.FailNext(h.Path, http.StatusInternalServerError, nil, errorBody(h.Common, 500, "internal error"), 1)
		vecs, err := e.Embed(bg, []string{"x"})
		lk.add(err)
		if err != nil || len(vecs) != 1 {
			t.Fatalf("after a 500: %v", err)
		}
		if got := len(requests(n)); got != 2 {
			t.Errorf("%d requests, want 2 (one failed, one retried)", got)
		}
	})

	t.Run("hang", func(t *testing.T) {
		e := newEmb(t, Config{Timeout: 200 * time.Millisecond})
		h.Faults.Hang(h.Path, true)
		defer h.Faults.Hang(h.Path, false)
		ctx := bg
		if !h.Timeouts {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(bg, 2*time.Second)
			defer cancel()
		} else {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(bg, 3*time.Second) // bounds the retries
			defer cancel()
		}
		_, err := watchdog(t, 20*time.Second, func() ([][]float32, error) { return e.Embed(ctx, []string{"x"}) })
		lk.add(err)
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("a hung server: %v; want a deadline error", err)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		e := newEmb(t, Config{})
		h.Faults.Hang(h.Path, true)
		defer h.Faults.Hang(h.Path, false)
		ctx, cancel := context.WithCancel(bg)
		time.AfterFunc(100*time.Millisecond, cancel)
		_, err := watchdog(t, 20*time.Second, func() ([][]float32, error) { return e.Embed(ctx, []string{"x"}) })
		lk.add(err)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled call: %v; want context.Canceled", err)
		}
	})

	t.Run("no key in any output", func(t *testing.T) { lk.check(t, h.Common) })
}

// RunChat runs the conformance suite against a chat client.
func RunChat(t *testing.T, h Chat) {
	var lk leaks
	bg := context.Background()
	newChat := func(t *testing.T, c Config) llm.Client {
		if c.Model == "" {
			c.Model = h.Model
		}
		cl := h.New(t, c)
		lk.add(cl)
		return cl
	}
	req := func(model string) llm.Request {
		return llm.Request{Model: cmpOr(model, h.Model), Messages: []llm.Message{
			{Role: "system", Content: "Answer from the sources."},
			{Role: "user", Content: "what is the retry policy?"},
		}}
	}

	t.Run("streaming", func(t *testing.T) {
		reply := "The retry policy waits with capped backoff and jitter [1]."
		if h.SetReply != nil {
			h.SetReply(reply)
		}
		c := newChat(t, Config{})
		var deltas []string
		resp, err := c.Chat(bg, req(""), func(d string) error { deltas = append(deltas, d); return nil })
		lk.add(err, resp)
		if err != nil {
			t.Fatal(err)
		}
		if h.SetReply == nil {
			reply = resp.Content
		}
		if resp.Content != reply || strings.Join(deltas, "") != reply {
			t.Errorf("content %q, deltas %q; want %q", resp.Content, deltas, reply)
		}
		if len(deltas) < 2 {
			t.Errorf("%d pieces: the answer did not stream", len(deltas))
		}
		if h.Usage && (resp.PromptTokens == 0 || resp.OutputTokens == 0) {
			t.Errorf("usage %d/%d: token counts missing", resp.PromptTokens, resp.OutputTokens)
		}
		stop := errors.New("stop here")
		_, err = c.Chat(bg, req(""), func(string) error { return stop })
		if !errors.Is(err, stop) {
			t.Errorf("onDelta's error: got %v", err)
		}
	})

	t.Run("401", func(t *testing.T) {
		c := newChat(t, Config{})
		h.Faults.FailNext(h.Path, http.StatusUnauthorized, nil, errorBody(h.Common, 401, "invalid api key "+h.Key), 1)
		_, err := c.Chat(bg, req(""), nil)
		lk.add(err)
		checkAuth(t, h.Common, err)
	})

	t.Run("404 model", func(t *testing.T) {
		c := newChat(t, Config{Model: "no-such-model"})
		_, err := c.Chat(bg, req("no-such-model"), nil)
		lk.add(err)
		if !errors.Is(err, provider.ErrModelMissing) {
			t.Errorf("unknown model: %v; want provider.ErrModelMissing", err)
		}
	})

	for _, code := range []int{http.StatusTooManyRequests, http.StatusServiceUnavailable} {
		t.Run(fmt.Sprintf("%d with Retry-After is honoured", code), func(t *testing.T) {
			setReply(h, "fine")
			c := newChat(t, Config{})
			n := len(h.Faults.Requests(h.Path))
			h.Faults.FailNext(h.Path, code, http.Header{"Retry-After": {"1"}}, errorBody(h.Common, code, "rate limit reached"), 1)
			resp, err := c.Chat(bg, req(""), nil)
			lk.add(err)
			if err != nil || h.SetReply != nil && resp.Content != "fine" {
				t.Fatalf("after a %d: %q, %v", code, resp.Content, err)
			}
			checkWaited(t, h.Faults.Requests(h.Path)[n:], time.Second)
		})
	}

	t.Run("500 then success", func(t *testing.T) {
		setReply(h, "fine")
		c := newChat(t, Config{})
		h.Faults.FailNext(h.Path, http.StatusInternalServerError, nil, errorBody(h.Common, 500, "internal error"), 1)
		resp, err := c.Chat(bg, req(""), nil)
		lk.add(err)
		if err != nil || h.SetReply != nil && resp.Content != "fine" {
			t.Fatalf("after a 500: %q, %v", resp.Content, err)
		}
	})

	t.Run("hang", func(t *testing.T) {
		c := newChat(t, Config{Timeout: 200 * time.Millisecond})
		h.Faults.Hang(h.Path, true)
		defer h.Faults.Hang(h.Path, false)
		ctx, cancel := context.WithTimeout(bg, 3*time.Second)
		defer cancel()
		_, err := watchdog(t, 20*time.Second, func() (llm.Response, error) { return c.Chat(ctx, req(""), nil) })
		lk.add(err)
		if err == nil || errors.Is(err, context.Canceled) {
			t.Errorf("a hung server: %v; want a deadline error", err)
		}
	})

	t.Run("cancellation", func(t *testing.T) {
		if h.SetReply != nil {
			h.SetReply("one two three four five six seven eight nine ten eleven twelve")
			h.SetChunkDelay(50 * time.Millisecond)
			defer h.SetChunkDelay(0)
		}
		c := newChat(t, Config{})
		ctx, cancel := context.WithCancel(bg)
		defer cancel()
		pieces := 0
		resp, err := watchdog(t, 20*time.Second, func() (llm.Response, error) {
			return c.Chat(ctx, req(""), func(string) error {
				pieces++
				cancel()
				return nil
			})
		})
		lk.add(err, resp)
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled mid-stream: %v; want context.Canceled", err)
		}
		if pieces != 1 {
			t.Errorf("%d pieces after the cancellation, want 1", pieces)
		}
	})

	t.Run("no key in any output", func(t *testing.T) { lk.check(t, h.Common) })
}

func checkAuth(t *testing.T, c Common, err error) {
	t.Helper()
	var ae *provider.AuthError
	if !errors.As(err, &ae) {
		t.Fatalf("401: %v; want a *provider.AuthError", err)
	}
	if ae.Status != http.StatusUnauthorized || ae.KeyEnv != c.KeyEnv {
		t.Errorf("AuthError{Status: %d, KeyEnv: %q}; want 401, %q", ae.Status, ae.KeyEnv, c.KeyEnv)
	}
}

// checkWaited checks that the retry came at least wait after the refusal:
// the client honoured Retry-After (a lower bound, not a timing claim; the
// policy's own first backoff is at most half a second).
func checkWaited(t *testing.T, reqs []Request, wait time.Duration) {
	t.Helper()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (refused, retried)", len(reqs))
	}
	if gap := reqs[1].At.Sub(reqs[0].At); gap < wait-50*time.Millisecond {
		t.Errorf("retried %s after a refusal with Retry-After %s", gap, wait)
	}
}

func cos(a, b []float32) float64 {
	if len(a) != len(b) {
		return 0
	}
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

func setReply(h Chat, text string) {
	if h.SetReply != nil {
		h.SetReply(text)
	}
}
