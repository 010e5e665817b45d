package main

import (
	"context"
	"encoding/json"
	"errors"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/ollamatest"
)

// TestMCPProcess drives the real binary with the go-sdk's own client, over
// stdio (rag mcp, started by the client as an editor would) and over
// Streamable HTTP (rag serve's /mcp): tools/list, every tool, bad arguments
// as tool errors, and a cancelled ask after which the session goes on.
func TestMCPProcess(t *testing.T) {
	fake, env, notes := serveFixture(t, map[string]string{
		"keys.md":    "# Keys\n\nRotate the signing key with keyctl rotate.\nThen restart the service.\n",
		"network.md": "# Timeouts\n\nThe exporter retries a failed batch three times.\n",
	})
	transports := map[string]func(t *testing.T) mcp.Transport{
		"stdio": func(t *testing.T) mcp.Transport {
			cmd := exec.Command(ragBinary(t), "mcp")
			cmd.Env = env
			return &mcp.CommandTransport{Command: cmd}
		},
		"http": func(t *testing.T) mcp.Transport {
			return &mcp.StreamableClientTransport{Endpoint: startServe(t, env).url + "/mcp"}
		},
	}
	for _, name := range []string{"stdio", "http"} {
		t.Run(name, func(t *testing.T) {
			fake.ClearChatRules()
			fake.SetChatReply(func(api.ChatRequest) string { return "Run keyctl rotate, then restart the service [1]." })
			var progress atomic.Int32
			client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, &mcp.ClientOptions{
				ProgressNotificationHandler: func(context.Context, *mcp.ProgressNotificationClientRequest) { progress.Add(1) },
			})
			cs, err := client.Connect(t.Context(), transports[name](t), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer cs.Close()
			checkTools(t, cs, fake, notes, &progress)
		})
	}
}

func checkTools(t *testing.T, cs *mcp.ClientSession, fake *ollamatest.Server, notes string, progress *atomic.Int32) {
	ctx := t.Context()
	tools, err := cs.ListTools(ctx, nil)
	if err != nil {
		t.Fatalf("tools/list: %v", err)
	}
	var names []string
	for _, tl := range tools.Tools {
		names = append(names, tl.Name)
		if tl.Description == "" || tl.InputSchema == nil {
			t.Errorf("tool %s lacks a description or an input schema", tl.Name)
		}
	}
	slices.Sort(names)
	if !slices.Equal(names, []string{"ask", "get", "search", "status"}) {
		t.Errorf("tools = %v", names)
	}
	call := func(name string, args map[string]any, out any) string {
		t.Helper()
		res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: name, Arguments: args})
		if err != nil {
			t.Fatalf("%s: protocol error %v", name, err)
		}
		if res.IsError {
			var parts []string
			for _, c := range res.Content {
				if tc, ok := c.(*mcp.TextContent); ok {
					parts = append(parts, tc.Text)
				}
			}
			return strings.Join(parts, " ")
		}
		b, _ := json.Marshal(res.StructuredContent)
		if err := json.Unmarshal(b, out); err != nil {
			t.Fatalf("%s: %s: %v", name, b, err)
		}
		return ""
	}

	var found struct {
		Results []struct {
			ID   uint64
			Path string
		}
	}
	keys := filepath.Join(notes, "keys.md")
	if msg := call("search", map[string]any{"query": "rotate the signing key", "k": 1}, &found); msg != "" || len(found.Results) != 1 || found.Results[0].Path != keys {
		t.Fatalf("search: %s %+v", msg, found)
	}
	var chunk struct{ Text, Path string }
	if msg := call("get", map[string]any{"id": found.Results[0].ID}, &chunk); msg != "" || !strings.Contains(chunk.Text, "keyctl rotate") {
		t.Errorf("get by id: %s %+v", msg, chunk)
	}
	var lines struct {
		Text       string
		TotalLines int `json:"total_lines"`
	}
	if msg := call("get", map[string]any{"path": keys, "start_line": 3, "end_line": 3}, &lines); msg != "" || lines.Text != "Rotate the signing key with keyctl rotate.\n" || lines.TotalLines != 4 {
		t.Errorf("get lines: %s %+v", msg, lines)
	}
	var st struct{ Files, Chunks int }
	if msg := call("status", map[string]any{}, &st); msg != "" || st.Files != 2 {
		t.Errorf("status: %s %+v", msg, st)
	}
	var ans struct {
		Answer  string
		Sources []struct {
			Path  string
			Cited bool
		}
	}
	res, err := cs.CallTool(ctx, &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "how do I rotate the signing key?"}, Meta: mcp.Meta{"progressToken": "p1"}})
	if err != nil || res.IsError {
		t.Fatalf("ask: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	json.Unmarshal(b, &ans)
	if ans.Answer != "Run keyctl rotate, then restart the service [1]." || len(ans.Sources) == 0 || !ans.Sources[0].Cited {
		t.Errorf("ask: %s", b)
	}
	for deadline := time.Now().Add(5 * time.Second); progress.Load() == 0 && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	if progress.Load() == 0 {
		t.Error("ask with a progress token sent no progress notification")
	}

	// Bad arguments are tool errors; the session goes on.
	for _, bad := range []struct {
		tool string
		args map[string]any
		want string
	}{
		{"search", map[string]any{"query": "key", "k": 500}, "k"},
		{"search", map[string]any{"query": "key", "mode": "fuzzy"}, "mode"},
		{"get", map[string]any{"path": "/etc/passwd"}, "not an indexed file"},
		{"ask", map[string]any{"question": "  "}, "empty"},
	} {
		var out any
		if msg := call(bad.tool, bad.args, &out); !strings.Contains(msg, bad.want) {
			t.Errorf("%s %v: tool error %q, want one about %q", bad.tool, bad.args, msg, bad.want)
		}
	}

	// A cancelled ask returns at once and the session answers the next
	// call (that the server's model call stops too is
	// internal/server's TestCancellation).
	fake.AddChatRule(ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Reply: "too late", Delay: time.Minute}})
	before := fake.Chats()
	cctx, cancel := context.WithCancel(ctx)
	errc := make(chan error, 1)
	go func() {
		_, err := cs.CallTool(cctx, &mcp.CallToolParams{Name: "ask", Arguments: map[string]any{"question": "how do I rotate the signing key?"}})
		errc <- err
	}()
	for deadline := time.Now().Add(10 * time.Second); fake.Chats() == before && time.Now().Before(deadline); {
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	select {
	case err := <-errc:
		if !errors.Is(err, context.Canceled) {
			t.Errorf("cancelled ask: %v, want context.Canceled", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the cancelled ask did not return")
	}
	if msg := call("status", map[string]any{}, &st); msg != "" {
		t.Errorf("status after the cancellation: %s", msg)
	}
	fake.ClearChatRules()
}
