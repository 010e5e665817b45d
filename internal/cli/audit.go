package cli

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/audit"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/store/local"
)

type auditOptions struct {
	staleAfter days
	ageGap     days
	near       float64
	check      bool
	maxPairs   int
	chatModel  string
	pull       bool
	failOn     []string
}

// failKinds are what --fail-on accepts.
var failKinds = []string{"duplicates", "stale", "contradictions"}

// AuditResult is `rag audit --json`: the report, and how many pairs --check judged.
type AuditResult struct {
	Index string `json:"index"`
	*audit.Report
	Checked int `json:"checked"`
}

func (a *app) auditCmd() *cobra.Command {
	o := auditOptions{staleAfter: days(audit.DefaultStaleAfter), ageGap: days(audit.DefaultAgeGap)}
	c := &cobra.Command{
		Use:   "audit [PATH]",
		Short: "Find duplicates, stale documents and contradictions in the index",
		Long: `Report what is wrong with the indexed data (or the part under PATH):

  exact duplicates      identical files, and identical chunks in different files
  near duplicates       chunks of different files that say nearly the same thing
                        (MinHash of word 3-shingles); a pair whose files' ages
                        differ by more than --age-gap is a possibly stale copy
  stale documents       files not modified for longer than --stale-after, and
                        files that look superseded by a newer near twin
  possible contradictions
                        alike passages of different files whose numbers, dates,
                        versions or negations differ

Contradictions are cheap candidates; --check has the chat model judge each (up
to --max-pairs, most similar first), citing every claim to its file and lines.

Findings are not errors: rag audit exits 0. --fail-on duplicates,contradictions
makes it exit 3 when it finds those, for CI or cron. With --check, only pairs
the model judged consistent no longer count as contradictions. No Ollama is
needed without --check. Against a remote store (--store weaviate://...) the
audit reads every file's chunks through the store and reports the same
findings as the local index would. See docs/audit.md.`,
		Example: `  rag audit
  rag audit ~/notes/projects --stale-after 180d
  rag audit --check --max-pairs 10 --json
  rag audit --fail-on duplicates,contradictions -q`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			for _, k := range o.failOn {
				if !slices.Contains(failKinds, k) {
					return usagef("--fail-on %q: want one or more of %s", k, strings.Join(failKinds, ","))
				}
			}
			if o.maxPairs < 0 {
				return usagef("--max-pairs must not be negative")
			}
			path := ""
			if len(args) == 1 {
				abs, err := filepath.Abs(args[0])
				if err != nil {
					return usageError{err}
				}
				path = abs
			}
			return a.runAudit(cmd.Context(), path, o)
		},
	}
	f := c.Flags()
	f.BoolVar(&a.json, "json", false, "print the report as JSON on stdout")
	f.Var(&o.staleAfter, "stale-after", "a file not modified for longer is stale (e.g. 365d, 72h)")
	f.Var(&o.ageGap, "age-gap", "near duplicates whose files' ages differ by more are flagged as a possibly stale copy")
	f.Float64Var(&o.near, "near", audit.DefaultNearThreshold, "least similarity (Jaccard of word 3-shingles, 0-1) of near duplicates")
	f.BoolVar(&o.check, "check", false, "have the chat model judge each possible contradiction")
	f.IntVar(&o.maxPairs, "max-pairs", 20, "with --check: most candidate pairs judged (one chat call each)")
	f.StringVar(&o.chatModel, "chat-model", "", "with --check: Ollama chat model (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	f.BoolVar(&o.pull, "pull", false, "with --check: pull the chat model if Ollama does not have it")
	f.StringSliceVar(&o.failOn, "fail-on", nil, "exit 3 when the audit finds any of: duplicates, stale, contradictions")
	return c
}

