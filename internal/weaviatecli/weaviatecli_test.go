// Package weaviatecli holds end-to-end tests of rag's commands against a
// real Weaviate node (internal/weaviatetest): ingest, search, status, ls,
// forget and migrate run in-process through cli.Main with --store, against
// a fake Ollama. They skip, saying why, unless RAG_TEST_WEAVIATE or
// RAG_TEST_WEAVIATE_BIN is set (make test-weaviate).
package weaviatecli_test

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
	"github.com/ragcli/rag/internal/weaviatetest"
)

type env struct {
	t   *testing.T
	dir string
	srv *ollamatest.Server
	env map[string]string
}

func newEnv(t *testing.T) *env {
	srv := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "other-embed", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192},
	)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	e := &env{t: t, dir: dir, srv: srv, env: map[string]string{
		"HOME": home, "XDG_DATA_HOME": filepath.Join(home, ".local", "share"), "XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"OLLAMA_HOST": srv.URL, "NO_COLOR": "1",
	}}
	e.write("docs/a.md", "# Penguins\n\nPenguins cannot fly but they swim well in cold water.\n")
	e.write("docs/b.md", "# Teapots\n\nA teapot holds tea and keeps it warm.\n")
	return e
}

func (e *env) write(name, text string) {
	p := filepath.Join(e.dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		e.t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		e.t.Fatal(err)
	}
}

// run runs rag with args and returns its exit code, stdout and stderr.
func (e *env) run(args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := cli.Main(context.Background(), args, iostreams.Test(strings.NewReader(""), &out, &errb), func(k string) string { return e.env[k] })
	return code, out.String(), errb.String()
}

// must runs rag, wants exit code want, and decodes its --json stdout into v.
func (e *env) must(want int, v any, args ...string) string {
	e.t.Helper()
	code, out, stderr := e.run(args...)
	return wantExit(e.t, args, code, out, stderr, want, v)
}

// timed runs rag, fails the test unless it exits 0, logs how long it
// took under the name what (the figures tests), and returns its stdout.
func (e *env) timed(what string, args ...string) string {
	e.t.Helper()
	start := time.Now()
	code, out, stderr := e.run(args...)
	if code != 0 {
		e.t.Fatalf("%s: exit %d: %s", what, code, stderr)
	}
	e.t.Logf("%-36s %8.2f s", what, time.Since(start).Seconds())
	return out
}

// wantExit fails t unless a run of rag with args exited want, decodes its
// stdout into v (unless nil), and returns its stderr: the check of must
// (in-process) and binMust (the binary).
func wantExit(t *testing.T, args []string, code int, out, stderr string, want int, v any) string {
	t.Helper()
	if code != want {
		t.Fatalf("rag %s: exit %d, want %d\nstderr: %s", strings.Join(args, " "), code, want, stderr)
	}
	if v != nil {
		if err := json.Unmarshal([]byte(out), v); err != nil {
			t.Fatalf("rag %s: stdout is not JSON: %v\n%s", strings.Join(args, " "), err, out)
		}
	}
	return stderr
}

// servingRE is the line rag serve writes to stderr once it listens: what
// it serves and its base URL.
var servingRE = regexp.MustCompile(`serving (\S+) on (http://127\.0\.0\.1:\d+)`)

// serving reads rag serve's stderr up to the line saying where it listens
// and returns what it serves and its base URL ("" when stderr ends first);
// the rest of stderr is drained in the background.
func serving(stderr io.Reader) (what, base string) {
	sc := bufio.NewScanner(stderr)
	for sc.Scan() {
		if m := servingRE.FindStringSubmatch(sc.Text()); m != nil {
			go io.Copy(io.Discard, stderr)
			return m[1], m[2]
		}
	}
	return "", ""
}

type status struct {
	Index                  string
	EmbedModel             string `json:"embed_model"`
	Dim                    int
	Files, Chunks, Pending int
}

type searchOut struct {
	Results []struct {
		Path string
		Text string
	}
}

func paths(s searchOut) []string {
	var out []string
	for _, r := range s.Results {
		out = append(out, filepath.Base(r.Path))
	}
	return out
}

