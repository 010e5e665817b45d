package cli_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/ollamatest"
)

// TestServeUntilCancelled runs `rag serve` in-process: it says where it
// listens, answers the JSON API, and exits 0 when its context ends (what
// SIGTERM does to cmd/rag's root context).
func TestServeUntilCancelled(t *testing.T) {
	fake := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	dir, getenv := ragEnv(t, fake)
	notes := filepath.Join(dir, "notes")
	os.MkdirAll(notes, 0o755)
	os.WriteFile(filepath.Join(notes, "keys.md"), []byte("# Keys\n\nRotate the signing key with keyctl rotate.\n"), 0o644)
	runRag(t, getenv, "ingest", "--quiet", notes)

	url, stop := startServe(t, getenv)
	status, b := postJSON(t, url+"/v1/search", `{"query": "rotate signing key"}`)
	if status != 200 || !strings.Contains(string(b), "keys.md") {
		t.Errorf("search: %d %s", status, b)
	}
	if c := stop(); c != 0 {
		t.Errorf("rag serve exited %d when stopped, want 0", c)
	}
}
