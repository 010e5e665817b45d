package cli

import (
	"context"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/server"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/weaviate"
)

// Status is `rag status --json`: the index's status, as the MCP status tool
// and /v1/status give it (without chat_model, which rag status leaves out),
// and what only rag status shows.
type Status struct {
	server.Status
	// Ingest is how far a running ingest has got; absent when none runs,
	// and for a store that cannot tell.
	Ingest *index.Progress `json:"ingest,omitempty"`
	// Store is what a remote store's engine says of itself; absent for the
	// local index. Status.SizeBytes is absent for a store that does not
	// report one (Weaviate: see Store.NotReported).
	Store *StatusStore `json:"store,omitempty"`
}

// StatusStore is what rag status shows of a Weaviate store's server.
type StatusStore struct {
	Engine       string `json:"engine"` // "weaviate"
	Version      string `json:"version"`
	Nodes        int    `json:"nodes"`
	NodesHealthy int    `json:"nodes_healthy"`
	// Unhealthy names the other nodes with their status ("node2: UNAVAILABLE").
	Unhealthy   []string `json:"unhealthy"`
	Replication int      `json:"replication_factor"`
	// Indexing says Weaviate is still building the vector index of some
	// chunks (Queued of them wait in its queue): vector search may miss them.
	Indexing bool  `json:"indexing"`
	Queued   int64 `json:"queued,omitempty"`
	// NotReported names the fields above that this store cannot give:
	// size_bytes (Weaviate reports no size per collection) and ingest (a
	// rag ingest into it, from this machine or another, leaves no trace
	// readers can see while it runs); "server" when the server would not
	// say what the fields of this object hold (Error says why).
	NotReported []string `json:"not_reported"`
	Error       string   `json:"error,omitempty"`
}

// storeInfo asks a remote store's engine about itself; nil for the local
// index (and for a store that is not Weaviate). A server that will not say
// (a key without the permission to read the cluster's nodes) is no reason
// to fail rag status: the server's part is then "not reported" too, with
// why in Error.
func storeInfo(ctx context.Context, st store.Store) *StatusStore {
	ws, ok := st.(*weaviate.Store)
	if !ok {
		return nil
	}
	out := &StatusStore{Engine: "weaviate", Unhealthy: []string{}, NotReported: []string{"size_bytes", "ingest"}}
	c, err := ws.Client(ctx)
	if err == nil {
		var in weaviate.Info
		if in, err = c.Info(ctx); err == nil {
			out.Version, out.Nodes, out.NodesHealthy, out.Unhealthy = in.Version, in.Nodes, in.Healthy, cmpList(in.Unhealthy)
			out.Replication, out.Indexing, out.Queued = in.Replication, in.Indexing, in.Queued
			return out
		}
	}
	out.NotReported = append(out.NotReported, "server")
	out.Error = oneLine(err.Error())
	return out
}

// cmpList is l, or an empty list for --json's [] instead of null.
func cmpList(l []string) []string {
	if l == nil {
		return []string{}
	}
	return l
}

func (a *app) statusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show where the index is and what it holds",
		Long: `Show where the index is and what it holds: the embedding model, files,
chunks (and those not embedded yet), the size on disk, the last ingest, and
how far a running ingest has got.

Against a Weaviate store (--store weaviate://...) it also shows the server's
version, its nodes (how many are healthy) and the collection's replication
factor, and whether Weaviate is still indexing vectors. Weaviate reports no
size per collection and cannot see a running rag ingest: both say "not
reported by Weaviate" (absent from --json, listed in store.not_reported).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			ctx := cmd.Context()
			sto, r, err := a.openReader(ctx, s) // store.go
			if err != nil {
				return err
			}
			defer r.Close()
			var running *index.Progress
			if _, isLocal := sto.(*local.Store); isLocal {
				if p, ok := index.Running(s.Index); ok {
					running = &p
				}
			}
			held, err := server.StatusOf(ctx, sto, r)
			if err != nil {
				return err
			}
			engine := storeInfo(ctx, sto)
			out := Status{Status: *held, Ingest: running, Store: engine}
			if a.json {
				return a.writeJSON(out)
			}
			last := "never"
			if !out.LastIngest.IsZero() {
				last = out.LastIngest.Local().Format(time.DateTime)
			}
			pending := ""
			if out.Pending > 0 {
				pending = fmt.Sprintf(" (%d not embedded yet: run rag ingest with Ollama up)", out.Pending)
			}
			size := "not reported by Weaviate"
			if out.SizeBytes != nil {
				size = humanBytes(*out.SizeBytes)
			}
			fmt.Fprintf(a.s.Out, "index:        %s\nembed model:  %s (%d dimensions, %d-token chunks)\nfiles:        %d\nchunks:       %d%s\nsize:         %s\nlast ingest:  %s\n",
				out.Index, out.EmbedModel, out.Dim, out.ChunkTokens, out.Files, out.Chunks, pending, size, last)
			writeStoreLines(a.s.Out, engine)
			if running != nil {
				what := "an ingest"
				if running.First {
					what = "the first ingest"
				}
				fmt.Fprintf(a.s.Out, "ingest:       %s is running (pid %d): %s; the counts above are what it has committed\n", what, running.PID, running)
			}
			return nil
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print the status as JSON on stdout")
	return c
}

// writeStoreLines prints what a remote store reports about itself. The
// version and node names come from the server: printed as text, never as
// terminal controls.
func writeStoreLines(w io.Writer, engine *StatusStore) {
	switch {
	case engine == nil:
		return
	case engine.Error != "":
		fmt.Fprintf(w, "server:       not reported by Weaviate (%s)\n", iostreams.Sanitize(engine.Error))
	default:
		nodes := fmt.Sprintf("%d of %d healthy", engine.NodesHealthy, engine.Nodes)
		if len(engine.Unhealthy) > 0 {
			nodes += " (" + iostreams.Sanitize(strings.Join(engine.Unhealthy, ", ")) + ")"
		}
		fmt.Fprintf(w, "server:       weaviate %s, nodes %s, replication factor %d\n", iostreams.Sanitize(engine.Version), nodes, engine.Replication)
		if engine.Indexing || engine.Queued > 0 {
			fmt.Fprintf(w, "indexing:     weaviate is still indexing vectors (%d queued): vector search may miss the newest chunks\n", engine.Queued)
		}
	}
	fmt.Fprintln(w, "ingest:       not reported by Weaviate (a running rag ingest leaves no trace it can show)")
}

func humanBytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
