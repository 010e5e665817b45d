package weaviate

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// open connects to n with a fresh base name per test.
func open(t *testing.T, n *weaviatetest.Node, cfg Config) *Client {
	t.Helper()
	cfg.Host = n.HTTPAddr
	if cfg.GRPCHost == "" {
		cfg.GRPCHost, cfg.GRPCRequired = n.GRPCAddr, true
	}
	if cfg.Base == "" {
		cfg.Base = "T" + strings.NewReplacer("/", "_", "-", "_").Replace(t.Name())
	}
	if cfg.APIKey == "" {
		cfg.APIKey = n.APIKey
	}
	ctx := context.Background()
	s, err := Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.EnsureSchema(ctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func unit(v ...float32) []float32 {
	var n float64
	for _, x := range v {
		n += float64(x * x)
	}
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / math.Sqrt(n))
	}
	return out
}

func chunk(path string, ord int, text string, vec []float32) Chunk {
	return Chunk{Path: path, Title: path, Headings: []string{"Top", "Sub"}, Ordinal: ord,
		StartLine: ord*10 + 1, EndLine: ord*10 + 9, Text: text, Terms: lexical.Document(text),
		Key: fmt.Sprintf("k%d-%s", ord, path), Vector: vec}
}

func withIDs(cs []Chunk) []Chunk {
	for i := range cs {
		cs[i].ID = ChunkUUID(cs[i].Path, cs[i].Ordinal, cs[i].Text)
	}
	return cs
}

func ids(hits []Hit) []string {
	var out []string
	for _, h := range hits {
		out = append(out, h.Path+"#"+fmt.Sprint(h.Ordinal))
	}
	return out
}

