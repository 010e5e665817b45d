package cli_test

import (
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/ragcli/rag/internal/coheretest"
	"github.com/ragcli/rag/internal/openaitest"
	"github.com/ragcli/rag/internal/reranktest"
)

func init() {
	registerCmd("openaifake", cmdOpenAIFake)
	registerCmd("coherefake", cmdCohereFake)
	registerCmd("rerankfake", cmdRerankFake)
	registerCmd("ollamafailwith", cmdOllamaFailWith)
}

// cmdOllamaFailWith makes the next N requests to PATH of the fake Ollama
// answer STATUS with the header NAME: VALUE and BODY, as a proxy in front of
// Ollama sends a 429's Retry-After (Ollama itself sends none):
//
//	ollamafailwith PATH STATUS N NAME=VALUE BODY...
func cmdOllamaFailWith(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 5 {
		ts.Fatalf("usage: ollamafailwith PATH STATUS N NAME=VALUE BODY...")
	}
	status, err := strconv.Atoi(args[1])
	ts.Check(err)
	n, err := strconv.Atoi(args[2])
	ts.Check(err)
	name, value, ok := strings.Cut(args[3], "=")
	if !ok {
		ts.Fatalf("want NAME=VALUE, got %q", args[3])
	}
	f := ts.Value(fakeKey{}).(*fake)
	f.FailNextWith(args[0], status, http.Header{name: {value}}, strings.Join(args[4:], " "), n)
}

// cmdOpenAIFake starts a fake OpenAI-compatible server of FLAVOR (openai,
// ollama, llama-server, vllm, lmstudio) serving nomic-embed-text (384
// dimensions, 512 tokens) and gpt-4o-mini, wanting KEY when given; $OPENAI_FAKE
// is its base URL (with /v1):
//
//	openaifake FLAVOR [KEY]
func cmdOpenAIFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 1 || len(args) > 2 {
		ts.Fatalf("usage: openaifake FLAVOR [KEY]")
	}
	key := ""
	if len(args) == 2 {
		key = args[1]
	}
	srv := openaitest.NewServer(openaitest.Flavor(args[0]), key,
		openaitest.Model{ID: "nomic-embed-text", Embedding: true, Dim: 384, ContextLength: 512},
		openaitest.Model{ID: "gpt-4o-mini"})
	ts.Defer(srv.Close)
	ts.Setenv("OPENAI_FAKE", srv.URL)
}

// cmdCohereFake starts a fake Cohere API wanting KEY, serving
// embed-english-v3.0, rerank-v3.5 and command-r; $COHERE_FAKE is its URL:
//
//	coherefake KEY
func cmdCohereFake(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: coherefake KEY")
	}
	srv := coheretest.NewServer(args[0], []coheretest.Model{{Name: "embed-english-v3.0", Dim: 384}}, []string{"rerank-v3.5"}, []string{"command-r"})
	ts.Defer(srv.Close)
	ts.Setenv("COHERE_FAKE", srv.URL)
}

// cmdRerankFake starts a fake reranker that takes LATENCY to answer (0 for
// at once) and, with -key, wants KEY as a bearer token; $RERANK_URL is its
// URL, without a path:
//
//	rerankfake [-key KEY] [LATENCY]
func cmdRerankFake(ts *testscript.TestScript, neg bool, args []string) {
	key := ""
	if len(args) >= 2 && args[0] == "-key" {
		key, args = args[1], args[2:]
	}
	if neg || len(args) > 1 {
		ts.Fatalf("usage: rerankfake [-key KEY] [LATENCY]")
	}
	srv := reranktest.NewServer(key)
	if len(args) == 1 {
		d, err := time.ParseDuration(args[0])
		ts.Check(err)
		srv.SetLatency(d)
	}
	ts.Defer(srv.Close)
	ts.Setenv("RERANK_URL", srv.URL)
}
