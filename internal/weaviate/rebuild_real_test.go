package weaviate

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/weaviatetest"
)

func commitFile(t *testing.T, st store.Store, path, text string) {
	t.Helper()
	ctx := context.Background()
	w, err := st.OpenWriter(ctx, store.Settings{EmbedModel: "m", EmbedExplicit: true, DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	put := store.Put{File: index.File{Path: path, Size: int64(len(text)), ModTime: 1, Hash: "h" + text},
		Chunks:  []index.Chunk{{Text: text, Terms: lexical.Document(text), Key: []byte(text)}},
		Vectors: [][]float32{unit(1, 2, 3)}}
	if err := w.Commit(ctx, &store.Batch{Puts: []store.Put{put}}); err != nil {
		t.Fatalf("commit %s into %s: %v", path, st.Location(), err)
	}
}

func hasFile(t *testing.T, st store.Store, path string) bool {
	t.Helper()
	r, err := st.OpenReader(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_, found, err := r.File(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	return found
}

func storeClasses(t *testing.T, c *Client, base string) []string {
	t.Helper()
	d, err := c.c.Schema().Getter().Do(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, cl := range d.Classes {
		if strings.HasPrefix(cl.Class, base) {
			out = append(out, cl.Class)
		}
	}
	slices.Sort(out)
	return out
}

// TestRebuildGenerations, against a real node: a rebuild's generation is
// invisible until its swap, which readers opened before see as Replaced;
// an aborted rebuild leaves the live generation and no collections of its
// own; a rebuild whose generation another rebuild cleared meanwhile (two
// rag reindex runs at once) refuses to swap, even after its own writes
// went on into the cleared collections, and the other one swaps; a writer
// opened before a swap fails its next commit with *ReplacedError.
func TestRebuildGenerations(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	grace := RetireGrace
	RetireGrace = 0
	t.Cleanup(func() { RetireGrace = grace })
	ctx := context.Background()
	st := New(Config{Host: n.HTTPAddr, Base: "Gens"})
	commitFile(t, st, "/old.md", "the old generation")

	// Abort: nothing of it stays.
	rb, err := st.BeginRebuild(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	commitFile(t, rb.Next(), "/new.md", "an aborted generation")
	if hasFile(t, st, "/new.md") || !hasFile(t, st, "/old.md") {
		t.Fatal("a rebuild's generation is visible before its swap")
	}
	if err := rb.Abort(ctx); err != nil {
		t.Fatal(err)
	}
	c, _ := st.Client(ctx)
	if got, want := storeClasses(t, c, "Gens"), []string{"GensChunks", "GensFiles", "GensLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after an abort: %v, want %v", got, want)
	}

	// Two at once: b clears a's generation; a's swap refuses.
	a, err := st.BeginRebuild(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	aw, err := a.Next().OpenWriter(ctx, store.Settings{EmbedModel: "m", EmbedExplicit: true, DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	b, err := st.BeginRebuild(ctx, 0)
	if err != nil {
		t.Fatal(err)
	}
	// a writes on into its cleared generation, as a running reindex would
	// (Weaviate's auto-schema may create the collections again).
	put := store.Put{File: index.File{Path: "/a.md", Size: 1, ModTime: 1, Hash: "a"},
		Chunks: []index.Chunk{{Text: "from a", Terms: "a"}}, Vectors: [][]float32{unit(1, 0, 0)}}
	aerr := aw.Commit(ctx, &store.Batch{Puts: []store.Put{put}})
	t.Logf("a's commit into its cleared generation: %v", aerr)
	r0, err := st.OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r0.Close()
	if err := a.Swap(ctx); err == nil || !strings.Contains(err.Error(), "was deleted while it was built") {
		t.Fatalf("the swap of a cleared generation: %v, want it refused", err)
	}
	a.Abort(ctx)
	if !hasFile(t, st, "/old.md") || hasFile(t, st, "/a.md") {
		t.Fatal("a refused swap changed the live generation")
	}
	// An ingest that opened before the swap and commits after it is told,
	// not lost in silence.
	lw, err := st.OpenWriter(ctx, store.Settings{EmbedModel: "m", EmbedExplicit: true}, 0)
	if err != nil {
		t.Fatal(err)
	}
	commitFile(t, b.Next(), "/b.md", "the new generation")
	if err := b.Swap(ctx); err != nil {
		t.Fatal(err)
	}
	late := store.Put{File: index.File{Path: "/late.md", Size: 1, ModTime: 1, Hash: "l"},
		Chunks: []index.Chunk{{Text: "late", Terms: "late"}}, Vectors: [][]float32{unit(0, 1, 0)}}
	if err := lw.Commit(ctx, &store.Batch{Puts: []store.Put{late}}); !errors.As(err, new(*ReplacedError)) {
		t.Errorf("a commit of a writer opened before the swap: %v, want *ReplacedError", err)
	}
	if !hasFile(t, st, "/b.md") || hasFile(t, st, "/old.md") {
		t.Error("after the swap the store does not answer from the new generation")
	}
	if moved, err := r0.(store.Replaceable).Replaced(ctx); err != nil || !moved {
		t.Errorf("a reader opened before the swap: Replaced = %v, %v; want true", moved, err)
	}
	r1, err := st.OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer r1.Close()
	if moved, err := r1.(store.Replaceable).Replaced(ctx); err != nil || moved {
		t.Errorf("a reader opened after the swap: Replaced = %v, %v; want false", moved, err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, _ = st.Client(ctx)
		got := storeClasses(t, c, "Gens")
		if len(got) == 3 && got[2] == "GensLive" && strings.HasPrefix(got[0], "GensChunks_") && strings.HasPrefix(got[1], "GensFiles_") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("collections after the swap: %v, want one generation and GensLive", got)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
