package retrieve_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retrieve"
)

// TestSessionConcurrentSearches: one session serves many goroutines at once
// (run with -race), each getting what a search of its own would.
func TestSessionConcurrentSearches(t *testing.T) {
	f := setup(t)
	s := f.open(t, f.e)
	queries := []string{"goroutines channels concurrency", "cats purr sleep", "bark fetch guard house", "SQLite database single file", "zymurgy"}
	want := map[string][]string{}
	for _, q := range queries {
		want[q] = texts(search(t, f.open(t, f.e), q, 3, retrieve.Hybrid).Results)
	}
	var wg sync.WaitGroup
	errs := make(chan error, 40)
	for i := range 40 {
		q := queries[i%len(queries)]
		wg.Go(func() {
			out, err := s.Search(t.Context(), retrieve.Query{Text: q, K: 3})
			if err != nil {
				errs <- err
				return
			}
			if got := texts(out.Results); strings.Join(got, "|") != strings.Join(want[q], "|") {
				errs <- errors.New(q + ": " + strings.Join(got, "|"))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
}

// meetEmbedder lets no call through until two calls are in it at once: it
// proves that no lock covers the query embedding.
type meetEmbedder struct {
	embed.Embedder
	mu     sync.Mutex
	in     int
	met    chan struct{}
	missed atomic.Bool
}

func (e *meetEmbedder) Embed(ctx context.Context, texts []string) ([][]float32, error) {
	e.mu.Lock()
	if e.in++; e.in == 2 {
		close(e.met)
	}
	e.mu.Unlock()
	select {
	case <-e.met:
	case <-time.After(10 * time.Second):
		e.missed.Store(true)
	}
	return e.Embedder.Embed(ctx, texts)
}

// TestSessionEmbedsQueriesSideBySide: searches of one session wait for the
// embedding server at the same time, as --deep's workers do.
func TestSessionEmbedsQueriesSideBySide(t *testing.T) {
	f := setup(t)
	e := &meetEmbedder{Embedder: f.e, met: make(chan struct{})}
	s := f.open(t, e)
	var wg sync.WaitGroup
	for range 2 {
		wg.Go(func() {
			if _, err := s.Search(t.Context(), retrieve.Query{Text: "cats", K: 1, Mode: retrieve.Vector}); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	if e.missed.Load() {
		t.Error("the two searches never embedded at the same time")
	}
}

func TestSessionPathFilter(t *testing.T) {
	f := setup(t)
	s := f.open(t, f.e)
	tests := []struct {
		paths []string
		want  []string // the paths results may come from
	}{
		{[]string{"/docs/go.md"}, []string{"/docs/go.md"}},
		{[]string{"/docs/c*.md"}, []string{"/docs/cats.md"}},
		{[]string{"dogs.md", "sqlite.*"}, []string{"/docs/dogs.md", "/docs/sqlite.md"}},
		{[]string{"/docs/**/z*.md"}, []string{"/docs/zymurgy.md"}},
		{[]string{"/nowhere"}, nil},
	}
	for _, tt := range tests {
		for _, mode := range []retrieve.Mode{retrieve.Hybrid, retrieve.Vector, retrieve.Lexical} {
			t.Run(strings.Join(tt.paths, ",")+"/"+string(mode), func(t *testing.T) {
				// "mammals" is in three chunks and k is 1: a filter applied after
				// the top k would often find nothing.
				out, err := s.Search(t.Context(), retrieve.Query{Text: "domesticated mammals go sqlite zymurgy", K: 1, Mode: mode, Paths: tt.paths})
				if err != nil {
					t.Fatal(err)
				}
				if len(tt.want) > 0 && mode != retrieve.Lexical && len(out.Results) != 1 {
					t.Fatalf("%d results, want 1", len(out.Results))
				}
				for _, r := range out.Results {
					ok := false
					for _, w := range tt.want {
						ok = ok || r.Path == w
					}
					if !ok {
						t.Errorf("result from %s, want only %q", r.Path, tt.want)
					}
				}
			})
		}
	}
	if _, err := s.Search(t.Context(), retrieve.Query{Text: "x", K: 1, Paths: []string{"/docs/[a"}}); err == nil {
		t.Error("a malformed glob: no error")
	}
}

func TestMatchPath(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"/home/u/notes", "/home/u/notes/a.md", true},
		{"/home/u/notes/", "/home/u/notes/a.md", true},
		{"/home/u/notes", "/home/u/notes", true},
		{"/home/u/notes", "/home/u/notesX/a.md", false},
		{"*.md", "/a/b/c.md", true},
		{"*.md", "/a/b/c.txt", false},
		{"/a/*.md", "/a/b/c.md", false},
		{"/a/**/*.md", "/a/b/c.md", true},
		{"/a/**/*.md", "/a/c.md", true},
		{"/a/?.md", "/a/c.md", true},
		{"/a/[!c].md", "/a/c.md", false},
		{"/a/[bc].md", "/a/c.md", true},
	}
	for _, tt := range tests {
		got, err := retrieve.MatchPath([]string{tt.pattern}, tt.path)
		if err != nil || got != tt.want {
			t.Errorf("MatchPath(%q, %q) = %v, %v; want %v", tt.pattern, tt.path, got, err, tt.want)
		}
	}
	if ok, err := retrieve.MatchPath(nil, "/x"); !ok || err != nil {
		t.Errorf("no filter: %v, %v", ok, err)
	}
}

// TestEmbedTimeoutFallsBackOnce: a server that never answers costs a hybrid
// session one embed timeout, then its searches go lexical at once, each
// saying why; vector mode fails with an error that is ErrUnavailable.
func TestEmbedTimeoutFallsBackOnce(t *testing.T) {
	f := setup(t)
	f.fake.Hang("/api/embed", true)
	s, err := retrieve.Open(t.Context(), f.dir, retrieve.Options{
		EmbedTimeout: 200 * time.Millisecond,
		Embedder:     func(string) embed.Embedder { return f.e },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i := range 3 {
		out, err := s.Search(t.Context(), retrieve.Query{Text: "zymurgy", K: 5})
		if err != nil {
			t.Fatalf("search %d: %v", i, err)
		}
		var te *retrieve.EmbedTimeoutError
		if !errors.As(out.VectorSkipped, &te) || !errors.Is(out.VectorSkipped, embed.ErrUnavailable) || out.Mode != retrieve.Lexical {
			t.Errorf("search %d: skipped %v, mode %s; want an EmbedTimeoutError and lexical", i, out.VectorSkipped, out.Mode)
		}
		if len(out.Results) == 0 {
			t.Errorf("search %d: no lexical results", i)
		}
	}
	if n := f.fake.Calls("/api/embed"); n != 1 {
		t.Errorf("%d embed calls, want 1: later searches must not wait again", n)
	}
	if s.Skipped() == nil {
		t.Error("Skipped() = nil")
	}
	v, err := retrieve.Open(t.Context(), f.dir, retrieve.Options{Mode: retrieve.Vector, EmbedTimeout: 100 * time.Millisecond, Embedder: func(string) embed.Embedder { return f.e }})
	if err != nil {
		t.Fatal(err)
	}
	defer v.Close()
	if _, err := v.Search(t.Context(), retrieve.Query{Text: "zymurgy", K: 5}); !errors.Is(err, embed.ErrUnavailable) {
		t.Errorf("vector mode: err = %v, want ErrUnavailable", err)
	}
}

// TestLongQueryKeepsVectorLeg: a query over the model's context is embedded
// by its leading part, and the outcome says how much.
func TestLongQueryKeepsVectorLeg(t *testing.T) {
	dir := buildIndex(t)
	fake := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: dim, ContextLength: 40})
	c, err := ollama.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	s := openSession(t, dir, &ollama.Embedder{Client: c, Name: "all-minilm"})
	q := "goroutines channels concurrency " + strings.Repeat("and then some more words about nothing in particular ", 20)
	out, err := s.Search(t.Context(), retrieve.Query{Text: q, K: 3, Mode: retrieve.Vector})
	if err != nil {
		t.Fatal(err)
	}
	if out.QueryCut == nil || out.QueryCut.Of != len(strings.Fields(q)) || out.QueryCut.Words <= 0 || out.QueryCut.Words >= out.QueryCut.Of {
		t.Fatalf("QueryCut = %+v, want a leading part of %d words", out.QueryCut, len(strings.Fields(q)))
	}
	if n := ollamatest.CountTokens(strings.Join(strings.Fields(q)[:out.QueryCut.Words], " ")); n > 40 {
		t.Errorf("the embedded part has %d tokens, over the context of 40", n)
	}
	// The vector leg ranks as a search for the leading part alone does.
	lead, err := s.Search(t.Context(), retrieve.Query{Text: strings.Join(strings.Fields(q)[:out.QueryCut.Words], " "), K: 3, Mode: retrieve.Vector})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 3 || strings.Join(texts(out.Results), "|") != strings.Join(texts(lead.Results), "|") {
		t.Errorf("results %q, want those of the leading part %q", texts(out.Results), texts(lead.Results))
	}
	short, err := s.Search(t.Context(), retrieve.Query{Text: "cats", K: 1, Mode: retrieve.Vector})
	if err != nil || short.QueryCut != nil {
		t.Errorf("a short query: cut %+v, err %v", short.QueryCut, err)
	}
}

func TestSessionModelCheck(t *testing.T) {
	dir := buildIndex(t)
	_, err := retrieve.Open(t.Context(), dir, retrieve.Options{EmbedModel: "nomic-embed-text"})
	var mm *index.ModelMismatchError
	if !errors.As(err, &mm) {
		t.Errorf("err = %v, want *ModelMismatchError", err)
	}
	s, err := retrieve.Open(t.Context(), dir, retrieve.Options{EmbedModel: "all-minilm:latest"})
	if err != nil {
		t.Fatalf("the index's own model with its tag: %v", err)
	}
	s.Close()
}

// TestPrepareUnavailableGoesLexical: a Prepare that finds the server down
// makes a hybrid session lexical, without an embedding call; another error
// fails Open.
func TestPrepareUnavailableGoesLexical(t *testing.T) {
	f := setup(t)
	down := fmt.Errorf("show: %w", embed.ErrUnavailable)
	s, err := retrieve.Open(t.Context(), f.dir, retrieve.Options{
		Embedder: func(string) embed.Embedder { return f.e },
		Prepare:  func(context.Context, string) error { return down },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	out, err := s.Search(t.Context(), retrieve.Query{Text: "zymurgy", K: 3})
	if err != nil || !errors.Is(out.VectorSkipped, embed.ErrUnavailable) || out.Mode != retrieve.Lexical {
		t.Errorf("out %+v, err %v; want lexical with the reason", out, err)
	}
	if n := f.fake.Calls("/api/embed"); n != 0 {
		t.Errorf("%d embed calls", n)
	}
	boom := errors.New("boom")
	if _, err := retrieve.Open(t.Context(), f.dir, retrieve.Options{Prepare: func(context.Context, string) error { return boom }}); !errors.Is(err, boom) {
		t.Errorf("err = %v, want Prepare's", err)
	}
}

// TestVectorRetryRecovers: with Options.VectorRetry, a hybrid session whose
// embedding server hung goes lexical without waiting again until the retry
// wait has passed; then one search tries the server (a failure doubles the
// wait), and once the server answers, searches are hybrid again.
func TestVectorRetryRecovers(t *testing.T) {
	f := setup(t)
	f.fake.Hang("/api/embed", true)
	const wait = 300 * time.Millisecond
	s, err := retrieve.Open(t.Context(), f.dir, retrieve.Options{
		EmbedTimeout: 100 * time.Millisecond,
		VectorRetry:  wait,
		Embedder:     func(string) embed.Embedder { return f.e },
	})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	search := func() *retrieve.Outcome {
		t.Helper()
		out, err := s.Search(t.Context(), retrieve.Query{Text: "goroutines channels", K: 3})
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	if out := search(); out.Mode != retrieve.Lexical || !errors.Is(out.VectorSkipped, embed.ErrUnavailable) {
		t.Fatalf("with the server hung: mode %s, skipped %v", out.Mode, out.VectorSkipped)
	}
	failed := time.Now()
	for range 5 {
		if out := search(); out.Mode != retrieve.Lexical {
			t.Fatalf("mode %s before the retry wait", out.Mode)
		}
	}
	// (On a machine so loaded that the searches took longer than the
	// wait, one of them may rightly have tried again.)
	if n := f.fake.Calls("/api/embed"); n != 1 && time.Since(failed) < wait {
		t.Errorf("%d embed calls within the retry wait, want 1", n)
	}
	time.Sleep(wait + 50*time.Millisecond)
	before := f.fake.Calls("/api/embed")
	if out := search(); out.Mode != retrieve.Lexical {
		t.Fatalf("mode %s with the server still hung", out.Mode)
	}
	if n := f.fake.Calls("/api/embed"); n != before+1 {
		t.Errorf("after the wait: %d embed calls, want one more than %d (one search tries again)", n, before)
	}
	failed = time.Now()
	if out := search(); out.Mode != retrieve.Lexical {
		t.Fatalf("mode %s right after a failed retry", out.Mode)
	}
	if n := f.fake.Calls("/api/embed"); n != before+1 && time.Since(failed) < 2*wait {
		t.Errorf("%d embed calls right after a failed retry, want %d: the wait doubles", n, before+1)
	}

	f.fake.Hang("/api/embed", false)
	deadline := time.Now().Add(10 * time.Second)
	var out *retrieve.Outcome
	for out = search(); out.Mode != retrieve.Hybrid && time.Now().Before(deadline); out = search() {
		time.Sleep(50 * time.Millisecond)
	}
	if out.Mode != retrieve.Hybrid || out.VectorSkipped != nil || out.Results[0].Vector == nil {
		t.Fatalf("10 s after the server answers again: mode %s, skipped %v", out.Mode, out.VectorSkipped)
	}
	for range 3 {
		if out := search(); out.Mode != retrieve.Hybrid {
			t.Errorf("a search after the recovery: mode %s", out.Mode)
		}
	}
}
