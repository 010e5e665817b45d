package retrieve_test

import (
	"context"
	"errors"
	"math"
	"net"
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/retrieve"
)

const dim = 384

type doc struct {
	path, text string
	pending    bool // stored without a vector
}

var corpus = []doc{
	{path: "/docs/cats.md", text: "Cats are small domesticated carnivorous mammals. Cats purr and sleep all day."},
	{path: "/docs/dogs.md", text: "Dogs are loyal domesticated mammals that bark, fetch and guard the house."},
	{path: "/docs/zymurgy.md", text: "Zymurgy is the science of fermentation in brewing, baking and winemaking by mammals."},
	{path: "/docs/go.md", text: "The Go programming language has goroutines and channels for concurrency."},
	{path: "/docs/go.md", text: "Go modules record dependencies in go.mod and checksums in go.sum."},
	{path: "/docs/sqlite.md", text: "SQLite stores a whole database in a single file; queries use SQL."},
	{path: "/docs/pending.md", text: "Notes on zymurgy waiting for an embedding server.", pending: true},
}

// buildIndex writes corpus to a new index, one file per path, vectors from
// the fake server's embedding function.
func buildIndex(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	w, err := index.OpenWriter(t.Context(), dir, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	var b index.Batch
	byPath := map[string]int{}
	for _, d := range corpus {
		i, ok := byPath[d.path]
		if !ok {
			i = len(b.Puts)
			byPath[d.path] = i
			b.Puts = append(b.Puts, index.Put{File: index.File{Path: d.path, Size: 1, ModTime: 1, Hash: d.path}})
		}
		p := &b.Puts[i]
		p.Chunks = append(p.Chunks, index.Chunk{Path: d.path, Text: d.text, StartLine: len(p.Chunks) + 1, EndLine: len(p.Chunks) + 1, Terms: lexical.Document(d.text)})
		var v []float32
		if !d.pending {
			v = ollamatest.Embed(d.text, dim)
		}
		p.Vectors = append(p.Vectors, v)
	}
	if err := w.Commit(&b); err != nil {
		t.Fatal(err)
	}
	return dir
}

func openReader(t *testing.T, dir string) *index.Reader {
	t.Helper()
	r, err := index.OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

type fixture struct {
	dir  string
	r    *index.Reader
	e    embed.Embedder
	fake *ollamatest.Server
}

// open opens a session on the fixture's index whose embedder is e (none when nil).
func (f fixture) open(t *testing.T, e embed.Embedder) *retrieve.Session {
	t.Helper()
	return openSession(t, f.dir, e)
}

func openSession(t *testing.T, dir string, e embed.Embedder) *retrieve.Session {
	t.Helper()
	s, err := retrieve.Open(t.Context(), dir, retrieve.Options{Embedder: func(string) embed.Embedder { return e }})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func setup(t *testing.T) fixture {
	t.Helper()
	fake := ollamatest.New(t,
		ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: dim, ContextLength: 512},
		ollamatest.Model{Name: "tiny", Embedding: true, Dim: 64, ContextLength: 512})
	c, err := ollama.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := buildIndex(t)
	return fixture{dir: dir, r: openReader(t, dir), e: &ollama.Embedder{Client: c, Name: "all-minilm"}, fake: fake}
}

func cosine(a, b []float32) float64 {
	var dot, na, nb float64
	for i := range a {
		dot += float64(a[i]) * float64(b[i])
		na += float64(a[i]) * float64(a[i])
		nb += float64(b[i]) * float64(b[i])
	}
	return dot / math.Sqrt(na*nb)
}

func texts(rs []retrieve.Result) []string {
	var out []string
	for _, r := range rs {
		out = append(out, r.Text)
	}
	return out
}

func search(t *testing.T, s *retrieve.Session, q string, k int, mode retrieve.Mode) *retrieve.Outcome {
	t.Helper()
	out, err := s.Search(t.Context(), retrieve.Query{Text: q, K: k, Mode: mode})
	if err != nil {
		t.Fatalf("Search(%q, %d, %s): %v", q, k, mode, err)
	}
	return out
}

func TestLexical(t *testing.T) {
	f := setup(t)
	tests := []struct {
		query string
		first string // path of the expected best result
	}{
		{"zymurgy mammals", "/docs/zymurgy.md"},
		{"purr", "/docs/cats.md"},
		{"domesticated mammals bark", "/docs/dogs.md"},
		{"checksums", "/docs/go.md"},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			// A nil embedder is fine for lexical search.
			out := search(t, f.open(t, nil), tt.query, 10, retrieve.Lexical)
			if len(out.Results) == 0 {
				t.Fatal("no results")
			}
			if got := out.Results[0].Path; got != tt.first {
				t.Errorf("first = %s, want %s (all: %q)", got, tt.first, texts(out.Results))
			}
			for i, r := range out.Results {
				if r.Vector != nil || r.Lexical == nil {
					t.Errorf("result %d legs = %v, %v; want lexical only", i, r.Vector, r.Lexical)
					continue
				}
				if r.Lexical.Rank != i+1 || r.Score != r.Lexical.Score {
					t.Errorf("result %d: rank %d, score %v vs leg %v", i, r.Lexical.Rank, r.Score, r.Lexical.Score)
				}
				if i > 0 && r.Score > out.Results[i-1].Score {
					t.Errorf("result %d scores above result %d", i, i-1)
				}
			}
		})
	}
	// A word no chunk holds matches nothing.
	out := search(t, f.open(t, nil), "xylophone", 10, retrieve.Lexical)
	if len(out.Results) != 0 {
		t.Errorf("unknown word found %q", texts(out.Results))
	}
}

