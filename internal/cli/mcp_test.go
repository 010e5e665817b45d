package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

// ragEnv is an isolated environment for rag run in-process against fake.
func ragEnv(t *testing.T, fake *ollamatest.Server) (dir string, getenv func(string) string) {
	dir = t.TempDir()
	env := map[string]string{
		"HOME":            dir,
		"XDG_DATA_HOME":   filepath.Join(dir, "data"),
		"XDG_CONFIG_HOME": filepath.Join(dir, "config"),
		"OLLAMA_HOST":     fake.URL,
	}
	return dir, func(k string) string { return env[k] }
}

// runRag runs rag in-process and fails the test unless it exits 0.
func runRag(t *testing.T, getenv func(string) string, args ...string) string {
	t.Helper()
	var out, errb bytes.Buffer
	if code := cli.Main(t.Context(), args, iostreams.Test(strings.NewReader(""), &out, &errb), getenv); code != 0 {
		t.Fatalf("rag %s: exit %d\n%s", strings.Join(args, " "), code, errb.String())
	}
	return out.String()
}

// TestMCPStdio drives `rag mcp` over its stdin and stdout with the go-sdk's
// client: the same framing a client that starts rag uses.
func TestMCPStdio(t *testing.T) {
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	dir, getenv := ragEnv(t, fake)
	notes := filepath.Join(dir, "notes")
	os.MkdirAll(notes, 0o755)
	os.WriteFile(filepath.Join(notes, "keys.md"), []byte("# Keys\n\nRotate the signing key with keyctl rotate.\n"), 0o644)
	runRag(t, getenv, "ingest", "--quiet", notes)

	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"mcp"}, iostreams.Test(inR, outW, &stderr), getenv)
		outW.Close()
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "rotate signing key"}})
	if err != nil || res.IsError {
		t.Fatalf("search: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var got struct {
		Results []struct{ Path string }
	}
	json.Unmarshal(b, &got)
	if len(got.Results) != 1 || got.Results[0].Path != filepath.Join(notes, "keys.md") {
		t.Errorf("results = %s", b)
	}
	// The client hanging up ends the server cleanly.
	cs.Close()
	inW.Close()
	if c := <-code; c != 0 {
		t.Errorf("rag mcp exited %d after the client hung up\n%s", c, stderr.String())
	}
}

func TestMCPHelpShowsClientConfig(t *testing.T) {
	fake := ollamatest.New(t)
	_, getenv := ragEnv(t, fake)
	out := runRag(t, getenv, "mcp", "--help")
	for _, want := range []string{`"mcpServers"`, `"command": "rag"`, `"args": ["mcp"]`, "claude mcp add rag -- rag mcp"} {
		if !strings.Contains(out, want) {
			t.Errorf("rag mcp --help lacks %s", want)
		}
	}
}
