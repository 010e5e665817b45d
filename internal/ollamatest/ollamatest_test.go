package ollamatest_test

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/ollamatest"
)

var (
	miniLM = ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512}
	llama  = ollamatest.Model{Name: "llama3.2", ContextLength: 8192}
)

// start returns a fake with an embedding and a chat model, and the real
// client pointed at it.
func start(t *testing.T) (*ollamatest.Server, *api.Client) {
	t.Helper()
	s := ollamatest.New(t, miniLM, llama)
	return s, client(t, s)
}

func client(t *testing.T, s *ollamatest.Server) *api.Client {
	t.Helper()
	u, err := url.Parse(s.URL)
	if err != nil {
		t.Fatal(err)
	}
	return api.NewClient(u, http.DefaultClient)
}

func ptr[T any](v T) *T { return &v }

// statusError asserts that err is an api.StatusError with status and message.
func statusError(t *testing.T, err error, status int, message string) {
	t.Helper()
	var se api.StatusError
	if !errors.As(err, &se) {
		t.Fatalf("error = %v (%T), want api.StatusError %d %q", err, err, status, message)
	}
	if se.StatusCode != status || se.ErrorMessage != message {
		t.Fatalf("error = %d %q, want %d %q", se.StatusCode, se.ErrorMessage, status, message)
	}
}

func norm(v []float32) float64 {
	var sum float64
	for _, x := range v {
		sum += float64(x) * float64(x)
	}
	return math.Sqrt(sum)
}

func cosine(a, b []float32) float64 {
	var dot float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
	}
	return dot / (norm(a) * norm(b))
}

func TestEmbedBatch(t *testing.T) {
	s, c := start(t)
	texts := []string{"the cat sat on the mat", "Go is a programming language", "ünïcode wörds"}
	resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: texts})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Model != "all-minilm" {
		t.Errorf("model = %q", resp.Model)
	}
	if len(resp.Embeddings) != len(texts) {
		t.Fatalf("got %d embeddings, want %d", len(resp.Embeddings), len(texts))
	}
	for i, v := range resp.Embeddings {
		if !slices.Equal(v, ollamatest.Embed(texts[i], 384)) {
			t.Errorf("embedding %d differs from Embed(%q, 384)", i, texts[i])
		}
	}
	wantTokens := 0
	for _, text := range texts {
		wantTokens += ollamatest.CountTokens(text) + 2 // [CLS] and [SEP], as the real server counts
	}
	if resp.PromptEvalCount != wantTokens {
		t.Errorf("prompt_eval_count = %d, want %d", resp.PromptEvalCount, wantTokens)
	}
	if got := s.EmbeddedInputs(); got != 3 {
		t.Errorf("EmbeddedInputs = %d, want 3", got)
	}
	if got := s.Calls("/api/embed"); got != 1 {
		t.Errorf("Calls(/api/embed) = %d, want 1", got)
	}
}

func TestEmbedSingleStringAndTaggedName(t *testing.T) {
	s, c := start(t)
	for _, name := range []string{"all-minilm", "all-minilm:latest", "ALL-MiniLM"} {
		resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: name, Input: "hello world"})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if len(resp.Embeddings) != 1 || len(resp.Embeddings[0]) != 384 {
			t.Fatalf("%s: got %d embeddings", name, len(resp.Embeddings))
		}
	}
	// An empty input only loads the model.
	resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: ""})
	if err != nil {
		t.Fatal(err)
	}
	if resp.Embeddings == nil || len(resp.Embeddings) != 0 {
		t.Errorf("empty input: embeddings = %v, want []", resp.Embeddings)
	}
	if got := s.EmbeddedInputs(); got != 3 {
		t.Errorf("EmbeddedInputs = %d, want 3", got)
	}
}

func TestEmbedDimensions(t *testing.T) {
	_, c := start(t)
	resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "some text here", Dimensions: 64})
	if err != nil {
		t.Fatal(err)
	}
	if v := resp.Embeddings[0]; len(v) != 64 || math.Abs(norm(v)-1) > 1e-5 {
		t.Errorf("dimensions=64: got len %d, norm %v", len(v), norm(v))
	}
}

