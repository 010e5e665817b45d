// Package local is the local index (package index) as a store.Store: a
// folder holding SQLite and a memory-mapped vector file, one writer at a
// time under an OS lock, readers working on snapshots. It adapts the index's
// writer and reader to the store interfaces and adds what the index leaves
// to its callers: path filters inside both legs and an exact vector scan.
// retrieve.Session still loads an unfiltered local vector leg into
// chromem-go straight from the mapping (Reader.Index).
package local

import (
	"context"
	"fmt"
	"math"
	"sync"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/store"
)

// Store is the index in one folder.
type Store struct{ Dir string }

// New returns the store of the index in dir.
func New(dir string) *Store { return &Store{Dir: dir} }

var (
	_ store.Store          = (*Store)(nil)
	_ store.Writer         = (*Writer)(nil)
	_ store.Reader         = (*Reader)(nil)
	_ store.ProgressWriter = (*Writer)(nil)
	_ store.Maintainer     = (*Writer)(nil)
	_ store.Sizer          = (*Writer)(nil)
)

// Location is the index folder.
func (s *Store) Location() string { return s.Dir }

// OpenWriter takes the index's write lock (index.OpenWriter).
func (s *Store) OpenWriter(ctx context.Context, set store.Settings, wait time.Duration) (store.Writer, error) {
	w, err := index.OpenWriter(ctx, s.Dir, set, wait)
	if err != nil {
		return nil, err
	}
	return &Writer{Writer: w}, nil
}

// OpenReader opens a snapshot (index.OpenReader).
func (s *Store) OpenReader(ctx context.Context) (store.Reader, error) {
	r, err := index.OpenReader(s.Dir)
	if err != nil {
		return nil, err
	}
	return NewReader(r), nil
}

// Writer is an index.Writer with the store's signatures. The index's own
// methods (Meta, Files, Roots, Fresh, SetChunkTokens, WriteProgress,
// SizeOnDisk, Close) are promoted as they are.
type Writer struct {
	*index.Writer
}

// Commit applies b in one transaction (index.Writer.Commit).
func (w *Writer) Commit(_ context.Context, b *store.Batch) error { return w.Writer.Commit(b) }

// Pending returns up to limit pending chunks, oldest first.
func (w *Writer) Pending(_ context.Context, limit int) ([]store.Chunk, error) {
	return w.Writer.Pending(limit)
}

// VectorsByKey looks stored vectors up by embedding key.
func (w *Writer) VectorsByKey(_ context.Context, keys [][]byte) (map[string][]float32, error) {
	return w.Writer.VectorsByKey(keys)
}

// MarkIngested records a finished ingest that changed nothing.
func (w *Writer) MarkIngested(context.Context) error { return w.Writer.MarkIngested() }

// Maintain compacts the vector file when enough of it is dead.
func (w *Writer) Maintain(context.Context) error {
	if ok, err := w.NeedsCompact(); err != nil || !ok {
		return err
	}
	return w.Compact()
}

// Reader is an index.Reader with the store's signatures. It serialises its
// uses of the snapshot's database transaction, so it is safe for concurrent
// use; the mapped vectors are read side by side.
type Reader struct {
	r *index.Reader

	dbMu sync.Mutex // the snapshot's database transaction

	pathMu sync.Mutex
	paths  map[uint64]string // chunk id -> file path, for filters; read once
}

// NewReader wraps an open snapshot; closing the Reader closes r.
func NewReader(r *index.Reader) *Reader { return &Reader{r: r} }

// Index is the snapshot itself, for what only the local index does: loading
// its mapped vectors into memory and following its commits.
func (r *Reader) Index() *index.Reader { return r.r }

// Meta is the snapshot's metadata.
func (r *Reader) Meta() store.Meta { return r.r.Meta() }

// Close releases the snapshot.
func (r *Reader) Close() error { return r.r.Close() }

// Lexical ranks chunks by FTS5's bm25() over the terms, OR-ed.
func (r *Reader) Lexical(_ context.Context, terms []string, k int, f *store.Filter) ([]store.Hit, error) {
	match := lexical.Match(terms)
	if match == "" || k <= 0 {
		return nil, nil
	}
	var allowed func(uint64) bool
	limit := k
	if f != nil {
		var err error
		if allowed, err = r.allowed(f); err != nil {
			return nil, err
		}
		limit = -1 // filter every match, then keep k
	}
	r.dbMu.Lock()
	hits, err := r.r.Lexical(match, limit)
	r.dbMu.Unlock()
	if err != nil {
		return nil, err
	}
	out := make([]store.Hit, 0, min(len(hits), k))
	for _, h := range hits {
		if allowed != nil && !allowed(h.ID) {
			continue
		}
		out = append(out, h)
		if len(out) == k {
			break
		}
	}
	return out, nil
}

