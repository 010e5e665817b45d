package server_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/modelcontextprotocol/go-sdk/mcp"
	"github.com/ollama/ollama/api"

	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/server"
)

const token = "s3cret-token-0123456789"

func newHTTP(t *testing.T, svc *server.Service, o server.HTTPOptions) *httptest.Server {
	t.Helper()
	ts := httptest.NewServer(server.NewHandler(svc, "test", o))
	t.Cleanup(ts.Close)
	return ts
}

// do sends a request and returns its status and body.
func do(t *testing.T, method, url, body string, header map[string]string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range header {
		if k == "Host" {
			req.Host = v
			continue
		}
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b), resp.Header
}

func TestIsLoopback(t *testing.T) {
	for addr, want := range map[string]bool{
		"127.0.0.1:7341": true, "[::1]:7341": true, "localhost:7341": true, "127.0.0.2:80": true,
		"0.0.0.0:7341": false, ":7341": false, "192.168.1.4:7341": false, "[::]:7341": false, "example.com:80": false, "nonsense": false,
	} {
		if got := server.IsLoopback(addr); got != want {
			t.Errorf("IsLoopback(%q) = %v, want %v", addr, got, want)
		}
	}
}

// TestHostAndOrigin: a DNS-rebinding page (a foreign Host) and a page on
// another origin are refused; the server's own names are served.
func TestHostAndOrigin(t *testing.T) {
	f := newFixture(t)
	ts := newHTTP(t, f.svc, server.HTTPOptions{})
	port := ts.URL[strings.LastIndex(ts.URL, ":")+1:]
	for _, tc := range []struct {
		header map[string]string
		want   int
	}{
		{nil, 200},
		{map[string]string{"Host": "localhost:" + port}, 200},
		{map[string]string{"Host": "[::1]:" + port}, 200},
		{map[string]string{"Host": "attacker.example:" + port}, 403},
		{map[string]string{"Host": "127.0.0.1.attacker.example"}, 403},
		{map[string]string{"Origin": "http://attacker.example"}, 403},
		{map[string]string{"Origin": "http://localhost:3000"}, 403},
		{map[string]string{"Origin": "null"}, 403},
		{map[string]string{"Origin": ts.URL}, 200},
	} {
		for _, path := range []string{"/healthz", "/v1/status"} {
			code, body, _ := do(t, "GET", ts.URL+path, "", tc.header)
			if code != tc.want {
				t.Errorf("GET %s with %v: %d %s, want %d", path, tc.header, code, body, tc.want)
			}
		}
		// MCP is behind the same checks.
		code, _, _ := do(t, "POST", ts.URL+"/mcp", `{"jsonrpc":"2.0","id":1,"method":"tools/list"}`,
			mergeHeaders(tc.header, map[string]string{"Content-Type": "application/json", "Accept": "application/json, text/event-stream"}))
		if (code == 403) != (tc.want == 403) {
			t.Errorf("POST /mcp with %v: %d, want 403: %v", tc.header, code, tc.want == 403)
		}
	}
}

func mergeHeaders(a, b map[string]string) map[string]string {
	out := map[string]string{}
	for k, v := range a {
		out[k] = v
	}
	for k, v := range b {
		out[k] = v
	}
	return out
}

// TestBearerToken: with a token every request needs it, and the token never
// shows in a response or the log.
func TestBearerToken(t *testing.T) {
	f := newFixture(t)
	var logs bytes.Buffer
	ts := newHTTP(t, f.svc, server.HTTPOptions{Token: token, Log: slog.New(slog.NewTextHandler(&logs, nil))})
	for _, auth := range []string{"", "Bearer wrong", "Basic " + token, "Bearer " + token + "x", token} {
		code, body, hdr := do(t, "GET", ts.URL+"/v1/status", "", map[string]string{"Authorization": auth})
		if code != 401 || !strings.HasPrefix(hdr.Get("WWW-Authenticate"), "Bearer") {
			t.Errorf("Authorization %q: %d (%s), want 401 with WWW-Authenticate", auth, code, hdr.Get("WWW-Authenticate"))
		}
		if strings.Contains(body, token) {
			t.Errorf("a 401 body shows the token: %s", body)
		}
	}
	code, body, _ := do(t, "GET", ts.URL+"/v1/status", "", map[string]string{"Authorization": "Bearer " + token})
	if code != 200 || !strings.Contains(body, `"files": 4`) && !strings.Contains(body, `"files":4`) {
		t.Errorf("with the token: %d %s", code, body)
	}
	if !strings.Contains(body, `"size_bytes"`) {
		t.Errorf("the local index's status gives no size: %s", body)
	}
	// With a token, the Host may be the machine's name on the network.
	if code, _, _ := do(t, "GET", ts.URL+"/healthz", "", map[string]string{"Authorization": "Bearer " + token, "Host": "myhost.lan:7341"}); code != 200 {
		t.Errorf("with the token and a LAN host name: %d", code)
	}
	if strings.Contains(logs.String(), token) || !strings.Contains(logs.String(), "status=401") {
		t.Errorf("log = %s", logs.String())
	}
}

