package cli

import (
	"errors"
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/index"
)

// errUnhealthy: rag check found problems; they have been reported.
var errUnhealthy = errors.New("the index has problems")

func (a *app) checkCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "check",
		Short: "Verify the index and report any damage",
		Long: `Verify the index: the database's integrity, the format version, that every
embedded chunk has exactly one vector of the recorded dimension with finite
values, that no vector is orphaned, that every chunk belongs to a file, and the
full-text index's consistency. Exit 0 when healthy, 6 when not, with the
command that repairs it.`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			s, err := a.settings()
			if err != nil {
				return err
			}
			if s.Store != "" {
				return a.checkStore(cmd.Context(), s) // store.go
			}
			rep, err := index.Check(s.Index)
			var fe *index.FormatError
			if err != nil && !errors.Is(err, index.ErrNoIndex) && !errors.As(err, &fe) {
				// The database itself cannot be read: that is damage too.
				rep = &index.CheckReport{Dir: s.Index, Problems: []string{"database: " + err.Error()}, Roots: []string{}}
				rep.Roots = append(rep.Roots, index.RecordedRoots(s.Index)...)
				if a.json {
					a.writeJSON(rep)
				} else {
					fmt.Fprintf(a.s.Out, "index:    %s\nproblem:  %s\n", rep.Dir, rep.Problems[0])
				}
				// rag reindex reads the file list from the database: it cannot help.
				return withHint(fmt.Errorf("%w: its database cannot be read", errUnhealthy), "%s", freshStart(s.Index, rep.Roots))
			}
			if err != nil {
				return fmt.Errorf("check index %s: %w", s.Index, err)
			}
			if err := a.printCheck(rep); err != nil {
				return err
			}
			if !rep.OK() {
				return withHint(fmt.Errorf("%w: %d found", errUnhealthy, len(rep.Problems)),
					"repair it with: rag reindex (it rebuilds from your files, which are not touched); if that fails, %s", freshStart(s.Index, rep.Roots))
			}
			return nil
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print the report as JSON on stdout")
	return c
}

// printCheck prints a check's report: as JSON, or a few aligned lines.
func (a *app) printCheck(rep *index.CheckReport) error {
	if a.json {
		return a.writeJSON(rep)
	}
	fmt.Fprintf(a.s.Out, "index:    %s\nfiles:    %d\nchunks:   %d (%d with vectors, %d pending)\n", rep.Dir, rep.Files, rep.Chunks, rep.Vectors, rep.Pending)
	for _, p := range rep.Problems {
		fmt.Fprintf(a.s.Out, "problem:  %s\n", p)
	}
	if rep.ReadOnly {
		fmt.Fprintln(a.s.Out, "note:     read-only (a read-only mount, or a folder this user cannot write): searches work, ingest cannot write; the full-text index's own check needs a write and was skipped")
	}
	if rep.OK() {
		fmt.Fprintln(a.s.Out, "status:   ok")
	}
	return nil
}

// quoteAll quotes paths for a shell command line, "" for none.
func quoteAll(paths []string) string {
	q := make([]string, len(paths))
	for i, p := range paths {
		q[i] = shellQuote(p)
	}
	return strings.Join(q, " ")
}

// freshStart is the fallback for an index that cannot be repaired: move it
// away and ingest its roots again, named when the index recorded them.
func freshStart(dir string, roots []string) string {
	what := "rag ingest PATH... (your folders)"
	if len(roots) > 0 {
		what = "rag ingest " + quoteAll(roots)
	}
	return fmt.Sprintf("move the index away (mv %s %s.damaged) and run: %s", shellQuote(dir), shellQuote(dir), what)
}