func (a *app) runAudit(ctx context.Context, path string, o auditOptions) error {
	a.global.ChatModel = o.chatModel
	s, err := a.settings()
	if err != nil {
		return err
	}
	src, where, done, err := a.auditSource(ctx, s)
	if err != nil {
		return err
	}
	defer done()
	var check func(*audit.Report) (int, error)
	if o.check {
		c, err := a.client(s)
		if err != nil {
			return err
		}
		info, err := a.showModel(ctx, c, s.ChatModel, o.pull)
		if err != nil {
			return err
		}
		check = func(rep *audit.Report) (int, error) {
			p := a.progress()
			defer p.Done()
			p.Update("checking %d possible contradictions with %s", min(o.maxPairs, len(rep.Contradictions)), s.ChatModel)
			return audit.Check(ctx, c, rep, audit.CheckOptions{Model: s.ChatModel, ContextLength: info.ContextLength, MaxPairs: o.maxPairs})
		}
	}
	start := time.Now()
	rep, err := audit.Run(ctx, src, audit.Options{Under: path, StaleAfter: time.Duration(o.staleAfter), AgeGap: time.Duration(o.ageGap), NearThreshold: o.near})
	if err != nil {
		return err
	}
	checked, partial := 0, false
	if check != nil {
		if checked, err = check(rep); err != nil {
			return err
		}
		for _, c := range rep.Contradictions {
			if c.Check != nil && c.Check.Error != "" {
				partial = true // a pair the model could not judge
			}
		}
	}
	if !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: audited %d files, %d chunks in %.1fs\n", rep.Files, rep.Chunks, time.Since(start).Seconds())
	}
	if a.json {
		if err := a.writeJSON(AuditResult{Index: where, Report: rep, Checked: checked}); err != nil {
			return err
		}
	} else {
		a.printAudit(rep, o.check)
	}
	if found := auditFailures(rep, o.failOn); len(found) > 0 {
		fmt.Fprintf(a.s.Err, "rag: audit found %s (--fail-on)\n", strings.Join(found, ", "))
		return partialError{}
	}
	if partial {
		return partialError{}
	}
	return nil
}

// auditSource opens what rag audit reads: the local snapshot, or another
// store through its Reader (every file's chunks, as rag migrate reads them).
func (a *app) auditSource(ctx context.Context, s config.Settings) (audit.Source, string, func() error, error) {
	st, err := a.openStore(ctx, s)
	if err != nil {
		return nil, "", nil, err
	}
	if l, ok := st.(*local.Store); ok {
		r, err := index.OpenReader(l.Dir)
		if err != nil {
			return nil, "", nil, fmt.Errorf("open index %s: %w", l.Dir, err)
		}
		return audit.Snapshot(r), l.Dir, r.Close, nil
	}
	r, err := st.OpenReader(ctx)
	if err != nil {
		return nil, "", nil, fmt.Errorf("open index %s: %w", st.Location(), err)
	}
	return audit.Store(r), st.Location(), r.Close, nil
}

// auditFailures are the kinds of --fail-on the report holds. A contradiction
// the chat model judged consistent does not count.
func auditFailures(rep *audit.Report, kinds []string) []string {
	var found []string
	for _, k := range kinds {
		n := 0
		switch k {
		case "duplicates":
			n = len(rep.DuplicateFiles) + len(rep.DuplicateChunks) + len(rep.NearDuplicates)
		case "stale":
			n = len(rep.Stale)
		case "contradictions":
			for _, c := range rep.Contradictions {
				if c.Check == nil || c.Check.Verdict != audit.Consistent {
					n++
				}
			}
		}
		if n > 0 && !slices.Contains(found, k) {
			found = append(found, k)
		}
	}
	return found
}

func auditPlace(p audit.Place) string { return sourceRef(p.Path, p.StartLine, p.EndLine, p.Page) }

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return strconv.Itoa(n) + " " + many
}