func TestEmbedOverContextLength(t *testing.T) {
	_, c := start(t)
	long := strings.Repeat("word ", 600) // 600 tokens, context is 512

	_, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: []string{"short", long}, Truncate: ptr(false)})
	statusError(t, err, http.StatusBadRequest, "the input length exceeds the context length")

	for _, truncate := range []*bool{nil, ptr(true)} {
		resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: long, Truncate: truncate})
		if err != nil {
			t.Fatalf("truncate=%v: %v", truncate, err)
		}
		if want := ollamatest.Embed(ollamatest.TruncateTokens(long, 510), 384); !slices.Equal(resp.Embeddings[0], want) {
			t.Errorf("truncate=%v: embedding is not that of the first 510 words (512 tokens with [CLS], [SEP])", truncate)
		}
		if resp.PromptEvalCount != 512 {
			t.Errorf("truncate=%v: prompt_eval_count = %d, want 512", truncate, resp.PromptEvalCount)
		}
	}

	// options.num_ctx lowers the limit below the model's context length.
	_, err = c.Embed(t.Context(), &api.EmbedRequest{
		Model: "all-minilm", Input: strings.Repeat("w ", 100), Truncate: ptr(false),
		Options: map[string]any{"num_ctx": 64},
	})
	statusError(t, err, http.StatusBadRequest, "the input length exceeds the context length")
}

func TestUnknownModel(t *testing.T) {
	_, c := start(t)
	ctx := t.Context()
	tests := []struct {
		name    string
		call    func() error
		message string
	}{
		{"embed", func() error {
			_, err := c.Embed(ctx, &api.EmbedRequest{Model: "nomic-embed-text", Input: "x"})
			return err
		}, `model "nomic-embed-text" not found, try pulling it first`},
		{"show", func() error {
			_, err := c.Show(ctx, &api.ShowRequest{Model: "nomic-embed-text"})
			return err
		}, "model 'nomic-embed-text' not found"},
		{"chat", func() error {
			return c.Chat(ctx, &api.ChatRequest{Model: "nomic-embed-text", Messages: []api.Message{{Role: "user", Content: "hi"}}},
				func(api.ChatResponse) error { return nil })
		}, "model 'nomic-embed-text' not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			statusError(t, tt.call(), http.StatusNotFound, tt.message)
		})
	}
}

func TestWrongModelKind(t *testing.T) {
	_, c := start(t)
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "all-minilm", Messages: []api.Message{{Role: "user", Content: "hi"}}},
		func(api.ChatResponse) error { return nil })
	statusError(t, err, http.StatusBadRequest, `"all-minilm" does not support chat`)

	// The real server embeds with a chat model: a vector of its hidden size.
	resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "llama3.2", Input: "hi"})
	if err != nil || len(resp.Embeddings) != 1 || len(resp.Embeddings[0]) != 3072 {
		t.Errorf("embed with a chat model = %v, %v; want one 3072-d vector", resp, err)
	}
}

func TestMissingBody(t *testing.T) {
	s, _ := start(t)
	for _, path := range []string{"/api/embed", "/api/chat", "/api/show", "/api/pull"} {
		resp, err := http.Post(s.URL+path, "application/json", nil)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || string(body) != `{"error":"missing request body"}` {
			t.Errorf("%s: %d %s", path, resp.StatusCode, body)
		}
	}
}

func TestShow(t *testing.T) {
	_, c := start(t)
	tests := []struct {
		model, key string
		ctxLen     int
		capability string
	}{
		{"all-minilm", "bert.context_length", 512, "embedding"},
		{"llama3.2:latest", "llama.context_length", 8192, "completion"},
	}
	for _, tt := range tests {
		t.Run(tt.model, func(t *testing.T) {
			resp, err := c.Show(t.Context(), &api.ShowRequest{Model: tt.model})
			if err != nil {
				t.Fatal(err)
			}
			if got, ok := resp.ModelInfo[tt.key].(float64); !ok || int(got) != tt.ctxLen {
				t.Errorf("model_info[%s] = %v, want %d", tt.key, resp.ModelInfo[tt.key], tt.ctxLen)
			}
			if len(resp.Capabilities) == 0 || string(resp.Capabilities[0]) != tt.capability {
				t.Errorf("capabilities = %v, want %s first", resp.Capabilities, tt.capability)
			}
		})
	}
	resp, err := c.Show(t.Context(), &api.ShowRequest{Model: "all-minilm"})
	if err != nil {
		t.Fatal(err)
	}
	if got := resp.ModelInfo["bert.embedding_length"]; got != float64(384) {
		t.Errorf("bert.embedding_length = %v, want 384", got)
	}
}

