package cli_test

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

// TestWatchSavedEditIsSearchable runs `rag watch` in-process: an edit saved
// while it runs becomes searchable without a rag ingest, and the watch exits
// 0 when stopped.
func TestWatchSavedEditIsSearchable(t *testing.T) {
	fake := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	dir, getenv := ragEnv(t, fake)
	notes := filepath.Join(dir, "notes")
	os.MkdirAll(notes, 0o755)
	os.WriteFile(filepath.Join(notes, "keys.md"), []byte("# Keys\n\nRotate the signing key with keyctl rotate.\n"), 0o644)

	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var stderr syncBuffer
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"watch", "--debounce", "50ms", notes}, iostreams.Test(strings.NewReader(""), &bytes.Buffer{}, &stderr), getenv)
	}()
	search := func(q string) string {
		var out, errb bytes.Buffer
		cli.Main(t.Context(), []string{"search", "--json", "--mode", "lexical", q}, iostreams.Test(strings.NewReader(""), &out, &errb), getenv)
		return out.String()
	}
	waitFor := func(what string, cond func() bool) time.Duration {
		start := time.Now()
		for !cond() {
			if time.Since(start) > 30*time.Second {
				t.Fatalf("%s did not happen; rag watch said:\n%s", what, stderr.String())
			}
			time.Sleep(20 * time.Millisecond)
		}
		return time.Since(start)
	}
	waitFor("the first ingest", func() bool { return strings.Contains(search("keyctl"), "keys.md") })
	os.WriteFile(filepath.Join(notes, "keys.md"), []byte("# Keys\n\nRotate the signing key with vaultctl now.\n"), 0o644)
	took := waitFor("the edit searchable", func() bool { return strings.Contains(search("vaultctl"), "keys.md") })
	t.Logf("a saved edit was searchable %v after the save", took)
	if strings.Contains(search("keyctl"), "keys.md") {
		t.Error("the old text is still found after the edit")
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("rag watch exited %d when stopped, want 0\n%s", c, stderr.String())
	}
	if !strings.Contains(stderr.String(), "1 updated") {
		t.Errorf("no summary of the edit's ingest:\n%s", stderr.String())
	}
}

// syncBuffer is a bytes.Buffer safe for a command writing while the test reads.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}
