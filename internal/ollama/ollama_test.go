package ollama_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retry"
)

var (
	miniLM = ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512}
	llama  = ollamatest.Model{Name: "llama3.2"}
)

// fastRetry is the default policy scaled down to keep the tests quick.
var fastRetry = retry.Policy{Initial: time.Millisecond, Max: 10 * time.Millisecond, Budget: 300 * time.Millisecond}

func start(t *testing.T) (*ollamatest.Server, *ollama.Client) {
	t.Helper()
	s := ollamatest.New(t, miniLM, llama)
	return s, newClient(t, s.URL)
}

func newClient(t *testing.T, host string) *ollama.Client {
	t.Helper()
	c, err := ollama.New(host)
	if err != nil {
		t.Fatalf("New(%q): %v", host, err)
	}
	c.Timing.Retry = fastRetry
	return c
}

// closedAddr returns host:port of a port on 127.0.0.1 nothing listens on.
func closedAddr(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	l.Close()
	return addr
}

// effective is the scheme, host and port a URL string really dials.
func effective(t *testing.T, raw string) string {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatalf("parse %q: %v", raw, err)
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	return u.Scheme + "://" + net.JoinHostPort(u.Hostname(), port)
}

func TestNewHost(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	hostport := strings.TrimPrefix(fake.URL, "http://")
	tests := []struct {
		name     string
		host     string
		env      string // OLLAMA_HOST
		wantHost string // Host(), "" to skip
		reach    bool   // Ping must succeed
	}{
		{name: "env full URL", host: "", env: fake.URL, wantHost: fake.URL, reach: true},
		{name: "env without scheme", host: "", env: hostport, wantHost: "http://" + hostport, reach: true},
		{name: "env unset", host: "", env: "", wantHost: "http://127.0.0.1:11434"},
		{name: "explicit full URL", host: fake.URL, env: "http://127.0.0.1:1", wantHost: fake.URL, reach: true},
		{name: "explicit without scheme", host: hostport, env: "http://127.0.0.1:1", wantHost: "http://" + hostport, reach: true},
		{name: "explicit with trailing slash", host: fake.URL + "/", env: "", reach: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", tt.env)
			c := newClient(t, tt.host)
			if tt.wantHost != "" && c.Host() != tt.wantHost {
				t.Errorf("Host() = %q, want %q", c.Host(), tt.wantHost)
			}
			if tt.reach {
				if err := c.Ping(t.Context()); err != nil {
					t.Errorf("Ping: %v", err)
				}
			}
		})
	}
}

func TestNewBadHost(t *testing.T) {
	if _, err := ollama.New("http://[::1"); err == nil {
		t.Fatal("New accepted a malformed URL")
	}
}

// TestNewExplicitHostReadLikeOllamaHost guards that a host given explicitly
// (config.Resolve hands OLLAMA_HOST, --ollama-host and the config file's
// ollama_host to New as an explicit host) dials the same address as the same
// value read from OLLAMA_HOST: "0.0.0.0" or "127.0.0.1" mean port 11434, as
// for the ollama command, not port 80.
func TestNewExplicitHostReadLikeOllamaHost(t *testing.T) {
	for _, h := range []string{
		"127.0.0.1:9999",
		"http://127.0.0.1:8080",
		"https://example.com",
		"127.0.0.1",
		"0.0.0.0",
		"localhost",
	} {
		t.Run(h, func(t *testing.T) {
			t.Setenv("OLLAMA_HOST", h)
			fromEnv := newClient(t, "").Host()
			explicit := newClient(t, h).Host()
			if a, b := effective(t, fromEnv), effective(t, explicit); a != b {
				t.Errorf("New(%q) dials %s, but OLLAMA_HOST=%s dials %s", h, b, h, a)
			}
		})
	}
}