func TestChatStream(t *testing.T) {
	s, c := start(t)
	const reply = "Paris is the capital of France [1]. It is also large [2]."
	s.SetChatReply(func(req api.ChatRequest) string { return reply })
	req := &api.ChatRequest{
		Model:    "llama3.2",
		Messages: []api.Message{{Role: "system", Content: "Answer from the sources."}, {Role: "user", Content: "What is the capital of France?"}},
		Options:  map[string]any{"num_ctx": 4096},
	}
	var chunks []api.ChatResponse
	err := c.Chat(t.Context(), req, func(r api.ChatResponse) error {
		chunks = append(chunks, r)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) < 3 {
		t.Fatalf("got %d chunks, want several", len(chunks))
	}
	var text strings.Builder
	for i, ch := range chunks {
		if ch.Done != (i == len(chunks)-1) {
			t.Errorf("chunk %d: done = %v", i, ch.Done)
		}
		text.WriteString(ch.Message.Content)
	}
	if text.String() != reply {
		t.Errorf("streamed text = %q, want %q", text.String(), reply)
	}
	last := chunks[len(chunks)-1]
	if last.DoneReason != "stop" || last.EvalCount != ollamatest.CountTokens(reply) || last.PromptEvalCount == 0 {
		t.Errorf("last chunk = %+v", last)
	}
	got := s.LastChat()
	if got.Options["num_ctx"] != float64(4096) || len(got.Messages) != 2 || got.Messages[1].Content != "What is the capital of France?" {
		t.Errorf("LastChat = %+v", got)
	}
}

func TestChatDefaultReplyCites(t *testing.T) {
	_, c := start(t)
	var text strings.Builder
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "why?"}}},
		func(r api.ChatResponse) error { text.WriteString(r.Message.Content); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(text.String(), "[1]") || !strings.Contains(text.String(), "why?") {
		t.Errorf("default reply = %q, want a [1] citation and the question", text.String())
	}
}

func TestChatNonStream(t *testing.T) {
	s, c := start(t)
	s.SetChatReply(func(req api.ChatRequest) string { return "one two three four five six seven" })
	var chunks []api.ChatResponse
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Stream: ptr(false), Messages: []api.Message{{Role: "user", Content: "count"}}},
		func(r api.ChatResponse) error { chunks = append(chunks, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 1 || !chunks[0].Done || chunks[0].Message.Content != "one two three four five six seven" {
		t.Errorf("chunks = %+v, want one complete answer", chunks)
	}
}

func TestChatFormat(t *testing.T) {
	s, c := start(t)
	const reply = `{"answer": "yes", "sources": [1, 2]}`
	s.SetChatReply(func(req api.ChatRequest) string { return reply })
	var chunks []api.ChatResponse
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Format: json.RawMessage(`"json"`), Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(r api.ChatResponse) error { chunks = append(chunks, r); return nil })
	if err != nil {
		t.Fatal(err)
	}
	if len(chunks) != 2 || chunks[0].Message.Content != reply || !chunks[1].Done {
		t.Errorf("chunks = %+v, want the reply in one piece then done", chunks)
	}
}

func TestBreakNextStream(t *testing.T) {
	s, c := start(t)
	s.BreakNextStream(1, "an error was encountered while running the model")
	var got int
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(r api.ChatResponse) error { got++; return nil })
	if err == nil || err.Error() != "an error was encountered while running the model" || got != 1 {
		t.Errorf("err = %v after %d chunks, want the stream error after 1", err, got)
	}
	// Only the next stream breaks.
	err = c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(r api.ChatResponse) error { return nil })
	if err != nil {
		t.Fatal(err)
	}
}

func TestFailNext(t *testing.T) {
	s, c := start(t)
	s.FailNext("/api/embed", http.StatusInternalServerError, `{"error":"llama runner process has terminated"}`, 2)
	for range 2 {
		_, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"})
		statusError(t, err, http.StatusInternalServerError, "llama runner process has terminated")
	}
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"}); err != nil {
		t.Fatalf("third call: %v", err)
	}
	if got := s.Calls("/api/embed"); got != 3 {
		t.Errorf("Calls = %d, want 3", got)
	}
	if got := s.EmbeddedInputs(); got != 1 {
		t.Errorf("EmbeddedInputs = %d, want 1", got)
	}

	// A failing stream endpoint answers before streaming, like a load error.
	s.FailNext("/api/chat", http.StatusServiceUnavailable, `{"error":"server busy, please try again.  maximum pending requests exceeded"}`, 1)
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(api.ChatResponse) error { return nil })
	statusError(t, err, http.StatusServiceUnavailable, "server busy, please try again.  maximum pending requests exceeded")
}

