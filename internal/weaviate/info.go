package weaviate

import (
	"context"
	"sort"
	"strings"

	schemapkg "github.com/weaviate/weaviate-go-client/v5/weaviate/schema"
	"github.com/weaviate/weaviate/entities/models"
)

// Info is what the server says of itself and of the store's collection:
// what rag status and rag doctor show of a Weaviate store. Weaviate reports
// no size on disk for a collection, and knows nothing of a rag ingest.
type Info struct {
	// Version is the version of the node rag talks to.
	Version string
	// Nodes counts the cluster's nodes; Healthy those that say HEALTHY.
	Nodes, Healthy int
	// Unhealthy names the others, with their status ("node2: UNAVAILABLE").
	Unhealthy []string
	// Exists says the store's collections exist; the rest is zero otherwise.
	Exists bool
	// Replication is the chunks collection's replication factor.
	Replication int
	// Indexing is set while a shard of the chunks collection is still
	// building its vector index (Weaviate's vectorIndexingStatus INDEXING);
	// Queued counts the vectors waiting in its asynchronous indexing queue.
	Indexing bool
	Queued   int64
}

// Info asks the server for its version, its nodes and the chunks
// collection's replication and indexing state (two or three requests).
func (s *Client) Info(ctx context.Context) (Info, error) {
	var in Info
	var meta *models.Meta
	if err := s.do(ctx, "read server version", func(ctx context.Context) error {
		var err error
		meta, err = s.c.Misc().MetaGetter().Do(ctx)
		return err
	}); err != nil {
		return in, err
	}
	in.Version = meta.Version
	exists, err := s.Exists(ctx)
	if err != nil {
		return in, err
	}
	in.Exists = exists
	if exists {
		if in.Replication, err = s.ReplicationFactor(ctx); err != nil {
			return in, err
		}
	}
	var nodes *models.NodesStatusResponse
	if err := s.do(ctx, "read cluster nodes", func(ctx context.Context) error {
		g := s.c.Cluster().NodesStatusGetter().WithOutput("verbose")
		if exists {
			g = g.WithClass(s.chunks)
		}
		var err error
		nodes, err = g.Do(ctx)
		return err
	}); err != nil {
		return in, err
	}
	for _, n := range nodes.Nodes {
		if n == nil {
			continue
		}
		in.Nodes++
		st := "UNKNOWN"
		if n.Status != nil {
			st = *n.Status
		}
		if st == models.NodeStatusStatusHEALTHY {
			in.Healthy++
		} else {
			in.Unhealthy = append(in.Unhealthy, n.Name+": "+st)
		}
		for _, sh := range n.Shards {
			if sh == nil || sh.Class != s.chunks {
				continue
			}
			if sh.VectorIndexingStatus == "INDEXING" {
				in.Indexing = true
			}
			in.Queued += sh.VectorQueueLength
		}
	}
	sort.Strings(in.Unhealthy)
	return in, nil
}

// Stores lists the base names of the stores on the server whose name
// starts with prefix: those that have a chunks collection ("Rag" for
// RagChunks). rag eval --beir finds its scratch collections with it.
func (s *Client) Stores(ctx context.Context, prefix string) ([]string, error) {
	var schema *schemapkg.Dump
	if err := s.doSchema(ctx, "list collections", func(ctx context.Context) error {
		var err error
		schema, err = s.c.Schema().Getter().Do(ctx)
		return err
	}); err != nil {
		return nil, err
	}
	var out []string
	for _, c := range schema.Classes {
		if c == nil {
			continue
		}
		if base, ok := strings.CutSuffix(c.Class, "Chunks"); ok && strings.HasPrefix(base, prefix) {
			out = append(out, base)
		}
	}
	sort.Strings(out)
	return out, nil
}
