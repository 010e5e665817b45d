package weaviate

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/url"

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

// classExists reports whether the collection exists: as the node rag
// talks to knows it, and only when that node does not know it, as the Raft
// leader does (Weaviate's default, consistent read).
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
func (s *Client) classExists(ctx context.Context, name string) (bool, error) {
	local, err := s.classLocally(ctx, name)
	if err != nil || local != nil {
		return local != nil, err
	}
	var exists bool
	err = s.doSchema(ctx, "check collection "+name, func(ctx context.Context) error {
		var err error
		exists, err = s.c.Schema().ClassExistenceChecker().WithClassName(name).Do(ctx)
		return err
	})
	return exists, err
}

// classLocally is the collection as the node rag talks to knows it, nil
// when it does not: GET /v1/schema/{name} with the consistency header off,
// which the go client cannot send per request, over the client's
// connection and with the store's key.
func (s *Client) classLocally(ctx context.Context, name string) (*models.Class, error) {
	var class *models.Class
	err := s.doSchema(ctx, "check collection "+name, func(ctx context.Context) error {
		class = nil
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.cfg.Scheme+"://"+s.cfg.Host+"/v1/schema/"+url.PathEscape(name), nil)
		if err != nil {
			return err
		}
		req.Header.Set("consistency", "false")
		if s.cfg.APIKey != "" {
			req.Header.Set("Authorization", "Bearer "+s.cfg.APIKey)
		}
		resp, err := s.hc.Do(req)
		if err != nil {
			return err
		}
		defer resp.Body.Close()
		switch resp.StatusCode {
		case http.StatusOK:
			var c models.Class
			if err := json.NewDecoder(resp.Body).Decode(&c); err != nil {
				return err
			}
			class = &c
			return nil
		case http.StatusNotFound:
			return nil
		}
		msg, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10))
		return &fault.WeaviateClientError{IsUnexpectedStatusCode: true, StatusCode: resp.StatusCode, Msg: string(msg)}
	})
	return class, err
}

// loadIfExists loads the collections' replication (and marks the schema
// known) when they exist.
func (s *Client) loadIfExists(ctx context.Context) error {
	ok, err := s.Exists(ctx)
	if err != nil || !ok {
		return err
	}
	return s.loadReplication(ctx)
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
	r, err := s.ReplicationFactor(ctx)
	if err != nil {
		return err
	}
	s.replicated = r > 1
	s.schemaOK = true
	return nil
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
// server has it: as the node rag talks to knows it, else as the leader
// does (see classExists).
func (s *Client) ReplicationFactor(ctx context.Context) (int, error) {
	class, err := s.classLocally(ctx, s.chunks)
	if err == nil && class == nil {
		err = s.doSchema(ctx, "read collection "+s.chunks, func(ctx context.Context) error {
			var err error
			class, err = s.c.Schema().ClassGetter().WithClassName(s.chunks).Do(ctx)
			return err
		})
	}
	if err != nil {
		return 0, err
	}
	if class.ReplicationConfig == nil {
		return 1, nil
	}
	return int(class.ReplicationConfig.Factor), nil
}

// FormatVersion is the layout of the objects this package writes; a store
// written in another one is refused.
const FormatVersion = 1