// TestCommandsAgainstWeaviate runs the commands of a user's day against
// one collection: ingest, search in every mode, status, ls, an edit, a
// deletion, pending chunks while the model server is down, forget, the model
// check, and a command that cannot use the store.
func TestCommandsAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := n.StoreURL("CliDay")                   // writes over gRPC, as a default-port URL does
	loc := "weaviate://" + n.HTTPAddr + "/CliDay" // how rag names the store
	docs := filepath.Join(e.dir, "docs")
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }

	var rep struct {
		Index              string
		Added, Updated     int
		Unchanged, Removed int
		ChunksEmbedded     int `json:"chunks_embedded"`
		ChunksPending      int `json:"chunks_pending"`
		ChunksReused       int `json:"chunks_reused"`
	}
	e.must(0, &rep, rag("ingest", "--json", docs)...)
	if rep.Index != loc || rep.Added != 2 || rep.ChunksEmbedded != 2 {
		t.Fatalf("first ingest: %+v; want 2 files added into %s", rep, loc)
	}
	var st status
	e.must(0, &st, rag("status", "--json")...)
	if st.Index != loc || st.Files != 2 || st.Chunks != 2 || st.Pending != 0 || st.EmbedModel != "all-minilm" || st.Dim != 384 {
		t.Errorf("status: %+v", st)
	}
	for _, mode := range []string{"hybrid", "vector", "lexical"} {
		var s searchOut
		e.must(0, &s, rag("search", "--json", "--mode", mode, "-k", "2", "can penguins fly")...)
		if len(s.Results) == 0 || filepath.Base(s.Results[0].Path) != "a.md" {
			t.Errorf("search --mode %s: %v, want a.md first", mode, paths(s))
		}
	}
	var s searchOut

	// rag ask: the whole collection fits the context (read through
	// EachFile), or, with --retrieve, the session's search.
	for _, args := range [][]string{{"ask", "can penguins fly"}, {"ask", "--retrieve", "-k", "1", "can penguins fly"}} {
		code, out, stderr := e.run(rag(args...)...)
		if code != 0 || strings.TrimSpace(out) == "" {
			t.Errorf("rag %s: exit %d, stdout %q, stderr %s", strings.Join(args, " "), code, out, stderr)
		}
		if whole := strings.Contains(stderr, "all 2 chunks fit the context window"); whole != (len(args) == 2) {
			t.Errorf("rag %s: whole-corpus %v: %s", strings.Join(args, " "), whole, stderr)
		}
	}

	// A no-op run reads nothing and embeds nothing: the incremental state
	// lives in the store.
	before := e.srv.EmbeddedInputs()
	e.must(0, &rep, rag("ingest", "--json", docs)...)
	if rep.Unchanged != 2 || rep.Added+rep.Updated != 0 || e.srv.EmbeddedInputs() != before {
		t.Errorf("no-op ingest: %+v, %d inputs embedded", rep, e.srv.EmbeddedInputs()-before)
	}

	// An edit replaces the file's chunks; the old words are gone.
	e.write("docs/b.md", "# Kettles\n\nA kettle boils water for coffee.\n")
	e.must(0, &rep, rag("ingest", "--json", docs)...)
	if rep.Updated != 1 {
		t.Errorf("edit: %+v", rep)
	}
	e.must(0, &s, rag("search", "--json", "--mode", "lexical", "teapot")...)
	if len(s.Results) != 0 {
		t.Errorf("the old version's words still match: %v", paths(s))
	}
	e.must(0, &s, rag("search", "--json", "--mode", "lexical", "kettle")...)
	if got := paths(s); len(got) != 1 || got[0] != "b.md" {
		t.Errorf("the new version: %v", got)
	}

	// The model server down: chunks stored pending, exit 3, then embedded.
	e.write("docs/c.md", "# Owls\n\nOwls hunt at night.\n")
	e.env["OLLAMA_HOST"] = "http://127.0.0.1:9"
	e.must(3, &rep, rag("ingest", "--json", docs)...)
	if rep.Added != 1 || rep.ChunksPending != 1 {
		t.Errorf("ingest with the server down: %+v", rep)
	}
	e.must(0, &st, rag("status", "--json")...)
	if st.Pending != 1 || st.Files != 3 {
		t.Errorf("status with a chunk pending: %+v", st)
	}
	e.must(0, &s, rag("search", "--json", "--mode", "lexical", "owls")...)
	if got := paths(s); len(got) != 1 || got[0] != "c.md" {
		t.Errorf("a pending chunk by its words: %v", got)
	}
	e.env["OLLAMA_HOST"] = e.srv.URL
	e.must(0, &rep, rag("ingest", "--json", docs)...)
	if rep.ChunksEmbedded != 1 {
		t.Errorf("the next ingest embeds the pending chunk: %+v", rep)
	}
	e.must(0, &st, rag("status", "--json")...)
	if st.Pending != 0 {
		t.Errorf("pending after the server came back: %+v", st)
	}

	// A deleted file leaves; rag ls lists what is there.
	if err := os.Remove(filepath.Join(docs, "c.md")); err != nil {
		t.Fatal(err)
	}
	e.must(0, &rep, rag("ingest", "--json", docs)...)
	if rep.Removed != 1 {
		t.Errorf("deletion: %+v", rep)
	}
	var ls struct {
		Index string
		Roots []struct {
			Path          string
			Files, Chunks int
		}
	}
	e.must(0, &ls, rag("ls", "--json")...)
	if ls.Index != loc || len(ls.Roots) != 1 || ls.Roots[0].Path != docs || ls.Roots[0].Files != 2 {
		t.Errorf("ls: %+v", ls)
	}
	// rag eval of a question set runs its queries against the store.
	e.write("questions.jsonl", `{"question": "can penguins fly", "expected": ["docs/a.md"]}`+"\n"+
		`{"question": "what boils water", "expected": ["docs/b.md"]}`+"\n")
	var ev struct {
		Queries int
		NDCG10  float64 `json:"ndcg@10"`
	}
	e.must(0, &ev, rag("eval", "--json", "--mode", "lexical", filepath.Join(e.dir, "questions.jsonl"))...)
	if ev.Queries != 2 || ev.NDCG10 != 1 {
		t.Errorf("eval of 2 questions against the store: %+v, want nDCG@10 1", ev)
	}

	var forgot struct{ Files []string }
	e.must(0, &forgot, rag("forget", "--json", filepath.Join(docs, "a.md"))...)
	e.must(0, &st, rag("status", "--json")...)
	if len(forgot.Files) != 1 || st.Files != 1 {
		t.Errorf("forget a.md: %+v, then %+v", forgot, st)
	}

	// The model check: a collection built with another model is refused
	// with the reindex hint, as locally.
	stderr := e.must(1, nil, rag("--embed-model", "other-embed", "ingest", docs)...)
	if !strings.Contains(stderr, `was built with embedding model "all-minilm"`) || !strings.Contains(stderr, "rag: hint:") {
		t.Errorf("another model: %s", stderr)
	}
	var chk struct {
		Files, Chunks, Vectors, Pending int
		Problems                        []string
	}
	e.must(0, &chk, rag("check", "--json")...)
	if chk.Files != 1 || chk.Chunks != 1 || chk.Vectors != 1 || len(chk.Problems) != 0 {
		t.Errorf("check of the healthy collection: %+v", chk)
	}
}

