package server_test

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/server"
)

// paths lists the files of a vector search's results.
func vectorPaths(t *testing.T, svc *server.Service, q string) []string {
	t.Helper()
	out, err := svc.Search(t.Context(), server.SearchRequest{Query: q, K: 50, Mode: "vector"})
	if err != nil {
		t.Fatal(err)
	}
	var ps []string
	for _, r := range out.Results {
		ps = append(ps, filepath.Base(r.Path))
	}
	slices.Sort(ps)
	return slices.Compact(ps)
}

// TestCommitAppliedAsChanges: an ingest's commit reaches the loaded vectors
// as changes (new ones added, replaced and deleted ones removed), without a
// reload, and the vector leg sees exactly the new state.
func TestCommitAppliedAsChanges(t *testing.T) {
	f := newFixture(t)
	if got := vectorPaths(t, f.svc, "cats"); !slices.Equal(got, []string{"cats.txt", "main.go", "network.md", "security.md"}) {
		t.Fatalf("before: %v", got)
	}
	reloads := f.svc.Reloads()
	f.write(t, "notes/zebra.md", "Zebras graze on the savanna.\n")       // added
	f.write(t, "notes/cats.txt", "Cats chase mice at night, quietly.\n") // replaced
	os.Remove(filepath.Join(f.root, "code", "main.go"))                  // deleted
	f.ingest(t)
	f.svc.Refresh()
	if f.svc.Applied() != 1 || f.svc.Reloads() != reloads {
		t.Errorf("applied %d, reloads %d (was %d): want the commit applied as changes", f.svc.Applied(), f.svc.Reloads(), reloads)
	}
	if got := vectorPaths(t, f.svc, "zebras savanna"); !slices.Equal(got, []string{"cats.txt", "network.md", "security.md", "zebra.md"}) {
		t.Errorf("after: %v, want main.go gone and zebra.md in", got)
	}
	out, err := f.svc.Search(t.Context(), server.SearchRequest{Query: "cats chase mice", K: 50, Mode: "vector"})
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]int{}
	for _, r := range out.Results {
		seen[filepath.Base(r.Path)]++
		if r.Path == filepath.Join(f.root, "notes", "cats.txt") && r.Text != "Cats chase mice at night, quietly." {
			t.Errorf("the replaced chunk's old text is still found: %q", r.Text)
		}
	}
	if seen["cats.txt"] != 1 || len(out.Results) != 4 {
		t.Errorf("results %v: want each live chunk once", seen)
	}
	// Same as a session opened from scratch on the new state.
	fresh, err := server.Open(f.config())
	if err != nil {
		t.Fatal(err)
	}
	defer fresh.Close()
	want, _ := fresh.Search(t.Context(), server.SearchRequest{Query: "cats chase mice", K: 50, Mode: "vector"})
	for i := range want.Results {
		if out.Results[i].ID != want.Results[i].ID || out.Results[i].Score != want.Results[i].Score {
			t.Errorf("result %d: %+v, a fresh load gives %+v", i, out.Results[i], want.Results[i])
		}
	}
}

// TestCompactionReloads: a compaction rewrites the vector file: the server
// loads the new state whole.
func TestCompactionReloads(t *testing.T) {
	f := newFixture(t)
	reloads := f.svc.Reloads()
	w, err := index.OpenWriter(t.Context(), f.index, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	w.Close()
	f.svc.Refresh()
	if f.svc.Reloads() != reloads+1 {
		t.Errorf("reloads %d, want %d after a compaction", f.svc.Reloads(), reloads+1)
	}
	if got := vectorPaths(t, f.svc, "cats"); len(got) != 4 {
		t.Errorf("after the reload: %v", got)
	}
}

// TestReindexSwapReloads: a reindex with another embedding model swaps a new
// index into the folder; the Service loads it whole (its model, its
// dimension), and searches running meanwhile are answered, from the old
// state or the new one, without an error.
func TestReindexSwapReloads(t *testing.T) {
	f := newFixture(t)
	if err := f.fake.AddModel(ollamatest.Model{Name: "nomic-embed-text", Embedding: true, Dim: 768, ContextLength: 2048}); err != nil {
		t.Fatal(err)
	}
	f.write(t, "notes/zebra.md", "Zebras migrate across the plains.\n")
	_, err := ingest.Run(t.Context(), ingest.Options{
		Roots:    []string{f.root},
		IndexDir: index.RebuildDir(f.index),
		Index:    index.Settings{EmbedModel: "nomic-embed-text", DefaultChunkTokens: 256},
		Embedder: func(ctx context.Context, model string) (embed.Embedder, int, error) {
			return &ollama.Embedder{Client: f.c, Name: model}, 2048, nil
		},
		LockWait: 30e9,
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := index.MarkRebuilt(f.index); err != nil {
		t.Fatal(err)
	}
	reloads := f.svc.Reloads()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	errs := make(chan error, 1)
	searches := make(chan int, 1)
	go func() {
		n := 0
		defer func() { searches <- n }()
		for ctx.Err() == nil {
			if _, err := f.svc.Search(ctx, server.SearchRequest{Query: "rotate the signing key", K: 3}); err != nil && ctx.Err() == nil {
				errs <- err
				return
			}
			n++
		}
	}()
	time.Sleep(50 * time.Millisecond)
	if err := index.Swap(f.index); err != nil {
		t.Fatal(err)
	}
	f.svc.Refresh()
	time.Sleep(50 * time.Millisecond)
	cancel()
	if n := <-searches; n == 0 {
		t.Error("no search ran beside the swap")
	}
	select {
	case err := <-errs:
		t.Errorf("a search beside the swap failed: %v", err)
	default:
	}
	if f.svc.Reloads() != reloads+1 {
		t.Errorf("reloads %d, want %d after a reindex swap", f.svc.Reloads(), reloads+1)
	}
	st, err := f.svc.Status(t.Context())
	if err != nil || st.EmbedModel != "nomic-embed-text" || st.Dim != 768 {
		t.Fatalf("status after the swap: %+v %v", st, err)
	}
	out, err := f.svc.Search(t.Context(), server.SearchRequest{Query: "zebras migrate", K: 1, Mode: "vector"})
	if err != nil || len(out.Results) != 1 || filepath.Base(out.Results[0].Path) != "zebra.md" || out.Degraded {
		t.Errorf("a vector search of the new index: %+v %v", out, err)
	}
}