// Vector ranks the live vectors (those f allows) by cosine similarity to q,
// exactly: every vector is read from the mapping and compared.
func (r *Reader) Vector(_ context.Context, q []float32, k int, f *store.Filter) ([]store.Hit, error) {
	if k <= 0 || r.r.LiveVectors() == 0 {
		return nil, nil
	}
	if dim := r.r.Meta().Dim; len(q) != dim {
		return nil, fmt.Errorf("query vector has dimension %d, the index %d", len(q), dim)
	}
	var allowed func(uint64) bool
	if f != nil {
		var err error
		if allowed, err = r.allowed(f); err != nil {
			return nil, err
		}
	}
	var norm float64
	for _, x := range q {
		norm += float64(x) * float64(x)
	}
	if norm == 0 {
		return nil, fmt.Errorf("query vector is all zeros")
	}
	inv := float32(1 / math.Sqrt(norm))
	var hits []store.Hit
	err := r.r.EachVector(func(id uint64, v []float32) error {
		if allowed != nil && !allowed(id) {
			return nil
		}
		var dot float32
		for i := range v {
			dot += v[i] * q[i]
		}
		hits = append(hits, store.Hit{ID: id, Score: float64(dot * inv)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read vectors: %w", err)
	}
	return store.TopK(hits, k), nil
}

// allowed returns a test of chunk ids against f, over the snapshot's chunk
// paths (read once per reader).
func (r *Reader) allowed(f *store.Filter) (func(uint64) bool, error) {
	r.pathMu.Lock()
	defer r.pathMu.Unlock()
	if r.paths == nil {
		paths := map[uint64]string{}
		r.dbMu.Lock()
		err := r.r.EachChunkPath(func(id uint64, p string) error {
			paths[id] = p
			return nil
		})
		r.dbMu.Unlock()
		if err != nil {
			return nil, err
		}
		r.paths = paths
	}
	paths := r.paths
	var mu sync.Mutex
	seen := map[string]bool{} // chunks of one file share the answer
	return func(id uint64) bool {
		p := paths[id]
		mu.Lock()
		defer mu.Unlock()
		ok, done := seen[p]
		if !done {
			ok = f.Match(p)
			seen[p] = ok
		}
		return ok
	}, nil
}

// Chunks reads chunks by id, in order; a missing one is store.ErrNotFound.
func (r *Reader) Chunks(_ context.Context, ids []uint64) ([]store.Chunk, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	out := make([]store.Chunk, len(ids))
	for i, id := range ids {
		c, found, err := r.r.Chunk(id)
		if err != nil {
			return nil, err
		}
		if !found {
			return nil, fmt.Errorf("chunk %d is missing from the index (run rag check): %w", id, store.ErrNotFound)
		}
		out[i] = c
	}
	return out, nil
}

// File reads one file's record.
func (r *Reader) File(_ context.Context, path string) (store.File, bool, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.File(path)
}

// Stats counts what the snapshot holds.
func (r *Reader) Stats(context.Context) (store.Stats, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.Stats()
}

// Roots returns the recorded roots.
func (r *Reader) Roots(context.Context) (map[string]store.Root, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.Roots()
}

// ListRoots lists the roots with their counts.
func (r *Reader) ListRoots(context.Context) ([]store.RootListing, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.ListRoots()
}

// ListFiles lists the files at or under path.
func (r *Reader) ListFiles(_ context.Context, path string) ([]store.FileListing, error) {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.ListFiles(path)
}

// EachFile walks every file with its chunks and vectors (index.Reader.EachFile).
func (r *Reader) EachFile(ctx context.Context, fn func(store.Put) error) error {
	r.dbMu.Lock()
	defer r.dbMu.Unlock()
	return r.r.EachFile(func(f index.File, cs []index.Chunk, vs [][]float32) error {
		if err := ctx.Err(); err != nil {
			return err
		}
		return fn(store.Put{File: f, Chunks: cs, Vectors: vs})
	})
}
