package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"
	"golang.org/x/sync/errgroup"

	"github.com/ragcli/rag/internal/store"
)

// Chunk is one chunk as the store keeps it.
type Chunk struct {
	// ID is the object's UUID: store.UUID(store.KindChunk, id) of the
	// chunk's store.ChunkID.
	ID        string
	Path      string
	Title     string
	Headings  []string
	Ordinal   int // position in its file, from 0
	StartLine int
	EndLine   int
	Page      int
	Anchor    string
	Text      string
	// Terms is rag's analysed text (lexical terms joined by spaces), what
	// BM25 ranks.
	Terms string
	// Key identifies the text that was embedded (the local index's vkey),
	// hex; chunks with the same key can share a vector.
	Key string
	// Vector is the embedding; nil for a pending chunk.
	Vector []float32
}

// ChunkUUID is the object id of the chunk at place ordinal of the file at
// path with this text: store.ChunkID's, in store.UUID's layout. The same
// file always gets the same ids, so an ingest that is repeated, or re-run
// after a crash, overwrites its objects rather than adding copies.
func ChunkUUID(path string, ordinal int, text string) string {
	return store.UUID(store.KindChunk, store.ChunkID(path, ordinal, text))
}

// FileUUID is the object id of a file's record.
func FileUUID(path string) string {
	return store.UUID(store.KindFile, store.FileID(path))
}

// metaUUID is the id of the store's metadata object; rootUUID of a root's.
var metaUUID = store.UUID(store.KindMeta, 1)

func rootUUID(path string) string {
	return store.UUID(store.KindMeta, store.FileID("root\x00"+path))
}

func (c Chunk) object(class string) *models.Object {
	headings := c.Headings
	if headings == nil {
		headings = []string{}
	}
	o := &models.Object{
		Class: class,
		ID:    strfmt.UUID(c.ID),
		Properties: map[string]any{
			"path":      c.Path,
			"title":     c.Title,
			"headings":  headings,
			"ordinal":   c.Ordinal,
			"startLine": c.StartLine,
			"endLine":   c.EndLine,
			"page":      c.Page,
			"anchor":    c.Anchor,
			"text":      c.Text,
			"terms":     c.Terms,
			"vkey":      c.Key,
			"pending":   c.Vector == nil,
		},
	}
	if c.Vector != nil {
		o.Vector = c.Vector
	}
	return o
}

// BatchSize is how many objects one batch request carries.
const BatchSize = 200

// PutChunks writes chunks (insert or replace, by id) in batches, each
// acknowledged at the store's consistency level, Config.Parallel batches in
// flight. A chunk without an ID gets ChunkUUID's. It returns when every
// batch is written, or with the first error (the server's per-object
// error, after the retries); the batches still in flight are then
// cancelled, and what they wrote may stay (a commit is repeated to
// converge, see Store).
func (s *Client) PutChunks(ctx context.Context, chunks []Chunk) error {
	objs := make([]*models.Object, len(chunks))
	for i, c := range chunks {
		if c.ID == "" {
			c.ID = ChunkUUID(c.Path, c.Ordinal, c.Text)
		}
		objs[i] = c.object(s.chunks)
	}
	return s.putBatches(ctx, "write chunks", objs)
}

// putBatches writes objs BatchSize at a time, Config.Parallel at once.
func (s *Client) putBatches(ctx context.Context, what string, objs []*models.Object) error {
	if len(objs) <= BatchSize {
		if len(objs) == 0 {
			return nil
		}
		return s.putObjects(ctx, what, objs)
	}
	g, ctx := errgroup.WithContext(ctx)
	g.SetLimit(s.cfg.Parallel)
	for start := 0; start < len(objs); start += BatchSize {
		batch := objs[start:min(start+BatchSize, len(objs))]
		g.Go(func() error { return s.putObjects(ctx, what, batch) })
	}
	return g.Wait()
}

// putObjects writes one batch, over gRPC when the server's endpoint
// answers (see overGRPC), else over REST.
func (s *Client) putObjects(ctx context.Context, what string, objs []*models.Object) error {
	return s.do(ctx, what, func(ctx context.Context) error {
		grpc, err := s.overGRPC(ctx)
		if err != nil {
			return err
		}
		if grpc {
			return s.putGRPC(ctx, objs)
		}
		resp, err := s.c.Batch().ObjectsBatcher().WithObjects(objs...).WithConsistencyLevel(s.cfg.Consistency).Do(ctx)
		if err != nil {
			return err
		}
		for _, r := range resp {
			if r.Result == nil || r.Result.Errors == nil || len(r.Result.Errors.Error) == 0 {
				continue
			}
			msg := r.Result.Errors.Error[0].Message
			return &graphQLError{msg: fmt.Sprintf("object %s: %s", r.ID, msg)}
		}
		return nil
	})
}

