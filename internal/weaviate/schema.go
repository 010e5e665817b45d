package weaviate

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate/entities/models"
)

// HNSW settings of the chunks collection. Chosen for recall over build
// speed at rag's sizes (up to a few million 384-dimension vectors):
// maxConnections 32 (Weaviate's default) keeps the graph at about 256 bytes
// per vector on the base layer; efConstruction 128 (default) builds it;
// ef -1 lets Weaviate pick the query-time list size from the limit
// (dynamicEfFactor 8 x k, between 100 and 500), so top 10 searches with
// ef 100. Cosine distance: rag's vectors are normalised, so it is a dot
// product. docs/design.md has the recall measured with them.
var HNSW = map[string]any{
	"distance":        "cosine",
	"maxConnections":  32,
	"efConstruction":  128,
	"ef":              -1,
	"dynamicEfMin":    100,
	"dynamicEfMax":    500,
	"dynamicEfFactor": 8,
}

// BM25 parameters of the terms property: FTS5's (and Lucene's) k1 and b, so
// the Weaviate leg ranks as the local one does.
const (
	bm25K1 = 1.2
	bm25B  = 0.75
)

func boolp(b bool) *bool { return &b }

func textProp(name, tokenization string, filterable, searchable bool) *models.Property {
	p := &models.Property{
		Name:            name,
		DataType:        []string{"text"},
		IndexFilterable: boolp(filterable),
		IndexSearchable: boolp(searchable),
	}
	if filterable || searchable {
		p.Tokenization = tokenization
	}
	return p
}

func intProp(name string, filterable bool) *models.Property {
	return &models.Property{Name: name, DataType: []string{"int"}, IndexFilterable: boolp(filterable), IndexRangeFilters: boolp(false)}
}

func (s *Client) replication() *models.ReplicationConfig {
	rc := &models.ReplicationConfig{
		Factor: int64(s.cfg.Replication),
		// A chunk deleted on one replica and still present on another
		// (a node down during the delete) is resolved by time, so a file's
		// old chunks do not come back once the node returns.
		DeletionStrategy: models.ReplicationConfigDeletionStrategyTimeBasedResolution,
	}
	// With replicas, a node that was down catches up in the background
	// (hash-tree anti-entropy), not only when a read repairs an object.
	rc.AsyncEnabled = s.cfg.Replication > 1
	return rc
}

func (s *Client) chunksClass() *models.Class {
	return &models.Class{
		Class:             s.chunks,
		Description:       "rag chunks: text, provenance, analysed terms, embedding",
		Vectorizer:        "none",
		VectorIndexType:   "hnsw",
		VectorIndexConfig: HNSW,
		InvertedIndexConfig: &models.InvertedIndexConfig{
			Bm25: &models.BM25Config{K1: bm25K1, B: bm25B},
			// rag's analysis already dropped stopwords; Weaviate's
			// English list would drop terms rag kept.
			Stopwords: &models.StopwordConfig{Preset: "none"},
		},
		ReplicationConfig: s.replication(),
		Properties: []*models.Property{
			textProp("path", "field", true, false),
			textProp("title", "", false, false),
			{Name: "headings", DataType: []string{"text[]"}, IndexFilterable: boolp(false), IndexSearchable: boolp(false)},
			intProp("ordinal", false),
			intProp("startLine", false),
			intProp("endLine", false),
			intProp("page", false),
			textProp("anchor", "", false, false),
			textProp("text", "", false, false),
			textProp("terms", "whitespace", false, true),
			textProp("vkey", "field", true, false),
			{Name: "pending", DataType: []string{"boolean"}, IndexFilterable: boolp(true)},
		},
	}
}

func (s *Client) filesClass() *models.Class {
	return &models.Class{
		Class:             s.files,
		Description:       "rag files: incremental state of each file, and the store's settings",
		Vectorizer:        "none",
		VectorIndexType:   "hnsw",
		VectorIndexConfig: map[string]any{"skip": true},
		ReplicationConfig: s.replication(),
		Properties: []*models.Property{
			textProp("kind", "field", true, false), // "file", "root" or "meta"
			textProp("path", "field", true, false),
			// Sizes and times as decimal text: GraphQL answers numbers as
			// JSON floats, which cannot hold a UnixNano time exactly.
			textProp("size", "", false, false),
			textProp("mtime", "", false, false),
			textProp("hash", "", false, false),
			textProp("title", "", false, false),
			{Name: "chunks", DataType: []string{"text[]"}, IndexFilterable: boolp(false), IndexSearchable: boolp(false)},
			textProp("indexedAt", "", false, false),
			textProp("provider", "", false, false),
			textProp("model", "", false, false),
			textProp("dim", "", false, false),
			textProp("chunkTokens", "", false, false),
			textProp("format", "", false, false),
			textProp("created", "", false, false),
			textProp("lastIngest", "", false, false),
			textProp("dev", "", false, false),
			textProp("isDir", "", false, false),
		},
	}
}

// EnsureSchema creates the store's two collections if they do not exist.
// Collections that exist are left as they are (their replication factor
// included).
func (s *Client) EnsureSchema(ctx context.Context) error {
	if s.schemaOK {
		return nil
	}
	for _, class := range []*models.Class{s.chunksClass(), s.filesClass()} {
		if err := s.ensureClass(ctx, class); err != nil {
			return err
		}
	}
	return s.loadReplication(ctx)
}