func (a *app) printAudit(rep *audit.Report, checked bool) {
	w := a.s.Out
	head := func(title string, n int, one, many string) {
		t := fmt.Sprintf("%s (%s)", title, plural(n, one, many))
		if a.s.OutTTY {
			t = "\x1b[1m" + t + "\x1b[0m"
		}
		fmt.Fprintln(w, t)
	}
	head("Identical files", len(rep.DuplicateFiles), "group", "groups")
	for _, g := range rep.DuplicateFiles {
		for i, p := range g.Paths {
			fmt.Fprintf(w, "  %s %s\n", map[bool]string{true: "*", false: " "}[i == 0], iostreams.Sanitize(p))
		}
	}
	head("Identical chunks in different files", len(rep.DuplicateChunks), "group", "groups")
	for _, g := range rep.DuplicateChunks {
		fmt.Fprintf(w, "  %q\n", iostreams.Sanitize(g.Preview))
		for _, p := range g.Places {
			fmt.Fprintf(w, "    %s\n", auditPlace(p))
		}
	}
	head("Near duplicates", len(rep.NearDuplicates), "pair", "pairs")
	for _, np := range rep.NearDuplicates {
		line := fmt.Sprintf("  %.3f  %s  ~  %s", np.Similarity, auditPlace(np.A), auditPlace(np.B))
		if np.StaleCopy {
			line += fmt.Sprintf("  (possibly a stale copy: files %d days apart)", np.AgeGapDays)
		}
		fmt.Fprintln(w, line)
	}
	head("Stale documents", len(rep.Stale), "file", "files")
	for _, s := range rep.Stale {
		fmt.Fprintf(w, "  %s  (modified %s)\n", iostreams.Sanitize(s.Path), s.Modified.Format("2006-01-02"))
		for _, r := range s.Reasons {
			fmt.Fprintf(w, "      %s\n", iostreams.Sanitize(r))
		}
	}
	head("Possible contradictions", len(rep.Contradictions), "pair", "pairs")
	for _, c := range rep.Contradictions {
		fmt.Fprintf(w, "  %.3f  differ: %s\n", c.Similarity, iostreams.Sanitize(strings.Join(c.Differences, "; ")))
		for _, p := range c.Places {
			fmt.Fprintf(w, "    %s: %q\n", auditPlace(p), iostreams.Sanitize(oneLineText(p.Text, 100)))
		}
		switch {
		case c.Check == nil && checked:
			fmt.Fprintln(w, "    not checked (--max-pairs)")
		case c.Check == nil:
		case c.Check.Error != "":
			fmt.Fprintf(w, "    check failed: %s\n", iostreams.Sanitize(c.Check.Error))
		default:
			fmt.Fprintf(w, "    %s: %s\n", c.Check.Verdict, iostreams.Sanitize(c.Check.Why))
			for _, cl := range c.Check.Claims {
				fmt.Fprintf(w, "      - %s (%s)\n", iostreams.Sanitize(cl.Claim), sourceRef(cl.Path, cl.StartLine, cl.EndLine, cl.Page))
			}
		}
	}
}

func oneLineText(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > n {
		s = string(r[:n-1]) + "…"
	}
	return s
}

// days is a duration flag that also takes days: 365d, 12h, 1.5d.
type days time.Duration

func (d *days) String() string {
	if time.Duration(*d)%(24*time.Hour) == 0 {
		return fmt.Sprintf("%dd", time.Duration(*d)/(24*time.Hour))
	}
	return time.Duration(*d).String()
}

func (d *days) Set(s string) error {
	if n, ok := strings.CutSuffix(s, "d"); ok {
		f, err := strconv.ParseFloat(n, 64)
		if err != nil || f < 0 {
			return fmt.Errorf("%q is not a number of days", s)
		}
		*d = days(f * float64(24*time.Hour))
		return nil
	}
	v, err := time.ParseDuration(s)
	if err != nil || v < 0 {
		return fmt.Errorf("%q is not a duration such as 365d or 72h", s)
	}
	*d = days(v)
	return nil
}

func (d *days) Type() string { return "duration" }