// File is a file's incremental state.
type File struct {
	Path      string
	Size      int64
	ModTime   int64 // UnixNano
	Hash      string
	Title     string
	Chunks    []string // ids of its chunks, in order
	IndexedAt int64    // UnixNano; 0 when unknown
}

func (f File) object(class string) *models.Object {
	chunks := f.Chunks
	if chunks == nil {
		chunks = []string{}
	}
	return &models.Object{
		Class: class,
		ID:    strfmt.UUID(FileUUID(f.Path)),
		Properties: map[string]any{
			"kind":      "file",
			"path":      f.Path,
			"size":      strconv.FormatInt(f.Size, 10),
			"mtime":     strconv.FormatInt(f.ModTime, 10),
			"hash":      f.Hash,
			"title":     f.Title,
			"chunks":    chunks,
			"indexedAt": strconv.FormatInt(f.IndexedAt, 10),
		},
	}
}

// PutFiles writes file states (insert or replace, by path). Written after
// a file's chunks, a state says its chunks are all there: a crash between
// the two leaves the old state (or none), so the next ingest reads the file
// again and converges.
func (s *Client) PutFiles(ctx context.Context, files []File) error {
	objs := make([]*models.Object, len(files))
	for i, f := range files {
		objs[i] = f.object(s.files)
	}
	return s.putBatches(ctx, "write files", objs)
}

var fileFields = []graphql.Field{
	{Name: "path"}, {Name: "size"}, {Name: "mtime"}, {Name: "hash"}, {Name: "title"},
	{Name: "chunks"}, {Name: "indexedAt"},
	{Name: "_additional", Fields: []graphql.Field{{Name: "id"}}},
}

func fileFrom(m map[string]any) File {
	f := File{
		Path:  str(m["path"]),
		Hash:  str(m["hash"]),
		Title: str(m["title"]),
	}
	f.Size, _ = strconv.ParseInt(str(m["size"]), 10, 64)
	f.ModTime, _ = strconv.ParseInt(str(m["mtime"]), 10, 64)
	f.IndexedAt, _ = strconv.ParseInt(str(m["indexedAt"]), 10, 64)
	f.Chunks = strs(m["chunks"])
	return f
}

// Files returns every file state, in no particular order, reading the
// collection page by page.
func (s *Client) Files(ctx context.Context) ([]File, error) {
	var out []File
	err := s.scan(ctx, s.files, fileFields, func(m map[string]any) {
		if str(m["path"]) != "" || len(strs(m["chunks"])) > 0 {
			out = append(out, fileFrom(m))
		}
	})
	return out, err
}

// FileState returns one file's state; ok is false when the store has none.
func (s *Client) FileState(ctx context.Context, path string) (File, bool, error) {
	rows, err := s.get(ctx, "read file", s.files, fileFields,
		filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path), 2)
	if err != nil || len(rows) == 0 {
		return File{}, false, err
	}
	return fileFrom(rows[0]), true, nil
}

// scan reads every object of class through the cursor API (GraphQL
// "after"), pageSize at a time.
func (s *Client) scan(ctx context.Context, class string, fields []graphql.Field, fn func(map[string]any)) error {
	const pageSize = 1000
	after := ""
	for {
		var rows []map[string]any
		err := s.do(ctx, "list "+class, func(ctx context.Context) error {
			b := s.c.GraphQL().Get().WithClassName(class).WithFields(fields...).WithLimit(pageSize)
			if after != "" {
				b = b.WithAfter(after)
			}
			// The cursor API does not take a consistency level.
			resp, err := b.Do(ctx)
			rows, err = results(resp, err, class)
			return err
		})
		if err != nil {
			return err
		}
		for _, r := range rows {
			fn(r)
		}
		if len(rows) < pageSize {
			return nil
		}
		after = additional(rows[len(rows)-1], "id")
	}
}

// get runs one filtered Get.
func (s *Client) get(ctx context.Context, what, class string, fields []graphql.Field, where *filters.WhereBuilder, limit int) ([]map[string]any, error) {
	var rows []map[string]any
	err := s.do(ctx, what, func(ctx context.Context) error {
		b := s.c.GraphQL().Get().WithClassName(class).WithFields(fields...).WithLimit(limit)
		if s.replicated {
			b = b.WithConsistencyLevel(s.cfg.Consistency)
		}
		if where != nil {
			b = b.WithWhere(where)
		}
		resp, err := b.Do(ctx)
		rows, err = results(resp, err, class)
		return err
	})
	return rows, err
}

