package weaviate

import (
	"context"
	"slices"
	"sort"
	"strings"

	"github.com/weaviate/weaviate/entities/models"

	"github.com/ragcli/rag/internal/store"
)

// Info is what the server says of itself and of the store's collection:
// what rag status and rag doctor show of a Weaviate store. Weaviate reports
// no size on disk for a collection, and knows nothing of a rag ingest.
type Info struct {
	// Version is the version of the node rag talks to.
	Version string
	// Nodes counts the cluster's nodes (those that answer, and the members
	// of its Raft configuration that do not); Healthy those that say HEALTHY.
	Nodes, Healthy int
	// Unhealthy names the others, with their status ("node2: UNAVAILABLE",
	// "node2: not answering").
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
// collection's replication and indexing state (four to six requests).
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
	c, err := s.class(ctx, s.chunks)
	if err != nil {
		return in, err
	}
	if in.Exists = c != nil; in.Exists {
		in.Replication = replicationOf(c)
	}
	// The nodes: /v1/nodes leaves out a node that has died (memberlist
	// dropped it), so the cluster's members come from the Raft
	// configuration (/v1/cluster/statistics), and a member /v1/nodes does
	// not list is not answering.
	nodes, err := s.nodes(ctx, "", "minimal")
	if err != nil {
		return in, err
	}
	seen := map[string]bool{}
	for _, n := range nodes.Nodes {
		if n == nil {
			continue
		}
		seen[n.Name] = true
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
	}
	members, err := s.raftMembers(ctx)
	if err != nil {
		return in, err
	}
	for _, m := range members {
		if !seen[m] {
			seen[m] = true
			in.Nodes++
			in.Unhealthy = append(in.Unhealthy, m+": not answering")
		}
	}
	if in.Exists {
		shards, err := s.nodes(ctx, s.chunks, "verbose")
		if err != nil {
			return in, err
		}
		for _, n := range shards.Nodes {
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
	}
	sort.Strings(in.Unhealthy)
	return in, nil
}

// raftMembers names the nodes of the cluster's Raft configuration, as the
// nodes that answer GET /v1/cluster/statistics list them (a plain GET: the
// go client has no call for it).
func (s *Client) raftMembers(ctx context.Context) ([]string, error) {
	var body struct {
		Statistics []struct {
			Raft struct {
				LatestConfiguration []struct {
					ID string `json:"id"`
				} `json:"latestConfiguration"`
			} `json:"raft"`
		} `json:"statistics"`
	}
	err := s.do(ctx, "read cluster statistics", func(ctx context.Context) error {
		return s.getJSON(ctx, "/v1/cluster/statistics", nil, &body)
	})
	if err != nil {
		return nil, err
	}
	var out []string
	for _, st := range body.Statistics {
		for _, m := range st.Raft.LatestConfiguration {
			if m.ID != "" && !slices.Contains(out, m.ID) {
				out = append(out, m.ID)
			}
		}
	}
	sort.Strings(out)
	return out, nil
}

// nodes is GET /v1/nodes[/class]?output=output.
func (s *Client) nodes(ctx context.Context, class, output string) (*models.NodesStatusResponse, error) {
	var out *models.NodesStatusResponse
	err := s.do(ctx, "read cluster nodes", func(ctx context.Context) error {
		g := s.c.Cluster().NodesStatusGetter().WithOutput(output)
		if class != "" {
			g = g.WithClass(class)
		}
		var err error
		out, err = g.Do(ctx)
		return err
	})
	return out, err
}

// Stores lists the base names of the stores on the server whose name
// starts with prefix: those that have a chunks collection ("Rag" for
// RagChunks). rag eval --beir finds its scratch collections with it.
func (s *Client) Stores(ctx context.Context, prefix string) ([]string, error) {
	classes, err := s.schemaClasses(ctx, "list collections")
	if err != nil {
		return nil, err
	}
	var out []string
	for _, c := range classes {
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

// EachFileText is EachFile without the vectors (Put.Vectors nil): what rag
// audit reads, which compares texts only.
func (r *Reader) EachFileText(ctx context.Context, fn func(store.Put) error) error {
	return r.eachFile(ctx, false, fn)
}