func TestHangUntilCancel(t *testing.T) {
	s, c := start(t)
	s.Hang("/api/chat", true)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		done <- c.Chat(ctx, &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
			func(api.ChatResponse) error { return nil })
	}()
	// Cancel only once the request has reached the server.
	for s.Calls("/api/chat") == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case err := <-done:
		t.Fatalf("hung request returned before cancel: %v", err)
	default:
	}
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Errorf("err = %v, want context.Canceled", err)
	}

	// Other paths still answer, and un-hanging restores the path.
	if _, err := c.Version(t.Context()); err != nil {
		t.Fatal(err)
	}
	s.Hang("/api/chat", false)
	if err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(api.ChatResponse) error { return nil }); err != nil {
		t.Fatal(err)
	}
}

func TestCloseReleasesHungRequests(t *testing.T) {
	s := ollamatest.NewServer(miniLM)
	c := client(t, s)
	s.Hang("/api/embed", true)
	done := make(chan error, 1)
	go func() {
		_, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"})
		done <- err
	}()
	for s.Calls("/api/embed") == 0 {
		time.Sleep(time.Millisecond)
	}
	s.Close()
	if err := <-done; err == nil {
		t.Error("hung request succeeded after Close")
	}
	s.Close() // twice is fine
}

func TestLatencyRespectsCancel(t *testing.T) {
	s, c := start(t)
	s.SetLatency(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	_, err := c.Embed(ctx, &api.EmbedRequest{Model: "all-minilm", Input: "x"})
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
	s.SetLatency(time.Millisecond)
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"}); err != nil {
		t.Fatal(err)
	}
}

func TestChunkDelayRespectsCancel(t *testing.T) {
	s, c := start(t)
	s.SetChunkDelay(time.Hour)
	ctx, cancel := context.WithTimeout(t.Context(), 20*time.Millisecond)
	defer cancel()
	err := c.Chat(ctx, &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(api.ChatResponse) error { return nil })
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("err = %v, want deadline exceeded", err)
	}
}

