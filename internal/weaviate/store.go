package weaviate

import (
	"cmp"
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
)

// Store is rag's store.Store in Weaviate.
//
// Layout: the chunks collection holds one object per chunk (id
// store.UUID(KindChunk, store.ChunkID(path, ordinal, text))); the files
// collection holds one record per file (kind "file", id
// store.UUID(KindFile, store.FileID(path)), listing its chunks' ids), one per
// root (kind "root") and the store's metadata (kind "meta": format, model,
// dimension, chunk size, creation and last-ingest times).
//
// Commit has no transaction to lean on, so it orders its writes: for each
// file, its new chunks first, then the old version's chunks that the new one
// no longer has, then the record. A search returns a chunk only if its
// file's record lists it (the hits are checked against the records), so a
// file half written by a crashed commit stays invisible, and its old
// version (or nothing, for a new file) answers until the next commit of the
// same batch, which writes the same objects again (deterministic ids) and
// converges. A deleted file loses its chunks before its record, so a crash
// leaves a record the next ingest deletes again.
//
// Several writers may work at once (nothing is locked). Writers of disjoint
// roots never touch each other's objects. Two writers of the same file at
// the same moment each replace the chunks of the version they read: the
// last record written wins, and the chunks only the other version had stay
// behind, invisible to search (no record lists them), counted in Stats
// until an ingest of that file replaces them. No chunk that a record lists
// is deleted by another writer's commit.
//
// Vector search is approximate (HNSW; see HNSW for the settings). The
// Reader reads the store as it is at each call; Meta is refreshed by
// Stats.
type Store struct {
	cfg Config
	// pinned stores use generation gen (a rebuild's next generation);
	// others follow the live generation (see rebuild.go).
	pinned bool
	gen    int
	mu     sync.Mutex
	c      *Client // opened on first use; the generation last used
}

var _ store.Store = (*Store)(nil)

// New returns the store for cfg; it connects on first use.
func New(cfg Config) *Store { return &Store{cfg: cfg} }

// Location names the store: weaviate://HOST:PORT/COLLECTION (weaviates://
// for https), never a key.
func (s *Store) Location() string {
	cfg := s.cfg
	if cfg.Base == "" {
		cfg.Base = DefaultBase
	}
	if cfg.Scheme == "" {
		cfg.Scheme = "http"
	}
	return cfg.String()
}

func (s *Store) client(ctx context.Context) (*Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.c == nil {
		c, err := Open(ctx, s.cfg)
		if err != nil {
			return nil, err
		}
		if s.pinned {
			c = c.at(s.gen)
		}
		s.c = c
	}
	if s.pinned {
		return s.c, nil
	}
	// One read of the live generation's object per open: every reader and
	// writer follows a rebuild's swap.
	c, err := s.c.current(ctx)
	if err != nil {
		return nil, err
	}
	s.c = c
	return c, nil
}

// Client is the store's connection to its live generation, opened if need
// be (for tests and benchmarks that use the primitives).
func (s *Store) Client(ctx context.Context) (*Client, error) { return s.client(ctx) }

// readMeta reads the metadata object; found is false when the collections
// or the object do not exist yet.
func (c *Client) readMeta(ctx context.Context) (index.Meta, bool, error) {
	ok, err := c.Exists(ctx)
	if err != nil || !ok {
		return index.Meta{}, false, err
	}
	rows, err := c.get(ctx, "read metadata", c.files,
		[]graphql.Field{{Name: "model"}, {Name: "dim"}, {Name: "chunkTokens"}, {Name: "format"}, {Name: "created"}, {Name: "lastIngest"}},
		filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(metaUUID), 2)
	if err != nil || len(rows) == 0 {
		return index.Meta{}, false, err
	}
	m := rows[0]
	if f := str(m["format"]); f != strconv.Itoa(FormatVersion) {
		n, _ := strconv.Atoi(f)
		return index.Meta{}, false, &index.FormatError{Dir: c.String(), Found: n}
	}
	meta := index.Meta{FormatVersion: FormatVersion, EmbedModel: str(m["model"])}
	meta.Dim, _ = strconv.Atoi(str(m["dim"]))
	meta.ChunkTokens, _ = strconv.Atoi(str(m["chunkTokens"]))
	meta.Created = parseTime(str(m["created"]))
	meta.LastIngest = parseTime(str(m["lastIngest"]))
	return meta, true, nil
}

