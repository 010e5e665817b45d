package ollama_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retry"
)

func TestEmbedRetriesTransientFailures(t *testing.T) {
	tests := []struct {
		name   string
		status int
		body   string
	}{
		{"500 while a runner restarts", 500, ollamatest.RunnerTerminated},
		{"503 busy", 503, `{"error":"` + ollamatest.BusyMessage + `"}`},
		{"429", 429, `{"error":"too many requests"}`},
		{"400 runner gone", 400, ollamatest.RunnerGone},
		{"400 runner EOF", 400, ollamatest.RunnerEOF},
		{"400 runner health check", 400, ollamatest.RunnerHealth},
		{"400 runner refused", 400, ollamatest.RunnerRefused},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := start(t)
			fake.FailNext("/api/embed", tt.status, tt.body, 2)
			vecs, err := c.Embed(t.Context(), "all-minilm", []string{"a", "b"})
			if err != nil || len(vecs) != 2 {
				t.Fatalf("Embed = %d vectors, %v; want 2 after the retries", len(vecs), err)
			}
			if n := fake.Calls("/api/embed"); n != 3 {
				t.Errorf("/api/embed called %d times, want 3", n)
			}
		})
	}
}

func TestEmbedPermanentFailureIsTriedOnce(t *testing.T) {
	fake, c := start(t)
	fake.FailNext("/api/embed", 400, `{"error":"invalid options"}`, 5)
	_, err := c.Embed(t.Context(), "all-minilm", []string{"a"})
	if err == nil || !strings.Contains(err.Error(), "answered 400: invalid options") {
		t.Fatalf("err = %v", err)
	}
	if errors.Is(err, embed.ErrUnavailable) {
		t.Errorf("a 400 is ErrUnavailable: %v", err)
	}
	if n := fake.Calls("/api/embed"); n != 1 {
		t.Errorf("/api/embed called %d times, want 1", n)
	}
}

// TestNeverReachedServerIsNotWaitedFor: with nothing listening, a call fails
// at once (a search falls back to lexical, an ingest stores pending), while a
// server that answered before and then went away (a restart) is retried.
func TestNeverReachedServerIsNotWaitedFor(t *testing.T) {
	c := newClient(t, closedAddr(t))
	c.Timing.Retry = retry.Policy{Initial: time.Second, Budget: time.Minute}
	start := time.Now()
	_, err := c.Embed(t.Context(), "all-minilm", []string{"x"})
	if !errors.Is(err, embed.ErrUnavailable) {
		t.Fatalf("err = %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > 5*time.Second {
		t.Errorf("took %s: a server never reached was waited for", d)
	}

	// A server that answered /api/show, then drops embed connections twice.
	var drops atomic.Int32
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case r.URL.Path == "/api/show":
			io.WriteString(w, `{"capabilities":["embedding"]}`)
		case drops.Add(1) <= 2:
			panic(http.ErrAbortHandler) // the connection closes without an answer
		default:
			io.WriteString(w, `{"embeddings":[[1,0]]}`)
		}
	}))
	t.Cleanup(ts.Close)
	c = newClient(t, ts.URL)
	vecs, err := c.Embed(t.Context(), "m", []string{"x"})
	if err != nil || len(vecs) != 1 {
		t.Fatalf("Embed after two dropped connections = %v, %v", vecs, err)
	}
	if n := drops.Load(); n != 3 {
		t.Errorf("%d embed requests, want 3", n)
	}
}

