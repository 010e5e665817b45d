package cli

import (
	"fmt"
	"github.com/ragcli/rag/internal/store/local"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
)

// Status is `rag status --json`.
type Status struct {
	Index         string    `json:"index"`
	FormatVersion int       `json:"format_version"`
	EmbedModel    string    `json:"embed_model"`
	Dim           int       `json:"dim"`
	ChunkTokens   int       `json:"chunk_tokens"`
	Files         int       `json:"files"`
	Chunks        int       `json:"chunks"`
	Pending       int       `json:"pending"` // chunks not embedded yet
	SizeBytes     int64     `json:"size_bytes"`
	Created       time.Time `json:"created"`
	LastIngest    time.Time `json:"last_ingest,omitzero"`
	// Ingest is how far a running ingest has got; absent when none runs.
	Ingest *index.Progress `json:"ingest,omitempty"`
}

func (a *app) statusCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "status",
		Short: "Show where the index is and what it holds",
		Args:  cobra.NoArgs,
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
			var running *index.Progress
			if _, isLocal := sto.(*local.Store); isLocal {
				if p, ok := index.Running(s.Index); ok {
					running = &p
				}
			}
			defer r.Close()
			st, err := r.Stats(ctx)
			if err != nil {
				return err
			}
			m := r.Meta()
			out := Status{Index: sto.Location(), FormatVersion: m.FormatVersion, EmbedModel: m.EmbedModel, Dim: m.Dim,
				ChunkTokens: m.ChunkTokens, Files: st.Files, Chunks: st.Chunks, Pending: st.Pending, SizeBytes: st.SizeBytes,
				Created: m.Created, LastIngest: m.LastIngest, Ingest: running}
			if a.json {
				return a.writeJSON(out)
			}
			last := "never"
			if !m.LastIngest.IsZero() {
				last = m.LastIngest.Local().Format(time.DateTime)
			}
			pending := ""
			if out.Pending > 0 {
				pending = fmt.Sprintf(" (%d not embedded yet: run rag ingest with Ollama up)", out.Pending)
			}
			fmt.Fprintf(a.s.Out, "index:        %s\nembed model:  %s (%d dimensions, %d-token chunks)\nfiles:        %d\nchunks:       %d%s\nsize:         %s\nlast ingest:  %s\n",
				out.Index, out.EmbedModel, out.Dim, out.ChunkTokens, out.Files, out.Chunks, pending, humanBytes(out.SizeBytes), last)
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