func parseTime(s string) time.Time {
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil || n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

func unixNano(t time.Time) string {
	if t.IsZero() {
		return "0"
	}
	return strconv.FormatInt(t.UnixNano(), 10)
}

func (c *Client) writeMeta(ctx context.Context, m index.Meta) error {
	return c.putObjects(ctx, "write metadata", []*models.Object{{
		Class: c.files, ID: strfmt.UUID(metaUUID),
		Properties: map[string]any{
			"kind": "meta", "path": "", "model": m.EmbedModel,
			"dim": strconv.Itoa(m.Dim), "chunkTokens": strconv.Itoa(m.ChunkTokens),
			"format": strconv.Itoa(FormatVersion), "created": unixNano(m.Created),
			"lastIngest": unixNano(m.LastIngest),
		},
	}})
}

// records reads every file and root record.
func (c *Client) records(ctx context.Context) (map[string]File, map[string]index.Root, error) {
	files := map[string]File{}
	roots := map[string]index.Root{}
	fields := append(slices.Clone(fileFields), graphql.Field{Name: "kind"}, graphql.Field{Name: "dev"}, graphql.Field{Name: "isDir"})
	err := c.scan(ctx, c.files, fields, func(m map[string]any) {
		switch str(m["kind"]) {
		case "file":
			f := fileFrom(m)
			files[f.Path] = f
		case "root":
			dev, _ := strconv.ParseUint(str(m["dev"]), 10, 64)
			p := str(m["path"])
			roots[p] = index.Root{Path: p, Dev: dev, IsDir: str(m["isDir"]) == "1"}
		}
	})
	return files, roots, err
}

func indexFile(f File) index.File {
	return index.File{Path: f.Path, Size: f.Size, ModTime: f.ModTime, Hash: f.Hash, Title: f.Title}
}

// OpenWriter implements store.Store. It reads the metadata and every
// file and root record; nothing is written before the first Commit.
func (s *Store) OpenWriter(ctx context.Context, set store.Settings, wait time.Duration) (store.Writer, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	model := strings.TrimSpace(set.EmbedModel)
	w := &Writer{s: s, c: c, files: map[string]index.File{}, records: map[string]File{}, roots: map[string]index.Root{}}
	m, found, err := c.readMeta(ctx)
	if err != nil {
		return nil, err
	}
	if !found {
		w.meta = index.Meta{FormatVersion: FormatVersion, EmbedModel: model,
			ChunkTokens: cmp.Or(set.ChunkTokens, set.DefaultChunkTokens), Created: time.Now().UTC()}
		w.fresh = true
		return w, nil
	}
	if !set.EmbedExplicit {
		model = m.EmbedModel
	}
	if err := m.CheckModel(s.Location(), model); err != nil {
		return nil, err
	}
	if set.ChunkTokens != 0 && m.ChunkTokens != set.ChunkTokens {
		return nil, &index.SettingsMismatchError{Dir: s.Location(), Indexed: m.ChunkTokens, Wanted: set.ChunkTokens}
	}
	w.meta = m
	recs, roots, err := c.records(ctx)
	if err != nil {
		return nil, err
	}
	for p, f := range recs {
		w.records[p] = f
		w.files[p] = indexFile(f)
	}
	w.roots = roots
	if _, w.meta.Pending, err = c.Count(ctx); err != nil {
		return nil, err
	}
	return w, nil
}

// Writer is the write side of a Weaviate store. Its methods are safe for
// concurrent use; commits are serialised.
type Writer struct {
	s *Store
	c *Client

	mu      sync.Mutex
	meta    index.Meta
	fresh   bool
	files   map[string]index.File
	records map[string]File // with their chunk ids
	roots   map[string]index.Root
}

var _ store.Writer = (*Writer)(nil)

// Meta implements store.Writer.
func (w *Writer) Meta() store.Meta {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.meta
}

// Fresh implements store.Writer.
func (w *Writer) Fresh() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.fresh
}