func TestEmbedDeadlineFitsTheWork(t *testing.T) {
	fake, c := start(t)
	c.Timing.Embed, c.Timing.EmbedPerInput, c.Timing.Load = 10*time.Second, time.Second, time.Minute
	if got, want := c.EmbedDeadline("all-minilm", 4, 0), 10*time.Second+4*time.Second+time.Minute; got != want {
		t.Errorf("first call: deadline %s, want %s (with the load)", got, want)
	}
	if _, err := c.Embed(t.Context(), "all-minilm", []string{"x"}); err != nil {
		t.Fatal(err)
	}
	if got, want := c.EmbedDeadline("all-minilm", 32, 0), 42*time.Second; got != want {
		t.Errorf("after a load: deadline %s, want %s", got, want)
	}
	if c.EmbedDeadline("all-minilm", 64, 0) <= c.EmbedDeadline("all-minilm", 8, 0) {
		t.Error("a bigger batch does not get more time")
	}
	if got, want := c.EmbedDeadline("all-minilm", 32, 96), 10*time.Second+128*time.Second; got != want {
		t.Errorf("queued behind 96 inputs: deadline %s, want %s", got, want)
	}

	// A request past its deadline is a *TimeoutError, an ErrUnavailable.
	c.Timing.Embed, c.Timing.EmbedPerInput = 100*time.Millisecond, 0
	c.Timing.Retry = retry.Policy{Budget: -1}
	fake.HangFor("/api/embed", 2*time.Second, 1)
	_, err := c.Embed(t.Context(), "all-minilm", []string{"x"})
	te, ok := errors.AsType[*ollama.TimeoutError](err)
	if !ok || te.After != 100*time.Millisecond || !errors.Is(err, embed.ErrUnavailable) || !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v (%T), want a TimeoutError after 100ms", err, err)
	}
}

// TestEmbedderTimeoutBoundsTheWholeCall: a query embedding's own deadline
// covers its retries too, and ends in an ErrUnavailable so that hybrid
// search can fall back to its lexical leg.
func TestEmbedderTimeoutBoundsTheWholeCall(t *testing.T) {
	fake, c := start(t)
	c.Timing.Retry = retry.Policy{Initial: 10 * time.Millisecond, Budget: time.Minute}
	if _, err := c.Show(t.Context(), "all-minilm"); err != nil {
		t.Fatal(err)
	}
	fake.Hang("/api/embed", true)
	e := &ollama.Embedder{Client: c, Name: "all-minilm", Timeout: 300 * time.Millisecond}
	start := time.Now()
	_, err := e.Embed(t.Context(), []string{"a question"})
	d := time.Since(start)
	te, ok := errors.AsType[*ollama.TimeoutError](err)
	if !ok || te.After != 300*time.Millisecond || !errors.Is(err, embed.ErrUnavailable) {
		t.Errorf("err = %v (%T), want a TimeoutError after 300ms", err, err)
	}
	if d > 3*time.Second {
		t.Errorf("took %s for a 300ms timeout", d)
	}
}

func TestOnWaitNoticesLongWaits(t *testing.T) {
	fake, c := start(t)
	c.Timing.WaitNotice, c.Timing.WaitEvery = 100*time.Millisecond, 150*time.Millisecond
	var mu sync.Mutex
	var waits []ollama.Wait
	c.OnWait = func(w ollama.Wait) {
		mu.Lock()
		defer mu.Unlock()
		waits = append(waits, w)
	}
	if _, err := c.Embed(t.Context(), "all-minilm", []string{"quick"}); err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	if len(waits) != 0 {
		t.Errorf("a quick call gave %d notices", len(waits))
	}
	mu.Unlock()

	fake.HangFor("/api/embed", 450*time.Millisecond, 1)
	if _, err := c.Embed(t.Context(), "all-minilm", []string{"slow"}); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond) // no notice after the call ended
	mu.Lock()
	defer mu.Unlock()
	if len(waits) < 2 || len(waits) > 3 {
		t.Fatalf("got %d notices in a 450ms wait (first at 100ms, then every 150ms): %+v", len(waits), waits)
	}
	if waits[0].Host != fake.URL || waits[0].Waited < 100*time.Millisecond || waits[1].Waited <= waits[0].Waited {
		t.Errorf("notices = %+v", waits)
	}
}

func chatReq(model string) llm.Request {
	return llm.Request{Model: model, Messages: []llm.Message{{Role: "user", Content: "q"}}}
}