func TestEmbedReturnsVectorsInOrder(t *testing.T) {
	fake, c := start(t)
	texts := []string{"alpha beta", "gamma", "delta epsilon zeta", "alpha beta"}
	got, err := c.Embed(t.Context(), "all-minilm", texts)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(texts) {
		t.Fatalf("got %d vectors for %d texts", len(got), len(texts))
	}
	for i, text := range texts {
		if want := ollamatest.Embed(text, 384); !slices.Equal(got[i], want) {
			t.Errorf("vector %d is not the embedding of %q", i, text)
		}
	}
	if n := fake.EmbeddedInputs(); n != len(texts) {
		t.Errorf("server embedded %d inputs, want %d", n, len(texts))
	}
	// The Embedder wrapper names its model and embeds the same way.
	e := &ollama.Embedder{Client: c, Name: "all-minilm"}
	if e.Model() != "all-minilm" {
		t.Errorf("Model() = %q", e.Model())
	}
	v, err := e.Embed(t.Context(), texts[:1])
	if err != nil || len(v) != 1 || !slices.Equal(v[0], got[0]) {
		t.Errorf("Embedder.Embed = %v, %v; want the client's vector", len(v), err)
	}
}

// TestEmbedRequest checks the request on the wire with a plain handler:
// truncate is sent as false, inputs in order; and a count mismatch in the
// answer is an error, not a short slice.
func TestEmbedRequest(t *testing.T) {
	var mu sync.Mutex
	var body map[string]any
	extra := 0
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/api/show" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"capabilities":["embedding"]}`)
			return
		}
		if r.URL.Path != "/api/embed" {
			http.NotFound(w, r)
			return
		}
		var req map[string]any
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		mu.Lock()
		body = req
		n := extra
		mu.Unlock()
		in, _ := req["input"].([]any)
		resp := api.EmbedResponse{Model: "m"}
		for i := range len(in) + n {
			resp.Embeddings = append(resp.Embeddings, []float32{float32(i + 1), 0})
		}
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(resp)
	}))
	t.Cleanup(ts.Close)
	c := newClient(t, ts.URL)

	got, err := c.Embed(t.Context(), "m", []string{"first", "second", "third"})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	tr, ok := body["truncate"]
	input := body["input"]
	model := body["model"]
	mu.Unlock()
	if !ok || tr != false {
		t.Errorf("truncate = %v (sent: %v), want false", tr, ok)
	}
	if want := []any{"first", "second", "third"}; !slices.Equal(input.([]any), want) {
		t.Errorf("input = %v, want %v", input, want)
	}
	if model != "m" {
		t.Errorf("model = %v", model)
	}
	for i, v := range got {
		if v[0] != float32(i+1) {
			t.Errorf("vector %d = %v, out of order", i, v)
		}
	}

	mu.Lock()
	extra = 1
	mu.Unlock()
	if _, err := c.Embed(t.Context(), "m", []string{"a", "b"}); err == nil {
		t.Error("3 embeddings for 2 inputs: no error")
	}
}