// SetChunkTokens implements store.Writer.
func (w *Writer) SetChunkTokens(n int) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.fresh {
		w.meta.ChunkTokens = n
	}
}

// Files implements store.Writer.
func (w *Writer) Files() map[string]store.File { return w.files }

// Roots implements store.Writer.
func (w *Writer) Roots() map[string]store.Root { return w.roots }

// Close implements store.Writer.
func (w *Writer) Close() error { return nil }

// unit checks a vector against the store's dimension (dim 0: none yet) and
// returns it at unit length.
func unitVector(v []float32, dim int) ([]float32, error) {
	if dim > 0 && len(v) != dim {
		return nil, fmt.Errorf("a vector of dimension %d in a store of dimension %d", len(v), dim)
	}
	var n float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("a vector with a value that is not finite")
		}
		n += float64(x) * float64(x)
	}
	if n == 0 {
		return nil, errors.New("an all-zero vector")
	}
	n = math.Sqrt(n)
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(float64(x) / n)
	}
	return out, nil
}

// Commit implements store.Writer; see Store for the order of its writes
// and what a crash part way leaves.
func (w *Writer) Commit(ctx context.Context, b *store.Batch) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	meta := w.meta
	// Check every vector before anything is written.
	type prepared struct {
		chunks []Chunk
		ids    []string
	}
	preps := make([]prepared, len(b.Puts))
	for i, p := range b.Puts {
		if len(p.Vectors) != len(p.Chunks) {
			return fmt.Errorf("commit %s: %d chunks but %d vectors", p.File.Path, len(p.Chunks), len(p.Vectors))
		}
		for j, c := range p.Chunks {
			ch := Chunk{Path: p.File.Path, Title: c.Title, Headings: c.Headings, Ordinal: j,
				StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Anchor: c.Anchor,
				Text: c.Text, Terms: c.Terms, Key: hex.EncodeToString(c.Key)}
			if v := p.Vectors[j]; v != nil {
				u, err := unitVector(v, meta.Dim)
				if err != nil {
					return fmt.Errorf("commit %s: %w", p.File.Path, err)
				}
				if meta.Dim == 0 {
					meta.Dim = len(u)
				}
				ch.Vector = u
			}
			id := store.ChunkID(p.File.Path, j, c.Text)
			ch.ID = store.UUID(store.KindChunk, id)
			preps[i].chunks = append(preps[i].chunks, ch)
			preps[i].ids = append(preps[i].ids, ch.ID)
		}
	}
	embedded := make(map[uint64][]float32, len(b.Embedded))
	for id, v := range b.Embedded {
		u, err := unitVector(v, meta.Dim)
		if err != nil {
			return fmt.Errorf("commit embeddings: %w", err)
		}
		if meta.Dim == 0 {
			meta.Dim = len(u)
		}
		embedded[id] = u
	}
	if err := w.stillLive(ctx); err != nil { // rebuild.go
		return err
	}
	if err := w.c.EnsureSchema(ctx); err != nil {
		return err
	}
	if w.fresh {
		// Recorded first, so a store that holds anything has its settings.
		if err := w.c.writeMeta(ctx, meta); err != nil {
			return err
		}
	}
	// Every file's new chunks, then the old versions' chunks the new ones
	// no longer have, then the records: each file's order holds, in
	// batches of the whole commit.
	var all []Chunk
	for i := range b.Puts {
		all = append(all, preps[i].chunks...)
	}
	if err := w.c.repairCut(ctx); err != nil { // repair.go
		return err
	}
	if err := w.c.PutChunks(ctx, all); err != nil {
		w.c.noteCut(w.c.chunks, chunkIDs(all), err)
		return err
	}
	var stale []string
	for i, p := range b.Puts {
		if old, ok := w.records[p.File.Path]; ok {
			for _, id := range old.Chunks {
				if !slices.Contains(preps[i].ids, id) {
					stale = append(stale, id)
				}
			}
		}
	}
	if err := w.c.DeleteChunks(ctx, stale); err != nil {
		return err
	}
	recs := make([]File, 0, len(b.Puts))
	for i, p := range b.Puts {
		recs = append(recs, File{Path: p.File.Path, Size: p.File.Size, ModTime: p.File.ModTime, Hash: p.File.Hash,
			Title: p.File.Title, Chunks: preps[i].ids, IndexedAt: time.Now().UnixNano()})
	}
	if err := w.c.PutFiles(ctx, recs); err != nil {
		w.c.noteCut(w.c.files, fileIDs(recs), err)
		return err
	}
	for i, p := range b.Puts {
		w.records[p.File.Path] = recs[i]
		w.files[p.File.Path] = p.File
		for j := range p.Chunks {
			b.Puts[i].Chunks[j].ID = store.ChunkID(p.File.Path, j, p.Chunks[j].Text)
		}
	}
	for _, path := range b.Deletes {
		if err := w.c.deleteWhere(ctx, "delete chunks", w.c.chunks,
			filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path)); err != nil {
			return err
		}
		if err := w.c.deleteWhere(ctx, "delete file", w.c.files,
			filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(FileUUID(path))); err != nil {
			return err
		}
		delete(w.records, path)
		delete(w.files, path)
	}
	for _, f := range b.Touches {
		rec, ok := w.records[f.Path]
		if !ok {
			continue
		}
		rec.Size, rec.ModTime, rec.Hash, rec.Title = f.Size, f.ModTime, f.Hash, f.Title
		if err := w.c.PutFiles(ctx, []File{rec}); err != nil {
			return err
		}
		w.records[f.Path] = rec
		w.files[f.Path] = f
	}
	if len(embedded) > 0 {
		if err := w.embed(ctx, embedded); err != nil {
			return err
		}
	}
	var roots []*models.Object
	for _, r := range b.Roots {
		isDir := "0"
		if r.IsDir {
			isDir = "1"
		}
		roots = append(roots, &models.Object{Class: w.c.files, ID: strfmt.UUID(rootUUID(r.Path)),
			Properties: map[string]any{"kind": "root", "path": r.Path, "dev": strconv.FormatUint(r.Dev, 10), "isDir": isDir}})
	}
	if len(roots) > 0 {
		if err := w.c.putObjects(ctx, "write roots", roots); err != nil {
			return err
		}
	}
	for _, r := range b.Roots {
		w.roots[r.Path] = r
	}
	for _, p := range b.ForgetRoots {
		if err := w.c.deleteWhere(ctx, "forget root", w.c.files,
			filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(rootUUID(p))); err != nil {
			return err
		}
		delete(w.roots, p)
	}
	meta.LastIngest = time.Now().UTC()
	if err := w.c.writeMeta(ctx, meta); err != nil {
		return err
	}
	if err := w.stillLive(ctx); err != nil { // a swap while it wrote
		return err
	}
	// The pending count is read back only when this commit could have
	// changed it: with none pending before and none stored now it stays 0,
	// which spares an ingest whose embedder answers two aggregate queries
	// a commit.
	if meta.Pending > 0 || len(embedded) > 0 || storesPending(b) {
		var err error
		if _, meta.Pending, err = w.c.Count(ctx); err != nil {
			return err
		}
	}
	w.meta, w.fresh = meta, false
	return nil
}