func TestChatRetriesOnlyBeforeDelivery(t *testing.T) {
	const reply = "one two three four five six seven eight nine"
	t.Run("error line before any piece: retried", func(t *testing.T) {
		fake, c := start(t)
		fake.SetChatReply(func(api.ChatRequest) string { return reply })
		fake.BreakNextStream(0, ollamatest.StreamRunnerEOF)
		var got strings.Builder
		resp, err := c.Chat(t.Context(), chatReq("llama3.2"), func(s string) error { got.WriteString(s); return nil })
		if err != nil || resp.Content != reply || got.String() != reply {
			t.Fatalf("Chat = %q, %v; delivered %q", resp.Content, err, got.String())
		}
		if fake.Chats() != 2 {
			t.Errorf("%d chat requests, want 2", fake.Chats())
		}
	})
	t.Run("500 before the stream: retried", func(t *testing.T) {
		fake, c := start(t)
		fake.FailNext("/api/chat", 500, ollamatest.RunnerTerminated, 2)
		if _, err := c.Chat(t.Context(), chatReq("llama3.2"), nil); err != nil {
			t.Fatal(err)
		}
		if n := fake.Calls("/api/chat"); n != 3 {
			t.Errorf("/api/chat called %d times, want 3", n)
		}
	})
	t.Run("error line after a piece: cut", func(t *testing.T) {
		fake, c := start(t)
		fake.SetChatReply(func(api.ChatRequest) string { return reply })
		fake.BreakNextStream(1, ollamatest.StreamRunnerEOF)
		var got strings.Builder
		resp, err := c.Chat(t.Context(), chatReq("llama3.2"), func(s string) error { got.WriteString(s); return nil })
		cut, ok := errors.AsType[*ollama.CutError](err)
		if !ok {
			t.Fatalf("err = %v (%T), want *CutError", err, err)
		}
		if !strings.Contains(cut.Error(), "the answer was cut short") || !strings.Contains(cut.Error(), "unexpected EOF") {
			t.Errorf("message = %q", cut)
		}
		if resp.Content != "one two three " || got.String() != resp.Content {
			t.Errorf("content %q, delivered %q", resp.Content, got.String())
		}
		if fake.Chats() != 1 {
			t.Errorf("%d chat requests, want 1 (no retry after delivery)", fake.Chats())
		}
	})
	t.Run("end without done after a piece: incomplete", func(t *testing.T) {
		fake, c := start(t)
		fake.SetChatReply(func(api.ChatRequest) string { return reply })
		fake.EndNextStream(2)
		resp, err := c.Chat(t.Context(), chatReq("llama3.2"), nil)
		if !errors.Is(err, ollama.ErrIncomplete) {
			t.Fatalf("err = %v, want ErrIncomplete", err)
		}
		if resp.Content != "one two three four five six " {
			t.Errorf("content = %q", resp.Content)
		}
		if fake.Chats() != 1 {
			t.Errorf("%d chat requests, want 1", fake.Chats())
		}
	})
	t.Run("end without done before any piece: retried", func(t *testing.T) {
		fake, c := start(t)
		fake.SetChatReply(func(api.ChatRequest) string { return reply })
		fake.EndNextStream(0)
		resp, err := c.Chat(t.Context(), chatReq("llama3.2"), nil)
		if err != nil || resp.Content != reply {
			t.Fatalf("Chat = %q, %v", resp.Content, err)
		}
	})
	t.Run("onDelta error: returned as is, not retried", func(t *testing.T) {
		fake, c := start(t)
		stop := errors.New("stdout closed")
		_, err := c.Chat(t.Context(), chatReq("llama3.2"), func(string) error { return stop })
		if err != stop {
			t.Errorf("err = %v, want the onDelta error itself", err)
		}
		if fake.Chats() != 1 {
			t.Errorf("%d chat requests", fake.Chats())
		}
	})
}

func TestCapabilities(t *testing.T) {
	fake, c := start(t)
	emb, err := c.Show(t.Context(), "all-minilm")
	if err != nil {
		t.Fatal(err)
	}
	chat, err := c.Show(t.Context(), "llama3.2")
	if err != nil {
		t.Fatal(err)
	}
	if !emb.CanEmbed() || emb.CanChat() || chat.CanEmbed() || !chat.CanChat() {
		t.Errorf("CanEmbed/CanChat wrong: embedding %+v, chat %+v", emb, chat)
	}
	if old := (ollama.ModelInfo{}); !old.CanEmbed() || !old.CanChat() {
		t.Error("a server that lists no capabilities is refused")
	}
	fake.SetChatReply(func(api.ChatRequest) string { return "x" })
	_, err = c.Chat(t.Context(), chatReq("all-minilm"), nil)
	if ce, ok := errors.AsType[*ollama.CapabilityError](err); !ok || ce.Want != ollama.CapCompletion || ce.Model != "all-minilm" {
		t.Errorf("chat with an embedding model: err = %v (%T)", err, err)
	} else if err.Error() != "all-minilm is an embedding model; it cannot chat" {
		t.Errorf("message = %q", err)
	}
	if n := fake.Calls("/api/chat"); n != 0 {
		t.Errorf("%d chat requests for a model that cannot chat", n)
	}
	_, err = c.Embed(t.Context(), "llama3.2", []string{"x"})
	if ce, ok := errors.AsType[*ollama.CapabilityError](err); !ok || ce.Want != ollama.CapEmbedding {
		t.Errorf("embed with a chat model: err = %v (%T)", err, err)
	}
	if n := fake.Calls("/api/embed"); n != 0 {
		t.Errorf("%d embed requests for a model that cannot embed", n)
	}
}

