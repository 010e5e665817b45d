package cli

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
)

type ingestOptions struct {
	pdf         string
	wait        time.Duration
	parallel    int
	batch       int
	chunkTokens int
	include     []string
	maxSize     int64
	pull        bool
	prune       bool
	ocr         bool
}

func (a *app) ingestCmd() *cobra.Command {
	var o ingestOptions
	c := &cobra.Command{
		Use:   "ingest [PATH...]",
		Short: "Index folders and files, or bring an index up to date",
		Long: `Index the given folders and files, or bring the index up to date with them.

rag walks each folder the way ripgrep does: hidden files and folders, .git,
node_modules and whatever .gitignore, .ignore or .ragignore exclude are left
out, and so are binary files, symbolic links and secrets (.env, private keys,
credentials) unless --include names them. Markdown, text, HTML, PDF, DOCX and
source code are read, cut into chunks that fit the embedding model, embedded
by Ollama and stored in the index.

Ingest is safe to re-run and to interrupt: files whose size and modification
time are unchanged are not read again, unchanged content is never re-embedded,
files deleted from disk leave the index, and each batch of files is committed
atomically, so Ctrl-C or a crash keeps everything committed before it.
Without paths, it refreshes every folder and file the index was built from.

It never deletes what may still be there: when a root is missing, is no longer
a folder, is empty, lies on another file system than when it was indexed, or
has lost more than half of its indexed files at once, its files stay in the
index, the run exits 3, and the warning names the root. Confirm the removal
with --prune, or remove something on purpose with rag forget.

One file that cannot be read never stops the run: it is listed, and the exit
code is 3. A store (--store) that stops answering part way, after its retries,
stops the writing: what was committed stays, the files not written are counted
(files_not_written in --json), and the exit code is 3; run rag ingest again when
it is back. A store that cannot be reached when the run starts is an error
(exit 1) and nothing is read. --json prints a summary object on stdout.`,
		Example: `  rag ingest ~/notes ~/papers
  rag ingest --index ./.rag docs/          # a project's own index
  rag ingest --json ~/notes | jq .failed_files
  rag ingest                               # refresh every indexed folder
  */15 * * * *  rag ingest --quiet           # from cron`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if cmd.Flags().Changed("chunk-tokens") && o.chunkTokens < 1 {
				return usagef("--chunk-tokens must be at least 1, not %d", o.chunkTokens)
			}
			return a.runIngest(cmd.Context(), args, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&a.json, "json", false, "print a JSON summary on stdout")
	f.DurationVar(&o.wait, "wait", 10*time.Second, "how long to wait for another ingest to finish before giving up (exit 5)")
	f.IntVar(&o.parallel, "parallel", 0, fmt.Sprintf("embedding requests in flight (default $OLLAMA_NUM_PARALLEL, else %d)", ingest.DefaultParallel))
	f.IntVar(&o.batch, "batch-size", ingest.DefaultBatchSize, "chunks per embedding request")
	f.IntVar(&o.chunkTokens, "chunk-tokens", 0, fmt.Sprintf("chunk size in estimated tokens, fixed per index (default %d, capped to the model's context)", config.DefaultChunkTokens))
	f.StringSliceVar(&o.include, "include", nil, "gitignore-style patterns to index even if they look like secrets or are hidden (repeatable)")
	f.Int64Var(&o.maxSize, "max-file-size", 64<<20, "skip files larger than this many bytes")
	f.BoolVar(&o.pull, "pull", false, "pull the embedding model if Ollama does not have it")
	f.BoolVar(&o.prune, "prune", false, "remove the files of a root that is missing, emptied or replaced, which ingest otherwise keeps")
	f.BoolVar(&o.ocr, "ocr", false, "read PDF pages without a text layer with OCR (pdftoppm and tesseract; config ocr: true)")
	f.StringVar(&o.pdf, "pdf", extract.PDFAuto, "PDF text extractor: auto (built-in, then pdftotext from poppler-utils for files it cannot read), builtin, or pdftotext")
	return c
}

func (a *app) runIngest(ctx context.Context, roots []string, o ingestOptions) error {
	if o.parallel < 0 || o.batch < 1 || o.chunkTokens < 0 {
		return usagef("--batch-size must be at least 1, --parallel and --chunk-tokens not negative")
	}
	if err := checkPDF(o.pdf); err != nil {
		return err
	}
	s, err := a.settings()
	if err != nil {
		return err
	}
	if o.chunkTokens > 0 {
		s.ChunkTokens = o.chunkTokens
	}
	if o.ocr {
		s.OCR = true
	}
	if err := checkOCR(s.OCR); err != nil {
		return err
	}
	client, err := a.client(s)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, s)
	if err != nil {
		return err
	}
	p := a.progress()
	defer p.Done()
	opts := a.ingestOptions(roots, s, client, o, p)
	opts.Store = st
	rep, err := ingestRun(ctx, opts)
	p.Done()
	// A store that went away part way is a partial run, like a model
	// server that did: the report says what was committed, and the next
	// run writes the rest.
	down, _ := errors.AsType[*ingest.StoreDownError](err)
	if err != nil && down == nil {
		if _, full := errors.AsType[*index.DiskFullError](err); rep != nil && !a.json && !full {
			printIngestReport(a.s, rep, a.quiet) // what was committed before the error
		}
		return err
	}
	if a.json {
		if err := a.writeJSON(rep); err != nil {
			return err
		}
	} else {
		printIngestReport(a.s, rep, a.quiet)
	}
	switch {
	case rep.ChunksPending > 0:
		fmt.Fprintf(a.s.Err, "rag: warning: %s: %d chunks are stored without embeddings; they are searchable by their words (--mode lexical) and will be embedded by the next rag ingest once Ollama is up\n",
			firstLine(rep.EmbedError), rep.ChunksPending)
	case rep.EmbedError != "":
		// Nothing new, but chunks of earlier runs still wait for the server.
		fmt.Fprintf(a.s.Err, "rag: warning: %s: the chunks already waiting for embeddings stay pending (rag status counts them); they are searchable by their words (--mode lexical) and will be embedded by the next rag ingest once Ollama is up\n",
			firstLine(rep.EmbedError))
	}
	printKeptRoots(a.s, rep.KeptRoots)
	if down != nil {
		fmt.Fprintf(a.s.Err, "rag: error: %s\n", oneLine(iostreams.Sanitize(down.Error())))
		fmt.Fprintf(a.s.Err, "rag: hint: run rag ingest again when it is back: the files not written are not recorded in the store, so the next run writes them (what was committed stays, and nothing half-written is searchable)\n")
		return partialError{rep.Failed}
	}
	if rep.Failed > 0 || rep.ChunksPending > 0 || rep.EmbedError != "" || len(rep.KeptRoots) > 0 {
		return partialError{rep.Failed}
	}
	return nil
}

