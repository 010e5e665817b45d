package server_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/server"
)

// connect serves svc's MCP server over in-memory transports and returns a
// client session of the go-sdk's own client.
func connect(t *testing.T, svc *server.Service, opts *mcp.ClientOptions) *mcp.ClientSession {
	t.Helper()
	st, ct := mcp.NewInMemoryTransports()
	ss, err := server.NewMCP(svc, "test").Connect(t.Context(), st, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ss.Close() })
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test-client", Version: "1"}, opts).Connect(t.Context(), ct, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cs.Close() })
	return cs
}

// call calls a tool and decodes its structured result into out; it fails the
// test on a protocol error and returns the tool error's text, if any.
func call(t *testing.T, cs *mcp.ClientSession, name string, args any, out any) string {
	t.Helper()
	res, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: name, Arguments: args})
	if err != nil {
		t.Fatalf("%s(%v): protocol error %v", name, args, err)
	}
	if res.IsError {
		return toolText(res)
	}
	b, err := json.Marshal(res.StructuredContent)
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, out); err != nil {
		t.Fatalf("%s: decode %s: %v", name, b, err)
	}
	return ""
}

func toolText(res *mcp.CallToolResult) string {
	var parts []string
	for _, c := range res.Content {
		if tc, ok := c.(*mcp.TextContent); ok {
			parts = append(parts, tc.Text)
		}
	}
	return strings.Join(parts, "\n")
}

func TestToolsList(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	res, err := cs.ListTools(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, tool := range res.Tools {
		names = append(names, tool.Name)
		if len(tool.Description) < 40 {
			t.Errorf("%s: description %q is too short to guide a model", tool.Name, tool.Description)
		}
		if tool.Annotations == nil || !tool.Annotations.ReadOnlyHint {
			t.Errorf("%s is not marked read-only", tool.Name)
		}
	}
	slices.Sort(names)
	if want := []string{"ask", "get", "search", "status"}; !slices.Equal(names, want) {
		t.Fatalf("tools = %v, want %v", names, want)
	}
	i := slices.IndexFunc(res.Tools, func(t *mcp.Tool) bool { return t.Name == "search" })
	schema, _ := json.Marshal(res.Tools[i].InputSchema)
	for _, want := range []string{`"required":["query"]`, `"maximum":50`, `"enum":["hybrid","vector","lexical"]`, `"path"`} {
		if !strings.Contains(string(schema), want) {
			t.Errorf("search input schema %s lacks %s", schema, want)
		}
	}
}

// TestSearchSameAsCLI: the tool returns what retrieve.Search, the CLI's path,
// returns for the same query, in the same order.
func TestSearchSameAsCLI(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	// The session the CLI's search opens (cli.openSession).
	sess, err := retrieve.Open(t.Context(), f.index, retrieve.Options{Mode: retrieve.Hybrid,
		Embedder: func(model string) embed.Embedder { return &ollama.Embedder{Client: f.c, Name: model} }})
	if err != nil {
		t.Fatal(err)
	}
	defer sess.Close()
	for _, tc := range []struct {
		query string
		k     int
		mode  string
	}{
		{"rotate the signing key", 3, "hybrid"},
		{"exporter retries a failed batch", 1, "vector"},
		{"cats purr", 5, "lexical"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			var got server.SearchResponse
			if msg := call(t, cs, "search", map[string]any{"query": tc.query, "k": tc.k, "mode": tc.mode}, &got); msg != "" {
				t.Fatalf("tool error: %s", msg)
			}
			want, err := sess.Search(t.Context(), retrieve.Query{Text: tc.query, K: tc.k, Mode: retrieve.Mode(tc.mode)})
			if err != nil {
				t.Fatal(err)
			}
			if len(got.Results) == 0 || len(got.Results) != len(want.Results) {
				t.Fatalf("%d results, the CLI's path gives %d", len(got.Results), len(want.Results))
			}
			for i, w := range want.Results {
				g := got.Results[i]
				if g.ID != w.ID || g.Path != w.Path || g.Text != w.Text || g.StartLine != w.StartLine || g.Score != w.Score {
					t.Errorf("result %d = %+v, want %+v", i, g, w)
				}
			}
		})
	}
}

