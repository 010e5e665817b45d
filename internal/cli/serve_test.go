package cli_test

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
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

	errR, errW := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"serve", "--addr", "127.0.0.1:0"}, iostreams.Test(strings.NewReader(""), io.Discard, errW), getenv)
		errW.Close()
	}()
	sc := bufio.NewScanner(errR)
	var url string
	for sc.Scan() {
		if m := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) \(MCP at /mcp\)`).FindStringSubmatch(sc.Text()); m != nil {
			url = m[1]
			break
		}
	}
	if url == "" {
		t.Fatal("rag serve never said where it listens")
	}
	go io.Copy(io.Discard, errR)
	resp, err := http.Post(url+"/v1/search", "application/json", strings.NewReader(`{"query": "rotate signing key"}`))
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(b), "keys.md") {
		t.Errorf("search: %d %s", resp.StatusCode, b)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("rag serve exited %d when stopped, want 0", c)
	}
}