func TestVectorRanksByCosine(t *testing.T) {
	f := setup(t)
	for _, q := range []string{"goroutines and channels", "cats purr", "fermentation brewing", "database file"} {
		t.Run(q, func(t *testing.T) {
			out := search(t, f.open(t, f.e), q, 100, retrieve.Vector)
			qv := ollamatest.Embed(q, dim)
			// Every embedded chunk, best cosine first.
			var want []float64
			for _, d := range corpus {
				if !d.pending {
					want = append(want, cosine(qv, ollamatest.Embed(d.text, dim)))
				}
			}
			sort.Sort(sort.Reverse(sort.Float64Slice(want)))
			if len(out.Results) != len(want) {
				t.Fatalf("%d results, want every embedded chunk (%d)", len(out.Results), len(want))
			}
			for i, r := range out.Results {
				got := cosine(qv, ollamatest.Embed(r.Text, dim))
				if math.Abs(got-want[i]) > 1e-5 {
					t.Errorf("result %d %q has cosine %.4f, want %.4f", i, r.Text, got, want[i])
				}
				if r.Vector == nil || r.Lexical != nil {
					t.Fatalf("result %d legs = %v, %v; want vector only", i, r.Vector, r.Lexical)
				}
				if math.Abs(r.Score-got) > 1e-4 || r.Vector.Score != r.Score || r.Vector.Rank != i+1 {
					t.Errorf("result %d: score %v, leg %+v, cosine %v", i, r.Score, *r.Vector, got)
				}
				if r.Path == "/docs/pending.md" {
					t.Error("a chunk without a vector came from the vector leg")
				}
			}
		})
	}
}

func TestHybridFuses(t *testing.T) {
	f := setup(t)
	s := f.open(t, f.e)
	out := search(t, s, "zymurgy fermentation brewing", 100, retrieve.Hybrid)
	if len(out.Results) != len(corpus) {
		t.Errorf("%d results, want all %d chunks (vector leg: all embedded, lexical: the pending one)", len(out.Results), len(corpus))
	}
	top := out.Results[0]
	if top.Path != "/docs/zymurgy.md" {
		t.Fatalf("first = %s, want the chunk first in both legs; all: %q", top.Path, texts(out.Results))
	}
	if top.Vector == nil || top.Lexical == nil || top.Vector.Rank != 1 || top.Lexical.Rank != 1 {
		t.Fatalf("top legs = %+v, %+v; want rank 1 in both", top.Vector, top.Lexical)
	}
	if want := 2.0 / (retrieve.RRFK + 1); math.Abs(top.Score-want) > 1e-12 {
		t.Errorf("top score = %v, want %v", top.Score, want)
	}
	for i, r := range out.Results {
		want := 0.0
		if r.Vector != nil {
			want += 1 / float64(retrieve.RRFK+r.Vector.Rank)
		}
		if r.Lexical != nil {
			want += 1 / float64(retrieve.RRFK+r.Lexical.Rank)
		}
		if math.Abs(r.Score-want) > 1e-12 {
			t.Errorf("result %d score %v, want the RRF sum %v", i, r.Score, want)
		}
		if i > 0 && r.Score > out.Results[i-1].Score {
			t.Errorf("result %d scores above result %d", i, i-1)
		}
		switch r.Path {
		case "/docs/pending.md":
			if r.Vector != nil || r.Lexical == nil {
				t.Errorf("pending chunk legs = %v, %v; want lexical only", r.Vector, r.Lexical)
			}
		case "/docs/sqlite.md":
			if r.Vector == nil || r.Lexical != nil {
				t.Errorf("chunk without the query's words: legs = %v, %v; want vector only", r.Vector, r.Lexical)
			}
		}
	}
	if got := search(t, s, "zymurgy fermentation brewing", 1, retrieve.Hybrid).Results; len(got) != 1 || got[0].Path != top.Path {
		t.Errorf("k=1 gives %q", texts(got))
	}
}

