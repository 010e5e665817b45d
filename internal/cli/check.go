package cli

import (
	"errors"
	"fmt"

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
			rep, err := index.Check(s.Index)
			var fe *index.FormatError
			if err != nil && !errors.Is(err, index.ErrNoIndex) && !errors.As(err, &fe) {
				// The database itself cannot be read: that is damage too.
				rep = &index.CheckReport{Dir: s.Index, Problems: []string{"database: " + err.Error()}}
				if a.json {
					a.writeJSON(rep)
				} else {
					fmt.Fprintf(a.s.Out, "index:    %s\nproblem:  %s\n", rep.Dir, rep.Problems[0])
				}
				return withHint(fmt.Errorf("%w: its database cannot be read", errUnhealthy),
					"move the index folder away and run rag ingest on your folders again")
			}
			if err != nil {
				return fmt.Errorf("check index %s: %w", s.Index, err)
			}
			if a.json {
				if err := a.writeJSON(rep); err != nil {
					return err
				}
			} else {
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
			}
			if !rep.OK() {
				return withHint(fmt.Errorf("%w: %d found", errUnhealthy, len(rep.Problems)),
					"rebuild it with: rag reindex (your documents are not touched)")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print the report as JSON on stdout")
	return c
}
