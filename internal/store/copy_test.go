package store_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
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

// Check reads a healthy store as healthy, with its counts, through the
// Reader alone; a store whose counts disagree with its files is not.
func TestCheck(t *testing.T) {
	s := local.New(filepath.Join(t.TempDir(), "idx"))
	fill(t, s, storetest.Model, "/src/a", "/src/b")
	r, err := s.OpenReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := store.Check(t.Context(), r, s.Location())
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Files != 2 || rep.Chunks != 4 || rep.Vectors != 3 || rep.Pending != 1 || len(rep.Roots) != 1 {
		t.Errorf("healthy store: %+v", rep)
	}
	rep, err = store.Check(t.Context(), extraChunks{r}, s.Location())
	if err != nil {
		t.Fatal(err)
	}
	if rep.OK() || len(rep.Problems) != 1 {
		t.Errorf("a store counting 3 chunks no record lists: %+v", rep)
	}
}

// extraChunks counts three more chunks than its files hold, as a store
// with leftovers of an interrupted commit does.
type extraChunks struct{ store.Reader }

func (e extraChunks) Stats(ctx context.Context) (store.Stats, error) {
	st, err := e.Reader.Stats(ctx)
	st.Chunks += 3
	return st, err
}

// A vector of the wrong length is named with its file.
func TestCheckBadVector(t *testing.T) {
	s := local.New(filepath.Join(t.TempDir(), "idx"))
	fill(t, s, storetest.Model, "/src/a")
	r, err := s.OpenReader(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	rep, err := store.Check(t.Context(), scaled{r}, s.Location())
	if err != nil {
		t.Fatal(err)
	}
	if len(rep.Problems) != 1 || !strings.Contains(rep.Problems[0], "/src/a: chunk") || !strings.Contains(rep.Problems[0], "length 2.0000") {
		t.Errorf("a vector of length 2: %v", rep.Problems)
	}
}

// scaled doubles every vector EachFile returns.
type scaled struct{ store.Reader }

func (s scaled) EachFile(ctx context.Context, fn func(store.Put) error) error {
	return s.Reader.EachFile(ctx, func(p store.Put) error {
		for _, v := range p.Vectors {
			for i := range v {
				v[i] *= 2
			}
		}
		return fn(p)
	})
}