func TestBounds(t *testing.T) {
	f := newFixture(t)
	ts := newHTTP(t, f.svc, server.HTTPOptions{MaxBody: 1024})
	big := `{"query": "` + strings.Repeat("a", 2000) + `"}`
	if code, body, _ := do(t, "POST", ts.URL+"/v1/search", big, nil); code != 413 || !strings.Contains(body, `"too_large"`) {
		t.Errorf("oversized body: %d %s, want 413", code, body)
	}
	for _, body := range []string{`{"query": "key", "k": 1000}`, `{"query": ""}`, `{"query": "key", "mode": "x"}`, `not json`, `{"query": "key", "unknown": 1}`} {
		if code, resp, _ := do(t, "POST", ts.URL+"/v1/search", body, nil); code != 400 || !strings.Contains(resp, `"bad_request"`) {
			t.Errorf("%s: %d %s, want 400", body, code, resp)
		}
	}
	if code, _, _ := do(t, "GET", ts.URL+"/v1/search", "", nil); code != 405 {
		t.Errorf("GET /v1/search: %d, want 405", code)
	}
}

// TestQueue: past MaxConcurrent, requests wait their turn rather than fail.
func TestQueue(t *testing.T) {
	f := newFixture(t)
	f.fake.AddChatRule(ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Reply: "slow [1]", Delay: 300 * time.Millisecond}})
	spy := &chatSpy{Client: f.c, ended: make(chan error, 1)}
	cfg := f.config()
	cfg.Chat = spy
	svc, err := server.Open(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer svc.Close()
	ts := newHTTP(t, svc, server.HTTPOptions{MaxConcurrent: 1})
	go http.Post(ts.URL+"/v1/ask", "application/json", strings.NewReader(`{"question": "rotate the signing key"}`))
	for f.fake.Calls("/api/chat") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	code, body, _ := do(t, "POST", ts.URL+"/v1/search", `{"query": "key"}`, nil)
	if code != 200 {
		t.Errorf("search queued behind an ask: %d %s, want 200", code, body)
	}
	select {
	case <-spy.ended:
	default:
		t.Error("the search was served while the ask held the one slot")
	}
}

