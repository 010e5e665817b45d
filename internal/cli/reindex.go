package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
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
reports damage. Files deleted from disk are dropped.

Files under a recorded root that does not exist on this machine (an unmounted
disk, or in a shared Weaviate collection another machine's root) are never
dropped: they are carried over from the old index as they are, and with
another --embed-model re-embedded from their stored text. Another
--chunk-tokens needs their files: the rebuild then refuses, naming the roots
(run it where they are, or add --force to drop them).

With --store weaviate://..., the new index is a new generation of the
collection (COLLECTIONChunks_N and COLLECTIONFiles_N beside the old pair);
the swap is one object written (COLLECTIONLive), after which every command,
and a running rag serve, uses the new generation; the old one is deleted a
moment later. A rebuild that is interrupted, even by kill -9, leaves the old
generation untouched, and the next rag reindex deletes what it left. Nothing
is locked in Weaviate: an ingest into the collection while it runs writes into
the old generation (it says so if it meets the swap: run it again), and of two
reindex runs of one collection at once the earlier one refuses to swap.`,
		Example: `  rag reindex --embed-model nomic-embed-text
  rag reindex --chunk-tokens 384
  rag reindex --store weaviate://127.0.0.1:8080/Docs --embed-model nomic-embed-text`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if cmd.Flags().Changed("chunk-tokens") && o.chunkTokens < 1 {
				return usagef("--chunk-tokens must be at least 1, not %d", o.chunkTokens)
			}
			if o.parallel < 0 {
				return usagef("--parallel must not be negative")
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
	f.BoolVar(&force, "force", false, "swap the rebuilt index in even if some files failed, and drop files this machine cannot read that a new chunk size needs (their content is then lost)")
	return c
}

func (a *app) runReindex(ctx context.Context, o ingestOptions, force bool) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	if o.chunkTokens > 0 {
		s.ChunkTokens = o.chunkTokens
	} else {
		s.ChunkTokens = 0 // keep the index's
	}
	client, err := a.client(s)
	if err != nil {
		return err
	}
	p := a.progress()
	defer p.Done()
	opts := ingest.RebuildOptions{Options: a.ingestOptions(nil, s, client, o, p), Force: force}
	if opts.Store, err = a.openStore(ctx, s); err != nil {
		return err
	}
	opts.OnStart = func(files, carried int, model string, chunkTokens int) {
		if a.quiet {
			return
		}
		fmt.Fprintf(a.s.Err, "rag: rebuilding %d files with %s, %d-token chunks\n", files, model, chunkTokens)
		if carried > 0 {
			fmt.Fprintf(a.s.Err, "rag: carrying over %d files under roots not on this machine\n", carried)
		}
	}
	rep, err := ingest.Rebuild(ctx, opts)
	p.Done()
	if fe, ok := errors.AsType[*index.FormatError](err); ok {
		return withHint(fe, "this rag cannot read that index's file list: ingest your folders into a new index (--index NEWDIR, or another --store collection)")
	}
	if lost, ok := errors.AsType[*ingest.RebuildLostFilesError](err); ok {
		if !a.json {
			printIngestReport(a.s, lost.Report, a.quiet)
		}
		return withHint(err, "fix or remove those files and run rag reindex again, or add --force to drop them")
	}
	if away, ok := errors.AsType[*ingest.RebuildElsewhereError](err); ok {
		return withHint(err, "run rag reindex --chunk-tokens on a machine that has %s, or add --force to drop those files", strings.Join(away.Roots, ", "))
	}
	if err != nil {
		return err
	}
	if a.json {
		if err := a.writeJSON(rep); err != nil {
			return err
		}
	} else {
		printIngestReport(a.s, rep, a.quiet)
		for _, k := range rep.KeptRoots {
			fmt.Fprintf(a.s.Err, "rag: kept %d files under %s: %s\n", k.Files, iostreams.Sanitize(k.Root), k.Reason)
		}
	}
	if rep.Failed > 0 {
		return partialError{rep.Failed}
	}
	return nil
}