// DeleteFile removes a file's chunks and its state: the state first, so a
// crash in between leaves chunks without a state, which the next ingest of
// the path replaces (same ids) or removes.
func (s *Client) DeleteFile(ctx context.Context, path string) error {
	if err := s.deleteWhere(ctx, "delete file", s.files,
		filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path)); err != nil {
		return err
	}
	return s.deleteWhere(ctx, "delete chunks", s.chunks,
		filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path))
}

// DeleteStaleChunks removes the chunks of path whose ids are not in keep:
// what an edit of the file left behind.
func (s *Client) DeleteStaleChunks(ctx context.Context, path string, keep []string) error {
	ids, err := s.ChunkIDsOf(ctx, path)
	if err != nil {
		return err
	}
	want := make(map[string]bool, len(keep))
	for _, id := range keep {
		want[id] = true
	}
	var stale []string
	for _, id := range ids {
		if !want[id] {
			stale = append(stale, id)
		}
	}
	return s.DeleteChunks(ctx, stale)
}

// DeleteChunks removes chunks by id.
func (s *Client) DeleteChunks(ctx context.Context, ids []string) error {
	for start := 0; start < len(ids); start += BatchSize {
		end := min(start+BatchSize, len(ids))
		if err := s.deleteWhere(ctx, "delete chunks", s.chunks,
			filters.Where().WithPath([]string{"id"}).WithOperator(filters.ContainsAny).WithValueText(ids[start:end]...)); err != nil {
			return err
		}
	}
	return nil
}

// ChunkIDsOf lists the ids of the chunks stored under path.
func (s *Client) ChunkIDsOf(ctx context.Context, path string) ([]string, error) {
	rows, err := s.get(ctx, "list chunks", s.chunks,
		[]graphql.Field{{Name: "_additional", Fields: []graphql.Field{{Name: "id"}}}},
		filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path), maxResults)
	if err != nil {
		return nil, err
	}
	ids := make([]string, 0, len(rows))
	for _, r := range rows {
		ids = append(ids, additional(r, "id"))
	}
	return ids, nil
}

// deleteWhere deletes what matches, in rounds: the server caps one batch
// delete at QUERY_MAXIMUM_RESULTS objects.
func (s *Client) deleteWhere(ctx context.Context, what, class string, where *filters.WhereBuilder) error {
	for round := 0; round < 1000; round++ {
		var matches, failed int64
		err := s.do(ctx, what, func(ctx context.Context) error {
			resp, err := s.c.Batch().ObjectsBatchDeleter().WithClassName(class).WithWhere(where).
				WithOutput("minimal").WithConsistencyLevel(s.cfg.Consistency).Do(ctx)
			if err != nil {
				return err
			}
			if resp.Results != nil {
				matches, failed = resp.Results.Matches, resp.Results.Failed
			}
			return nil
		})
		if err != nil {
			return err
		}
		if failed > 0 {
			return s.cfg.wrap(what, &graphQLError{msg: fmt.Sprintf("%d of %d deletions failed", failed, matches)})
		}
		if matches < maxResults {
			return nil
		}
	}
	return nil
}

// maxResults is Weaviate's default QUERY_MAXIMUM_RESULTS: the most objects
// one Get answers or one batch delete removes.
const maxResults = 10000

var chunkFields = []graphql.Field{
	{Name: "path"}, {Name: "title"}, {Name: "headings"}, {Name: "ordinal"},
	{Name: "startLine"}, {Name: "endLine"}, {Name: "page"}, {Name: "anchor"}, {Name: "text"},
	{Name: "terms"}, {Name: "vkey"},
}

func chunkFrom(m map[string]any) Chunk {
	return Chunk{
		ID:        additional(m, "id"),
		Path:      str(m["path"]),
		Title:     str(m["title"]),
		Headings:  strs(m["headings"]),
		Ordinal:   num(m["ordinal"]),
		StartLine: num(m["startLine"]),
		EndLine:   num(m["endLine"]),
		Page:      num(m["page"]),
		Anchor:    str(m["anchor"]),
		Text:      str(m["text"]),
		Terms:     str(m["terms"]),
		Key:       str(m["vkey"]),
		Vector:    floats(additionalAny(m, "vector")),
	}
}