// TestMigrateBothWays copies a local index into Weaviate and back: nothing
// is embedded, the collection answers as the local index did, a second copy
// changes nothing, and the copy back holds the same files.
func TestMigrateBothWays(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := n.StoreURL("Migrated")
	src, back := filepath.Join(e.dir, "src-index"), filepath.Join(e.dir, "back-index")
	e.write("docs/c.md", "# Owls\n\nOwls hunt at night.\n")
	e.must(0, nil, "--index", src, "ingest", filepath.Join(e.dir, "docs"))
	var want searchOut
	e.must(0, &want, "--index", src, "search", "--json", "--mode", "vector", "-k", "3", "cold water swimming birds")

	embedded := e.srv.EmbeddedInputs()
	var rep struct {
		Files, Unchanged, Chunks, Vectors, Pending, Roots int
	}
	e.must(0, &rep, "--index", src, "migrate", "--json", "--to", url)
	if rep.Files != 3 || rep.Vectors != 3 || rep.Roots != 1 || e.srv.EmbeddedInputs() != embedded {
		t.Fatalf("migrate into weaviate: %+v, %d inputs embedded; want 3 files, 3 vectors, nothing embedded", rep, e.srv.EmbeddedInputs()-embedded)
	}
	var got searchOut
	e.must(0, &got, "--store", url, "search", "--json", "--mode", "vector", "-k", "3", "cold water swimming birds")
	if g, w := strings.Join(paths(got), " "), strings.Join(paths(want), " "); g != w {
		t.Errorf("vector search in the copy: %s, the local index: %s", g, w)
	}
	e.must(0, &rep, "--index", src, "migrate", "--json", "--to", url)
	if rep.Files != 0 || rep.Unchanged != 3 {
		t.Errorf("second migrate: %+v, want 3 unchanged", rep)
	}
	// The copy's own ingest sees the files as unchanged: the records moved
	// with the chunks.
	var ing struct{ Unchanged, Added, Updated int }
	e.must(0, &ing, "--store", url, "ingest", "--json")
	if ing.Unchanged != 3 || ing.Added+ing.Updated != 0 {
		t.Errorf("ingest of the migrated collection's roots: %+v, want 3 unchanged", ing)
	}

	e.must(0, &rep, "--store", url, "migrate", "--json", "--to", back)
	if rep.Files != 3 || rep.Vectors != 3 {
		t.Errorf("migrate back: %+v", rep)
	}
	var st status
	e.must(0, &st, "--index", back, "status", "--json")
	if st.Files != 3 || st.Chunks != 3 || st.Pending != 0 || st.Dim != 384 {
		t.Errorf("the local copy of the collection: %+v", st)
	}
	e.must(0, &got, "--index", back, "search", "--json", "--mode", "vector", "-k", "3", "cold water swimming birds")
	if g, w := strings.Join(paths(got), " "), strings.Join(paths(want), " "); g != w {
		t.Errorf("vector search after the round trip: %s, the original: %s", g, w)
	}
}