func TestEmbedErrors(t *testing.T) {
	fake := ollamatest.New(t, miniLM, llama)
	long := strings.Repeat("word ", 600)
	closed := closedAddr(t)
	tests := []struct {
		name  string
		host  string
		model string
		input string
		setup func()
		check func(t *testing.T, err error)
	}{
		{
			name: "input over the context length", model: "all-minilm", input: long,
			check: func(t *testing.T, err error) {
				if !errors.Is(err, embed.ErrInputTooLong) {
					t.Errorf("err = %v, want ErrInputTooLong", err)
				}
				if errors.Is(err, embed.ErrUnavailable) {
					t.Errorf("err = %v is also ErrUnavailable", err)
				}
			},
		},
		{
			name: "unknown model", model: "nomic-embed-text", input: "x",
			check: func(t *testing.T, err error) {
				var me *ollama.ModelMissingError
				if !errors.As(err, &me) {
					t.Fatalf("err = %v (%T), want *ModelMissingError", err, err)
				}
				if me.Model != "nomic-embed-text" || me.Host != fake.URL {
					t.Errorf("ModelMissingError = %+v", me)
				}
				if !strings.Contains(err.Error(), `"nomic-embed-text"`) {
					t.Errorf("message %q does not name the model", err)
				}
			},
		},
		{
			name: "server error with JSON body", model: "all-minilm", input: "x",
			setup: func() { fake.FailNext("/api/embed", 500, `{"error":"runner crashed"}`, 1000) },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "answered 500: runner crashed") {
					t.Errorf("err = %v, want answered 500: runner crashed", err)
				}
				// Once the retries are spent, a 5xx keeps ingest's chunks pending.
				if !errors.Is(err, embed.ErrUnavailable) || errors.Is(err, embed.ErrInputTooLong) {
					t.Errorf("err = %v is not ErrUnavailable", err)
				}
				if ge, ok := errors.AsType[*retry.GaveUpError](err); !ok || ge.Attempts < 2 {
					t.Errorf("err = %v: not retried", err)
				}
			},
		},
		{
			name: "server error with text body", model: "all-minilm", input: "x",
			setup: func() { fake.FailNext("/api/embed", 500, "Internal Server Error\n", 1000) },
			check: func(t *testing.T, err error) {
				if err == nil || !strings.Contains(err.Error(), "answered 500: Internal Server Error") {
					t.Errorf("err = %v", err)
				}
			},
		},
		{
			name: "chat model cannot embed", model: "llama3.2", input: "x",
			check: func(t *testing.T, err error) {
				ce, ok := errors.AsType[*ollama.CapabilityError](err)
				if !ok || ce.Model != "llama3.2" || ce.Want != ollama.CapEmbedding {
					t.Fatalf("err = %v (%T), want *CapabilityError{llama3.2, embedding}", err, err)
				}
				if err.Error() != "llama3.2 is a chat model; it cannot embed" {
					t.Errorf("message = %q", err)
				}
			},
		},
		{
			name: "closed port", host: closed, model: "all-minilm", input: "x",
			check: func(t *testing.T, err error) {
				var ue *ollama.UnreachableError
				if !errors.As(err, &ue) {
					t.Fatalf("err = %v (%T), want *UnreachableError", err, err)
				}
				if !errors.Is(err, embed.ErrUnavailable) {
					t.Errorf("err = %v is not ErrUnavailable", err)
				}
				if ue.Host != "http://"+closed {
					t.Errorf("Host = %q", ue.Host)
				}
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			host := fake.URL
			if tt.host != "" {
				host = tt.host
			}
			if tt.setup != nil {
				tt.setup()
			}
			_, err := newClient(t, host).Embed(t.Context(), tt.model, []string{"fine", tt.input})
			tt.check(t, err)
			fake.ClearFaults()
		})
	}
}

// TestServerDyingMidRequestIsUnavailable: a server that drops the connection
// without an answer and is then gone (Ollama killed or restarted mid-ingest)
// must read as unavailable, so that ingest stores the chunks pending instead
// of failing the run. The same EOF is what a client sees, now and then, when
// it reuses a kept-alive connection to a server that just stopped.
func TestServerDyingMidRequestIsUnavailable(t *testing.T) {
	var ts *httptest.Server
	ts = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		go ts.Listener.Close() // no new connections: the server is gone
		panic(http.ErrAbortHandler)
	}))
	t.Cleanup(ts.Close)
	_, err := newClient(t, ts.URL).Embed(t.Context(), "all-minilm", []string{"x"})
	if err == nil {
		t.Fatal("no error")
	}
	if !errors.Is(err, embed.ErrUnavailable) {
		t.Fatalf("err = %v (%T), want ErrUnavailable", err, err)
	}
}

func TestPing(t *testing.T) {
	_, c := start(t)
	if err := c.Ping(t.Context()); err != nil {
		t.Errorf("Ping: %v", err)
	}
	err := newClient(t, closedAddr(t)).Ping(t.Context())
	if !errors.Is(err, embed.ErrUnavailable) {
		t.Errorf("Ping of a closed port = %v, want ErrUnavailable", err)
	}
}