func TestK(t *testing.T) {
	f := setup(t)
	s := f.open(t, f.e)
	embedded := f.r.LiveVectors()
	tests := []struct {
		mode retrieve.Mode
		k    int
		want int
	}{
		{retrieve.Vector, 1, 1},
		{retrieve.Vector, 3, 3},
		{retrieve.Vector, 1000, embedded},
		{retrieve.Hybrid, 2, 2},
		{retrieve.Hybrid, 1000, len(corpus)},
		{retrieve.Lexical, 1, 1},
	}
	for _, tt := range tests {
		t.Run(string(tt.mode), func(t *testing.T) {
			out := search(t, s, "domesticated mammals zymurgy", tt.k, tt.mode)
			if len(out.Results) != tt.want {
				t.Errorf("k=%d gives %d results, want %d", tt.k, len(out.Results), tt.want)
			}
		})
	}
	if _, err := s.Search(t.Context(), retrieve.Query{Text: "cats", K: 0, Mode: retrieve.Lexical}); err == nil {
		t.Error("k=0: no error")
	}
}

func TestEmptyQuery(t *testing.T) {
	f := setup(t)
	for _, mode := range []retrieve.Mode{retrieve.Hybrid, retrieve.Vector, retrieve.Lexical} {
		t.Run(string(mode), func(t *testing.T) {
			_, err := f.open(t, f.e).Search(t.Context(), retrieve.Query{Text: "", K: 5, Mode: mode})
			if !errors.Is(err, retrieve.ErrEmptyQuery) {
				t.Errorf("err = %v, want ErrEmptyQuery", err)
			}
		})
	}
	if n := f.fake.Calls("/api/embed"); n != 0 {
		t.Errorf("an empty query cost %d embed calls", n)
	}
}

func TestVectorLegUnavailable(t *testing.T) {
	f := setup(t)
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	down, err := ollama.New(closed)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		e    embed.Embedder
	}{
		{"nil embedder", nil},
		{"server down", &ollama.Embedder{Client: down, Name: "all-minilm"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := f.open(t, tt.e).Search(t.Context(), retrieve.Query{Text: "zymurgy", K: 10, Mode: retrieve.Hybrid})
			if err != nil {
				t.Fatalf("hybrid: %v, want a lexical fallback", err)
			}
			if !errors.Is(out.VectorSkipped, embed.ErrUnavailable) {
				t.Errorf("VectorSkipped = %v, want ErrUnavailable", out.VectorSkipped)
			}
			if len(out.Results) != 2 || out.Results[0].Path != "/docs/zymurgy.md" && out.Results[0].Path != "/docs/pending.md" {
				t.Errorf("results = %q, want the two zymurgy chunks", texts(out.Results))
			}
			for _, r := range out.Results {
				if r.Vector != nil || r.Lexical == nil {
					t.Errorf("legs = %v, %v; want lexical only", r.Vector, r.Lexical)
				}
			}
			if _, err := f.open(t, tt.e).Search(t.Context(), retrieve.Query{Text: "zymurgy", K: 10, Mode: retrieve.Vector}); !errors.Is(err, embed.ErrUnavailable) {
				t.Errorf("vector mode: err = %v, want ErrUnavailable", err)
			}
		})
	}
}

