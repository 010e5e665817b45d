package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/store"
)

func (a *app) migrateCmd() *cobra.Command {
	var (
		to   string
		wait time.Duration
	)
	c := &cobra.Command{
		Use:   "migrate --to URL|DIR",
		Short: "Copy the index into another store (Weaviate, or a local folder), vectors included",
		Long: `Copy every file of the index, its chunks, their vectors and the recorded roots
into another store: a Weaviate collection (--to weaviate://HOST:PORT/COLLECTION,
weaviates:// for https, API key from $RAG_WEAVIATE_API_KEY) or a local index
folder (--to DIR). The source is the index rag uses now: --index, or --store.

Nothing is embedded again: the vectors are copied as they are, and chunks
still pending in the source stay pending in the target. The target must be
empty or built with the same embedding model and chunk size. A copy that is
interrupted can be run again: files already in the target with the same
record are skipped, so it carries on, and a finished copy run again changes
nothing. Files only the target holds stay there.`,
		Example: `  rag migrate --to weaviate://127.0.0.1:8080/Notes
  rag migrate --store weaviate://db:8080/Notes --to ~/notes-index
  rag migrate --index ~/old-index --to ~/new-index --json`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return a.runMigrate(cmd.Context(), to, wait)
		},
	}
	c.Flags().StringVar(&to, "to", "", "the target: a store URL (weaviate://HOST:PORT/COLLECTION) or an index folder")
	c.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for a running ingest into the target (exit 5)")
	c.Flags().BoolVar(&a.json, "json", false, "print what was copied as JSON on stdout")
	return c
}

func (a *app) runMigrate(ctx context.Context, to string, wait time.Duration) error {
	if strings.TrimSpace(to) == "" {
		return usagef("give the target with --to URL or --to DIR")
	}
	s, err := a.settings()
	if err != nil {
		return err
	}
	from, err := a.openStore(ctx, s)
	if err != nil {
		return err
	}
	target := config.Settings{Sources: map[string]config.Source{"store": {Origin: config.FromFlag, Name: "--to"}}}
	if strings.Contains(to, "://") {
		target.Store = to
	} else if target.Index, err = filepath.Abs(to); err != nil {
		return usagef("resolve %s: %w", to, err)
	}
	dst, err := a.openStore(ctx, target)
	if err != nil {
		return err
	}
	p := a.progress()
	defer p.Done()
	rep, err := store.Copy(ctx, from, dst, store.CopyOptions{LockWait: wait, Progress: func(pr store.CopyProgress) {
		p.Update("[%d/%d files] %d chunks copied", pr.FilesDone, pr.FilesTotal, pr.Chunks)
	}})
	p.Done()
	if err != nil {
		return err
	}
	if a.json {
		return a.writeJSON(rep)
	}
	if !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: copied %d files (%d chunks: %d vectors, %d pending) from %s to %s; %d already there; %d roots, in %.1fs\n",
			rep.Files, rep.Chunks, rep.Vectors, rep.Pending, rep.From, rep.To, rep.Unchanged, rep.Roots, rep.Seconds)
	}
	return nil
}