func TestShow(t *testing.T) {
	fake, c := start(t)
	fake.AddModel(ollamatest.Model{Name: "overstated", Embedding: true, Dim: 64, ContextLength: 100, ShowContextLength: 8192})
	tests := []struct {
		model string
		want  ollama.ModelInfo
	}{
		{"all-minilm", ollama.ModelInfo{ContextLength: 512, EmbeddingDim: 384, Capabilities: []string{"embedding"}}},
		{"all-minilm:latest", ollama.ModelInfo{ContextLength: 512, EmbeddingDim: 384, Capabilities: []string{"embedding"}}},
		{"overstated", ollama.ModelInfo{ContextLength: 8192, EmbeddingDim: 64, Capabilities: []string{"embedding"}}},
		{"llama3.2", ollama.ModelInfo{ContextLength: ollamatest.DefaultChatContext, EmbeddingDim: 3072, Capabilities: []string{"completion", "tools"}}},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			got, err := c.Show(t.Context(), tt.model)
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Show = %+v, want %+v", got, tt.want)
			}
		})
	}
	t.Run("missing", func(t *testing.T) {
		_, err := c.Show(t.Context(), "mxbai-embed-large")
		var me *ollama.ModelMissingError
		if !errors.As(err, &me) || me.Model != "mxbai-embed-large" {
			t.Errorf("err = %v, want *ModelMissingError for mxbai-embed-large", err)
		}
	})
}