// storesPending reports whether b puts a chunk without a vector.
func storesPending(b *store.Batch) bool {
	for _, p := range b.Puts {
		if slices.ContainsFunc(p.Vectors, func(v []float32) bool { return v == nil }) {
			return true
		}
	}
	return false
}

// embed gives vectors to pending chunks: it reads them, skips those no
// longer stored or no longer pending, and writes them back with vectors.
func (w *Writer) embed(ctx context.Context, vecs map[uint64][]float32) error {
	ids := make([]string, 0, len(vecs))
	for id := range vecs {
		ids = append(ids, store.UUID(store.KindChunk, id))
	}
	got, err := w.c.chunksWithPending(ctx, ids)
	if err != nil {
		return err
	}
	var out []Chunk
	for _, c := range got {
		if !c.pending {
			continue
		}
		_, id, _ := store.ParseUUID(c.ID)
		c.Vector = vecs[id]
		out = append(out, c.Chunk)
	}
	return w.c.PutChunks(ctx, out)
}

type pendingChunk struct {
	Chunk
	pending bool
}

func (c *Client) chunksWithPending(ctx context.Context, ids []string) ([]pendingChunk, error) {
	var out []pendingChunk
	for start := 0; start < len(ids); start += BatchSize {
		end := min(start+BatchSize, len(ids))
		rows, err := c.get(ctx, "read chunks", c.chunks, withAdditional(append(slices.Clone(chunkFields), graphql.Field{Name: "pending"})),
			filters.Where().WithPath([]string{"id"}).WithOperator(filters.ContainsAny).WithValueText(ids[start:end]...), end-start)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			p, _ := r["pending"].(bool)
			out = append(out, pendingChunk{Chunk: chunkFrom(r), pending: p})
		}
	}
	return out, nil
}