func withAdditional(fields []graphql.Field, extra ...string) []graphql.Field {
	add := []graphql.Field{{Name: "id"}}
	for _, e := range extra {
		add = append(add, graphql.Field{Name: e})
	}
	return append(append([]graphql.Field(nil), fields...), graphql.Field{Name: "_additional", Fields: add})
}

// chunkSelection is what a chunk read asks for: its fields, its id and,
// withVectors, its vector.
func chunkSelection(withVectors bool) []graphql.Field {
	if withVectors {
		return withAdditional(chunkFields, "vector")
	}
	return withAdditional(chunkFields)
}

// Chunks returns the chunks with the given ids that exist, in the order
// of ids; withVectors also fetches their vectors.
func (s *Client) Chunks(ctx context.Context, ids []string, withVectors bool) ([]Chunk, error) {
	byID := make(map[string]Chunk, len(ids))
	for start := 0; start < len(ids); start += BatchSize {
		end := min(start+BatchSize, len(ids))
		rows, err := s.get(ctx, "read chunks", s.chunks, chunkSelection(withVectors),
			filters.Where().WithPath([]string{"id"}).WithOperator(filters.ContainsAny).WithValueText(ids[start:end]...), end-start)
		if err != nil {
			return nil, err
		}
		for _, r := range rows {
			c := chunkFrom(r)
			byID[c.ID] = c
		}
	}
	if err := s.readMissed(ctx, ids, byID, withVectors); err != nil {
		return nil, err
	}
	out := make([]Chunk, 0, len(byID))
	for _, id := range ids {
		if c, ok := byID[id]; ok {
			out = append(out, c)
		}
	}
	return out, nil
}

// readMissed reads one by one, from the objects themselves, the chunks of
// ids the id filter did not find. A Weaviate node killed in the middle of a
// batch write can come back holding objects whose filter index entries were
// lost, and writing the same object again does not restore them
// (weaviate/weaviate#4262): GET by id finds such a chunk, no where filter
// does (seen in weaviatecli.TestIngestWhileWeaviateDies: up to 52 of 966
// chunks). Without this, a search whose hit is one of them fails.
func (s *Client) readMissed(ctx context.Context, ids []string, byID map[string]Chunk, withVectors bool) error {
	for _, id := range ids {
		if _, ok := byID[id]; ok {
			continue
		}
		o, err := s.getObject(ctx, s.chunks, id, withVectors) // repair.go
		if err != nil {
			return err
		}
		if o == nil {
			continue // not stored
		}
		b, err := json.Marshal(o)
		if err != nil {
			return err
		}
		var obj struct {
			ID         string         `json:"id"`
			Properties map[string]any `json:"properties"`
			Vector     []any          `json:"vector"`
		}
		if err := json.Unmarshal(b, &obj); err != nil {
			return err
		}
		row := obj.Properties
		row["_additional"] = map[string]any{"id": obj.ID, "vector": obj.Vector}
		byID[id] = chunkFrom(row)
	}
	return nil
}

// ChunksOf returns the chunks stored under path, in file order.
func (s *Client) ChunksOf(ctx context.Context, path string, withVectors bool) ([]Chunk, error) {
	rows, err := s.get(ctx, "read chunks", s.chunks, chunkSelection(withVectors),
		filters.Where().WithPath([]string{"path"}).WithOperator(filters.Equal).WithValueText(path), maxResults)
	if err != nil {
		return nil, err
	}
	out := make([]Chunk, 0, len(rows))
	for _, r := range rows {
		out = append(out, chunkFrom(r))
	}
	sortChunks(out)
	return out, nil
}

// EachChunk calls fn for every stored chunk, in no particular order.
func (s *Client) EachChunk(ctx context.Context, withVectors bool, fn func(Chunk) error) error {
	var ferr error
	err := s.scan(ctx, s.chunks, chunkSelection(withVectors), func(m map[string]any) {
		if ferr == nil {
			ferr = fn(chunkFrom(m))
		}
	})
	if ferr != nil {
		return ferr
	}
	return err
}

// PendingChunks returns up to limit chunks stored without a vector.
func (s *Client) PendingChunks(ctx context.Context, limit int) ([]Chunk, error) {
	rows, err := s.get(ctx, "read pending chunks", s.chunks, withAdditional(chunkFields),
		filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(true), limit)
	if err != nil {
		return nil, err
	}
	out := make([]Chunk, 0, len(rows))
	for _, r := range rows {
		out = append(out, chunkFrom(r))
	}
	return out, nil
}

