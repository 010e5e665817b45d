package store_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/storetest"
)

func fill(t *testing.T, s store.Store, model string, files ...string) {
	t.Helper()
	set := storetest.Settings()
	set.EmbedModel = model
	w, err := s.OpenWriter(t.Context(), set, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	b := &store.Batch{Roots: []store.Root{{Path: "/src", IsDir: true}}}
	for i, f := range files {
		v := []float32{0, 0, 0, 0}
		v[i%4] = 1
		vecs := [][]float32{v, nil}
		if i%2 == 1 {
			vecs[1] = []float32{1, 1, 1, 1}
		}
		b.Puts = append(b.Puts, store.Put{
			File:    store.File{Path: f, Size: int64(10 + i), ModTime: int64(i), Hash: f},
			Chunks:  []store.Chunk{{Text: "text of " + f, Terms: lexical.ChunkTerms(nil, "text of "+f)}, {Text: "more", Terms: "more"}},
			Vectors: vecs,
		})
	}
	if err := w.Commit(t.Context(), b); err != nil {
		t.Fatal(err)
	}
}

func TestCopy(t *testing.T) {
	dir := t.TempDir()
	src, dst := local.New(filepath.Join(dir, "src")), local.New(filepath.Join(dir, "dst"))
	fill(t, src, storetest.Model, "/src/a", "/src/b", "/src/c")
	var calls int
	rep, err := store.Copy(t.Context(), src, dst, store.CopyOptions{BatchChunks: 2, Progress: func(store.CopyProgress) { calls++ }})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Files != 3 || rep.Unchanged != 0 || rep.Chunks != 6 || rep.Vectors != 4 || rep.Pending != 2 || rep.Roots != 1 {
		t.Errorf("first copy: %+v; want 3 files, 6 chunks, 4 vectors, 2 pending, 1 root", rep)
	}
	if calls != 4 {
		t.Errorf("progress called %d times, want once a commit (one a file at 2 chunks a commit, then the roots)", calls)
	}
	r, err := dst.OpenReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	st, _ := r.Stats(t.Context())
	m := r.Meta()
	r.Close()
	if st.Files != 3 || st.Chunks != 6 || st.Pending != 2 || m.EmbedModel != storetest.Model || m.Dim != 4 || m.ChunkTokens != 256 {
		t.Errorf("target holds %+v, meta %+v", st, m)
	}
	// Run again: nothing to do. Then one source file changes: only it moves.
	if rep, err = store.Copy(t.Context(), src, dst, store.CopyOptions{}); err != nil || rep.Files != 0 || rep.Unchanged != 3 {
		t.Errorf("second copy: %+v, %v; want 3 unchanged, none copied", rep, err)
	}
	fill(t, src, storetest.Model, "/src/a", "/src/b2")
	if rep, err = store.Copy(t.Context(), src, dst, store.CopyOptions{}); err != nil || rep.Files != 1 || rep.Unchanged != 3 {
		t.Errorf("after adding a file to the source: %+v, %v; want 1 copied, 3 unchanged", rep, err)
	}
	// (fill gave /src/a the same record again, and /src/b2 is new.)

	other := local.New(filepath.Join(dir, "other"))
	fill(t, other, "another-model", "/o/x")
	if _, err := store.Copy(t.Context(), src, other, store.CopyOptions{}); !errors.As(err, new(*index.ModelMismatchError)) {
		t.Errorf("copy into a store of another model: %v, want *index.ModelMismatchError", err)
	}
	if _, err := store.Copy(t.Context(), src, local.New(filepath.Join(dir, "src")), store.CopyOptions{}); !errors.Is(err, store.ErrSameStore) {
		t.Errorf("copy into itself: %v", err)
	}
	if _, err := store.Copy(t.Context(), local.New(filepath.Join(dir, "none")), dst, store.CopyOptions{}); !errors.Is(err, index.ErrNoIndex) {
		t.Errorf("copy from an empty store: %v, want index.ErrNoIndex", err)
	}
}
