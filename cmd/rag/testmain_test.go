package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"

	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/shareddata"
)

// The tests and benchmarks of this package run the real rag binary, built once
// per test run, as a separate process: that is the only way to SIGKILL it and
// to measure a whole process. RAG_TEST_BINARY names a prebuilt binary instead.

var (
	buildOnce sync.Once
	binPath   string
	binDir    string
	buildErr  error
)

func TestMain(m *testing.M) {
	flag.Parse()
	code := m.Run()
	if binDir != "" {
		os.RemoveAll(binDir)
	}
	os.Exit(code)
}

// ragBinary builds ./cmd/rag once and returns its path.
func ragBinary(tb testing.TB) string {
	tb.Helper()
	buildOnce.Do(func() {
		if p := os.Getenv("RAG_TEST_BINARY"); p != "" {
			binPath = p
			return
		}
		root, err := shareddata.ModuleRoot()
		if err != nil {
			buildErr = err
			return
		}
		if binDir, err = os.MkdirTemp("", "rag-test-bin-"); err != nil {
			buildErr = err
			return
		}
		binPath = filepath.Join(binDir, "rag")
		cmd := exec.Command(goTool(), "build", "-o", binPath, "./cmd/rag")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./cmd/rag: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		tb.Fatal(buildErr)
	}
	return binPath
}

func goTool() string {
	if p, err := exec.LookPath("go"); err == nil {
		return p
	}
	return filepath.Join(runtime.GOROOT(), "bin", "go")
}

// ragEnv is an environment that isolates rag from the user's own: its own
// HOME and config, the index in indexDir, the fake server at url.
func ragEnv(tb testing.TB, home, indexDir, url string) []string {
	tb.Helper()
	var env []string
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if strings.HasPrefix(k, "RAG_") || strings.HasPrefix(k, "OLLAMA_") || strings.HasPrefix(k, "XDG_") || k == "HOME" {
			continue
		}
		env = append(env, kv)
	}
	return append(env, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"),
		"XDG_DATA_HOME="+filepath.Join(home, "data"), "RAG_INDEX="+indexDir, "OLLAMA_HOST="+url)
}

// result is a finished rag run.
type result struct {
	code           int
	stdout, stderr string
	state          *os.ProcessState
}

func (r result) String() string {
	return fmt.Sprintf("exit %d\nstdout: %s\nstderr: %s", r.code, r.stdout, r.stderr)
}

// ragCmd prepares a rag run; the caller starts it.
func ragCmd(tb testing.TB, env []string, args ...string) (*exec.Cmd, *bytes.Buffer, *bytes.Buffer) {
	cmd := exec.Command(ragBinary(tb), args...)
	cmd.Env = env
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	return cmd, &out, &errb
}

// rag runs rag to completion.
func rag(tb testing.TB, env []string, args ...string) result {
	tb.Helper()
	cmd, out, errb := ragCmd(tb, env, args...)
	err := cmd.Run()
	var ee *exec.ExitError
	if err != nil && !errors.As(err, &ee) {
		tb.Fatalf("run rag %v: %v", args, err)
	}
	return result{code: cmd.ProcessState.ExitCode(), stdout: out.String(), stderr: errb.String(), state: cmd.ProcessState}
}

func embedModel() ollamatest.Model {
	return ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512}
}

var syllables = []string{"ka", "lo", "mi", "ne", "ru", "sa", "ti", "vo", "ze", "pha", "qui", "dro", "ben", "tal", "gor", "fin"}

// vocabulary is a fixed list of made-up words.
var vocabulary = func() []string {
	r := rand.New(rand.NewPCG(1, 2))
	seen := map[string]bool{}
	var out []string
	for len(out) < 3000 {
		var sb strings.Builder
		for range 2 + r.IntN(3) {
			sb.WriteString(syllables[r.IntN(len(syllables))])
		}
		if w := sb.String(); !seen[w] {
			seen[w] = true
			out = append(out, w)
		}
	}
	return out
}()

func words(r *rand.Rand, n int) string {
	ws := make([]string, n)
	for i := range ws {
		ws[i] = vocabulary[r.IntN(len(vocabulary))]
	}
	return strings.Join(ws, " ")
}

// document is a small Markdown or text document of roughly n words.
func document(r *rand.Rand, n int, markdown bool) string {
	var sb strings.Builder
	if markdown {
		fmt.Fprintf(&sb, "# %s\n\n", words(r, 3))
	}
	for n > 0 {
		if markdown && r.IntN(3) == 0 {
			fmt.Fprintf(&sb, "## %s\n\n", words(r, 2))
		}
		k := min(n, 20+r.IntN(60))
		sb.WriteString(words(r, k))
		sb.WriteString(".\n\n")
		n -= k
	}
	return sb.String()
}

// writeDoc writes a new document at dir/name with ext .md or .txt.
func writeDoc(tb testing.TB, r *rand.Rand, dir, name string, nwords int) string {
	tb.Helper()
	md := r.IntN(2) == 0
	ext := ".txt"
	if md {
		ext = ".md"
	}
	p := filepath.Join(dir, name+ext)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		tb.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(document(r, nwords, md)), 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}
