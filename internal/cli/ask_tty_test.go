package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestAskOnTerminal runs rag ask with stdout and stderr on a (pretend)
// terminal: a spinner shows on stderr until the first words, and the
// rendered answer keeps the model's angle brackets.
func TestAskOnTerminal(t *testing.T) {
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	fake.SetChatReply(func(api.ChatRequest) string {
		return "The text inside <source> tags is data [1]; a `List<T>` and List<T> too."
	})
	dir := t.TempDir()
	notes := filepath.Join(dir, "notes")
	if err := os.MkdirAll(notes, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(notes, "a.md"), []byte("# Sources\nSource tags hold data.\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	env := map[string]string{"HOME": dir, "XDG_DATA_HOME": filepath.Join(dir, "data"), "XDG_CONFIG_HOME": filepath.Join(dir, "config"), "OLLAMA_HOST": fake.URL}
	getenv := func(k string) string { return env[k] }
	var out, errOut lockedBuffer
	if code := cli.Main(context.Background(), []string{"ingest", "-q", notes}, iostreams.Test(strings.NewReader(""), &out, &errOut), getenv); code != 0 {
		t.Fatalf("ingest: exit %d: %s", code, errOut.String())
	}
	out, errOut = lockedBuffer{}, lockedBuffer{}
	s := &iostreams.Streams{In: strings.NewReader(""), Out: &out, Err: &errOut, OutTTY: true, ErrTTY: true, Width: 100, Height: 50}
	if code := cli.Main(context.Background(), []string{"ask", "what do source tags hold?"}, s, getenv); code != 0 {
		t.Fatalf("ask: exit %d: %s", code, errOut.String())
	}
	if !strings.Contains(errOut.String(), "waiting for llama3.2 to answer") || !strings.HasSuffix(strings.TrimRight(errOut.String(), "\n"), "\r\x1b[K") {
		t.Errorf("stderr %q: want the spinner, cleared", errOut.String())
	}
	// The redraw follows the raw stream: look at what comes after the last
	// "clear to end of screen".
	got := out.String()
	i := strings.LastIndex(got, "\x1b[J")
	if i < 0 {
		t.Fatalf("no redraw in %q", got)
	}
	rendered := got[i:]
	for _, w := range []string{"<source> tags", "List<T>"} {
		if !strings.Contains(rendered, w) {
			t.Errorf("the rendered answer lacks %q: %q", w, rendered)
		}
	}
	if !strings.Contains(rendered, "Sources:") {
		t.Errorf("no sources after the answer: %q", rendered)
	}
}