func TestVectorLegOtherErrors(t *testing.T) {
	f := setup(t)
	c, err := ollama.New(f.fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	t.Run("dimension mismatch", func(t *testing.T) {
		_, err := f.open(t, &ollama.Embedder{Client: c, Name: "tiny"}).Search(t.Context(), retrieve.Query{Text: "cats", K: 3, Mode: retrieve.Hybrid})
		if err == nil || !strings.Contains(err.Error(), "dimension") {
			t.Errorf("err = %v, want a dimension mismatch", err)
		}
	})
	t.Run("model missing is not skipped", func(t *testing.T) {
		_, err := f.open(t, &ollama.Embedder{Client: c, Name: "nomic-embed-text"}).Search(t.Context(), retrieve.Query{Text: "cats", K: 3, Mode: retrieve.Hybrid})
		var me *ollama.ModelMissingError
		if !errors.As(err, &me) {
			t.Errorf("err = %v, want *ModelMissingError", err)
		}
	})
}

func TestSessionReuse(t *testing.T) {
	f := setup(t)
	s := f.open(t, f.e)
	queries := []struct {
		q     string
		mode  retrieve.Mode
		first string
	}{
		{"goroutines channels concurrency", retrieve.Vector, "/docs/go.md"},
		{"cats purr sleep", retrieve.Vector, "/docs/cats.md"},
		{"bark fetch guard house", retrieve.Hybrid, "/docs/dogs.md"},
		{"goroutines channels concurrency", retrieve.Vector, "/docs/go.md"},
		{"SQLite database single file", retrieve.Hybrid, "/docs/sqlite.md"},
	}
	for i, qq := range queries {
		out := search(t, s, qq.q, 3, qq.mode)
		if len(out.Results) == 0 || out.Results[0].Path != qq.first {
			t.Errorf("query %d %q: results %q, want %s first", i, qq.q, texts(out.Results), qq.first)
		}
	}
}

// TestSearchIsRepeatable: the same query on the same index gives the same
// results in the same order, also when scores tie (identical chunks in two
// files, or chunks equally far from the query), so that search output and
// eval scores are reproducible.
func TestSearchIsRepeatable(t *testing.T) {
	f := setup(t)
	ids := func(rs []retrieve.Result) []uint64 {
		var out []uint64
		for _, r := range rs {
			out = append(out, r.ID)
		}
		return out
	}
	for _, mode := range []retrieve.Mode{retrieve.Vector, retrieve.Hybrid} {
		t.Run(string(mode), func(t *testing.T) {
			want := ids(search(t, f.open(t, f.e), "goroutines", 100, mode).Results)
			for range 20 {
				got := ids(search(t, f.open(t, f.e), "goroutines", 100, mode).Results)
				if !slices.Equal(got, want) {
					t.Fatalf("result ids %v, then %v", want, got)
				}
			}
		})
	}
}

func TestIndexWithoutVectors(t *testing.T) {
	dir := t.TempDir()
	w, err := index.OpenWriter(context.Background(), dir, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	text := "Everything here waits for an embedding server."
	err = w.Commit(&index.Batch{Puts: []index.Put{{
		File:    index.File{Path: "/a.md", Size: 1, ModTime: 1, Hash: "h"},
		Chunks:  []index.Chunk{{Text: text, Terms: lexical.Document(text)}},
		Vectors: [][]float32{nil},
	}}})
	w.Close()
	if err != nil {
		t.Fatal(err)
	}
	// No vectors: no embedder is needed, even in hybrid mode.
	out, err := openSession(t, dir, nil).Search(t.Context(), retrieve.Query{Text: "embedding server", K: 5, Mode: retrieve.Hybrid})
	if err != nil {
		t.Fatal(err)
	}
	if len(out.Results) != 1 || out.VectorSkipped != nil {
		t.Errorf("results %q, skipped %v", texts(out.Results), out.VectorSkipped)
	}
}

func TestParseMode(t *testing.T) {
	for _, s := range []string{"hybrid", "vector", "lexical"} {
		if m, err := retrieve.ParseMode(s); err != nil || string(m) != s {
			t.Errorf("ParseMode(%q) = %q, %v", s, m, err)
		}
	}
	for _, s := range []string{"", "Hybrid", "bm25"} {
		if _, err := retrieve.ParseMode(s); err == nil {
			t.Errorf("ParseMode(%q): no error", s)
		}
	}
}