// TestWatchIntoWeaviate: rag watch --store ingests a new file into the
// collection, where a search finds it.
func TestWatchIntoWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Watched"
	docs := filepath.Join(e.dir, "docs")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		var out bytes.Buffer
		done <- cli.Main(ctx, []string{"--store", url, "watch", "--debounce", "200ms", docs},
			iostreams.Test(strings.NewReader(""), &out, &errb), func(k string) string { return e.env[k] })
	}()
	defer func() {
		cancel()
		if code := <-done; code != 0 {
			t.Errorf("rag watch ended with exit %d: %s", code, errb.String())
		}
	}()
	found := func(word string) bool {
		code, out, _ := e.run("--store", url, "search", "--json", "--mode", "lexical", word)
		return code == 0 && strings.Contains(strings.ToLower(out), word)
	}
	wait := func(word string) {
		t.Helper()
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(300 * time.Millisecond) {
			if found(word) {
				return
			}
		}
		t.Fatalf("rag watch did not bring %q into %s within 60 s\nstderr: %s", word, url, errb.String())
	}
	wait("penguins") // the first pass ingests the folder
	e.write("docs/owls.md", "# Owls\n\nOwls hunt at night.\n")
	wait("owls")
}

// TestServeAgainstWeaviate: rag serve and rag mcp answer from a Weaviate
// collection: /v1/search and /v1/status over HTTP, the MCP search and get
// tools over stdio, and a file ingested while the server runs is found by
// the next search (a remote store is read as it is at each request).
func TestServeAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Served"
	e.must(0, nil, "--store", url, "ingest", "--quiet", filepath.Join(e.dir, "docs"))
	getenv := func(k string) string { return e.env[k] }

	errR, errW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	code := make(chan int, 1)
	go func() {
		code <- cli.Main(ctx, []string{"--store", url, "serve", "--addr", "127.0.0.1:0"},
			iostreams.Test(strings.NewReader(""), io.Discard, errW), getenv)
		errW.Close()
	}()
	served, base := serving(errR)
	if base == "" {
		t.Fatal("rag serve --store never said where it listens")
	}
	if !strings.HasPrefix(served, "weaviate://"+n.HTTPAddr) {
		t.Errorf("rag serve says it serves %q, want the store %s", served, url)
	}
	search := func(q string) searchOut {
		t.Helper()
		resp, err := http.Post(base+"/v1/search", "application/json", strings.NewReader(`{"query": "`+q+`", "k": 3, "mode": "lexical"}`))
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var out searchOut
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != 200 || json.Unmarshal(b, &out) != nil {
			t.Fatalf("/v1/search %q: %d %s", q, resp.StatusCode, b)
		}
		return out
	}
	if got := paths(search("penguins")); len(got) == 0 || got[0] != "a.md" {
		t.Errorf("/v1/search penguins through Weaviate = %v, want a.md first", got)
	}
	resp, err := http.Get(base + "/v1/status")
	if err != nil {
		t.Fatal(err)
	}
	var st status
	raw, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	json.Unmarshal(raw, &st)
	if st.Files != 2 || st.Chunks != 2 || !strings.HasPrefix(st.Index, "weaviate://") {
		t.Errorf("/v1/status = %+v, want 2 files and 2 chunks of %s", st, url)
	}
	if strings.Contains(string(raw), "size_bytes") {
		t.Errorf("/v1/status of a Weaviate store gives a size, which Weaviate does not report: %s", raw)
	}
	// An ingest while the server runs: the next search sees it.
	e.write("docs/owls.md", "# Owls\n\nOwls hunt at night.\n")
	e.must(0, nil, "--store", url, "ingest", "--quiet", filepath.Join(e.dir, "docs"))
	if got := paths(search("owls")); len(got) == 0 || got[0] != "owls.md" {
		t.Errorf("/v1/search owls after an ingest = %v, want owls.md", got)
	}
	cancel()
	if c := <-code; c != 0 {
		t.Errorf("rag serve --store exited %d when stopped", c)
	}

	// rag mcp over the same store: search, then get the first result by id.
	inR, inW := io.Pipe()
	outR, outW := io.Pipe()
	var stderr bytes.Buffer
	mctx, mcancel := context.WithCancel(context.Background())
	defer mcancel()
	mcode := make(chan int, 1)
	go func() {
		mcode <- cli.Main(mctx, []string{"--store", url, "mcp"}, iostreams.Test(inR, outW, &stderr), getenv)
		outW.Close()
	}()
	cs, err := mcp.NewClient(&mcp.Implementation{Name: "test", Version: "1"}, nil).
		Connect(context.Background(), &mcp.IOTransport{Reader: outR, Writer: inW}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "search", Arguments: map[string]any{"query": "teapot", "k": 1, "mode": "lexical"}})
	if err != nil || res.IsError {
		t.Fatalf("MCP search: %v %+v", err, res)
	}
	b, _ := json.Marshal(res.StructuredContent)
	var found struct {
		Results []struct {
			ID   uint64
			Path string
		}
	}
	json.Unmarshal(b, &found)
	if len(found.Results) != 1 || filepath.Base(found.Results[0].Path) != "b.md" {
		t.Fatalf("MCP search teapot = %s, want b.md", b)
	}
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get", Arguments: map[string]any{"id": found.Results[0].ID}})
	if err != nil || res.IsError {
		t.Fatalf("MCP get %d: %v %+v", found.Results[0].ID, err, res)
	}
	b, _ = json.Marshal(res.StructuredContent)
	if !strings.Contains(string(b), "keeps it warm") {
		t.Errorf("MCP get by id = %s, want the teapot chunk's text", b)
	}
	res, err = cs.CallTool(context.Background(), &mcp.CallToolParams{Name: "get", Arguments: map[string]any{"id": 12345}})
	if err != nil || !res.IsError {
		t.Errorf("MCP get of an unknown id: %v %+v, want a tool error", err, res)
	}
	cs.Close()
	inW.Close()
	if c := <-mcode; c != 0 {
		t.Errorf("rag mcp --store exited %d\n%s", c, stderr.String())
	}
}

