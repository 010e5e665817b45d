package cli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollamatest"
)

// jsonCase is one run of a --json command and the exit code it must give.
type jsonCase struct {
	name string
	code int
	args []string
	prep func(t *testing.T, e *jsonEnv) // before the run, e.g. damage the index
}

// jsonEnv is an isolated HOME, index and fake Ollama for one case.
type jsonEnv struct {
	dir string
	env map[string]string
	srv *ollamatest.Server
}

func (e *jsonEnv) run(args ...string) (code int, stdout, stderr string) {
	var out, errb bytes.Buffer
	s := iostreams.Test(strings.NewReader(""), &out, &errb)
	code = cli.Main(context.Background(), args, s, func(k string) string { return e.env[k] })
	return code, out.String(), errb.String()
}

func newJSONEnv(t *testing.T) *jsonEnv {
	t.Helper()
	srv := ollamatest.NewServer(
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512},
		ollamatest.Model{Name: "llama3.2", ContextLength: 8192},
	)
	t.Cleanup(srv.Close)
	dir := t.TempDir()
	home := filepath.Join(dir, "home")
	e := &jsonEnv{dir: dir, srv: srv, env: map[string]string{
		"HOME":            home,
		"XDG_DATA_HOME":   filepath.Join(home, ".local", "share"),
		"XDG_CONFIG_HOME": filepath.Join(home, ".config"),
		"OLLAMA_HOST":     srv.URL,
		"NO_COLOR":        "1",
	}}
	for name, text := range map[string]string{
		"docs/a.md": "# Penguins\n\nPenguins cannot fly but they swim well.\n",
		"docs/b.md": "# Teapots\n\nA teapot holds tea.\n",
		"questions.jsonl": `{"question": "can penguins fly", "expected": ["docs/a.md"]}` + "\n" +
			`{"question": "what holds tea", "expected": ["docs/b.md"]}` + "\n",
	} {
		p := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// indexed ingests docs so the index exists.
func indexed(t *testing.T, e *jsonEnv) {
	t.Helper()
	if code, _, stderr := e.run("ingest", filepath.Join(e.dir, "docs")); code != 0 {
		t.Fatalf("setup ingest: exit %d: %s", code, stderr)
	}
}

// serverDown points rag at a port nothing listens on.
func serverDown(t *testing.T, e *jsonEnv) {
	e.srv.Close()
}

// damaged ingests, then truncates the vector file as damage.txtar does.
func damaged(t *testing.T, e *jsonEnv) {
	indexed(t, e)
	vecs, _ := filepath.Glob(filepath.Join(e.env["XDG_DATA_HOME"], "rag", "index", "vectors-*.f32"))
	if len(vecs) == 0 {
		t.Fatal("no vector file to damage")
	}
	for _, v := range vecs {
		if err := os.WriteFile(v, []byte("RAGVEC02"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func jsonCases(dir string) map[string][]jsonCase {
	docs := filepath.Join(dir, "docs")
	return map[string][]jsonCase{
		"ingest": {
			{"ok", 0, []string{"ingest", "--json", docs}, nil},
			{"no such path", 2, []string{"ingest", "--json", filepath.Join(dir, "nosuch")}, nil},
			{"server down", 3, []string{"ingest", "--json", docs}, serverDown},
		},
		"search": {
			{"ok", 0, []string{"search", "--json", "penguins"}, indexed},
			{"no index", 1, []string{"search", "--json", "penguins"}, nil},
			{"bad flag", 2, []string{"search", "--json", "--no-such-flag", "penguins"}, indexed},
			{"vector leg lost", 3, []string{"search", "--json", "penguins"}, damaged},
		},
		"ask": {
			{"ok", 0, []string{"ask", "--json", "can penguins fly"}, indexed},
			{"server down", 4, []string{"ask", "--json", "can penguins fly"}, func(t *testing.T, e *jsonEnv) { indexed(t, e); serverDown(t, e) }},
			{"no index", 1, []string{"ask", "--json", "can penguins fly"}, nil},
		},
		"status": {
			{"ok", 0, []string{"status", "--json"}, indexed},
			{"no index", 1, []string{"status", "--json"}, nil},
		},
		"check": {
			{"ok", 0, []string{"check", "--json"}, indexed},
			{"damaged", 6, []string{"check", "--json"}, damaged},
			{"no index", 1, []string{"check", "--json"}, nil},
		},
		"reindex": {
			{"ok", 0, []string{"reindex", "--json"}, indexed},
			{"no index", 1, []string{"reindex", "--json"}, nil},
		},
		"forget": {
			{"ok", 0, []string{"forget", "--json", filepath.Join(docs, "a.md")}, indexed},
			{"nothing indexed there", 1, []string{"forget", "--json", filepath.Join(dir, "nosuch")}, indexed},
		},
		"migrate": {
			{"ok", 0, []string{"migrate", "--json", "--to", filepath.Join(dir, "copy")}, indexed},
			{"no index", 1, []string{"migrate", "--json", "--to", filepath.Join(dir, "copy")}, nil},
			{"no target", 2, []string{"migrate", "--json"}, indexed},
		},
		"doctor": {
			{"ok", 0, []string{"doctor", "--json"}, indexed},
			{"no index yet", 0, []string{"doctor", "--json"}, nil},
			{"server down", 4, []string{"doctor", "--json"}, serverDown},
			{"store unreachable", 1, []string{"--store", "weaviate://127.0.0.1:1/Docs", "doctor", "--json"}, nil},
		},
		"ls": {
			{"roots", 0, []string{"ls", "--json"}, indexed},
			{"files", 0, []string{"ls", "--json", docs}, indexed},
			{"nothing there", 1, []string{"ls", "--json", filepath.Join(dir, "nosuch")}, indexed},
			{"no index", 1, []string{"ls", "--json"}, nil},
		},
		"eval": {
			{"ok", 0, []string{"eval", "--json", "--mode", "lexical", filepath.Join(dir, "questions.jsonl")}, indexed},
			{"no such file", 1, []string{"eval", "--json", "--mode", "lexical", filepath.Join(dir, "nosuch.jsonl")}, indexed},
			{"clean without a store", 2, []string{"eval", "--json", "--clean"}, nil},
		},
		"audit": {
			{"ok", 0, []string{"audit", "--json"}, indexed},
			{"no index", 1, []string{"audit", "--json"}, nil},
			{"check, server down", 4, []string{"audit", "--json", "--check"}, func(t *testing.T, e *jsonEnv) { indexed(t, e); serverDown(t, e) }},
		},
		// rag chat --json prints one line per answer; with no question on
		// stdin, only its failures print (one document).
		"chat": {
			{"no index", 1, []string{"chat", "--json"}, nil},
		},
		"export": {
			{"finetune, no question set", 1, []string{"export", "finetune", "--json", "--from", filepath.Join(dir, "nosuch"), "--out", filepath.Join(dir, "ft")}, indexed},
		},
		"similar": {
			{"ok", 0, []string{"similar", "--json", "cat", "kitten"}, nil},
			{"server down", 4, []string{"similar", "--json", "cat", "kitten"}, serverDown},
		},
	}
}

// TestJSONContract runs every command that has --json, in success and in
// failure, and checks that stdout holds exactly one JSON document whose lists
// are [] rather than null. A command with --json and no case here fails the
// test: add its cases to jsonCases.
func TestJSONContract(t *testing.T) {
	cases := jsonCases("DIR")
	for _, name := range jsonCommands(t) {
		if _, ok := cases[name]; !ok {
			t.Errorf("rag %s has --json but no case in jsonCases", name)
		}
	}
	for name := range cases {
		for i := range cases[name] {
			t.Run(name+"/"+cases[name][i].name, func(t *testing.T) {
				e := newJSONEnv(t)
				c := jsonCases(e.dir)[name][i]
				if c.prep != nil {
					c.prep(t, e)
				}
				code, stdout, stderr := e.run(c.args...)
				if code != c.code {
					t.Errorf("exit %d, want %d\nstderr: %s", code, c.code, stderr)
				}
				v, err := oneJSONDocument(stdout)
				if err != nil {
					t.Fatalf("stdout is not one JSON document: %v\nstdout: %s", err, stdout)
				}
				if code != 0 && !hasErrorOrReport(v) {
					t.Errorf("failure printed neither an error object nor a report: %s", stdout)
				}
				for _, p := range nullLists(v, "") {
					t.Errorf("%s is null, want a value ([] for a list)", p)
				}
			})
		}
	}
}

// jsonCommands lists the commands whose --help shows a --json flag.
func jsonCommands(t *testing.T) []string {
	e := newJSONEnv(t)
	_, help, _ := e.run("--help")
	var names []string
	inList := false
	for _, line := range strings.Split(help, "\n") {
		switch {
		case strings.HasPrefix(line, "Available Commands:"):
			inList = true
		case inList && strings.TrimSpace(line) == "":
			inList = false
		case inList:
			name := strings.Fields(line)[0]
			if _, sub, _ := e.run(name, "--help"); regexp.MustCompile(`(?m)^\s+--json\b`).MatchString(sub) {
				names = append(names, name)
			}
		}
	}
	if !slices.Contains(names, "search") {
		t.Fatalf("found no --json commands in rag --help:\n%s", help)
	}
	return names
}

func oneJSONDocument(s string) (any, error) {
	dec := json.NewDecoder(strings.NewReader(s))
	var v any
	if err := dec.Decode(&v); err != nil {
		return nil, err
	}
	var extra any
	if err := dec.Decode(&extra); err != io.EOF {
		return nil, fmt.Errorf("a second document follows the first (%v)", err)
	}
	return v, nil
}

func hasErrorOrReport(v any) bool {
	m, ok := v.(map[string]any)
	return ok && len(m) > 0
}

// nullLists names every null in v. rag's documents have no optional objects
// printed as null: a missing list or object is [] or left out.
func nullLists(v any, path string) []string {
	switch x := v.(type) {
	case nil:
		return []string{cmpPath(path)}
	case map[string]any:
		var out []string
		for k, val := range x {
			out = append(out, nullLists(val, path+"."+k)...)
		}
		return out
	case []any:
		var out []string
		for i, val := range x {
			out = append(out, nullLists(val, fmt.Sprintf("%s.%d", path, i))...)
		}
		return out
	}
	return nil
}

func cmpPath(p string) string {
	if p == "" {
		return "the document"
	}
	return strings.TrimPrefix(p, ".")
}