func TestSearchPathFilter(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	for _, tc := range []struct{ path, want string }{
		{filepath.Join(f.root, "code") + "/", "code/main.go"},
		{"*.go", "code/main.go"},
		{filepath.Join(f.root, "notes", "*.md"), "notes/security.md"},
	} {
		var got server.SearchResponse
		if msg := call(t, cs, "search", map[string]any{"query": "rotate signing key", "path": tc.path}, &got); msg != "" {
			t.Fatalf("path %s: %s", tc.path, msg)
		}
		if len(got.Results) == 0 || got.Results[0].Path != filepath.Join(f.root, tc.want) {
			t.Fatalf("path %s: results %+v, want %s first", tc.path, got.Results, tc.want)
		}
		for _, r := range got.Results {
			if tc.path == "*.go" && filepath.Ext(r.Path) != ".go" {
				t.Errorf("path %s let %s through", tc.path, r.Path)
			}
		}
	}
}

func TestGet(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	var hits server.SearchResponse
	call(t, cs, "search", map[string]any{"query": "exporter retries", "k": 1}, &hits)
	if len(hits.Results) != 1 {
		t.Fatalf("search: %+v", hits)
	}
	var got server.GetResponse
	if msg := call(t, cs, "get", map[string]any{"id": hits.Results[0].ID}, &got); msg != "" {
		t.Fatal(msg)
	}
	if got.Text != hits.Results[0].Text || got.Path != hits.Results[0].Path {
		t.Errorf("get by id = %+v, want the search hit %+v", got, hits.Results[0])
	}
	path := filepath.Join(f.root, "notes", "network.md")
	if msg := call(t, cs, "get", map[string]any{"path": path, "start_line": 3, "end_line": 4}, &got); msg != "" {
		t.Fatal(msg)
	}
	if want := "The exporter retries a failed batch three times\nwith a timeout of ten seconds.\n"; got.Text != want || got.TotalLine != 4 {
		t.Errorf("get lines = %q (total %d), want %q (total 4)", got.Text, got.TotalLine, want)
	}
	// Only indexed files: not a file outside the roots, not an unindexed one.
	f.write(t, "notes/new.md", "not ingested yet\n")
	for _, args := range []map[string]any{
		{"path": "/etc/passwd"},
		{"path": filepath.Join(f.root, "notes", "new.md")},
		{"path": f.root + "/notes/../notes/network.md"},
		{"id": 999999},
		{},
		{"id": 1, "path": path},
	} {
		if msg := call(t, cs, "get", args, &got); msg == "" {
			t.Errorf("get %v: no tool error", args)
		}
	}
}

func TestStatus(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	var st server.Status
	if msg := call(t, cs, "status", map[string]any{}, &st); msg != "" {
		t.Fatal(msg)
	}
	if st.Files != len(docs) || st.Chunks < len(docs) || st.EmbedModel != "all-minilm" || st.Dim != 384 || st.Index != f.index {
		t.Errorf("status = %+v", st)
	}
}

func TestAskWithProgress(t *testing.T) {
	f := newFixture(t)
	f.fake.SetChatReply(func(api.ChatRequest) string { return "Run keyctl rotate, then restart the service [1]." })
	var mu sync.Mutex
	var notes []string
	cs := connect(t, f.svc, &mcp.ClientOptions{ProgressNotificationHandler: func(_ context.Context, req *mcp.ProgressNotificationClientRequest) {
		mu.Lock()
		defer mu.Unlock()
		notes = append(notes, req.Params.Message)
	}})
	params := &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "how do I rotate the signing key?"}}
	params.SetProgressToken("ask-1")
	res, err := cs.CallTool(t.Context(), params)
	if err != nil || res.IsError {
		t.Fatalf("ask: %v %s", err, toolText(res))
	}
	b, _ := json.Marshal(res.StructuredContent)
	var got server.AskResponse
	if err := json.Unmarshal(b, &got); err != nil {
		t.Fatal(err)
	}
	if got.Answer != "Run keyctl rotate, then restart the service [1]." || got.Model != "llama3.2" {
		t.Errorf("answer = %+v", got)
	}
	if len(got.Sources) == 0 || !got.Sources[0].Cited || got.Sources[0].Path != filepath.Join(f.root, "notes", "security.md") {
		t.Errorf("sources = %+v, want security.md first and cited", got.Sources)
	}
	// Notifications may trail the result by a moment.
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		n := len(notes)
		mu.Unlock()
		if n >= 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(notes) < 2 || notes[0] != "retrieving passages" || !strings.HasPrefix(notes[1], "answering") {
		t.Errorf("progress notifications = %q", notes)
	}
}

