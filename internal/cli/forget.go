package cli

import (
	"context"
	"fmt"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/iostreams"
)

func (a *app) forgetCmd() *cobra.Command {
	var wait time.Duration
	c := &cobra.Command{
		Use:   "forget PATH...",
		Short: "Remove a folder, file or indexed root from the index on purpose",
		Long: `Remove every indexed file at or under each PATH from the index, and stop
refreshing the roots there, whether or not they still exist on disk. It is
the way to remove what rag ingest keeps because its root looks unmounted or
emptied. Your documents are not touched.

A file or folder that still exists under a root that stays indexed comes back
with the next rag ingest of that root: add it to .ragignore to keep it out.
A PATH under which the index holds nothing is an error, and then nothing is
removed.`,
		Example: `  rag forget /mnt/old-disk
  rag forget ~/notes/drafts ~/notes/todo.md
  rag forget --json ~/papers | jq '.files | length'`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return a.runForget(cmd.Context(), args, wait)
		},
	}
	c.Flags().BoolVar(&a.json, "json", false, "print what was removed as JSON on stdout")
	c.Flags().DurationVar(&wait, "wait", 10*time.Second, "how long to wait for a running ingest before giving up (exit 5)")
	return c
}

func (a *app) runForget(ctx context.Context, paths []string, wait time.Duration) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	st, err := a.openStore(ctx, s)
	if err != nil {
		return err
	}
	rep, err := ingest.Forget(ctx, ingest.ForgetOptions{Store: st, Paths: paths, LockWait: wait})
	if err != nil {
		return err
	}
	if a.json {
		return a.writeJSON(rep)
	}
	if !a.quiet {
		for _, r := range rep.Roots {
			fmt.Fprintf(a.s.Err, "  forgot root %s\n", iostreams.Sanitize(r))
		}
		fmt.Fprintf(a.s.Err, "rag: removed %d files from the index, forgot %d roots\n", len(rep.Files), len(rep.Roots))
	}
	return nil
}
