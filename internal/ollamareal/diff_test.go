package ollamareal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/ollamatest"
)

// answer is what the differential check compares of one response: the
// status, the error text, and the shape of a success.
type answer struct {
	Status  int
	Error   string
	Vectors string // "N x DIM" for /api/embed
	Prompt  int    // prompt_eval_count of a chat or embed
	Done    bool
	Reason  string // done_reason
	Caps    string // capabilities of /api/show
	Context int    // *.context_length of /api/show
}

func ask(t *testing.T, host, path, body string) answer {
	t.Helper()
	resp, err := http.Post(host+path, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatalf("%s %s: %v", host, path, err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	a := answer{Status: resp.StatusCode}
	// A stream: its last line decides.
	lines := bytes.Split(bytes.TrimSpace(data), []byte("\n"))
	var v struct {
		Error           string          `json:"error"`
		Embeddings      [][]float32     `json:"embeddings"`
		PromptEvalCount int             `json:"prompt_eval_count"`
		Done            bool            `json:"done"`
		DoneReason      string          `json:"done_reason"`
		Capabilities    []string        `json:"capabilities"`
		ModelInfo       map[string]any  `json:"model_info"`
		Message         json.RawMessage `json:"message"`
	}
	json.Unmarshal(lines[len(lines)-1], &v)
	a.Error, a.Done, a.Reason = v.Error, v.Done, v.DoneReason
	if path == "/api/embed" && v.Error == "" {
		dim := 0
		if len(v.Embeddings) > 0 {
			dim = len(v.Embeddings[0])
		}
		a.Vectors = fmt.Sprintf("%d x %d", len(v.Embeddings), dim)
	}
	if path != "/api/show" {
		a.Prompt = v.PromptEvalCount
	}
	a.Caps = strings.Join(v.Capabilities, ",")
	for k, x := range v.ModelInfo {
		if n, ok := x.(float64); ok && strings.HasSuffix(k, ".context_length") {
			a.Context = int(n)
		}
	}
	return a
}

// TestFakeMatchesRealServer sends the same requests to the fake server of
// package ollamatest, set up like the tiny models, and to the real one. The
// fast suite is only as true as the fake: a difference here is a bug in the
// fake. Token counts are compared only where the fake's word count is the
// real tokenizer's (inputs of plain repeated words).
func TestFakeMatchesRealServer(t *testing.T) {
	s := need(t)
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", Dim: 64, ContextLength: 131072},
	)
	fake.SetOffline(true)
	words := func(n int) string { return strings.TrimSpace(strings.Repeat("word ", n)) }
	cases := []struct {
		name, path, body string
		counts           bool // compare prompt_eval_count too
		skipReason       bool // done_reason depends on what the random model writes
	}{
		{name: "show embedding model", path: "/api/show", body: `{"model":"all-minilm"}`},
		{name: "show chat model", path: "/api/show", body: `{"model":"llama3.2"}`},
		{name: "show missing model", path: "/api/show", body: `{"model":"nope"}`},
		{name: "embed missing model", path: "/api/embed", body: `{"model":"nope","input":["x"]}`},
		{name: "chat missing model", path: "/api/chat", body: `{"model":"nope","messages":[{"role":"user","content":"x"}]}`},
		{name: "embed 510 words", path: "/api/embed", body: fmt.Sprintf(`{"model":"all-minilm","input":[%q],"truncate":false}`, words(510)), counts: true},
		{name: "embed 511 words, truncate false", path: "/api/embed", body: fmt.Sprintf(`{"model":"all-minilm","input":["ok",%q],"truncate":false}`, words(511))},
		{name: "embed over-long, truncate omitted", path: "/api/embed", body: fmt.Sprintf(`{"model":"all-minilm","input":[%q]}`, words(600)), counts: true},
		{name: "embed over-long, truncate true", path: "/api/embed", body: fmt.Sprintf(`{"model":"all-minilm","input":[%q],"truncate":true}`, words(600)), counts: true},
		{name: "embed over num_ctx", path: "/api/embed", body: fmt.Sprintf(`{"model":"all-minilm","input":[%q],"options":{"num_ctx":128},"truncate":false}`, words(200))},
		{name: "embed empty list", path: "/api/embed", body: `{"model":"all-minilm","input":[]}`},
		{name: "embed empty string", path: "/api/embed", body: `{"model":"all-minilm","input":""}`},
		{name: "embed with a chat model", path: "/api/embed", body: `{"model":"llama3.2","input":["word word"]}`},
		{name: "chat with an embedding model", path: "/api/chat", body: `{"model":"all-minilm","messages":[{"role":"user","content":"x"}]}`},
		{name: "chat without messages", path: "/api/chat", body: `{"model":"llama3.2","messages":[],"stream":false}`},
		{name: "chat over num_ctx", path: "/api/chat", body: fmt.Sprintf(`{"model":"llama3.2","messages":[{"role":"user","content":%q}],"options":{"num_ctx":256,"seed":1},"stream":false}`, words(600)), counts: true, skipReason: true},
		{name: "invalid model name", path: "/api/show", body: `{"model":"a:b:c"}`},
		{name: "pull without network", path: "/api/pull", body: `{"model":"no-such-model-xyz"}`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			real, fk := ask(t, s.host, c.path, c.body), ask(t, fake.URL, c.path, c.body)
			if !c.counts {
				real.Prompt, fk.Prompt = 0, 0
			}
			if c.skipReason {
				real.Reason, fk.Reason = "", ""
			}
			if c.path == "/api/pull" {
				// The resolver's address differs per machine; the rest is the server's.
				cut := func(s string) string { r, _, _ := strings.Cut(s, " on "); return r }
				real.Error, fk.Error = cut(real.Error), cut(fk.Error)
				if !strings.Contains(real.Error, "dial tcp") {
					t.Skipf("this server reaches its registry: %q", real.Error)
				}
			}
			if c.name == "show chat model" {
				// The registry's llama3.2 template has tools; the tiny one has not.
				real.Caps, fk.Caps = strings.TrimSuffix(real.Caps, ",tools"), strings.TrimSuffix(fk.Caps, ",tools")
			}
			if real != fk {
				t.Errorf("real %+v\nfake %+v", real, fk)
			}
		})
	}
}