func TestPull(t *testing.T) {
	s, c := start(t)
	nomic := ollamatest.Model{Name: "nomic-embed-text", Embedding: true, Dim: 768, ContextLength: 2048}
	s.AddPullable(nomic)
	if s.HasModel("nomic-embed-text") {
		t.Fatal("pullable model is installed before the pull")
	}
	var statuses []string
	var sawBytes bool
	err := c.Pull(t.Context(), &api.PullRequest{Model: "nomic-embed-text"}, func(p api.ProgressResponse) error {
		statuses = append(statuses, p.Status)
		if p.Total > 0 && p.Completed == p.Total && p.Digest != "" {
			sawBytes = true
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(statuses) < 3 || statuses[0] != "pulling manifest" || statuses[len(statuses)-1] != "success" || !sawBytes {
		t.Errorf("progress = %q (download seen: %v)", statuses, sawBytes)
	}
	resp, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "nomic-embed-text:latest", Input: "x"})
	if err != nil {
		t.Fatal(err)
	}
	if len(resp.Embeddings[0]) != 768 {
		t.Errorf("dim = %d, want 768", len(resp.Embeddings[0]))
	}
	list, err := c.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if list.Models[0].Name != "nomic-embed-text:latest" {
		t.Errorf("newest model listed first = %q, want nomic-embed-text:latest", list.Models[0].Name)
	}
}

func TestPullUnknown(t *testing.T) {
	_, c := start(t)
	var statuses []string
	err := c.Pull(t.Context(), &api.PullRequest{Model: "no-such-model"}, func(p api.ProgressResponse) error {
		statuses = append(statuses, p.Status)
		return nil
	})
	// The error comes as a stream line after "pulling manifest", so the
	// client reports it as a plain error, not a StatusError.
	if err == nil || err.Error() != "pull model manifest: file does not exist" {
		t.Errorf("err = %v", err)
	}
	if !slices.Equal(statuses, []string{"pulling manifest"}) {
		t.Errorf("progress = %q", statuses)
	}

	err = c.Pull(t.Context(), &api.PullRequest{Model: "no-such-model", Stream: ptr(false)}, func(api.ProgressResponse) error { return nil })
	statusError(t, err, http.StatusInternalServerError, "pull model manifest: file does not exist")
}

func TestPullNonStream(t *testing.T) {
	s, c := start(t)
	s.AddPullable(ollamatest.Model{Name: "qwen2.5:0.5b"})
	var got []api.ProgressResponse
	err := c.Pull(t.Context(), &api.PullRequest{Model: "qwen2.5:0.5b", Stream: ptr(false)}, func(p api.ProgressResponse) error {
		got = append(got, p)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].Status != "success" || !s.HasModel("qwen2.5:0.5b") {
		t.Errorf("progress = %+v, installed = %v", got, s.HasModel("qwen2.5:0.5b"))
	}
	if s.HasModel("qwen2.5") {
		t.Error("qwen2.5:latest installed by a pull of qwen2.5:0.5b")
	}
}

func TestListVersionHeartbeat(t *testing.T) {
	s, c := start(t)
	list, err := c.List(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, m := range list.Models {
		names = append(names, m.Name)
	}
	if !slices.Equal(names, []string{"llama3.2:latest", "all-minilm:latest"}) {
		t.Errorf("models = %q", names)
	}
	v, err := c.Version(t.Context())
	if err != nil || v != "0.17.4" {
		t.Errorf("version = %q, %v", v, err)
	}
	if err := c.Heartbeat(t.Context()); err != nil {
		t.Errorf("heartbeat: %v", err)
	}
	resp, err := http.Get(s.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "Ollama is running" {
		t.Errorf("GET / = %q", body)
	}

	if !s.RemoveModel("all-minilm") {
		t.Fatal("RemoveModel: not installed")
	}
	_, err = c.Show(t.Context(), &api.ShowRequest{Model: "all-minilm"})
	statusError(t, err, http.StatusNotFound, "model 'all-minilm' not found")
}

func TestUnknownPath(t *testing.T) {
	s, _ := start(t)
	resp, err := http.Get(s.URL + "/api/embed") // wrong method, as gin: 404
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound || string(body) != "404 page not found" {
		t.Errorf("GET /api/embed = %d %q", resp.StatusCode, body)
	}
}

func TestConcurrentUse(t *testing.T) {
	s, c := start(t)
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			s.SetLatency(time.Duration(i) * time.Microsecond)
			if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: []string{"a", "b"}}); err != nil {
				t.Error(err)
			}
			_ = s.Calls("/api/embed")
			_ = s.LastChat()
		})
	}
	wg.Wait()
	if got := s.EmbeddedInputs(); got != 16 {
		t.Errorf("EmbeddedInputs = %d, want 16", got)
	}
}

func TestEndNextStream(t *testing.T) {
	s, c := start(t)
	s.SetChatReply(func(api.ChatRequest) string { return "one two three four five six seven" })
	s.EndNextStream(2)
	var chunks []api.ChatResponse
	err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Messages: []api.Message{{Role: "user", Content: "q"}}},
		func(r api.ChatResponse) error { chunks = append(chunks, r); return nil })
	// The official client reads a stream that just ends as a success.
	if err != nil || len(chunks) != 2 || chunks[1].Done {
		t.Errorf("err = %v, chunks = %+v; want 2 chunks without done and no error", err, chunks)
	}
}

func TestHangFor(t *testing.T) {
	s, c := start(t)
	s.HangFor("/api/embed", 200*time.Millisecond, 1)
	start := time.Now()
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d < 200*time.Millisecond {
		t.Errorf("first request answered after %s, want the 200ms hang", d)
	}
	start = time.Now()
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"}); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d >= 200*time.Millisecond {
		t.Errorf("second request took %s: the hang did not clear", d)
	}
	// A client that gives up during the hang gets no answer.
	s.HangFor("/api/embed", time.Minute, 1)
	ctx, cancel := context.WithTimeout(t.Context(), 50*time.Millisecond)
	defer cancel()
	if _, err := c.Embed(ctx, &api.EmbedRequest{Model: "all-minilm", Input: "x"}); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("err = %v, want the client's deadline", err)
	}
}

