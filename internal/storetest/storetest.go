// Package storetest is the conformance suite every store.Store passes: the
// local index (go test ./internal/store/...) and Weaviate (make
// test-weaviate) run the same tests. Each test opens a new, empty store from
// the caller's open function and checks one promise of the store package's
// contract: commits that replace, delete and touch, the incremental state
// surviving a new writer, pending chunks and their embedding, vector reuse by
// key, a repeated commit converging (no duplicates), lexical and vector top
// k with a path filter applied before the top k, the model and chunk-size
// checks, chunks by id, listings, and copying a store into another
// (EachFile, what rag migrate does).
//
// The suite uses no model: vectors are small, made by hand, and the
// lexical terms come from package lexical, as ingest makes them.
package storetest

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/store"
)

// Model is the embedding model the suite's stores record.
const Model = "storetest-model"

// Dim is the dimension of the suite's vectors.
const Dim = 4

// Run runs the suite. open must return a new, empty store each time it is
// called (a fresh folder, a fresh collection), cleaned up by t.Cleanup.
func Run(t *testing.T, open func(t *testing.T) store.Store) {
	tests := []struct {
		name string
		fn   func(*testing.T, store.Store)
	}{
		{"Empty", testEmpty},
		{"CommitAndRead", testCommitAndRead},
		{"Replace", testReplace},
		{"DeleteAndTouch", testDeleteAndTouch},
		{"IncrementalState", testIncrementalState},
		{"Pending", testPending},
		{"VectorsByKey", testVectorsByKey},
		{"RepeatedCommitConverges", testRepeatedCommit},
		{"Lexical", testLexical},
		{"Vector", testVector},
		{"ModelCheck", testModelCheck},
		{"Listing", testListing},
		{"CopyInto", func(t *testing.T, s store.Store) { testCopyInto(t, s, open(t)) }},
		{"BadVectors", testBadVectors},
		{"Rebuild", testRebuild}, // rebuild.go
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) { tc.fn(t, open(t)) })
	}
}

// Settings are what the suite opens writers with.
func Settings() store.Settings {
	return store.Settings{EmbedModel: Model, EmbedExplicit: true, DefaultChunkTokens: 256}
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(t.Context(), time.Minute)
	t.Cleanup(cancel)
	return c
}

func writer(t *testing.T, s store.Store) store.Writer {
	t.Helper()
	w, err := s.OpenWriter(ctx(t), Settings(), 10*time.Second)
	if err != nil {
		t.Fatalf("OpenWriter: %v", err)
	}
	return w
}

func reader(t *testing.T, s store.Store) store.Reader {
	t.Helper()
	r, err := s.OpenReader(ctx(t))
	if err != nil {
		t.Fatalf("OpenReader: %v", err)
	}
	t.Cleanup(func() { r.Close() })
	return r
}

func commit(t *testing.T, s store.Store, b *store.Batch) {
	t.Helper()
	w := writer(t, s)
	if err := w.Commit(ctx(t), b); err != nil {
		w.Close()
		t.Fatalf("Commit: %v", err)
	}
	if err := w.Close(); err != nil {
		t.Fatalf("close writer: %v", err)
	}
}

// chunk is a chunk of text as ingest stores it: terms analysed, a key.
func chunk(text string, line int, headings ...string) store.Chunk {
	return store.Chunk{Title: "T", Headings: headings, StartLine: line, EndLine: line + 1, Text: text,
		Terms: lexical.ChunkTerms(headings, text), Key: key(text)}
}

func key(text string) []byte {
	k := make([]byte, 16)
	copy(k, "k:"+text)
	return k
}

// vec is a unit vector along axis i with a little of axis (i+1)%Dim.
func vec(i int, tilt float32) []float32 {
	v := make([]float32, Dim)
	v[i%Dim] = 1
	v[(i+1)%Dim] = tilt
	return v
}

func file(path string, size int64) store.File {
	return store.File{Path: path, Size: size, ModTime: 1_700_000_000_000_000_000 + size, Hash: fmt.Sprintf("%064x", size), Title: "T"}
}

func put(path string, texts []string, vecs [][]float32) store.Put {
	p := store.Put{File: file(path, int64(len(texts)*100+len(path)))}
	for i, tx := range texts {
		p.Chunks = append(p.Chunks, chunk(tx, 1+10*i, "H"))
	}
	p.Vectors = vecs
	if p.Vectors == nil {
		p.Vectors = make([][]float32, len(texts))
	}
	return p
}

func stats(t *testing.T, s store.Store) store.Stats {
	t.Helper()
	st, err := reader(t, s).Stats(ctx(t))
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	return st
}