func TestChat(t *testing.T) {
	const reply = "Paris is the capital of France [1]. It lies on the Seine [2]."
	temp := 0.2
	tests := []struct {
		name       string
		req        llm.Request
		wantNumCtx int    // 0: num_ctx must not be sent
		wantFormat string // "" : no format
	}{
		{name: "plain", req: llm.Request{}},
		{name: "num_ctx", req: llm.Request{NumCtx: 4096}, wantNumCtx: 4096},
		{name: "temperature", req: llm.Request{Temperature: &temp}},
		{name: "json schema", req: llm.Request{Format: []byte(`{"type":"object","properties":{"a":{"type":"string"}}}`)},
			wantFormat: `{"type":"object","properties":{"a":{"type":"string"}}}`},
		{name: "quoted json", req: llm.Request{Format: []byte(`"json"`)}, wantFormat: `"json"`},
		// llm.Request documents Format as `"json" or a JSON schema`.
		{name: "bare json", req: llm.Request{Format: []byte(`json`)}, wantFormat: `"json"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake, c := start(t)
			fake.SetChatReply(func(api.ChatRequest) string { return reply })
			req := tt.req
			req.Model = "llama3.2"
			req.Messages = []llm.Message{{Role: "system", Content: "be brief"}, {Role: "user", Content: "capital of France?"}}
			var deltas []string
			resp, err := c.Chat(t.Context(), req, func(s string) error {
				deltas = append(deltas, s)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
			if resp.Content != reply {
				t.Errorf("Content = %q, want %q", resp.Content, reply)
			}
			if strings.Join(deltas, "") != reply {
				t.Errorf("deltas %q do not concatenate to the reply", deltas)
			}
			if tt.wantFormat == "" && len(deltas) < 2 {
				t.Errorf("got %d deltas, want the reply streamed in pieces", len(deltas))
			}
			if resp.PromptTokens <= 0 || resp.OutputTokens <= 0 {
				t.Errorf("token counts = %d, %d", resp.PromptTokens, resp.OutputTokens)
			}
			last := fake.LastChat()
			if len(last.Messages) != 2 || last.Messages[0].Role != "system" || last.Messages[1].Content != "capital of France?" {
				t.Errorf("messages sent = %+v", last.Messages)
			}
			n, ok := last.Options["num_ctx"]
			switch {
			case tt.wantNumCtx == 0 && ok:
				t.Errorf("num_ctx = %v sent, want none", n)
			case tt.wantNumCtx != 0 && n != float64(tt.wantNumCtx):
				t.Errorf("num_ctx = %v, want %d", n, tt.wantNumCtx)
			}
			if tt.req.Temperature != nil && last.Options["temperature"] != *tt.req.Temperature {
				t.Errorf("temperature = %v, want %v", last.Options["temperature"], *tt.req.Temperature)
			}
			if got := strings.TrimSpace(string(last.Format)); got != tt.wantFormat {
				t.Errorf("format = %s, want %s", got, tt.wantFormat)
			}
		})
	}
}

func TestChatOnDeltaErrorStops(t *testing.T) {
	fake, c := start(t)
	fake.SetChatReply(func(api.ChatRequest) string { return "one two three four five six seven eight nine ten" })
	stop := errors.New("reader went away")
	calls := 0
	_, err := c.Chat(t.Context(), llm.Request{Model: "llama3.2", Messages: []llm.Message{{Role: "user", Content: "q"}}},
		func(string) error { calls++; return stop })
	if !errors.Is(err, stop) {
		t.Errorf("err = %v, want the onDelta error", err)
	}
	if calls != 1 {
		t.Errorf("onDelta called %d times after returning an error, want 1", calls)
	}
}

func TestChatErrors(t *testing.T) {
	fake, c := start(t)
	msgs := []llm.Message{{Role: "user", Content: "q"}}
	t.Run("missing model", func(t *testing.T) {
		_, err := c.Chat(t.Context(), llm.Request{Model: "mistral", Messages: msgs}, nil)
		var me *ollama.ModelMissingError
		if !errors.As(err, &me) || me.Model != "mistral" {
			t.Errorf("err = %v, want *ModelMissingError for mistral", err)
		}
	})
	t.Run("stream broken", func(t *testing.T) {
		fake.SetChatReply(func(api.ChatRequest) string { return "one two three four five six seven" })
		fake.BreakNextStream(1, "model runner has unexpectedly stopped")
		resp, err := c.Chat(t.Context(), llm.Request{Model: "llama3.2", Messages: msgs}, nil)
		if err == nil || !strings.Contains(err.Error(), "unexpectedly stopped") {
			t.Errorf("err = %v", err)
		}
		if resp.Content != "one two three " {
			t.Errorf("partial content = %q", resp.Content)
		}
	})
}

func TestChatCancelWhileServerHangs(t *testing.T) {
	fake, c := start(t)
	fake.Hang("/api/chat", true)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	type result struct {
		resp llm.Response
		err  error
	}
	done := make(chan result, 1)
	go func() {
		resp, err := c.Chat(ctx, llm.Request{Model: "llama3.2", Messages: []llm.Message{{Role: "user", Content: "q"}}}, nil)
		done <- result{resp, err}
	}()
	for fake.Calls("/api/chat") == 0 {
		select {
		case r := <-done:
			t.Fatalf("Chat returned before the cancel: %v", r.err)
		case <-time.After(5 * time.Millisecond):
		}
	}
	cancel()
	select {
	case r := <-done:
		if !errors.Is(r.err, context.Canceled) {
			t.Errorf("err = %v, want context.Canceled", r.err)
		}
	case <-time.After(time.Minute): // a hang, not a timing check
		t.Fatal("Chat did not return after its context was cancelled")
	}
}

func TestPull(t *testing.T) {
	fake, c := start(t)
	fake.AddPullable(ollamatest.Model{Name: "nomic-embed-text", Embedding: true, Dim: 768, ContextLength: 2048})
	if fake.HasModel("nomic-embed-text") {
		t.Fatal("model installed before the pull")
	}
	var statuses []string
	sawBytes := false
	err := c.Pull(t.Context(), "nomic-embed-text", func(status string, completed, total int64) {
		statuses = append(statuses, status)
		if total > 0 && completed == total {
			sawBytes = true
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) == 0 || statuses[len(statuses)-1] != "success" {
		t.Errorf("progress statuses = %q, want them to end with success", statuses)
	}
	if !sawBytes {
		t.Error("progress never reported the download complete")
	}
	if !fake.HasModel("nomic-embed-text") {
		t.Fatal("model not installed after the pull")
	}
	info, err := c.Show(t.Context(), "nomic-embed-text")
	if err != nil || info.EmbeddingDim != 768 {
		t.Errorf("Show after pull = %+v, %v", info, err)
	}
	// A nil progress callback is allowed.
	if err := c.Pull(t.Context(), "nomic-embed-text", nil); err != nil {
		t.Errorf("second pull, nil progress: %v", err)
	}
	if err := c.Pull(t.Context(), "no-such-model", nil); err == nil {
		t.Error("pulling an unknown model: no error")
	}
}