// TestDeepExplainPruneAgainstWeaviate: the rest of the commands a user runs
// against one collection: ask --deep (its agents search the store),
// search --explain (both leg ranks), a root that vanished kept until
// ingest --prune, and similar (it reads the store's model).
func TestDeepExplainPruneAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := n.StoreURL("CliMore")
	docs := filepath.Join(e.dir, "docs")
	e.write("other/c.md", "# Owls\n\nOwls hunt at night.\n")
	other := filepath.Join(e.dir, "other")
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	e.must(0, nil, rag("ingest", "--quiet", docs, other)...)

	// --explain: each result says its rank in both legs.
	code, out, stderr := e.run(rag("search", "--explain", "-k", "1", "penguins swim")...)
	if code != 0 || !strings.Contains(out, "a.md") || !strings.Contains(out, "vector #1") || !strings.Contains(out, "lexical #1") {
		t.Errorf("search --explain: exit %d\n%s%s", code, out, stderr)
	}

	// ask --deep: a plan of two parts, each answered from the store's passages.
	for _, r := range []ollamatest.ChatRule{
		{Match: []string{"You plan the research"}, ChatOutcome: ollamatest.ChatOutcome{Reply: `{"questions": ["Can penguins fly?", "What does a teapot hold?"]}`}},
		{Match: []string{"You check an answer"}, ChatOutcome: ollamatest.ChatOutcome{Reply: `{"supported": true, "critique": ""}`}},
		{Match: []string{"You write the final answer"}, ChatOutcome: ollamatest.ChatOutcome{Reply: "Penguins swim [1] and a teapot holds tea [2]."}},
		{Match: []string{"You answer questions", "Question: Can penguins fly?"}, ChatOutcome: ollamatest.ChatOutcome{Reply: "They swim [1]."}},
		{Match: []string{"You answer questions", "Question: What does a teapot hold?"}, ChatOutcome: ollamatest.ChatOutcome{Reply: "Tea [1]."}},
	} {
		e.srv.AddChatRule(r)
	}
	code, out, stderr = e.run(rag("ask", "--deep", "-k", "1", "Can penguins fly, and what does a teapot hold?")...)
	if code != 0 || !strings.Contains(out, "Penguins swim [1] and a teapot holds tea [2].") ||
		!strings.Contains(out, "a.md") || !strings.Contains(out, "b.md") || !strings.Contains(stderr, "plan of 2 parts") {
		t.Errorf("ask --deep against the store: exit %d\n%s%s", code, out, stderr)
	}
	e.srv.ClearChatRules()

	// similar reads the collection's model.
	code, out, stderr = e.run(rag("similar", "--query", "penguins", "penguins swim", "teapots")...)
	if code != 0 || !strings.Contains(out, "penguins swim") {
		t.Errorf("similar against the store: exit %d\n%s%s", code, out, stderr)
	}

	// A root that vanished is kept (exit 3) until --prune says it is gone.
	if err := os.RemoveAll(other); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Removed   int
		KeptRoots []struct{ Root string } `json:"kept_roots"`
	}
	e.must(3, &rep, rag("ingest", "--json")...)
	if rep.Removed != 0 || len(rep.KeptRoots) != 1 || rep.KeptRoots[0].Root != other {
		t.Errorf("ingest with a root gone: %+v, want it kept", rep)
	}
	var st status
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 3 {
		t.Errorf("after the kept root: %+v, want 3 files still", st)
	}
	e.must(0, &rep, rag("ingest", "--json", "--prune", other)...)
	e.must(0, &st, rag("status", "--json")...)
	if rep.Removed != 1 || st.Files != 2 {
		t.Errorf("ingest --prune of the gone root: %+v, then %+v; want c.md removed", rep, st)
	}
}
