package weaviatecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/weaviatetest"
)

// The commands a user runs, end to end against a real Weaviate node:
// ingest without a model server stores the chunks pending (exit 3), a
// lexical search finds them, a re-run finds both files unchanged, ls lists
// them, forget removes a file, and a collection built with another model is
// refused by the model check.
func TestCLIAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	dir := t.TempDir()
	docs := filepath.Join(dir, "docs")
	os.MkdirAll(docs, 0o755)
	os.WriteFile(filepath.Join(docs, "retry.md"), []byte("# Retry\n\nThe retry policy backs off exponentially with jitter.\n"), 0o644)
	os.WriteFile(filepath.Join(docs, "keys.md"), []byte("# Keys\n\nSigning keys rotate every ninety days.\n"), 0o644)
	e := &env{t: t, dir: dir, env: map[string]string{
		"HOME":        dir,
		"OLLAMA_HOST": "http://127.0.0.1:1", // nothing there: lexical only, chunks pending
		"RAG_STORE":   "weaviate://" + n.HTTPAddr + "/Cli",
		"RAG_INDEX":   filepath.Join(dir, "unused-local-index"),
	}}
	// rag runs the CLI in-process with e.env as its whole environment, logging
	// each run's stderr.
	rag := func(args ...string) (int, string, string) {
		t.Helper()
		code, out, errs := e.run(args...)
		t.Logf("rag %s: exit %d\n%s", strings.Join(args, " "), code, errs)
		return code, out, errs
	}
	code, _, _ := rag("ingest", docs)
	if code != 3 {
		t.Fatalf("ingest without a model server: exit %d, want 3 (pending)", code)
	}
	code, out, _ := rag("search", "--mode", "lexical", "--json", "retry policy")
	if code != 0 || !strings.Contains(out, "retry.md") {
		t.Fatalf("search: exit %d\n%s", code, out)
	}
	var res struct {
		Results []struct {
			Path string `json:"path"`
		} `json:"results"`
	}
	if err := json.Unmarshal([]byte(out), &res); err != nil || len(res.Results) == 0 || !strings.HasSuffix(res.Results[0].Path, "retry.md") {
		t.Fatalf("search --json: %v\n%s", err, out)
	}
	if _, err := os.Stat(e.env["RAG_INDEX"]); err == nil {
		t.Fatal("a local index was written although the store is Weaviate")
	}
	code, _, errs := rag("ingest", docs)
	if code != 3 || !strings.Contains(errs, "2 unchanged") {
		t.Fatalf("second ingest: exit %d, want the 2 files unchanged (the incremental state is in Weaviate)\n%s", code, errs)
	}
	if code, out, _ := rag("ls", "--json"); code != 0 || !strings.Contains(out, "docs") {
		t.Fatalf("ls: exit %d\n%s", code, out)
	}
	if code, _, _ := rag("forget", filepath.Join(docs, "keys.md")); code != 0 {
		t.Fatalf("forget: exit %d", code)
	}
	if code, out, _ := rag("search", "--mode", "lexical", "--json", "signing keys"); code != 0 || strings.Contains(out, "keys.md") {
		t.Fatalf("search after forget: exit %d\n%s", code, out)
	}
	code, _, errs = rag("ingest", "--embed-model", "nomic-embed-text", docs)
	if code == 0 || !strings.Contains(errs, `built with embedding model "all-minilm", not "nomic-embed-text"`) || !strings.Contains(errs, "hint:") {
		t.Fatalf("ingest with another model: exit %d, want the model check's refusal and its hint\n%s", code, errs)
	}
}