// TestBadArguments: wrong arguments are tool errors that say what is wrong,
// and the session goes on working.
func TestBadArguments(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	for _, tc := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"search", map[string]any{}, "query"},
		{"search", map[string]any{"query": "   "}, "query is empty"},
		{"search", map[string]any{"query": "key", "k": 500}, "k"},
		{"search", map[string]any{"query": "key", "k": "five"}, "k"},
		{"search", map[string]any{"query": "key", "mode": "fuzzy"}, "mode"},
		{"search", map[string]any{"query": "key", "path": "[unclosed"}, "path filter"},
		{"search", map[string]any{"query": strings.Repeat("x", 5000)}, "at most"},
		{"ask", map[string]any{"question": "q", "k": 0.5}, "k"},
		{"get", map[string]any{"start_line": 3}, "either id"},
	} {
		var out any
		msg := call(t, cs, tc.tool, tc.args, &out)
		if msg == "" || !strings.Contains(msg, tc.want) {
			t.Errorf("%s %v: tool error %q, want one about %q", tc.tool, tc.args, msg, tc.want)
		}
	}
	if _, err := cs.CallTool(t.Context(), &mcp.CallToolParams{Name: "delete_everything", Arguments: map[string]any{}}); err == nil {
		t.Error("an unknown tool: no error")
	}
	var st server.Status
	if msg := call(t, cs, "status", map[string]any{}, &st); msg != "" || st.Files == 0 {
		t.Errorf("after bad calls, status = %+v, %s", st, msg)
	}
}

// TestSearchWhileIngestCommits: searches running beside ingests that commit
// new files see the old state or the new one, and never fail.
func TestSearchWhileIngestCommits(t *testing.T) {
	f := newFixture(t)
	cs := connect(t, f.svc, nil)
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	seen := make(chan int, 1000)
	for range 3 {
		wg.Go(func() {
			for ctx.Err() == nil {
				var got server.SearchResponse
				res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "zebra migration", "k": 50, "mode": "lexical"}})
				if ctx.Err() != nil {
					return
				}
				if err != nil || res.IsError {
					errs <- fmt.Errorf("search: %v %s", err, toolText(res))
					return
				}
				b, _ := json.Marshal(res.StructuredContent)
				json.Unmarshal(b, &got)
				select {
				case seen <- len(got.Results):
				default:
				}
			}
		})
	}
	const rounds = 5
	for i := range rounds {
		f.write(t, fmt.Sprintf("zebra/%d.md", i), fmt.Sprintf("Zebra migration note %d.\n", i))
		f.ingest(t)
	}
	// The last commit becomes visible without a restart.
	deadline := time.Now().Add(10 * time.Second)
	for {
		out, err := f.svc.Search(t.Context(), server.SearchRequest{Query: "zebra migration", K: 50, Mode: "lexical"})
		if err != nil {
			t.Fatal(err)
		}
		if len(out.Results) == rounds {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after %d ingests, %d zebra notes found", rounds, len(out.Results))
		}
		time.Sleep(50 * time.Millisecond)
	}
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	close(seen)
	last := -1
	for n := range seen {
		if n < 0 || n > rounds {
			t.Errorf("a search saw %d zebra notes", n)
		}
		last = n
	}
	if last == -1 {
		t.Error("no search ran beside the ingests")
	}
}

// chatSpy records how the server's chat call ended.
type chatSpy struct {
	llm.Client
	ended chan error
}

func (c *chatSpy) Chat(ctx context.Context, req llm.Request, onDelta func(string) error) (llm.Response, error) {
	resp, err := c.Client.Chat(ctx, req, onDelta)
	c.ended <- err
	return resp, err
}

// TestCancellation: a client that cancels an ask stops the model call on the
// server, and the session goes on.
func TestCancellation(t *testing.T) {
	f := newFixture(t)
	f.fake.AddChatRule(ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Reply: "too late", Delay: time.Hour}})
	spy := &chatSpy{Client: f.c, ended: make(chan error, 1)}
	cfg := f.config()
	cfg.Chat = spy
	svc, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	cs := connect(t, svc, nil)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "rotate the signing key"}})
		errc <- err
	}()
	for f.fake.Calls("/api/chat") == 0 {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled call: err = %v, want context.Canceled", err)
	}
	if err := <-spy.ended; !errors.Is(err, context.Canceled) {
		t.Errorf("the server's chat call ended with %v, want context.Canceled", err)
	}
	var st server.Status
	if msg := call(t, cs, "status", map[string]any{}, &st); msg != "" {
		t.Errorf("after a cancellation: %s", msg)
	}
}