// VectorByKey returns a stored vector for an embedding key, if a chunk
// with that key has one: how an unchanged text reuses its vector.
func (s *Client) VectorByKey(ctx context.Context, key string) ([]float32, bool, error) {
	rows, err := s.get(ctx, "find vector", s.chunks, withAdditional([]graphql.Field{{Name: "vkey"}}, "vector"),
		filters.Where().WithOperator(filters.And).WithOperands([]*filters.WhereBuilder{
			filters.Where().WithPath([]string{"vkey"}).WithOperator(filters.Equal).WithValueText(key),
			filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(false),
		}), 1)
	if err != nil || len(rows) == 0 {
		return nil, false, err
	}
	v := floats(additionalAny(rows[0], "vector"))
	return v, v != nil, nil
}

// Count is the number of chunks and of pending chunks stored.
func (s *Client) Count(ctx context.Context) (chunks, pending int, err error) {
	count := func(where *filters.WhereBuilder) (int, error) {
		var n int
		err := s.do(ctx, "count chunks", func(ctx context.Context) error {
			b := s.c.GraphQL().Aggregate().WithClassName(s.chunks).WithFields(graphql.Field{Name: "meta", Fields: []graphql.Field{{Name: "count"}}})
			if where != nil {
				b = b.WithWhere(where)
			}
			resp, err := b.Do(ctx)
			if err != nil {
				return err
			}
			if len(resp.Errors) > 0 {
				return &graphQLError{msg: resp.Errors[0].Message}
			}
			agg, _ := resp.Data["Aggregate"].(map[string]any)
			rows, _ := agg[s.chunks].([]any)
			if len(rows) == 0 {
				return nil
			}
			row, _ := rows[0].(map[string]any)
			meta, _ := row["meta"].(map[string]any)
			n = num(meta["count"])
			return nil
		})
		return n, err
	}
	if chunks, err = count(nil); err != nil {
		return 0, 0, err
	}
	pending, err = count(filters.Where().WithPath([]string{"pending"}).WithOperator(filters.Equal).WithValueBoolean(true))
	return chunks, pending, err
}

// graphQLError is an error the server reported inside a 200 answer (a
// GraphQL error, a failed object of a batch).
type graphQLError struct{ msg string }

func (e *graphQLError) Error() string { return e.msg }

// transient reports messages of a cluster that could not reach enough
// replicas or a node that is going away: worth another try.
func (e *graphQLError) transient() bool {
	m := strings.ToLower(e.msg)
	for _, s := range []string{
		"connection refused", "connection reset", "consistency level", "cannot achieve",
		"broken pipe", "context deadline", "timeout", "eof", "no such host",
		"not enough replicas", "replica", "unavailable", "shutting down", "leader",
		"node not found", "resolve node",
	} {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}

// results pulls the rows of class out of a GraphQL Get answer.
func results(resp *models.GraphQLResponse, err error, class string) ([]map[string]any, error) {
	if err != nil {
		return nil, err
	}
	if len(resp.Errors) > 0 {
		return nil, &graphQLError{msg: resp.Errors[0].Message}
	}
	get, _ := resp.Data["Get"].(map[string]any)
	raw, ok := get[class].([]any)
	if !ok && get[class] != nil {
		return nil, errors.New("unexpected GraphQL answer")
	}
	rows := make([]map[string]any, 0, len(raw))
	for _, r := range raw {
		if m, ok := r.(map[string]any); ok {
			rows = append(rows, m)
		}
	}
	return rows, nil
}

func additionalAny(m map[string]any, key string) any {
	add, _ := m["_additional"].(map[string]any)
	return add[key]
}

func additional(m map[string]any, key string) string { return str(additionalAny(m, key)) }

func str(v any) string {
	s, _ := v.(string)
	return s
}

func strs(v any) []string {
	raw, _ := v.([]any)
	out := make([]string, 0, len(raw))
	for _, r := range raw {
		out = append(out, str(r))
	}
	return out
}

func num(v any) int {
	switch n := v.(type) {
	case float64:
		return int(n)
	case int:
		return n
	case int64:
		return int(n)
	}
	return 0
}

func float(v any) float64 {
	switch n := v.(type) {
	case float64:
		return n
	case string:
		f, _ := strconv.ParseFloat(n, 64)
		return f
	}
	return 0
}

func floats(v any) []float32 {
	raw, ok := v.([]any)
	if !ok || len(raw) == 0 {
		return nil
	}
	out := make([]float32, len(raw))
	for i, r := range raw {
		out[i] = float32(float(r))
	}
	return out
}