func TestSearchAndStatusAPI(t *testing.T) {
	f := newFixture(t)
	ts := newHTTP(t, f.svc, server.HTTPOptions{})
	code, body, hdr := do(t, "POST", ts.URL+"/v1/search", `{"query": "rotate the signing key", "k": 2}`, nil)
	if code != 200 || hdr.Get("Content-Type") != "application/json" {
		t.Fatalf("search: %d %s", code, body)
	}
	var got server.SearchResponse
	json.Unmarshal([]byte(body), &got)
	want, err := f.svc.Search(t.Context(), server.SearchRequest{Query: "rotate the signing key", K: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(got.Results) != 2 || got.Results[0].ID != want.Results[0].ID || got.Results[1].ID != want.Results[1].ID {
		t.Errorf("API results %+v, want %+v", got.Results, want.Results)
	}
	code, body, _ = do(t, "GET", ts.URL+"/healthz", "", nil)
	if code != 200 || !strings.Contains(body, `"ok"`) {
		t.Errorf("healthz: %d %s", code, body)
	}
}

// TestAskStreamsNDJSON: the answer arrives as delta lines, then one line
// with the whole answer and its sources.
func TestAskStreamsNDJSON(t *testing.T) {
	f := newFixture(t)
	reply := "Run keyctl rotate, then restart the service [1]. It takes a few seconds [1]."
	f.fake.SetChatReply(func(api.ChatRequest) string { return reply })
	ts := newHTTP(t, f.svc, server.HTTPOptions{})
	resp, err := http.Post(ts.URL+"/v1/ask", "application/json", strings.NewReader(`{"question": "how do I rotate the signing key?"}`))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if resp.Header.Get("Content-Type") != "application/x-ndjson" {
		t.Errorf("Content-Type = %q", resp.Header.Get("Content-Type"))
	}
	var deltas strings.Builder
	var done *server.AskResponse
	sc := bufio.NewScanner(resp.Body)
	n := 0
	for sc.Scan() {
		var l server.AskLine
		if err := json.Unmarshal(sc.Bytes(), &l); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		if done != nil {
			t.Fatalf("a line after the done line: %s", sc.Text())
		}
		n++
		deltas.WriteString(l.Delta)
		done = l.Done
	}
	if done == nil || n < 3 {
		t.Fatalf("%d lines, done = %v; want several deltas, then done", n, done)
	}
	if deltas.String() != reply || done.Answer != reply || len(done.Sources) == 0 || !done.Sources[0].Cited {
		t.Errorf("deltas %q, done %+v", deltas.String(), done)
	}
	// Nothing retrieved: a plain 404 before any streaming.
	code, body, _ := do(t, "POST", ts.URL+"/v1/ask", `{"question": "xylophone", "mode": "lexical"}`, nil)
	if code != 404 || !strings.Contains(body, "no indexed text") {
		t.Errorf("ask without sources: %d %s", code, body)
	}
}

// bearer adds the token to every request of an HTTP client.
type bearer struct{ rt http.RoundTripper }

func (b bearer) RoundTrip(r *http.Request) (*http.Response, error) {
	r = r.Clone(r.Context())
	r.Header.Set("Authorization", "Bearer "+token)
	return b.rt.RoundTrip(r)
}

func TestMCPOverHTTP(t *testing.T) {
	f := newFixture(t)
	ts := newHTTP(t, f.svc, server.HTTPOptions{Token: token})
	client := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil)
	// Without the token the client cannot even connect.
	if cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp"}, nil); err == nil {
		cs.Close()
		t.Fatal("connected without the token")
	}
	cs, err := client.Connect(t.Context(), &mcp.StreamableClientTransport{Endpoint: ts.URL + "/mcp", HTTPClient: &http.Client{Transport: bearer{http.DefaultTransport}}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer cs.Close()
	tools, err := cs.ListTools(t.Context(), nil)
	if err != nil || len(tools.Tools) != 4 {
		t.Fatalf("tools/list: %v, %d tools", err, len(tools.Tools))
	}
	var got server.SearchResponse
	if msg := call(t, cs, "search", map[string]any{"query": "exporter retries", "k": 1}, &got); msg != "" || len(got.Results) != 1 || !strings.HasSuffix(got.Results[0].Path, "network.md") {
		t.Errorf("search over HTTP: %s %+v", msg, got)
	}
	if msg := call(t, cs, "search", map[string]any{"query": "x", "k": 99}, &got); msg == "" {
		t.Error("k=99 over HTTP: no tool error")
	}
}

// TestDrain: when the server is told to stop, the answer under way finishes,
// and new connections are refused.
func TestDrain(t *testing.T) {
	f := newFixture(t)
	f.fake.AddChatRule(ollamatest.ChatRule{ChatOutcome: ollamatest.ChatOutcome{Reply: "Rotate it [1].", Delay: 300 * time.Millisecond}})
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	url := "http://" + l.Addr().String()
	ctx, stop := context.WithCancel(t.Context())
	served := make(chan error, 1)
	go func() {
		served <- server.Serve(ctx, l, server.NewHandler(f.svc, "test", server.HTTPOptions{}), 10*time.Second)
	}()
	type result struct {
		body string
		err  error
	}
	asked := make(chan result, 1)
	go func() {
		resp, err := http.Post(url+"/v1/ask", "application/json", strings.NewReader(`{"question": "rotate the signing key"}`))
		if err != nil {
			asked <- result{err: err}
			return
		}
		b, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		asked <- result{string(b), err}
	}()
	for f.fake.Calls("/api/chat") == 0 {
		time.Sleep(5 * time.Millisecond)
	}
	stop() // what SIGTERM does to cmd/rag's root context
	r := <-asked
	if r.err != nil || !strings.Contains(r.body, `"done"`) || !strings.Contains(r.body, "Rotate it [1].") {
		t.Errorf("the answer under way: %v %s", r.err, r.body)
	}
	if err := <-served; err != nil {
		t.Errorf("Serve after drain: %v", err)
	}
	if _, err := http.Get(url + "/healthz"); err == nil || !errors.Is(err, syscall.ECONNREFUSED) {
		t.Errorf("after shutdown: %v, want connection refused", err)
	}
}
