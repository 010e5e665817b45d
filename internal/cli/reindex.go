package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
)

func (a *app) reindexCmd() *cobra.Command {
	o := ingestOptions{batch: ingest.DefaultBatchSize, maxSize: 64 << 20}
	var force bool
	c := &cobra.Command{
		Use:   "reindex",
		Short: "Rebuild the index from its files, e.g. for another embedding model",
		Long: `Rebuild the index from the files it holds: read, cut and embed every one of
them again into a new index beside the old one, then swap it in. The old index
keeps answering searches until the new one is complete, and stays as it was if
the rebuild fails or is interrupted.

Use it to change the embedding model (--embed-model) or the chunk size
(--chunk-tokens), which an index otherwise refuses to mix, or after rag check
reports damage. Files deleted from disk are dropped.`,
		Example: `  rag reindex --embed-model nomic-embed-text
  rag reindex --chunk-tokens 384`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.chunkTokens < 0 || o.parallel < 0 {
				return usagef("--chunk-tokens and --parallel must not be negative")
			}
			return a.runReindex(cmd.Context(), o, force)
		},
	}
	f := c.Flags()
	f.BoolVar(&a.json, "json", false, "print the rebuild's ingest summary as JSON on stdout")
	f.DurationVar(&o.wait, "wait", 10*time.Second, "how long to wait for a running ingest before giving up (exit 5)")
	f.IntVar(&o.chunkTokens, "chunk-tokens", 0, "chunk size for the rebuilt index (default: the current one)")
	f.IntVar(&o.parallel, "parallel", 0, fmt.Sprintf("embedding requests in flight (default $OLLAMA_NUM_PARALLEL, else %d)", ingest.DefaultParallel))
	f.BoolVar(&o.pull, "pull", false, "pull the embedding model if Ollama does not have it")
	f.BoolVar(&force, "force", false, "swap the rebuilt index in even if some files failed (their content is then lost)")
	return c
}

func (a *app) runReindex(ctx context.Context, o ingestOptions, force bool) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	if _, err := os.Stat(index.DBPath(s.Index)); err != nil {
		return fmt.Errorf("open index %s: %w", s.Index, index.ErrNoIndex)
	}
	unlock, err := index.Lock(ctx, s.Index, o.wait)
	if err != nil {
		return err
	}
	defer unlock()
	r, err := index.OpenReader(s.Index)
	if err != nil {
		var fe *index.FormatError
		if errors.As(err, &fe) {
			return withHint(err, "this rag cannot read that index's file list: ingest your folders into a new index (--index NEWDIR)")
		}
		return fmt.Errorf("open index %s: %w", s.Index, err)
	}
	paths, err := r.FilePaths()
	meta := r.Meta()
	r.Close()
	if err != nil {
		return err
	}
	if !s.EmbedExplicit {
		s.EmbedModel = meta.EmbedModel
	}
	s.EmbedExplicit = true
	s.ChunkTokens = meta.ChunkTokens
	if o.chunkTokens > 0 {
		s.ChunkTokens = o.chunkTokens
	}
	var roots []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			roots = append(roots, p)
		}
	}
	if len(roots) == 0 {
		return errors.New("none of the indexed files exists any more: nothing to rebuild from")
	}
	// Every file was indexed once: take them all again, secrets that were
	// included explicitly too.
	o.include = []string{"*"}
	live := s.Index
	s.Index = index.RebuildDir(live)
	if err := os.RemoveAll(s.Index); err != nil {
		return fmt.Errorf("clear an earlier rebuild: %w", err)
	}
	client, err := a.client(s)
	if err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: rebuilding %d files with %s, %d-token chunks\n", len(roots), s.EmbedModel, s.ChunkTokens)
	}
	p := a.progress()
	rep, err := ingest.Run(ctx, a.ingestOptions(roots, s, client, o, p))
	p.Done()
	if err == nil && rep.EmbedErr != nil {
		err = fmt.Errorf("embed: %w", rep.EmbedErr)
	}
	if err != nil {
		os.RemoveAll(s.Index)
		return withHint(fmt.Errorf("rebuild stopped, the index is unchanged: %w", err), "fix the cause and run rag reindex again")
	}
	if rep.Failed > 0 && !force {
		os.RemoveAll(s.Index)
		if !a.json {
			printIngestReport(a.s, rep, a.quiet)
		}
		return withHint(fmt.Errorf("%d files could not be read again; the index is unchanged", rep.Failed),
			"fix or remove those files and run rag reindex again, or add --force to drop them")
	}
	if err := index.MarkRebuilt(live); err != nil {
		return err
	}
	if err := index.Swap(live); err != nil {
		return err
	}
	rep.Index = live
	if a.json {
		if err := a.writeJSON(rep); err != nil {
			return err
		}
	} else {
		printIngestReport(a.s, rep, a.quiet)
	}
	if rep.Failed > 0 {
		return partialError{rep.Failed}
	}
	return nil
}