func ids(hits []store.Hit) []uint64 {
	out := make([]uint64, len(hits))
	for i, h := range hits {
		out[i] = h.ID
	}
	return out
}

func testEmpty(t *testing.T, s store.Store) {
	if _, err := s.OpenReader(ctx(t)); !errors.Is(err, index.ErrNoIndex) {
		t.Fatalf("OpenReader of an empty store: %v, want index.ErrNoIndex", err)
	}
	w := writer(t, s)
	if !w.Fresh() || len(w.Files()) != 0 || len(w.Roots()) != 0 {
		t.Errorf("a new store's writer: fresh %v, %d files, %d roots", w.Fresh(), len(w.Files()), len(w.Roots()))
	}
	if m := w.Meta(); m.EmbedModel != Model || m.ChunkTokens != 256 {
		t.Errorf("a new store's meta: model %q, chunk tokens %d; want %q, 256", m.EmbedModel, m.ChunkTokens, Model)
	}
	w.SetChunkTokens(128)
	if m := w.Meta(); m.ChunkTokens != 128 {
		t.Errorf("SetChunkTokens(128) on a fresh store: %d", m.ChunkTokens)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	// A writer that committed nothing leaves nothing behind.
	if _, err := s.OpenReader(ctx(t)); !errors.Is(err, index.ErrNoIndex) {
		t.Errorf("OpenReader after a writer that committed nothing: %v, want index.ErrNoIndex", err)
	}
	// MarkIngested creates the store, empty.
	w = writer(t, s)
	if err := w.MarkIngested(ctx(t)); err != nil {
		t.Fatalf("MarkIngested: %v", err)
	}
	w.Close()
	r := reader(t, s)
	if m := r.Meta(); m.LastIngest.IsZero() || m.EmbedModel != Model {
		t.Errorf("after MarkIngested: last ingest %v, model %q", m.LastIngest, m.EmbedModel)
	}
	if st, err := r.Stats(ctx(t)); err != nil || st.Files+st.Chunks+st.Pending != 0 {
		t.Errorf("after MarkIngested: %+v, %v; want nothing stored", st, err)
	}
}

func testCommitAndRead(t *testing.T, s store.Store) {
	a := put("/docs/a.md", []string{"alpha retry policy", "beta backoff"}, [][]float32{vec(0, 0), vec(1, 0)})
	b := put("/docs/b.md", []string{"gamma pending words"}, nil)
	b.Chunks[0].Page = 3
	b.Chunks[0].Anchor = "page=3"
	batch := &store.Batch{Puts: []store.Put{a, b}, Roots: []store.Root{{Path: "/docs", Dev: 7, IsDir: true}}}
	before := time.Now().Add(-time.Second)
	commit(t, s, batch)

	var got []uint64
	for _, p := range batch.Puts {
		for _, c := range p.Chunks {
			got = append(got, c.ID)
		}
	}
	for i, id := range got {
		if id == 0 || slices.Index(got, id) != i {
			t.Fatalf("Commit wrote ids %v: each new chunk needs an id of its own, not 0", got)
		}
	}
	r := reader(t, s)
	m := r.Meta()
	if m.EmbedModel != Model || m.Dim != Dim || m.ChunkTokens != 256 || m.Pending != 1 || m.LastIngest.Before(before) || m.Created.IsZero() {
		t.Errorf("meta %+v: want model %q, dim %d, 256-token chunks, 1 pending, a last ingest and a creation time", m, Model, Dim)
	}
	if st, err := r.Stats(ctx(t)); err != nil || st.Files != 2 || st.Chunks != 3 || st.Pending != 1 {
		t.Errorf("Stats = %+v, %v; want 2 files, 3 chunks, 1 pending", st, err)
	}
	f, found, err := r.File(ctx(t), "/docs/a.md")
	if err != nil || !found || f != a.File {
		t.Errorf("File(/docs/a.md) = %+v, %v, %v; want %+v", f, found, err, a.File)
	}
	if _, found, err := r.File(ctx(t), "/docs/none.md"); err != nil || found {
		t.Errorf("File of a path not stored: found %v, %v", found, err)
	}
	cs, err := r.Chunks(ctx(t), []uint64{got[2], got[0]})
	if err != nil {
		t.Fatalf("Chunks: %v", err)
	}
	want := []store.Chunk{batch.Puts[1].Chunks[0], batch.Puts[0].Chunks[0]}
	want[0].Path, want[1].Path = "/docs/b.md", "/docs/a.md"
	for i := range want {
		c, w := cs[i], want[i]
		if c.ID != w.ID || c.Path != w.Path || c.Title != w.Title || !slices.Equal(c.Headings, w.Headings) ||
			c.StartLine != w.StartLine || c.EndLine != w.EndLine || c.Page != w.Page || c.Text != w.Text || c.Anchor != w.Anchor {
			t.Errorf("Chunks[%d] = %+v\nwant %+v", i, c, w)
		}
	}
	missing := got[0] ^ 0x5555 // not an id the store gave
	if _, err := r.Chunks(ctx(t), []uint64{got[0], missing}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("Chunks with an id not stored: %v, want store.ErrNotFound", err)
	}
}

func testReplace(t *testing.T, s store.Store) {
	v1 := put("/r/a.md", []string{"old first zebra", "old second zebra", "old third zebra"}, [][]float32{vec(0, 0), vec(1, 0), vec(2, 0)})
	other := put("/r/b.md", []string{"unrelated walrus"}, [][]float32{vec(3, 0)})
	b1 := &store.Batch{Puts: []store.Put{v1, other}}
	commit(t, s, b1)
	v2 := put("/r/a.md", []string{"new first yak", "new second yak"}, [][]float32{vec(0, .5), vec(1, .5)})
	v2.File.Size = 999
	b2 := &store.Batch{Puts: []store.Put{v2}}
	commit(t, s, b2)

	r := reader(t, s)
	if st, _ := r.Stats(ctx(t)); st.Files != 2 || st.Chunks != 3 {
		t.Errorf("after replacing a 3-chunk file by 2 chunks: %+v, want 2 files, 3 chunks", st)
	}
	if f, _, _ := r.File(ctx(t), "/r/a.md"); f.Size != 999 {
		t.Errorf("the record was not replaced: size %d", f.Size)
	}
	for _, c := range b1.Puts[0].Chunks {
		if _, err := r.Chunks(ctx(t), []uint64{c.ID}); !errors.Is(err, store.ErrNotFound) {
			t.Errorf("chunk %d of the old version: %v, want store.ErrNotFound", c.ID, err)
		}
	}
	if hits, err := r.Lexical(ctx(t), lexical.Terms("zebra"), 10, nil); err != nil || len(hits) != 0 {
		t.Errorf("the old version's words still match: %v, %v", hits, err)
	}
	hits, err := r.Lexical(ctx(t), lexical.Terms("yak"), 10, nil)
	if err != nil || len(hits) != 2 {
		t.Errorf("the new version's words: %v, %v; want its 2 chunks", hits, err)
	}
	vh, err := r.Vector(ctx(t), vec(2, 0), 10, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, h := range vh {
		if h.ID == b1.Puts[0].Chunks[2].ID {
			t.Errorf("the old version's vector is still ranked: %v", vh)
		}
	}
	if len(vh) != 3 {
		t.Errorf("Vector returned %d chunks, want the 3 stored", len(vh))
	}
	if cs, err := r.Chunks(ctx(t), []uint64{other.Chunks[0].ID}); err != nil || cs[0].Text != "unrelated walrus" {
		t.Errorf("the other file's chunk: %v, %v", cs, err)
	}
}

func testDeleteAndTouch(t *testing.T, s store.Store) {
	a := put("/d/a.md", []string{"keep this text"}, [][]float32{vec(0, 0)})
	b := put("/d/b.md", []string{"delete this text"}, [][]float32{vec(1, 0)})
	b1 := &store.Batch{Puts: []store.Put{a, b}}
	commit(t, s, b1)
	touched := b1.Puts[0].File
	touched.ModTime += 5
	touched.Size = 12345
	w := writer(t, s)
	err := w.Commit(ctx(t), &store.Batch{Deletes: []string{"/d/b.md", "/d/never.md"}, Touches: []store.File{touched}})
	if err != nil {
		t.Fatalf("Commit of deletes and touches: %v", err)
	}
	files := w.Files()
	if _, ok := files["/d/b.md"]; ok || len(files) != 1 || files["/d/a.md"] != touched {
		t.Errorf("writer's files after the commit: %v; want only the touched /d/a.md", files)
	}
	w.Close()
	r := reader(t, s)
	if st, _ := r.Stats(ctx(t)); st.Files != 1 || st.Chunks != 1 {
		t.Errorf("after a delete: %+v, want 1 file, 1 chunk", st)
	}
	if f, found, _ := r.File(ctx(t), "/d/a.md"); !found || f != touched {
		t.Errorf("touched record: %+v, want %+v", f, touched)
	}
	if cs, err := r.Chunks(ctx(t), []uint64{b1.Puts[0].Chunks[0].ID}); err != nil || cs[0].Text != "keep this text" {
		t.Errorf("a touched file's chunk must stay: %v, %v", cs, err)
	}
	if _, err := r.Chunks(ctx(t), []uint64{b1.Puts[1].Chunks[0].ID}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("a deleted file's chunk: %v, want store.ErrNotFound", err)
	}
	if hits, _ := r.Lexical(ctx(t), lexical.Terms("delete"), 5, nil); len(hits) != 0 {
		t.Errorf("a deleted file's words still match: %v", hits)
	}
	if hits, _ := r.Vector(ctx(t), vec(1, 0), 5, nil); len(hits) != 1 || hits[0].ID != b1.Puts[0].Chunks[0].ID {
		t.Errorf("vectors after a delete: %v, want only the kept chunk", hits)
	}
}

func testIncrementalState(t *testing.T, s store.Store) {
	a := put("/i/a.md", []string{"one"}, [][]float32{vec(0, 0)})
	b := put("/i/sub/b.md", []string{"two", "three"}, [][]float32{vec(1, 0), nil})
	roots := []store.Root{{Path: "/i", Dev: 42, IsDir: true}, {Path: "/single.txt", Dev: 0, IsDir: false}}
	commit(t, s, &store.Batch{Puts: []store.Put{a, b}, Roots: roots})
	w := writer(t, s)
	defer w.Close()
	if w.Fresh() {
		t.Error("a store that holds files is still fresh")
	}
	files := w.Files()
	if len(files) != 2 || files["/i/a.md"] != a.File || files["/i/sub/b.md"] != b.File {
		t.Errorf("a new writer's Files = %v\nwant %v and %v", files, a.File, b.File)
	}
	got := w.Roots()
	if len(got) != 2 || got["/i"] != roots[0] || got["/single.txt"] != roots[1] {
		t.Errorf("a new writer's Roots = %v, want %v", got, roots)
	}
	if m := w.Meta(); m.EmbedModel != Model || m.Dim != Dim || m.ChunkTokens != 256 || m.Pending != 1 {
		t.Errorf("a new writer's Meta = %+v", m)
	}
	w.SetChunkTokens(64)
	if m := w.Meta(); m.ChunkTokens != 256 {
		t.Errorf("SetChunkTokens changed a store that holds files: %d", m.ChunkTokens)
	}
	if err := w.Commit(ctx(t), &store.Batch{ForgetRoots: []string{"/single.txt"}}); err != nil {
		t.Fatal(err)
	}
	if got := w.Roots(); len(got) != 1 {
		t.Errorf("after ForgetRoots: %v", got)
	}
}

func testPending(t *testing.T, s store.Store) {
	p := put("/p/a.md", []string{"first waiting", "second waiting", "embedded now"}, [][]float32{nil, nil, vec(2, 0)})
	gone := put("/p/gone.md", []string{"waiting then replaced"}, nil)
	b := &store.Batch{Puts: []store.Put{p, gone}}
	commit(t, s, b)
	w := writer(t, s)
	pend, err := w.Pending(ctx(t), 10)
	if err != nil {
		t.Fatalf("Pending: %v", err)
	}
	if len(pend) != 3 {
		t.Fatalf("Pending = %d chunks, want 3", len(pend))
	}
	byText := map[string]store.Chunk{}
	for _, c := range pend {
		byText[c.Text] = c
	}
	first := byText["first waiting"]
	if first.ID != b.Puts[0].Chunks[0].ID || first.Path != "/p/a.md" || first.Title != "T" || !slices.Equal(first.Headings, []string{"H"}) {
		t.Errorf("pending chunk %+v: want id %d, its path, title and headings", first, b.Puts[0].Chunks[0].ID)
	}
	if _, ok := byText["embedded now"]; ok {
		t.Error("a chunk stored with a vector is pending")
	}
	if got, _ := w.Pending(ctx(t), 1); len(got) != 1 {
		t.Errorf("Pending(1) = %d chunks", len(got))
	}
	if again, _ := w.Pending(ctx(t), 10); len(again) != 3 {
		t.Errorf("Pending again = %d chunks, want the same 3 until they are embedded", len(again))
	}
	// The chunk of gone.md is replaced before its vector arrives: skipped.
	replaced := byText["waiting then replaced"].ID
	if err := w.Commit(ctx(t), &store.Batch{Puts: []store.Put{put("/p/gone.md", []string{"a new text"}, [][]float32{vec(3, 0)})}}); err != nil {
		t.Fatal(err)
	}
	emb := &store.Batch{Embedded: map[uint64][]float32{first.ID: vec(0, .2), byText["second waiting"].ID: vec(1, .2), replaced: vec(3, .9)}}
	if err := w.Commit(ctx(t), emb); err != nil {
		t.Fatalf("Commit of Embedded (one chunk replaced meanwhile): %v", err)
	}
	if m := w.Meta(); m.Pending != 0 {
		t.Errorf("writer's Meta.Pending = %d after embedding all, want 0", m.Pending)
	}
	if left, _ := w.Pending(ctx(t), 10); len(left) != 0 {
		t.Errorf("Pending after embedding = %v", left)
	}
	w.Close()
	r := reader(t, s)
	if st, _ := r.Stats(ctx(t)); st.Pending != 0 || st.Chunks != 4 || r.Meta().Pending != 0 {
		t.Errorf("after embedding: %+v, meta pending %d; want 4 chunks, none pending", st, r.Meta().Pending)
	}
	hits, err := r.Vector(ctx(t), vec(0, .2), 1, nil)
	if err != nil || len(hits) != 1 || hits[0].ID != first.ID {
		t.Errorf("the embedded chunk's vector: %v, %v; want chunk %d first", hits, err, first.ID)
	}
	if _, err := r.Chunks(ctx(t), []uint64{replaced}); !errors.Is(err, store.ErrNotFound) {
		t.Errorf("the replaced chunk came back with its vector: %v", err)
	}
}

func testVectorsByKey(t *testing.T, s store.Store) {
	p := put("/k/a.md", []string{"has vector", "has none"}, [][]float32{{3, 0, 0, 4}, nil})
	commit(t, s, &store.Batch{Puts: []store.Put{p}})
	w := writer(t, s)
	defer w.Close()
	got, err := w.VectorsByKey(ctx(t), [][]byte{key("has vector"), key("has none"), key("never stored")})
	if err != nil {
		t.Fatalf("VectorsByKey: %v", err)
	}
	if len(got) != 1 {
		t.Fatalf("VectorsByKey = %v, want only the embedded chunk's key", got)
	}
	v := got[string(key("has vector"))]
	want := []float32{.6, 0, 0, .8} // stored at unit length
	for i := range want {
		if len(v) != Dim || math.Abs(float64(v[i]-want[i])) > 1e-5 {
			t.Fatalf("vector by key = %v, want %v", v, want)
		}
	}
}

func testRepeatedCommit(t *testing.T, s store.Store) {
	// The same file committed by two runs (a repeated ingest, or one that
	// crashed after its commit and ran again) is stored once.
	mk := func() *store.Batch {
		return &store.Batch{Puts: []store.Put{put("/c/a.md", []string{"repeated quokka", "repeated quokka", "other text"}, [][]float32{vec(0, 0), vec(0, 0), vec(1, 0)})}}
	}
	commit(t, s, mk())
	w := writer(t, s)
	if err := w.Commit(ctx(t), mk()); err != nil {
		t.Fatal(err)
	}
	if err := w.Commit(ctx(t), mk()); err != nil {
		t.Fatal(err)
	}
	w.Close()
	r := reader(t, s)
	if st, _ := r.Stats(ctx(t)); st.Files != 1 || st.Chunks != 3 {
		t.Errorf("the same file committed three times: %+v, want 1 file, 3 chunks", st)
	}
	hits, err := r.Lexical(ctx(t), lexical.Terms("quokka"), 10, nil)
	if err != nil || len(hits) != 2 {
		t.Errorf("lexical hits of the repeated text: %v, %v; want its 2 chunks once each", hits, err)
	}
	if vh, _ := r.Vector(ctx(t), vec(0, 0), 10, nil); len(vh) != 3 {
		t.Errorf("vector hits: %d, want 3", len(vh))
	}
}

func testLexical(t *testing.T, s store.Store) {
	b := &store.Batch{Puts: []store.Put{
		put("/l/x/one.md", []string{"the retry policy retries requests", "unrelated cooking notes"}, nil),
		put("/l/x/two.md", []string{"a policy on holidays"}, nil),
		put("/l/x/three.md", []string{"retry with a policy"}, nil),
		put("/l/y/four.md", []string{"retrying is a policy too"}, nil),
		put("/l/ERR.md", []string{"error ERR_CONN_RESET seen"}, nil),
	}}
	commit(t, s, b)
	id := func(p, c int) uint64 { return b.Puts[p].Chunks[c].ID }
	r := reader(t, s)
	q := lexical.Terms("retry policy")
	hits, err := r.Lexical(ctx(t), q, 10, nil)
	if err != nil {
		t.Fatalf("Lexical: %v", err)
	}
	got := ids(hits)
	if len(got) != 4 || slices.Contains(got, id(0, 1)) {
		t.Fatalf("Lexical(retry policy) = %v: want the 4 chunks holding either word", hits)
	}
	if got[len(got)-1] != id(1, 0) {
		t.Errorf("Lexical(retry policy) = %v: the chunk with only \"policy\" (%d) must rank last", got, id(1, 0))
	}
	for i := 1; i < len(hits); i++ {
		if hits[i].Score > hits[i-1].Score {
			t.Errorf("scores not best first: %v", hits)
		}
	}
	if top, _ := r.Lexical(ctx(t), q, 2, nil); !slices.Equal(ids(top), got[:2]) {
		t.Errorf("k=2: %v, want the first two of %v", ids(top), got)
	}
	// The filter is applied before the top k: the only chunk under /l/y
	// comes back even though others outrank it.
	only := &store.Filter{Patterns: []string{"/l/y"}, Match: func(p string) bool { return len(p) > 4 && p[:5] == "/l/y/" }}
	if f, err := r.Lexical(ctx(t), q, 1, only); err != nil || !slices.Equal(ids(f), []uint64{id(3, 0)}) {
		t.Errorf("filtered to /l/y, k=1: %v, %v; want [%d]", f, err, id(3, 0))
	}
	one := &store.Filter{Patterns: []string{"/l/x/two.md"}, Match: func(p string) bool { return p == "/l/x/two.md" }}
	if f, _ := r.Lexical(ctx(t), q, 5, one); !slices.Equal(ids(f), []uint64{id(1, 0)}) {
		t.Errorf("filtered to one file: %v", f)
	}
	// rag's own analysis: an identifier is found whole and by its parts.
	for _, text := range []string{"ERR_CONN_RESET", "conn reset"} {
		if f, _ := r.Lexical(ctx(t), lexical.Terms(text), 5, nil); !slices.Equal(ids(f), []uint64{id(4, 0)}) {
			t.Errorf("Lexical(%q) = %v, want [%d]", text, f, id(4, 0))
		}
	}
	if f, err := r.Lexical(ctx(t), nil, 5, nil); err != nil || len(f) != 0 {
		t.Errorf("Lexical with no terms: %v, %v", f, err)
	}
	if f, _ := r.Lexical(ctx(t), lexical.Terms("nothingmatchesthis"), 5, nil); len(f) != 0 {
		t.Errorf("Lexical of a word no chunk has: %v", f)
	}
}

func testVector(t *testing.T, s store.Store) {
	b := &store.Batch{Puts: []store.Put{
		put("/v/a/one.md", []string{"v one", "v two"}, [][]float32{vec(0, 0), vec(0, .3)}),
		put("/v/a/two.md", []string{"v three"}, [][]float32{vec(1, 0)}),
		put("/v/b/three.md", []string{"v four", "v pending"}, [][]float32{vec(0, .6), nil}),
	}}
	commit(t, s, b)
	id := func(p, c int) uint64 { return b.Puts[p].Chunks[c].ID }
	r := reader(t, s)
	q := []float32{2, 0, 0, 0} // not unit length: similarity is cosine
	hits, err := r.Vector(ctx(t), q, 10, nil)
	if err != nil {
		t.Fatalf("Vector: %v", err)
	}
	if want := []uint64{id(0, 0), id(0, 1), id(2, 0), id(1, 0)}; !slices.Equal(ids(hits), want) {
		t.Fatalf("Vector = %v, want ids %v (by cosine; the pending chunk never)", hits, want)
	}
	cos := []float64{1, 1 / math.Sqrt(1.09), 1 / math.Sqrt(1.36), 0}
	for i, h := range hits {
		if math.Abs(h.Score-cos[i]) > 1e-3 {
			t.Errorf("hit %d score %.4f, want cosine %.4f", i, h.Score, cos[i])
		}
	}
	if top, _ := r.Vector(ctx(t), q, 2, nil); !slices.Equal(ids(top), ids(hits[:2])) {
		t.Errorf("k=2: %v", top)
	}
	under := &store.Filter{Patterns: []string{"/v/b"}, Match: func(p string) bool { return len(p) > 4 && p[:5] == "/v/b/" }}
	if f, err := r.Vector(ctx(t), q, 1, under); err != nil || !slices.Equal(ids(f), []uint64{id(2, 0)}) {
		t.Errorf("filtered to /v/b, k=1: %v, %v; want [%d]", f, err, id(2, 0))
	}
	glob := &store.Filter{Patterns: []string{"two.md"}, Match: func(p string) bool { return p == "/v/a/two.md" }}
	if f, _ := r.Vector(ctx(t), q, 3, glob); !slices.Equal(ids(f), []uint64{id(1, 0)}) {
		t.Errorf("filtered by a glob: %v, want [%d]", f, id(1, 0))
	}
	if _, err := r.Vector(ctx(t), []float32{1, 0}, 3, nil); err == nil {
		t.Error("a query of another dimension was accepted")
	}
}

func testModelCheck(t *testing.T, s store.Store) {
	commit(t, s, &store.Batch{Puts: []store.Put{put("/m/a.md", []string{"x"}, [][]float32{vec(0, 0)})}})
	open := func(set store.Settings) (store.Writer, error) {
		w, err := s.OpenWriter(ctx(t), set, 10*time.Second)
		if err == nil {
			t.Cleanup(func() { w.Close() })
		}
		return w, err
	}
	_, err := open(store.Settings{EmbedModel: "another-model", EmbedExplicit: true})
	if mm, ok := errors.AsType[*index.ModelMismatchError](err); !ok || mm.Indexed != Model || mm.Requested != "another-model" {
		t.Errorf("another model, asked for: %v, want *index.ModelMismatchError naming both", err)
	}
	w, err := open(store.Settings{EmbedModel: Model + ":latest", EmbedExplicit: true})
	if err != nil {
		t.Errorf("%s:latest is the same model: %v", Model, err)
	} else {
		w.Close()
	}
	w, err = open(store.Settings{EmbedModel: "a-default-model", EmbedExplicit: false})
	if err != nil || w.Meta().EmbedModel != Model {
		t.Errorf("a defaulted model keeps the store's: %v", err)
	} else {
		w.Close()
	}
	_, err = open(store.Settings{EmbedModel: Model, EmbedExplicit: true, ChunkTokens: 512})
	if sm, ok := errors.AsType[*index.SettingsMismatchError](err); !ok || sm.Indexed != 256 || sm.Wanted != 512 {
		t.Errorf("another chunk size: %v, want *index.SettingsMismatchError 256 vs 512", err)
	}
	r := reader(t, s)
	if err := r.Meta().CheckModel(s.Location(), "another-model"); err == nil {
		t.Error("the reader's Meta passes another model")
	}
}

func testListing(t *testing.T, s store.Store) {
	commit(t, s, &store.Batch{
		Puts: []store.Put{
			put("/ls/a.md", []string{"one", "two"}, [][]float32{vec(0, 0), nil}),
			put("/ls/sub/b.md", []string{"three"}, [][]float32{vec(1, 0)}),
			put("/ls0/c.md", []string{"four"}, [][]float32{vec(2, 0)}),
			put("/other/d.md", []string{"five"}, [][]float32{vec(3, 0)}),
		},
		Roots: []store.Root{{Path: "/ls", IsDir: true}, {Path: "/ls0", IsDir: true}, {Path: "/other/d.md"}},
	})
	r := reader(t, s)
	roots, err := r.Roots(ctx(t))
	if err != nil || len(roots) != 3 || !roots["/ls"].IsDir || roots["/other/d.md"].IsDir {
		t.Errorf("Roots = %v, %v", roots, err)
	}
	lr, err := r.ListRoots(ctx(t))
	if err != nil {
		t.Fatal(err)
	}
	want := []store.RootListing{
		{Path: "/ls", IsDir: true, Files: 2, Chunks: 3, Pending: 1},
		{Path: "/ls0", IsDir: true, Files: 1, Chunks: 1},
		{Path: "/other/d.md", Files: 1, Chunks: 1},
	}
	if !slices.Equal(lr, want) {
		t.Errorf("ListRoots = %+v\nwant %+v (a folder holds what is below it, not its namesakes: /ls0 is not under /ls)", lr, want)
	}
	fl, err := r.ListFiles(ctx(t), "/ls")
	if err != nil {
		t.Fatal(err)
	}
	if len(fl) != 2 || fl[0].Path != "/ls/a.md" || fl[0].Chunks != 2 || fl[0].Pending != 1 || fl[1].Path != "/ls/sub/b.md" {
		t.Errorf("ListFiles(/ls) = %+v", fl)
	}
	if rec := file("/ls/a.md", int64(2*100+len("/ls/a.md"))); fl[0].Size != rec.Size || fl[0].ModTime.UnixNano() != rec.ModTime {
		t.Errorf("ListFiles row %+v: size and mtime as recorded", fl[0])
	}
	if one, _ := r.ListFiles(ctx(t), "/ls/sub/b.md"); len(one) != 1 || one[0].Chunks != 1 {
		t.Errorf("ListFiles of one file: %+v", one)
	}
	if none, err := r.ListFiles(ctx(t), "/nowhere"); err != nil || len(none) != 0 {
		t.Errorf("ListFiles of a path with nothing: %+v, %v", none, err)
	}
}

// testCopyInto copies src into dst through EachFile and Commit, as rag
// migrate does, and checks that dst then answers as src did.
func testCopyInto(t *testing.T, src, dst store.Store) {
	in := &store.Batch{
		Puts: []store.Put{
			put("/cp/a.md", []string{"copy alpha", "copy beta"}, [][]float32{vec(0, .1), nil}),
			put("/cp/b.md", []string{"copy gamma"}, [][]float32{vec(2, .1)}),
		},
		Roots: []store.Root{{Path: "/cp", Dev: 9, IsDir: true}},
	}
	in.Puts[0].Chunks[0].Anchor = "slide=2"
	commit(t, src, in)
	r := reader(t, src)
	var puts []store.Put
	err := r.EachFile(ctx(t), func(p store.Put) error {
		puts = append(puts, p)
		return nil
	})
	if err != nil {
		t.Fatalf("EachFile: %v", err)
	}
	if len(puts) != 2 || puts[0].File != in.Puts[0].File || puts[1].File != in.Puts[1].File {
		t.Fatalf("EachFile gave %d files, want a.md then b.md with their records", len(puts))
	}
	for i, p := range puts {
		w := in.Puts[i]
		if len(p.Chunks) != len(w.Chunks) || len(p.Vectors) != len(p.Chunks) {
			t.Fatalf("EachFile %s: %d chunks, %d vectors; want %d", p.File.Path, len(p.Chunks), len(p.Vectors), len(w.Chunks))
		}
		for j, c := range p.Chunks {
			if c.Text != w.Chunks[j].Text || c.Terms != w.Chunks[j].Terms || string(c.Key) != string(w.Chunks[j].Key) ||
				!slices.Equal(c.Headings, w.Chunks[j].Headings) || c.StartLine != w.Chunks[j].StartLine || c.Anchor != w.Chunks[j].Anchor {
				t.Errorf("EachFile %s chunk %d = %+v\nwant %+v (in document order, Terms and Key filled)", p.File.Path, j, c, w.Chunks[j])
			}
			if (p.Vectors[j] == nil) != (w.Vectors[j] == nil) {
				t.Errorf("EachFile %s chunk %d: vector %v, stored %v", p.File.Path, j, p.Vectors[j], w.Vectors[j])
			}
		}
	}
	roots, _ := r.Roots(ctx(t))
	copyBatch := func() *store.Batch {
		b := &store.Batch{}
		for _, p := range puts {
			p.Chunks = slices.Clone(p.Chunks)
			b.Puts = append(b.Puts, p)
		}
		for _, rt := range roots {
			b.Roots = append(b.Roots, rt)
		}
		return b
	}
	commit(t, dst, copyBatch())
	commit(t, dst, copyBatch()) // a resumed copy converges
	d := reader(t, dst)
	if st, _ := d.Stats(ctx(t)); st.Files != 2 || st.Chunks != 3 || st.Pending != 1 {
		t.Errorf("the copy holds %+v, want 2 files, 3 chunks, 1 pending", st)
	}
	if m := d.Meta(); m.EmbedModel != Model || m.Dim != Dim {
		t.Errorf("the copy's meta: %+v", m)
	}
	if got, _ := d.Roots(ctx(t)); len(got) != 1 || got["/cp"] != in.Roots[0] {
		t.Errorf("the copy's roots: %v", got)
	}
	hits, err := d.Vector(ctx(t), vec(2, .1), 1, nil)
	if err != nil || len(hits) != 1 {
		t.Fatalf("the copy's vector search: %v, %v", hits, err)
	}
	cs, _ := d.Chunks(ctx(t), ids(hits))
	if len(cs) != 1 || cs[0].Text != "copy gamma" || hits[0].Score < .999 {
		t.Errorf("the copy's best vector match: %v %v, want \"copy gamma\" at similarity 1", cs, hits)
	}
	if lh, _ := d.Lexical(ctx(t), lexical.Terms("beta"), 5, nil); len(lh) != 1 {
		t.Errorf("the copy's lexical search for a pending chunk's word: %v", lh)
	}
}

func testBadVectors(t *testing.T, s store.Store) {
	commit(t, s, &store.Batch{Puts: []store.Put{put("/bv/a.md", []string{"ok"}, [][]float32{vec(0, 0)})}})
	w := writer(t, s)
	defer w.Close()
	for name, v := range map[string][]float32{
		"another dimension": {1, 0},
		"all zeros":         make([]float32, Dim),
		"not finite":        {float32(math.NaN()), 0, 0, 1},
	} {
		if err := w.Commit(ctx(t), &store.Batch{Puts: []store.Put{put("/bv/"+name, []string{"bad"}, [][]float32{v})}}); err == nil {
			t.Errorf("a vector of %s was committed", name)
		}
	}
	if err := w.Commit(ctx(t), &store.Batch{Puts: []store.Put{{File: file("/bv/x", 1), Chunks: []store.Chunk{chunk("x", 1)}}}}); err == nil {
		t.Error("a put with a chunk but no vector entry was committed")
	}
	r := reader(t, s)
	if st, _ := r.Stats(ctx(t)); st.Files != 1 || st.Chunks != 1 {
		t.Errorf("failed commits left something: %+v", st)
	}
}