func TestClearFaults(t *testing.T) {
	s, c := start(t)
	s.FailNext("/api/embed", 500, `{"error":"x"}`, 10)
	s.HangFor("/api/embed", time.Minute, 10)
	s.Hang("/api/chat", true)
	s.ClearFaults()
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: "x"}); err != nil {
		t.Errorf("after ClearFaults: %v", err)
	}
}

// TestEmbedContextCountsSpecialTokens: as on the real all-MiniLM, 510 words
// fill the 512-token context with [CLS] and [SEP]; 511 are too many.
func TestEmbedContextCountsSpecialTokens(t *testing.T) {
	_, c := start(t)
	no := false
	if _, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: strings.Repeat("word ", 510), Truncate: &no}); err != nil {
		t.Errorf("510 words: %v", err)
	}
	_, err := c.Embed(t.Context(), &api.EmbedRequest{Model: "all-minilm", Input: strings.Repeat("word ", 511), Truncate: &no})
	statusError(t, err, http.StatusBadRequest, "the input length exceeds the context length")
}

// TestChatPromptTruncatedToWindow: a prompt longer than num_ctx (4096 when
// not given) is cut to it, as the real server does, and counted.
func TestChatPromptTruncatedToWindow(t *testing.T) {
	s, c := start(t)
	var last api.ChatResponse
	chat := func(content string, opts map[string]any) {
		t.Helper()
		err := c.Chat(t.Context(), &api.ChatRequest{Model: "llama3.2", Options: opts, Messages: []api.Message{{Role: "user", Content: content}}},
			func(r api.ChatResponse) error { last = r; return nil })
		if err != nil {
			t.Fatal(err)
		}
	}
	chat(strings.Repeat("word ", 300), map[string]any{"num_ctx": 256})
	if last.PromptEvalCount != 256 || s.TruncatedPrompts() != 1 {
		t.Errorf("num_ctx 256: prompt_eval_count %d, truncated %d; want 256, 1", last.PromptEvalCount, s.TruncatedPrompts())
	}
	chat(strings.Repeat("word ", 5000), nil)
	if last.PromptEvalCount != ollamatest.DefaultNumCtx || s.TruncatedPrompts() != 2 {
		t.Errorf("default window: prompt_eval_count %d, truncated %d", last.PromptEvalCount, s.TruncatedPrompts())
	}
	chat("short", map[string]any{"num_ctx": 256})
	if s.TruncatedPrompts() != 2 {
		t.Error("a prompt that fits was counted as truncated")
	}
}

// TestPullOffline: without network the real server fails a pull with the
// registry's DNS lookup error.
func TestPullOffline(t *testing.T) {
	s, c := start(t)
	s.SetOffline(true)
	err := c.Pull(t.Context(), &api.PullRequest{Model: "nomic-embed-text"}, func(api.ProgressResponse) error { return nil })
	if err == nil || !strings.Contains(err.Error(), `pull model manifest: Get "https://registry.ollama.ai/v2/library/nomic-embed-text/manifests/latest": dial tcp: lookup registry.ollama.ai`) {
		t.Errorf("err = %v", err)
	}
}

// TestBusyAndRetryAfter: Busy answers as the real v0.17.4 does with a full
// queue (503, its text, no Retry-After); FailNextWith sends the headers a
// proxy in front of Ollama would, such as a 429's Retry-After.
func TestBusyAndRetryAfter(t *testing.T) {
	s := ollamatest.New(t, miniLM)
	s.Busy("/api/embed", 1)
	s.FailNextWith("/api/embed", http.StatusTooManyRequests, http.Header{"Retry-After": {"7"}}, `{"error":"rate limited"}`, 1)
	post := func() (*http.Response, string) {
		resp, err := http.Post(s.URL+"/api/embed", "application/json", strings.NewReader(`{"model":"all-minilm","input":["a"]}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, string(b)
	}
	resp, body := post()
	if resp.StatusCode != 503 || body != `{"error":"`+ollamatest.BusyMessage+`"}` || resp.Header.Get("Retry-After") != "" {
		t.Errorf("busy: %d %s, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	resp, body = post()
	if resp.StatusCode != 429 || resp.Header.Get("Retry-After") != "7" || !strings.Contains(body, "rate limited") {
		t.Errorf("proxy 429: %d %s, Retry-After %q", resp.StatusCode, body, resp.Header.Get("Retry-After"))
	}
	if resp, _ = post(); resp.StatusCode != 200 {
		t.Errorf("after the faults: %d", resp.StatusCode)
	}
}
