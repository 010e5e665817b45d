package chat_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/chat"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/server"
)

var docs = map[string]string{
	"exporter.md": "# Exporter\n\nThe exporter retries a failed batch three times.\n",
	"timeouts.md": "# Timeouts\n\nThe exporter gives up on a batch after a timeout of ten seconds.\n",
	"cats.md":     "# Cats\n\nCats purr and sleep all day long.\n",
}

func newSession(t *testing.T) (*chat.Session, *ollamatest.Server, string) {
	t.Helper()
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	c, err := ollama.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	root, idx := filepath.Join(dir, "notes"), filepath.Join(dir, "index")
	os.MkdirAll(root, 0o755)
	for name, text := range docs {
		os.WriteFile(filepath.Join(root, name), []byte(text), 0o644)
	}
	opener := func(ctx context.Context, model string) (embed.Embedder, int, error) {
		return &ollama.Embedder{Client: c, Name: model}, 512, nil
	}
	if _, err := ingest.Run(t.Context(), ingest.Options{Roots: []string{root}, IndexDir: idx,
		Index: index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, Embedder: opener}); err != nil {
		t.Fatal(err)
	}
	svc, err := server.Open(server.Config{IndexDir: idx, Chat: c, ChatModel: "llama3.2",
		Embedder: func(model string) embed.Embedder { return &ollama.Embedder{Client: c, Name: model} }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { svc.Close() })
	return &chat.Session{Asker: svc, Chat: c, Model: "llama3.2", K: 1, Mode: "lexical"}, fake, root
}

// chats records every chat request's messages, joined.
func chats(fake *ollamatest.Server) *[]string {
	var seen []string
	fake.SetChatHook(func(req api.ChatRequest) ollamatest.ChatOutcome {
		var b strings.Builder
		for _, m := range req.Messages {
			b.WriteString(m.Role + ": " + m.Content + "\n")
		}
		seen = append(seen, b.String())
		if strings.Contains(b.String(), "Last question: and what about its limit?") {
			return ollamatest.ChatOutcome{Reply: "What is the exporter batch timeout?\n"} // the rewrite
		}
		return ollamatest.ChatOutcome{Reply: "It retries three times [1]."}
	})
	return &seen
}

// TestFollowUpIsRewritten: a follow-up is rewritten with the conversation
// before retrieval, the rewritten question finds the right passage, and each
// turn has its own sources.
func TestFollowUpIsRewritten(t *testing.T) {
	s, fake, root := newSession(t)
	seen := chats(fake)

	first, err := s.Ask(t.Context(), "how often does the exporter retry a batch?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if first.Standalone != first.Question || len(*seen) != 1 {
		t.Errorf("the first question was rewritten (%q) or cost %d chat calls, want 1", first.Standalone, len(*seen))
	}
	if len(first.Sources) != 1 || first.Sources[0].Path != filepath.Join(root, "exporter.md") {
		t.Errorf("first sources = %+v, want exporter.md", first.Sources)
	}

	second, err := s.Ask(t.Context(), "and what about its limit?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if second.Standalone != "What is the exporter batch timeout?" {
		t.Errorf("standalone = %q", second.Standalone)
	}
	if len(*seen) != 3 {
		t.Fatalf("%d chat calls, want 3 (answer, rewrite, answer)", len(*seen))
	}
	rewrite, answer := (*seen)[1], (*seen)[2]
	for _, want := range []string{"User: how often does the exporter retry a batch?", "Assistant: It retries three times [1].", "Last question: and what about its limit?"} {
		if !strings.Contains(rewrite, want) {
			t.Errorf("the rewrite request lacks %q:\n%s", want, rewrite)
		}
	}
	if !strings.Contains(answer, "Question: What is the exporter batch timeout?") || !strings.Contains(answer, "timeout of ten seconds") {
		t.Errorf("the answer was not asked with the standalone question and its passage:\n%s", answer)
	}
	if len(second.Sources) != 1 || second.Sources[0].Path != filepath.Join(root, "timeouts.md") {
		t.Errorf("second sources = %+v, want timeouts.md (the follow-up alone matches nothing)", second.Sources)
	}
	if s.Last() != nil && s.Last().Sources[0].Path != second.Sources[0].Path {
		t.Error("Last is not the latest turn")
	}

	// After /reset the next question stands alone: no rewrite.
	c, ok, err := chat.ParseCommand("/reset")
	if !ok || err != nil {
		t.Fatal(ok, err)
	}
	s.Apply(c)
	third, err := s.Ask(t.Context(), "do cats purr?", nil)
	if err != nil {
		t.Fatal(err)
	}
	if third.Standalone != "do cats purr?" || len(*seen) != 4 {
		t.Errorf("after /reset: standalone %q, %d chat calls; want no rewrite", third.Standalone, len(*seen))
	}
}

func TestCommands(t *testing.T) {
	s := &chat.Session{}
	for _, tc := range []struct {
		line    string
		ok      bool
		wantErr bool
	}{
		{"what is this?", false, false},
		{"/k 8", true, false},
		{"/mode vector", true, false},
		{"/k 0", true, true},
		{"/k 51", true, true},
		{"/k many", true, true},
		{"/mode fuzzy", true, true},
		{"/mode", true, true},
		{"/sources", true, false},
		{"/frobnicate", true, true},
	} {
		c, ok, err := chat.ParseCommand(tc.line)
		if err == nil && ok {
			err = s.Apply(c)
		}
		if ok != tc.ok || (err != nil) != tc.wantErr {
			t.Errorf("%q: ok %v, err %v; want ok %v, error %v", tc.line, ok, err, tc.ok, tc.wantErr)
		}
	}
	if s.K != 8 || s.Mode != "vector" {
		t.Errorf("after /k 8 and /mode vector: k %d, mode %q", s.K, s.Mode)
	}
}