func TestHostErrors(t *testing.T) {
	fake, _ := start(t)
	c := newClient(t, fake.URL+"/api")
	_, err := c.Show(t.Context(), "all-minilm")
	he, ok := errors.AsType[*ollama.HostError](err)
	if !ok {
		t.Fatalf("err = %v (%T), want *HostError", err, err)
	}
	if !strings.Contains(he.Reason, "path /api") || !strings.Contains(he.Fix, "drop the path") || !strings.HasSuffix(he.Fix, fake.URL) {
		t.Errorf("HostError = %+v", he)
	}
	if _, ok := errors.AsType[*ollama.ModelMissingError](err); ok {
		t.Error("a missing route reads as a missing model")
	}

	c = newClient(t, "https://"+strings.TrimPrefix(fake.URL, "http://"))
	_, err = c.Show(t.Context(), "all-minilm")
	if he, ok := errors.AsType[*ollama.HostError](err); !ok || !strings.Contains(he.Fix, fake.URL) {
		t.Errorf("https to plain HTTP: err = %v (%T)", err, err)
	}
	if n := fake.Calls("/api/show"); n != 0 {
		t.Errorf("https: %d requests reached the server", n)
	}
}

// TestRetryAfterReachesThePolicy: the official client drops response
// headers, so the client's transport carries a 429's or 503's Retry-After
// to the retry policy. A wait longer than the policy's budget (30 s) is
// then not retried under the policy's own half-second backoff: the call
// fails at once, an embed.ErrUnavailable (ingest keeps the chunks pending),
// with the wait in its StatusError. The real server's own busy answer has
// no Retry-After and is retried under the backoff (the test above).
func TestRetryAfterReachesThePolicy(t *testing.T) {
	for _, tt := range []struct {
		path   string
		status int
		header http.Header
		want   time.Duration
	}{
		{"/api/embed", 429, http.Header{"Retry-After": {"120"}}, 120 * time.Second},
		{"/api/chat", 503, http.Header{"Retry-After": {"90"}}, 90 * time.Second},
		{"/api/embed", 503, http.Header{"Retry-After": {time.Now().Add(2 * time.Minute).UTC().Format(http.TimeFormat)}}, 110 * time.Second},
	} {
		t.Run(fmt.Sprint(tt.path, " ", tt.status), func(t *testing.T) {
			fake, c := start(t)
			var err error
			if tt.path == "/api/chat" {
				_, err = c.Chat(t.Context(), llm.Request{Model: "llama3.2", Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
			} else {
				_, err = c.Embed(t.Context(), "all-minilm", []string{"warm"}) // /api/show first
			}
			if err != nil {
				t.Fatal(err)
			}
			calls := fake.Calls(tt.path)
			fake.FailNextWith(tt.path, tt.status, tt.header, `{"error":"slow down"}`, 1)
			if tt.path == "/api/chat" {
				_, err = c.Chat(t.Context(), llm.Request{Model: "llama3.2", Messages: []llm.Message{{Role: "user", Content: "hi"}}}, nil)
			} else {
				_, err = c.Embed(t.Context(), "all-minilm", []string{"a"})
			}
			if n := fake.Calls(tt.path) - calls; n != 1 {
				t.Errorf("%s called %d times; a Retry-After past the budget must not be retried", tt.path, n)
			}
			se, ok := errors.AsType[*ollama.StatusError](err)
			if !ok || se.Code != tt.status || se.RetryAfter() < tt.want || se.RetryAfter() > tt.want+15*time.Second {
				t.Fatalf("err = %v (%+v); want a %d StatusError with RetryAfter about %s", err, se, tt.status, tt.want)
			}
			if !errors.Is(err, embed.ErrUnavailable) {
				t.Errorf("%v is not ErrUnavailable", err)
			}
		})
	}
}