func toIndexChunk(c Chunk) index.Chunk {
	_, id, _ := store.ParseUUID(c.ID)
	key, _ := hex.DecodeString(c.Key)
	if len(key) == 0 {
		key = nil
	}
	return index.Chunk{ID: id, Path: c.Path, Title: c.Title, Headings: c.Headings, StartLine: c.StartLine,
		EndLine: c.EndLine, Page: c.Page, Anchor: c.Anchor, Text: c.Text, Terms: c.Terms, Key: key}
}

// Pending implements store.Writer: the oldest pending chunks first.
func (w *Writer) Pending(ctx context.Context, limit int) ([]store.Chunk, error) {
	if w.Fresh() {
		return nil, nil
	}
	var rows []map[string]any
	err := w.c.do(ctx, "read pending chunks", func(ctx context.Context) error {
		b := w.c.c.GraphQL().Get().WithClassName(w.c.chunks).WithFields(withAdditional(chunkFields)...).
			WithWhere(filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(true)).
			WithSort(graphql.Sort{Path: []string{"_creationTimeUnix"}, Order: graphql.Asc}).WithLimit(limit)
		if w.c.replicated {
			b = b.WithConsistencyLevel(w.c.cfg.Consistency)
		}
		resp, err := b.Do(ctx)
		rows, err = results(resp, err, w.c.chunks)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]store.Chunk, 0, len(rows))
	for _, r := range rows {
		out = append(out, toIndexChunk(chunkFrom(r)))
	}
	return out, nil
}

