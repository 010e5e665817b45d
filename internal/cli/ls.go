package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
)

// Listing is `rag ls --json`: the index's roots and, for rag ls PATH, the
// files at or under PATH.
type Listing struct {
	Index      string        `json:"index"`
	LastIngest time.Time     `json:"last_ingest,omitzero"`
	Path       string        `json:"path,omitempty"` // the PATH asked about
	Roots      []ListingRoot `json:"roots"`
	Files      []ListingFile `json:"files"`
}

// ListingRoot is one indexed root: what the index holds under it, and
// whether it is still on disk.
type ListingRoot struct {
	index.RootListing
	Exists bool `json:"exists"`
}

// ListingFile is one indexed file.
type ListingFile = index.FileListing

// errNothingListed: rag ls PATH found nothing indexed there.
var errNothingListed = errors.New("nothing indexed")

func (a *app) lsCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "ls [PATH]",
		Short: "List the indexed roots, or the indexed files under PATH",
		Long: `List what the index holds. Without PATH: every root rag ingest was given, with
its files, chunks and pending chunks (stored but not embedded yet), and
whether it is still on disk. With PATH (a root, a folder or a file): every
indexed file at or under it, with its chunks, pending chunks, size, and the
modification time it had when it was indexed. The index's last ingest is
shown too. Read-only: it never waits for a running ingest.

On a terminal the table is aligned with a header; in a pipe it is
tab-separated without one. A PATH under which nothing is indexed is an error
(exit 1).`,
		Example: `  rag ls
  rag ls ~/notes
  rag ls --json | jq -r '.roots[] | select(.pending > 0) | .path'`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runLs(cmd.Context(), args)
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print the listing as JSON on stdout")
	return c
}

func (a *app) runLs(ctx context.Context, args []string) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	st, r, err := a.openReader(ctx, s) // store.go
	if err != nil {
		return err
	}
	defer r.Close()
	out := Listing{Index: st.Location(), LastIngest: r.Meta().LastIngest, Roots: []ListingRoot{}, Files: []ListingFile{}}
	roots, err := r.ListRoots(ctx)
	if err != nil {
		return err
	}
	for _, rt := range roots {
		_, err := os.Stat(rt.Path)
		out.Roots = append(out.Roots, ListingRoot{RootListing: rt, Exists: err == nil})
	}
	if len(args) == 1 {
		// The index holds absolute paths, resolved through symbolic links
		// where they existed; try both forms.
		abs, err := filepath.Abs(args[0])
		if err != nil {
			return usagef("resolve %s: %w", args[0], err)
		}
		out.Path = abs
		forms := []string{abs}
		if real, err := filepath.EvalSymlinks(abs); err == nil && real != abs {
			forms = append([]string{real}, forms...)
		}
		for _, p := range forms {
			if out.Files, err = r.ListFiles(ctx, p); err != nil {
				return err
			}
			if len(out.Files) > 0 {
				break
			}
		}
		if len(out.Files) == 0 {
			return withHint(fmt.Errorf("%w at %s", errNothingListed, abs), "rag ls without a path lists the indexed roots")
		}
	}
	if a.json {
		return a.writeJSON(out)
	}
	a.printListing(out, len(args) == 1)
	return nil
}

func (a *app) printListing(l Listing, files bool) {
	var w io.Writer = a.s.Out
	var tw *tabwriter.Writer
	if a.s.OutTTY {
		tw = tabwriter.NewWriter(a.s.Out, 0, 0, 2, ' ', 0)
		w = tw
	}
	san := iostreams.Sanitize
	if files {
		if tw != nil {
			fmt.Fprintln(w, "PATH\tCHUNKS\tPENDING\tSIZE\tMODIFIED\tINDEXED")
		}
		for _, f := range l.Files {
			indexed := "unknown" // indexed by a rag older than format 4
			if f.Indexed != nil {
				indexed = f.Indexed.Local().Format(time.DateTime)
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%s\t%s\t%s\n", san(f.Path), f.Chunks, f.Pending, humanBytes(f.Size), f.ModTime.Local().Format(time.DateTime), indexed)
		}
	} else {
		if tw != nil {
			fmt.Fprintln(w, "ROOT\tFILES\tCHUNKS\tPENDING\tON DISK")
		}
		for _, rt := range l.Roots {
			disk := "yes"
			if !rt.Exists {
				disk = "missing"
			}
			fmt.Fprintf(w, "%s\t%d\t%d\t%d\t%s\n", san(rt.Path), rt.Files, rt.Chunks, rt.Pending, disk)
		}
	}
	if tw != nil {
		tw.Flush()
	}
	if !a.quiet {
		last := "never"
		if !l.LastIngest.IsZero() {
			last = l.LastIngest.Local().Format(time.DateTime)
		}
		fmt.Fprintf(a.s.Err, "rag: index %s, last ingest %s\n", san(l.Index), last)
	}
}