// The store's primitives against a real node: what is written is read back
// whole, BM25 ranks over rag's terms with the path filter, vector and
// hybrid search find the nearest, a rewrite converges (same ids, stale
// chunks removed), deletion removes a file whole.
func TestStoreRoundTrip(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	s := open(t, n, Config{})
	ctx := context.Background()

	a := withIDs([]Chunk{
		chunk("docs/a.md", 0, "The retry policy backs off exponentially with jitter.", unit(1, 0, 0)),
		chunk("docs/a.md", 1, "ERR_CONN_RESET is retried; a 401 is not.", unit(0, 1, 0)),
	})
	b := withIDs([]Chunk{
		chunk("docs/sub/b.md", 0, "Signing keys rotate every ninety days.", unit(0, 0, 1)),
		chunk("docs/sub/b.md", 1, "Pending chunks wait for the embedder.", nil),
	})
	c := withIDs([]Chunk{chunk("other/c.md", 0, "The retry budget is thirty seconds.", unit(1, 1, 0))})
	for _, cs := range [][]Chunk{a, b, c} {
		if err := s.PutChunks(ctx, cs); err != nil {
			t.Fatal(err)
		}
	}
	if err := s.PutFiles(ctx, []File{
		{Path: "docs/a.md", Size: 10, ModTime: 1733000000123456789, Hash: "ha", Title: "A", Chunks: []string{a[0].ID, a[1].ID}},
		{Path: "docs/sub/b.md", Size: 20, ModTime: 2, Hash: "hb", Chunks: []string{b[0].ID, b[1].ID}},
	}); err != nil {
		t.Fatal(err)
	}

	got, err := s.Chunks(ctx, []string{b[0].ID, a[1].ID, "00000000-0000-0000-0000-000000000009"}, true)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 2 || got[0].ID != b[0].ID || got[1].ID != a[1].ID {
		t.Fatalf("Chunks: %+v", got)
	}
	if g := got[1]; g.Text != a[1].Text || g.Terms != a[1].Terms || g.StartLine != 11 || g.EndLine != 19 ||
		!slices.Equal(g.Headings, []string{"Top", "Sub"}) || g.Key != a[1].Key || len(g.Vector) != 3 {
		t.Fatalf("chunk read back differs: %+v", g)
	}

	f, ok, err := s.FileState(ctx, "docs/a.md")
	if err != nil || !ok || f.ModTime != 1733000000123456789 || f.Size != 10 || f.Hash != "ha" || !slices.Equal(f.Chunks, []string{a[0].ID, a[1].ID}) {
		t.Fatalf("FileState: %+v %v %v", f, ok, err)
	}
	files, err := s.Files(ctx)
	if err != nil || len(files) != 2 {
		t.Fatalf("Files: %+v %v", files, err)
	}

	n1, p1, err := s.Count(ctx)
	if err != nil || n1 != 5 || p1 != 1 {
		t.Fatalf("Count: %d %d %v", n1, p1, err)
	}
	pend, err := s.PendingChunks(ctx, 10)
	if err != nil || len(pend) != 1 || pend[0].ID != b[1].ID {
		t.Fatalf("PendingChunks: %+v %v", pend, err)
	}
	if v, ok, err := s.VectorByKey(ctx, a[0].Key); err != nil || !ok || len(v) != 3 {
		t.Fatalf("VectorByKey: %v %v %v", v, ok, err)
	}
	if _, ok, _ := s.VectorByKey(ctx, b[1].Key); ok {
		t.Fatal("VectorByKey found a vector for a pending chunk")
	}

	// BM25 over rag's terms: "retried" and "retry" stem alike.
	q := lexical.Document("retry")
	hits, err := s.BM25(ctx, q, 10, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); len(got) != 3 || !slices.Contains(got, "other/c.md#0") {
		t.Fatalf("BM25 %q: %v", q, got)
	}
	hits, err = s.BM25(ctx, q, 10, Filter{Prefixes: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	if got := ids(hits); len(got) != 2 || slices.Contains(got, "other/c.md#0") {
		t.Fatalf("BM25 under docs: %v", got)
	}
	// An identifier is found whole.
	hits, _ = s.BM25(ctx, lexical.Document("ERR_CONN_RESET"), 10, Filter{})
	if len(hits) == 0 || hits[0].ID != a[1].ID {
		t.Fatalf("BM25 identifier: %v", ids(hits))
	}
	hits, _ = s.BM25(ctx, q, 10, Filter{Paths: []string{"other/c.md"}})
	if got := ids(hits); !slices.Equal(got, []string{"other/c.md#0"}) {
		t.Fatalf("BM25 exact path: %v", got)
	}
	if hits, _ = s.BM25(ctx, q, 10, Filter{None: true}); len(hits) != 0 {
		t.Fatalf("BM25 with a filter that matches nothing: %v", ids(hits))
	}
	// "docs/sub" must not match "docs/subway.md".
	hits, _ = s.BM25(ctx, lexical.Document("signing keys"), 10, Filter{Prefixes: []string{"docs/su"}})
	if len(hits) != 0 {
		t.Fatalf("prefix matched a partial folder name: %v", ids(hits))
	}

	hits, err = s.NearVector(ctx, unit(0, 0.1, 1), 2, Filter{})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) != 2 || hits[0].ID != b[0].ID || hits[0].Score < hits[1].Score {
		t.Fatalf("NearVector: %v %+v", ids(hits), hits)
	}
	hits, err = s.Hybrid(ctx, q, unit(1, 0, 0), 0.5, Ranked, 3, Filter{Prefixes: []string{"docs"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(hits) == 0 || hits[0].ID != a[0].ID {
		t.Fatalf("Hybrid: %v", ids(hits))
	}

	// Rewriting a file: unchanged chunks keep their ids, the stale one goes.
	a2 := withIDs([]Chunk{
		chunk("docs/a.md", 0, "The retry policy backs off exponentially with jitter.", unit(1, 0, 0)),
		chunk("docs/a.md", 1, "A 429 is retried after Retry-After.", unit(0, 1, 1)),
	})
	if a2[0].ID != a[0].ID || a2[1].ID == a[1].ID {
		t.Fatal("ids did not follow content")
	}
	if err := s.PutChunks(ctx, a2); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteStaleChunks(ctx, "docs/a.md", []string{a2[0].ID, a2[1].ID}); err != nil {
		t.Fatal(err)
	}
	left, err := s.ChunksOf(ctx, "docs/a.md", false)
	if err != nil || len(left) != 2 || left[0].ID != a2[0].ID || left[1].ID != a2[1].ID {
		t.Fatalf("after rewrite: %+v %v", left, err)
	}

	if err := s.DeleteFile(ctx, "docs/sub/b.md"); err != nil {
		t.Fatal(err)
	}
	if _, ok, _ := s.FileState(ctx, "docs/sub/b.md"); ok {
		t.Fatal("file state survived DeleteFile")
	}
	if n, p, _ := s.Count(ctx); n != 3 || p != 0 {
		t.Fatalf("after DeleteFile: %d chunks, %d pending", n, p)
	}
	var seen int
	if err := s.EachChunk(ctx, false, func(Chunk) error { seen++; return nil }); err != nil || seen != 3 {
		t.Fatalf("EachChunk: %d %v", seen, err)
	}
}

// A node that requires a key: without one the error names the variable;
// with a wrong one it says the key was refused, and never shows it.
func TestStoreAPIKey(t *testing.T) {
	const key = "rag-test-key-0123456789"
	n := weaviatetest.Start(t, weaviatetest.Options{APIKey: key})
	ctx := context.Background()
	_, err := Open(ctx, Config{Host: n.HTTPAddr})
	var ae *AuthError
	if !errors.As(err, &ae) || !strings.Contains(err.Error(), APIKeyEnv) {
		t.Fatalf("no key: %v", err)
	}
	_, err = Open(ctx, Config{Host: n.HTTPAddr, APIKey: "wrong-" + key, KeyEnv: APIKeyEnv})
	if !errors.As(err, &ae) || strings.Contains(err.Error(), key) {
		t.Fatalf("wrong key: %v", err)
	}
	s := open(t, n, Config{APIKey: key, KeyEnv: APIKeyEnv})
	if err := s.PutChunks(ctx, withIDs([]Chunk{chunk("a.md", 0, "hello", unit(1, 0))})); err != nil {
		t.Fatal(err)
	}
}

// A server that goes away is retried for the policy's budget, then
// reported as an *UnavailableError (what ingest turns into pending); one
// that comes back within the budget is not an error at all.
func TestStoreUnavailableRetried(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	var tries int
	pol := retry.Policy{Initial: 200 * time.Millisecond, Max: time.Second, Budget: 3 * time.Second,
		OnRetry: func(int, error, time.Duration) { tries++ }}
	s := open(t, n, Config{Retry: pol})
	ctx := context.Background()
	n.Kill()
	start := time.Now()
	err := s.PutChunks(ctx, withIDs([]Chunk{chunk("a.md", 0, "hello", unit(1, 0))}))
	var ue *UnavailableError
	var gu *retry.GaveUpError
	if !errors.As(err, &ue) || !errors.Is(err, ErrUnavailable) || !errors.As(err, &gu) {
		t.Fatalf("write to a killed node: %v", err)
	}
	if tries < 2 || time.Since(start) < 2*time.Second {
		t.Fatalf("gave up after %d retries in %s; want retries for the budget", tries, time.Since(start))
	}
	if !strings.Contains(err.Error(), "cannot reach weaviate") {
		t.Errorf("message: %v", err)
	}

	// Back within the budget: the write succeeds.
	tries = 0
	s.cfg.Retry = retry.Policy{Initial: 500 * time.Millisecond, Max: 2 * time.Second, Budget: 90 * time.Second,
		OnRetry: func(int, error, time.Duration) { tries++ }}
	done := make(chan error, 1)
	go func() { done <- s.PutChunks(ctx, withIDs([]Chunk{chunk("a.md", 0, "hello", unit(1, 0))})) }()
	time.Sleep(time.Second)
	if err := n.Restart(); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatalf("write across a restart: %v", err)
	}
	if tries == 0 {
		t.Fatal("the write across a restart was not retried")
	}
	if got, _ := s.ChunksOf(ctx, "a.md", false); len(got) != 1 {
		t.Fatalf("after restart: %d chunks", len(got))
	}
}
