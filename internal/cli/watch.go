package cli

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/watch"
)

type watchOptions struct {
	debounce time.Duration
	rescan   time.Duration
	ingest   ingestOptions
}

// watchFlags adds the flags of a watch to c: rag watch's and rag serve
// --watch's.
func watchFlags(c *cobra.Command, o *watchOptions) {
	f := c.Flags()
	f.DurationVar(&o.debounce, "debounce", watch.DefaultDebounce, "quiet time after the last change before an ingest")
	f.DurationVar(&o.rescan, "rescan", watch.DefaultRescan, "rescan period when the system cannot watch more folders")
	f.DurationVar(&o.ingest.wait, "wait", time.Hour, "how long an ingest waits for another (a cron rag ingest) to finish")
	f.StringSliceVar(&o.ingest.include, "include", nil, "gitignore-style patterns to index even if they look like secrets or are hidden (repeatable)")
	f.Int64Var(&o.ingest.maxSize, "max-file-size", 64<<20, "skip files larger than this many bytes")
	f.StringVar(&o.ingest.pdf, "pdf", extract.PDFBuiltin, "PDF text extractor: builtin, or pdftotext (from poppler-utils)")
	o.ingest.batch = ingest.DefaultBatchSize
}

func (a *app) watchCmd() *cobra.Command {
	var o watchOptions
	c := &cobra.Command{
		Use:   "watch PATH...",
		Short: "Keep the index current as files change",
		Long: `Index the given folders and files, then keep the index current as they
change, until Ctrl-C or SIGTERM. A burst of changes (an editor's atomic save,
a git checkout, a copy of many files) is gathered into one ingest once the
files have been quiet for --debounce; a saved edit is searchable within a
few seconds, plus the time to embed it.

Each ingest is rag ingest's own: the same rules for what is read, the same
lock (a cron rag ingest makes the watch wait its turn) and the same safety
for files that vanish at once. A summary line is printed for each ingest
that changed something.

When the system cannot watch more folders (Linux's
fs.inotify.max_user_watches), rag says so and rescans every --rescan instead.`,
		Example: `  rag watch ~/notes
  rag serve --watch ~/notes   # serve and watch in one process`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			err := a.runWatch(cmd.Context(), args, o)
			if errors.Is(err, context.Canceled) && cmd.Context().Err() != nil {
				return nil // stopped, as asked
			}
			return err
		},
	}
	watchFlags(c, &o)
	return c
}

// runWatch watches roots until ctx ends.
func (a *app) runWatch(ctx context.Context, roots []string, o watchOptions) error {
	if err := checkPDF(o.ingest.pdf); err != nil {
		return err
	}
	abs := make([]string, len(roots))
	for i, r := range roots {
		p, err := filepath.Abs(r)
		if err != nil {
			return err
		}
		if real, err := filepath.EvalSymlinks(p); err == nil {
			p = real // as ingest and the file events name it
		} else if os.IsNotExist(err) {
			return usagef("%s: no such file or folder", r)
		}
		abs[i] = p
	}
	s, err := a.settings()
	if err != nil {
		return err
	}
	client, err := a.client(s)
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, s) // store.go
	if err != nil {
		return err
	}
	if !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: watching %d paths into %s\n", len(abs), st.Location())
	}
	return watch.Run(ctx, watch.Options{
		Roots:    abs,
		Debounce: o.debounce,
		Rescan:   o.rescan,
		Notify:   func(msg string) { fmt.Fprintf(a.s.Err, "rag: warning: %s\n", iostreams.Sanitize(msg)) },
		Ingest: func(ctx context.Context) error {
			opts := a.ingestOptions(abs, s, client, o.ingest, nil)
			opts.Store = st
			rep, err := ingest.Run(ctx, opts)
			if rep != nil && (err != nil || rep.Added+rep.Updated+rep.Removed+rep.Failed > 0 || rep.ChunksPending > 0) {
				printIngestReport(a.s, rep, a.quiet)
				printKeptRoots(a.s, rep.KeptRoots)
			}
			return err
		},
	})
}
