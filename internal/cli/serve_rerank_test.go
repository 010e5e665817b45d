package cli_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/reranktest"
)

// rerankNotes ingests three notes where the fake reranker's order is known:
// policy.md holds every word of "retry policy backoff" (score 1).
func rerankNotes(t *testing.T) (notes string, getenv func(string) string) {
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192})
	dir, getenv := ragEnv(t, fake)
	notes = filepath.Join(dir, "notes")
	os.MkdirAll(notes, 0o755)
	for name, text := range map[string]string{
		"policy.md": "# Policy\n\nThe retry policy uses capped backoff.\n",
		"other.md":  "# Other\n\nRetry the exporter; a retry is cheap, retry again.\n",
		"third.md":  "# Third\n\nBackoff grows.\n",
	} {
		os.WriteFile(filepath.Join(notes, name), []byte(text), 0o644)
	}
	runRag(t, getenv, "ingest", "--quiet", notes)
	return notes, getenv
}

type servedSearch struct {
	Results []struct {
		Path  string
		Score float64
	}
	Warnings []string
	Reranked bool
}

// TestMCPRerank: rag mcp --rerank gives the search tool the reranker's
// order and scores, from the same flags as rag search --rerank.
func TestMCPRerank(t *testing.T) {
	notes, getenv := rerankNotes(t)
	rr := reranktest.New(t, "")
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"mcp", "--rerank", "--rerank-base-url", rr.URL + "/v1"}, iostreams.Test(inR, outW, &stderr), getenv)
		outW.Close()
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(t.Context(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "retry policy backoff", "k": 3}})
	if err != nil || res.IsError {
		t.Fatalf("search: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var got servedSearch
	json.Unmarshal(b, &got)
	want := reranktest.Score("retry policy backoff", "Policy\n\nThe retry policy uses capped backoff.")
	if !got.Reranked || len(got.Results) != 3 || got.Results[0].Path != filepath.Join(notes, "policy.md") || got.Results[0].Score != want || rr.Calls() != 1 {
		t.Errorf("search with --rerank = %s (reranker calls %d); want policy.md first with the reranker's score %v", b, rr.Calls(), want)
	}
	cs.Close()
	inW.Close()
	if c := <-code; c != 0 {
		t.Errorf("rag mcp exited %d\n%s", c, stderr.String())
	}
}

// TestServeRerankDown: rag serve --rerank with a reranker slower than
// --rerank-timeout answers /v1/search and /v1/ask in the fused order, with a
// warning, status 200.
func TestServeRerankDown(t *testing.T) {
	_, getenv := rerankNotes(t)
	rr := reranktest.New(t, "")
	rr.SetLatency(5 * time.Second)
	url, stop := startServe(t, getenv, "--rerank", "--rerank-base-url", rr.URL+"/v1", "--rerank-timeout", "200ms")
	status, b := postJSON(t, url+"/v1/search", `{"query": "retry policy backoff", "k": 3}`)
	var got servedSearch
	json.Unmarshal(b, &got)
	if status != 200 || got.Reranked || len(got.Results) != 3 || got.Results[0].Score >= 0.5 ||
		len(got.Warnings) != 1 || !strings.Contains(got.Warnings[0], "results keep the fused order") {
		t.Errorf("search with the reranker too slow: %d %s; want the fused results and a warning", status, b)
	}
	status, b = postJSON(t, url+"/v1/ask", `{"question": "retry policy backoff"}`)
	if status != 200 || !strings.Contains(string(b), `"done"`) || !strings.Contains(string(b), "results keep the fused order") {
		t.Errorf("ask with the reranker too slow: %d %s", status, b)
	}
	if rr.Calls() != 2 {
		t.Errorf("the reranker was asked %d times, want 2", rr.Calls())
	}
	if c := stop(); c != 0 {
		t.Errorf("rag serve exited %d when stopped, want 0", c)
	}
}

// TestServeRerankKeyHint: a reranker that refuses the key keeps the fused
// order, and the result's warning names the variable to fix (the key itself
// never appears).
func TestServeRerankKeyHint(t *testing.T) {
	_, getenv := rerankNotes(t)
	rr := reranktest.New(t, "rr-secret-key-0123456789")
	env := func(k string) string {
		if k == "RAG_RERANK_API_KEY" {
			return "rr-wrong-key-9876543210"
		}
		return getenv(k)
	}
	url, stop := startServe(t, env, "--rerank", "--rerank-base-url", rr.URL+"/v1")
	status, b := postJSON(t, url+"/v1/search", `{"query": "retry policy backoff", "k": 3}`)
	var got servedSearch
	json.Unmarshal(b, &got)
	if status != 200 || got.Reranked || len(got.Results) != 3 || len(got.Warnings) != 1 ||
		!strings.Contains(got.Warnings[0], "check the API key in $RAG_RERANK_API_KEY") || strings.Contains(string(b), "rr-wrong-key") {
		t.Errorf("search with a refused rerank key: %d %s; want the fused results and a warning naming $RAG_RERANK_API_KEY", status, b)
	}
	if c := stop(); c != 0 {
		t.Errorf("rag serve exited %d when stopped, want 0", c)
	}
}

// startServe runs rag serve with args on a free loopback port until stop
// (or the test's end); it returns the server's URL, and stop, which ends
// the server and returns its exit code.
func startServe(t *testing.T, getenv func(string) string, args ...string) (url string, stop func() int) {
	t.Helper()
	errR, errW := io.Pipe()
	ctx, cancel := context.WithCancel(t.Context())
	t.Cleanup(cancel)
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, append([]string{"serve", "--addr", "127.0.0.1:0"}, args...),
			iostreams.Test(strings.NewReader(""), io.Discard, errW), getenv)
		errW.Close()
	}()
	return listenURL(t, errR), func() int { cancel(); return <-code }
}

// postJSON posts body to url and returns the status and the answer's body.
func postJSON(t *testing.T, url, body string) (int, []byte) {
	t.Helper()
	resp, err := http.Post(url, "application/json", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, b
}

// listenURL reads rag serve's stderr until it says where it listens, then
// drains the rest.
func listenURL(t *testing.T, stderr io.Reader) string {
	t.Helper()
	sc := bufio.NewScanner(stderr)
	re := regexp.MustCompile(`on (http://127\.0\.0\.1:\d+) \(MCP at /mcp\)`)
	for sc.Scan() {
		if m := re.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1]
		}
	}
	t.Fatal("rag serve never said where it listens")
	return ""
}