// ingestRun is ingest.Run; a test replaces it to give rag ingest a store
// that goes away, which make test has no server for.
var ingestRun = ingest.Run

const maxListed = 20

// printKeptRoots warns about roots whose missing files were kept, and names
// the commands that remove them on purpose.
func printKeptRoots(s *iostreams.Streams, kept []ingest.KeptRoot) {
	for _, k := range kept {
		root := iostreams.Sanitize(k.Root)
		fmt.Fprintf(s.Err, "rag: warning: kept the %d indexed files under %s that were not found: %s\n", k.Gone, root, k.Reason)
		fmt.Fprintf(s.Err, "rag: hint: if they are gone for good, run: rag ingest --prune %s (or rag forget %s)\n", shellQuote(k.Root), shellQuote(k.Root))
	}
}

// shellQuote quotes p for a command line a user can paste.
func shellQuote(p string) string {
	if p != "" && strings.IndexFunc(p, func(r rune) bool {
		return !(r == '/' || r == '.' || r == '-' || r == '_' || r == '~' || r >= '0' && r <= '9' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z')
	}) < 0 {
		return p
	}
	return "'" + strings.ReplaceAll(iostreams.Sanitize(p), "'", `'\''`) + "'"
}

// printIngestReport lists failed and skipped files and a summary on stderr;
// quiet keeps only the failures.
func printIngestReport(s *iostreams.Streams, r *ingest.Report, quiet bool) {
	list := func(kind string, ps []ingest.Problem) {
		for i, p := range ps {
			if i == maxListed {
				fmt.Fprintf(s.Err, "  ... and %d more %s (see --json)\n", len(ps)-maxListed, kind)
				break
			}
			fmt.Fprintf(s.Err, "  %s %s: %s\n", kind, iostreams.Sanitize(p.Path), iostreams.Sanitize(p.Reason))
		}
	}
	list("failed", r.FailedFiles)
	if quiet {
		return
	}
	list("read", r.ReadNotes) // read another way than the usual one
	list("redacted", r.Redacted)
	if len(r.SkippedFiles) <= 5 {
		list("skipped", r.SkippedFiles)
	} else {
		// Many skips are routine (empty pages, images): count them by reason.
		counts := map[string]int{}
		var reasons []string
		for _, p := range r.SkippedFiles {
			if counts[p.Reason] == 0 {
				reasons = append(reasons, p.Reason)
			}
			counts[p.Reason]++
		}
		sort.Slice(reasons, func(i, j int) bool { return counts[reasons[i]] > counts[reasons[j]] })
		parts := make([]string, len(reasons))
		for i, reason := range reasons {
			parts[i] = fmt.Sprintf("%d %s", counts[reason], iostreams.Sanitize(reason))
		}
		fmt.Fprintf(s.Err, "  skipped %d files: %s (rag ingest --json lists them)\n", len(r.SkippedFiles), strings.Join(parts, ", "))
	}
	pending := ""
	if r.ChunksPending > 0 {
		pending = fmt.Sprintf(", %d pending", r.ChunksPending)
	}
	fmt.Fprintf(s.Err, "rag: %d added, %d updated, %d unchanged, %d removed, %d skipped, %d failed; %d chunks embedded%s in %.1fs\n",
		r.Added, r.Updated, r.Unchanged, r.Removed, len(r.SkippedFiles), len(r.FailedFiles), r.ChunksEmbedded, pending, r.Duration.Seconds())
}

// ingestOptions builds the one ingest configuration every command uses.
// A nil client ingests without embeddings (chunks stay pending).
func (a *app) ingestOptions(roots []string, s config.Settings, client *ollama.Client, o ingestOptions, p *iostreams.Progress) ingest.Options {
	opts := ingest.Options{
		Roots:    roots,
		IndexDir: s.Index,
		Index: index.Settings{EmbedModel: s.EmbedModel, EmbedExplicit: s.EmbedExplicit,
			ChunkTokens: s.ChunkTokens, DefaultChunkTokens: config.DefaultChunkTokens},
		Embedder: func(ctx context.Context, model string) (embed.Embedder, int, error) {
			if client == nil {
				return nil, 0, embed.ErrUnavailable
			}
			return a.embeddersFor(s, client, o.pull)(ctx, model, false) // providers.go
		},
		LockWait:  o.wait,
		Prune:     o.prune,
		BatchSize: o.batch,
		Parallel:  o.parallel,
		Progress: func(pr ingest.Progress) {
			switch pr.Phase {
			case "scanning":
				p.Update("scanning...")
			default:
				p.Update("[%d/%d files] %d chunks embedded  %s", pr.FilesDone, pr.FilesTotal, pr.ChunksEmbedded, pr.Path)
			}
		},
	}
	if opts.Parallel == 0 {
		opts.Parallel = serverParallel(a.getenv("OLLAMA_NUM_PARALLEL"), ingest.DefaultParallel)
	}
	opts.Walk.Include = o.include
	opts.Walk.MaxFileSize = o.maxSize
	opts.Extract = extractOptions(o.pdf, o.maxSize)
	opts.Extract.OCR = s.OCR
	return opts
}