// ensureClass creates class if it does not exist.
func (s *Client) ensureClass(ctx context.Context, class *models.Class) error {
	exists, err := s.classExists(ctx, class.Class)
	if err != nil || exists {
		return err
	}
	err = s.doSchema(ctx, "create collection "+class.Class, func(ctx context.Context) error {
		return s.c.Schema().ClassCreator().WithClass(class).Do(ctx)
	})
	if err != nil {
		// Another writer may have created it meanwhile.
		ok, cerr := s.c.Schema().ClassExistenceChecker().WithClassName(class.Class).Do(ctx)
		if cerr == nil && ok {
			return nil
		}
	}
	return err
}

// class is the collection as the server has it, nil when it does not
// exist: as the node rag talks to knows it, and only when that node does
// not know it, as the Raft leader does (Weaviate's default, consistent
// read).
//
// The local read first because a consistent schema read goes to the
// leader: when the leader has just died it waits for an election (a
// commit in TestClusterOneNodeDown once spent its whole 20 s budget so),
// and with no majority (two of three nodes down) it fails however long rag
// waits, though the node rag talks to knows the collection and can serve
// it. A collection does not vanish from a node's schema before it is
// deleted, so a local "yes" is as good as the leader's; a local "no" may be
// a collection another machine created a moment ago, which only the leader
// knows for sure, so it asks.
func (s *Client) class(ctx context.Context, name string) (*models.Class, error) {
	c, err := s.getClass(ctx, name, false)
	if err != nil || c != nil {
		return c, err
	}
	return s.getClass(ctx, name, true)
}

// classExists reports whether the collection exists (see class).
func (s *Client) classExists(ctx context.Context, name string) (bool, error) {
	c, err := s.class(ctx, name)
	return c != nil, err
}

// getClass is GET /v1/schema/{name}, nil when the collection does not
// exist; consistent false asks for the node's own schema rather than the
// leader's (the consistency header, which the go client cannot send per
// request).
func (s *Client) getClass(ctx context.Context, name string, consistent bool) (*models.Class, error) {
	var class *models.Class
	err := s.doSchema(ctx, "check collection "+name, func(ctx context.Context) error {
		var c models.Class
		err := s.getJSON(ctx, "/v1/schema/"+url.PathEscape(name), map[string]string{"consistency": strconv.FormatBool(consistent)}, &c)
		var we *fault.WeaviateClientError
		switch {
		case errors.As(err, &we) && we.StatusCode == http.StatusNotFound:
			class = nil
			return nil
		case err != nil:
			return err
		}
		class = &c
		return nil
	})
	return class, err
}

// getJSON is a plain GET of path with the store's key and header, over
// the client's connection, for the calls the go client has none for; an
// answer other than 200 is a *fault.WeaviateClientError, as the client's
// own calls give it.
func (s *Client) getJSON(ctx context.Context, path string, header map[string]string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Scheme+"://"+s.cfg.Host+path, nil)
	if err != nil {
		return err
	}
	for k, v := range header {
		req.Header.Set(k, v)
	}
	if s.cfg.APIKey != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
	}
	resp, err := s.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return &fault.WeaviateClientError{IsUnexpectedStatusCode: true, StatusCode: resp.StatusCode, Msg: string(msg)}
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// loadIfExists loads the collections' replication (and marks the schema
// known) when they exist.
func (s *Client) loadIfExists(ctx context.Context) error {
	c, err := s.class(ctx, s.chunks)
	if err != nil || c == nil {
		return err
	}
	s.known(c)
	return nil
}

// schemaClasses reads every collection of the server, what naming the
// read in its errors.
func (s *Client) schemaClasses(ctx context.Context, what string) ([]*models.Class, error) {
	var dump []*models.Class
	err := s.doSchema(ctx, what, func(ctx context.Context) error {
		d, err := s.c.Schema().Getter().Do(ctx)
		if err == nil {
			dump = d.Classes
		}
		return err
	})
	return dump, err
}

func (s *Client) loadReplication(ctx context.Context) error {
	c, err := s.chunksClassDef(ctx)
	if err != nil {
		return err
	}
	s.known(c)
	return nil
}

// known records what the chunks collection c says of the store: it exists,
// and whether it is replicated.
func (s *Client) known(c *models.Class) {
	s.replicated = replicationOf(c) > 1
	s.schemaOK = true
}

// Exists reports whether the store's collections exist.
func (s *Client) Exists(ctx context.Context) (bool, error) {
	return s.classExists(ctx, s.chunks)
}

// Drop deletes the store's collections, of every generation, and
// everything in them.
func (s *Client) Drop(ctx context.Context) error {
	gens, err := s.generations(ctx)
	if err != nil {
		return err
	}
	for _, g := range gens {
		if err := s.dropGeneration(ctx, g); err != nil {
			return err
		}
	}
	return s.dropClass(ctx, liveClass(s.cfg.Base))
}

// ReplicationFactor is the chunks collection's replication factor as the
// server has it (see class).
func (s *Client) ReplicationFactor(ctx context.Context) (int, error) {
	c, err := s.chunksClassDef(ctx)
	if err != nil {
		return 0, err
	}
	return replicationOf(c), nil
}

// chunksClassDef is the chunks collection as the server has it (see class);
// one that does not exist is the go client's error for it.
func (s *Client) chunksClassDef(ctx context.Context) (*models.Class, error) {
	c, err := s.class(ctx, s.chunks)
	if err == nil && c == nil {
		err = s.doSchema(ctx, "read collection "+s.chunks, func(ctx context.Context) error {
			var err error
			c, err = s.c.Schema().ClassGetter().WithClassName(s.chunks).Do(ctx)
			return err
		})
	}
	return c, err
}

func replicationOf(c *models.Class) int {
	if c.ReplicationConfig == nil {
		return 1
	}
	return int(c.ReplicationConfig.Factor)
}

// FormatVersion is the layout of the objects this package writes; a store
// written in another one is refused.
const FormatVersion = 1