// VectorsByKey implements store.Writer.
func (w *Writer) VectorsByKey(ctx context.Context, keys [][]byte) (map[string][]float32, error) {
	out := map[string][]float32{}
	if w.Fresh() {
		return out, nil
	}
	hexes := make([]string, 0, len(keys))
	for _, k := range keys {
		hexes = append(hexes, hex.EncodeToString(k))
	}
	for start := 0; start < len(hexes); start += BatchSize {
		end := min(start+BatchSize, len(hexes))
		rows, err := w.c.get(ctx, "find vectors", w.c.chunks, withAdditional([]graphql.Field{{Name: "vkey"}}, "vector"),
			filters.Where().WithOperator(filters.And).WithOperands([]*filters.WhereBuilder{
				filters.Where().WithPath([]string{"vkey"}).WithOperator(filters.ContainsAny).WithValueText(hexes[start:end]...),
				filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(false),
			}), maxResults)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			k, err := hex.DecodeString(str(r["vkey"]))
			if err != nil {
				continue
			}
			if v := floats(additionalAny(r, "vector")); v != nil {
				out[string(k)] = v
			}
		}
	}
	return out, nil
}

// MarkIngested implements store.Writer.
func (w *Writer) MarkIngested(ctx context.Context) error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.c.EnsureSchema(ctx); err != nil {
		return err
	}
	m := w.meta
	m.LastIngest = time.Now().UTC()
	if err := w.c.writeMeta(ctx, m); err != nil {
		return err
	}
	w.meta, w.fresh = m, false
	return nil
}

// OpenReader implements store.Store: index.ErrNoIndex while nothing is
// stored.
func (s *Store) OpenReader(ctx context.Context) (store.Reader, error) {
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	m, found, err := c.readMeta(ctx)
	if err != nil {
		return nil, err
	}
	if !found {
		return nil, fmt.Errorf("weaviate store %s: %w", s.Location(), index.ErrNoIndex)
	}
	r := &Reader{s: s, c: c, meta: m}
	if _, r.meta.Pending, err = c.Count(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// Reader is the read side of a Weaviate store: each call reads the store
// as it is then.
type Reader struct {
	s    *Store
	c    *Client
	mu   sync.Mutex
	meta index.Meta
}

var (
	_ store.Reader     = (*Reader)(nil)
	_ store.TextWalker = (*Reader)(nil) // audit and rebuild read texts without vectors through it
)

// Meta implements store.Reader: as of the open, or the last Stats.
func (r *Reader) Meta() store.Meta {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.meta
}

// Close implements store.Reader.
func (r *Reader) Close() error { return nil }

// filter translates a store.Filter into a Weaviate filter on the paths
// Match allows among the file records: exact whatever Patterns say (a
// pattern is only the caller's hint; Match is the authority), at the cost of
// reading the records once per filtered search.
func (r *Reader) filter(ctx context.Context, f *store.Filter) (Filter, error) {
	if f == nil {
		return Filter{}, nil
	}
	recs, _, err := r.c.records(ctx)
	if err != nil {
		return Filter{}, err
	}
	var out Filter
	for p := range recs {
		if f.Match(p) {
			out.Paths = append(out.Paths, p)
		}
	}
	sort.Strings(out.Paths)
	out.None = len(out.Paths) == 0
	return out, nil
}

// visible keeps the hits whose file record lists them (and that the
// filter's Match allows), best first, ties by smaller id, at most k.
func (r *Reader) visible(ctx context.Context, hits []Hit, f *store.Filter, k int) ([]store.Hit, error) {
	var paths []string
	seen := map[string]bool{}
	for _, h := range hits {
		if !seen[h.Path] {
			seen[h.Path] = true
			paths = append(paths, h.Path)
		}
	}
	listed := map[string]bool{}
	for start := 0; start < len(paths); start += BatchSize {
		end := min(start+BatchSize, len(paths))
		rows, err := r.c.get(ctx, "read files", r.c.files, []graphql.Field{{Name: "chunks"}},
			filters.Where().WithPath([]string{"path"}).WithOperator(filters.ContainsAny).WithValueText(paths[start:end]...), maxResults)
		if err != nil {
			return nil, err
		}
		for _, row := range rows {
			for _, id := range strs(row["chunks"]) {
				listed[id] = true
			}
		}
	}
	out := make([]store.Hit, 0, len(hits))
	for _, h := range hits {
		if !listed[h.ID] || f != nil && !f.Match(h.Path) {
			continue
		}
		_, id, ok := store.ParseUUID(h.ID)
		if !ok {
			continue
		}
		out = append(out, store.Hit{ID: id, Score: h.Score})
	}
	return store.TopK(out, k), nil
}

// overfetch is how many hits a leg asks Weaviate for to return k checked
// ones: hidden chunks of half-written files are rare, so a few more.
func overfetch(k int) int { return k + k/2 + 10 }

// Lexical implements store.Reader: Weaviate's BM25 over the terms
// property (whitespace tokenization: rag's own terms, OR-ed).
func (r *Reader) Lexical(ctx context.Context, terms []string, k int, f *store.Filter) ([]store.Hit, error) {
	var uniq []string
	for _, t := range terms {
		if t != "" && !slices.Contains(uniq, t) {
			uniq = append(uniq, t)
		}
	}
	if len(uniq) == 0 || k <= 0 {
		return nil, nil
	}
	wf, err := r.filter(ctx, f)
	if err != nil {
		return nil, err
	}
	hits, err := r.c.BM25(leanSearch(ctx), strings.Join(uniq, " "), overfetch(k), wf)
	if err != nil {
		return nil, err
	}
	return r.visible(ctx, hits, f, k)
}

// Vector implements store.Reader: HNSW, approximate; Score is the cosine
// similarity.
func (r *Reader) Vector(ctx context.Context, q []float32, k int, f *store.Filter) ([]store.Hit, error) {
	m := r.Meta()
	if m.Dim > 0 && len(q) != m.Dim {
		return nil, fmt.Errorf("vector search: a query of dimension %d in a store of dimension %d", len(q), m.Dim)
	}
	u, err := unitVector(q, m.Dim)
	if err != nil {
		return nil, fmt.Errorf("vector search: %w", err)
	}
	if k <= 0 {
		return nil, nil
	}
	wf, err := r.filter(ctx, f)
	if err != nil {
		return nil, err
	}
	hits, err := r.c.NearVector(leanSearch(ctx), u, overfetch(k), wf)
	if err != nil {
		return nil, err
	}
	return r.visible(ctx, hits, f, k)
}

// Chunks implements store.Reader.
func (r *Reader) Chunks(ctx context.Context, ids []uint64) ([]store.Chunk, error) {
	uuids := make([]string, len(ids))
	for i, id := range ids {
		uuids[i] = store.UUID(store.KindChunk, id)
	}
	got, err := r.c.Chunks(ctx, uuids, false)
	if err != nil {
		return nil, err
	}
	byID := make(map[uint64]store.Chunk, len(got))
	for _, c := range got {
		ic := toIndexChunk(c)
		ic.Terms, ic.Key = "", nil
		byID[ic.ID] = ic
	}
	out := make([]store.Chunk, 0, len(ids))
	for _, id := range ids {
		c, ok := byID[id]
		if !ok {
			return nil, fmt.Errorf("chunk %d: %w", id, store.ErrNotFound)
		}
		out = append(out, c)
	}
	return out, nil
}

// File implements store.Reader.
func (r *Reader) File(ctx context.Context, path string) (store.File, bool, error) {
	rows, err := r.c.get(ctx, "read file", r.c.files, fileFields,
		filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(FileUUID(path)), 2)
	if err != nil || len(rows) == 0 {
		return store.File{}, false, err
	}
	return indexFile(fileFrom(rows[0])), true, nil
}

// Stats implements store.Reader. Chunks counts every chunk object,
// including those of a file half written by a crashed commit.
func (r *Reader) Stats(ctx context.Context) (store.Stats, error) {
	recs, _, err := r.c.records(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	n, p, err := r.c.Count(ctx)
	if err != nil {
		return store.Stats{}, err
	}
	if m, found, err := r.c.readMeta(ctx); err == nil && found {
		m.Pending = p
		r.mu.Lock()
		r.meta = m
		r.mu.Unlock()
	}
	return store.Stats{Files: len(recs), Chunks: n, Pending: p}, nil
}

// Roots implements store.Reader.
func (r *Reader) Roots(ctx context.Context) (map[string]store.Root, error) {
	_, roots, err := r.c.records(ctx)
	return roots, err
}

// pendingByPath counts pending chunks per file.
func (c *Client) pendingByPath(ctx context.Context) (map[string]int, error) {
	out := map[string]int{}
	rows, err := c.get(ctx, "count pending", c.chunks, []graphql.Field{{Name: "path"}},
		filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(true), maxResults)
	if err != nil {
		return nil, err
	}
	for _, r := range rows {
		out[str(r["path"])]++
	}
	return out, nil
}

func under(path, root string) bool {
	root = strings.TrimSuffix(root, "/")
	return path == root || strings.HasPrefix(path, root+"/")
}

// ListRoots implements store.Reader.
func (r *Reader) ListRoots(ctx context.Context) ([]store.RootListing, error) {
	recs, roots, err := r.c.records(ctx)
	if err != nil {
		return nil, err
	}
	pend, err := r.c.pendingByPath(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.RootListing
	for _, rt := range roots {
		l := store.RootListing{Path: rt.Path, IsDir: rt.IsDir}
		for p, f := range recs {
			if under(p, rt.Path) {
				l.Files++
				l.Chunks += len(f.Chunks)
				l.Pending += pend[p]
			}
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// ListFiles implements store.Reader.
func (r *Reader) ListFiles(ctx context.Context, path string) ([]store.FileListing, error) {
	recs, _, err := r.c.records(ctx)
	if err != nil {
		return nil, err
	}
	pend, err := r.c.pendingByPath(ctx)
	if err != nil {
		return nil, err
	}
	var out []store.FileListing
	for p, f := range recs {
		if !under(p, path) {
			continue
		}
		l := store.FileListing{Path: p, Size: f.Size, ModTime: time.Unix(0, f.ModTime), Chunks: len(f.Chunks), Pending: pend[p]}
		if f.IndexedAt != 0 {
			t := time.Unix(0, f.IndexedAt)
			l.Indexed = &t
		}
		out = append(out, l)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Path < out[j].Path })
	return out, nil
}

// EachFile implements store.Reader: the files sorted by path, each with the
// chunks its record lists, in document order, and their vectors.
func (r *Reader) EachFile(ctx context.Context, fn func(store.Put) error) error {
	return r.eachFile(ctx, true, fn)
}

// eachFile is EachFile, with the vectors read or not (EachFileText).
func (r *Reader) eachFile(ctx context.Context, withVectors bool, fn func(store.Put) error) error {
	recs, _, err := r.c.records(ctx)
	if err != nil {
		return err
	}
	paths := make([]string, 0, len(recs))
	for p := range recs {
		paths = append(paths, p)
	}
	sort.Strings(paths)
	for _, p := range paths {
		rec := recs[p]
		got, err := r.c.Chunks(ctx, rec.Chunks, withVectors)
		if err != nil {
			return err
		}
		if len(got) != len(rec.Chunks) {
			return &index.DamagedError{Dir: r.s.Location(), What: fmt.Sprintf("%s lists %d chunks, %d are stored", p, len(rec.Chunks), len(got))}
		}
		put := store.Put{File: indexFile(rec)}
		for _, c := range got {
			put.Chunks = append(put.Chunks, toIndexChunk(c))
			put.Vectors = append(put.Vectors, c.Vector)
		}
		if err := fn(put); err != nil {
			return err
		}
	}
	return nil
}

// ForLocation is the store a parsed store URL names, configured from the
// environment as FromLocation says. It connects on first use.
func ForLocation(l store.Location) (*Store, error) {
	cfg, err := FromLocation(l)
	if err != nil {
		return nil, err
	}
	return New(cfg), nil
}
