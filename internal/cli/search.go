package cli

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
)

type searchOptions struct {
	k       int
	pull    bool
	mode    string
	explain bool
}

// SearchResult is one row of `rag search --json`. The schema is stable; see docs/commands.md.
type SearchResult struct {
	Path      string   `json:"path"`
	Score     float64  `json:"score"`
	Text      string   `json:"text"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
	Page      int      `json:"page,omitempty"`
	Headings  []string `json:"headings,omitempty"`
	// Vector and Lexical are each leg's rank and score, with --explain.
	Vector  *retrieve.Leg `json:"vector,omitempty"`
	Lexical *retrieve.Leg `json:"lexical,omitempty"`
}

func (a *app) searchCmd() *cobra.Command {
	var o searchOptions
	c := &cobra.Command{
		Use:   "search QUERY",
		Short: "Show the indexed passages that best match a query",
		Long: `Show the indexed passages that best match a query, best first, with their
score, file and line range (or PDF page). No chat model is involved: this is
retrieval alone, for people and for scripts. The query may also come on stdin.

--json prints {"results": [{"path", "score", "text", "start_line", "end_line",
"page", "headings"}]}; fields that do not apply are left out.`,
		Example: `  rag search "retry policy"
  rag search -k 20 --json "exporter timeout" | jq -r '.results[].path'`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := a.readQuery(args)
			if err != nil {
				return err
			}
			return a.runSearch(cmd.Context(), q, o)
		},
	}
	c.Flags().IntVarP(&o.k, "k", "k", 5, "number of results")
	c.Flags().BoolVar(&a.json, "json", false, "print results as JSON on stdout")
	c.Flags().BoolVar(&o.pull, "pull", false, "pull the embedding model if Ollama does not have it")
	c.Flags().StringVar(&o.mode, "mode", "hybrid", "retrieval: hybrid (words and meaning), vector (meaning) or lexical (words; needs no Ollama)")
	c.Flags().BoolVar(&o.explain, "explain", false, "show each result's rank and score in the vector and lexical legs")
	return c
}

// readQuery takes the query from the arguments, or from stdin when the only
// argument is "-" or there is none and stdin is not a terminal.
func (a *app) readQuery(args []string) (string, error) {
	var q string
	switch {
	case len(args) == 1 && args[0] == "-", len(args) == 0 && !a.s.InTTY:
		b, err := io.ReadAll(io.LimitReader(a.s.In, 1<<20))
		if err != nil {
			return "", fmt.Errorf("read stdin: %w", err)
		}
		q = string(b)
	default:
		q = strings.Join(args, " ")
	}
	q = strings.TrimSpace(q)
	if q == "" {
		return "", usagef("no query given")
	}
	return q, nil
}

// searchSession is one snapshot of the index with the retrieval legs a mode
// can use: the one way a question reaches the index, for search, ask, ask
// --deep and eval. Lexical mode needs no Ollama; hybrid mode falls back to
// the lexical leg alone when Ollama is unreachable. It is safe for
// concurrent use.
type searchSession struct {
	mu      sync.Mutex
	r       *index.Reader
	s       *retrieve.Searcher
	mode    retrieve.Mode
	skipped error // why the vector leg was left out
}

// openSearch opens a snapshot of the index for searching in mode.
func (a *app) openSearch(ctx context.Context, s config.Settings, c *ollama.Client, mode retrieve.Mode, pull bool) (*searchSession, error) {
	r, err := index.OpenReader(s.Index)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", s.Index, err)
	}
	meta := r.Meta()
	if s.EmbedExplicit && index.NormalizeModel(s.EmbedModel) != index.NormalizeModel(meta.EmbedModel) {
		r.Close()
		return nil, &index.ModelMismatchError{Dir: s.Index, Indexed: meta.EmbedModel, Requested: s.EmbedModel}
	}
	ss := &searchSession{r: r, mode: mode}
	var emb embed.Embedder
	if mode != retrieve.Lexical && (r.LiveVectors() > 0 || meta.Pending > 0) {
		// The query's embedding call finds a missing model or a server that is
		// down by itself; ask the server first only to pull a missing model.
		var err error
		if pull {
			_, err = a.showModel(ctx, c, meta.EmbedModel, pull)
		}
		switch {
		case err == nil:
			emb = &ollama.Embedder{Client: c, Name: meta.EmbedModel}
		case mode == retrieve.Hybrid && errors.Is(err, embed.ErrUnavailable):
			ss.mode, ss.skipped = retrieve.Lexical, err
		default:
			r.Close()
			return nil, err
		}
	}
	ss.s = retrieve.NewSearcher(r, emb)
	return ss, nil
}

// search returns up to k results for q.
func (ss *searchSession) search(ctx context.Context, q string, k int) ([]retrieve.Result, error) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	out, err := ss.s.Search(ctx, q, k, ss.mode)
	if err != nil {
		return nil, err
	}
	if out.VectorSkipped != nil && ss.skipped == nil {
		ss.skipped = out.VectorSkipped
	}
	return out.Results, nil
}

// warn tells the user what the results lack: chunks not embedded yet, or the
// vector leg left out (which makes the command's exit code partial).
func (ss *searchSession) warn(a *app) {
	if p := ss.r.Meta().Pending; p > 0 && ss.mode != retrieve.Lexical && !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: warning: %d chunks are not embedded yet and are found by their words only; run rag ingest with Ollama up\n", p)
	}
	if ss.skipped != nil {
		fmt.Fprintf(a.s.Err, "rag: warning: %s; results come from the lexical leg alone\n", firstLine(ss.skipped.Error()))
		a.degraded = true
	}
}

func (ss *searchSession) close() { ss.r.Close() }

// retrieve is one search in a session of its own.
func (a *app) retrieve(ctx context.Context, s config.Settings, c *ollama.Client, query string, k int, mode retrieve.Mode, pull bool) ([]retrieve.Result, error) {
	if k < 1 {
		return nil, usagef("-k must be at least 1")
	}
	ss, err := a.openSearch(ctx, s, c, mode, pull)
	if err != nil {
		return nil, err
	}
	defer ss.close()
	res, err := ss.search(ctx, query, k)
	if err != nil {
		return nil, err
	}
	ss.warn(a)
	return res, nil
}

// querySetup resolves what every question needs: the settings, the Ollama
// client and the retrieval mode.
func (a *app) querySetup(modeName string) (config.Settings, *ollama.Client, retrieve.Mode, error) {
	s, err := a.settings()
	if err != nil {
		return s, nil, "", err
	}
	c, err := a.client(s)
	if err != nil {
		return s, nil, "", err
	}
	mode, err := retrieve.ParseMode(modeName)
	if err != nil {
		return s, nil, "", usageError{err}
	}
	return s, c, mode, nil
}

func (a *app) runSearch(ctx context.Context, q string, o searchOptions) error {
	s, c, mode, err := a.querySetup(o.mode)
	if err != nil {
		return err
	}
	res, err := a.retrieve(ctx, s, c, q, o.k, mode, o.pull)
	if err != nil {
		return err
	}
	if a.json {
		out := struct {
			Results []SearchResult `json:"results"`
		}{Results: make([]SearchResult, len(res))}
		for i, r := range res {
			out.Results[i] = SearchResult{Path: r.Path, Score: r.Score, Text: r.Text, StartLine: r.StartLine, EndLine: r.EndLine, Page: r.Page, Headings: r.Headings}
			if o.explain {
				out.Results[i].Vector, out.Results[i].Lexical = r.Vector, r.Lexical
			}
		}
		if err := a.writeJSON(out); err != nil {
			return err
		}
		return a.degradedErr()
	}
	if len(res) == 0 {
		if mode == retrieve.Lexical && lexical.Query(q) == "" {
			fmt.Fprintln(a.s.Err, "rag: no results: the query has only common words (stopwords); try more specific terms")
		} else {
			fmt.Fprintln(a.s.Err, "rag: no results (is the index empty? see: rag status)")
		}
		return nil
	}
	for i, r := range res {
		head := fmt.Sprintf("%d. %s  (score %.3f)", i+1, sourceRef(r.Path, r.StartLine, r.EndLine, r.Page), r.Score)
		if o.explain {
			head += "  " + explainLegs(r)
		}
		if a.s.OutTTY {
			head = "\x1b[1m" + head + "\x1b[0m"
		}
		fmt.Fprintln(a.s.Out, head)
		if n := len(r.Headings); n > 0 && !strings.HasPrefix(r.Text, r.Headings[n-1]) {
			// The chunk continues a section: say which.
			fmt.Fprintf(a.s.Out, "   [%s]\n", iostreams.Sanitize(strings.Join(r.Headings, " > ")))
		}
		for _, line := range strings.Split(strings.TrimRight(iostreams.Sanitize(r.Text), "\n"), "\n") {
			fmt.Fprintf(a.s.Out, "   %s\n", line)
		}
		fmt.Fprintln(a.s.Out)
	}
	return a.degradedErr()
}

// explainLegs says where a result stood in each leg.
func explainLegs(r retrieve.Result) string {
	leg := func(name string, l *retrieve.Leg) string {
		if l == nil {
			return name + " -"
		}
		return fmt.Sprintf("%s #%d (%.3f)", name, l.Rank, l.Score)
	}
	return "[" + leg("vector", r.Vector) + ", " + leg("lexical", r.Lexical) + "]"
}

// sourceRef formats a chunk's place: path:12-30, path#page=4 or path.
func sourceRef(path string, start, end, page int) string {
	path = iostreams.Sanitize(path)
	switch {
	case page > 0:
		return fmt.Sprintf("%s#page=%d", path, page)
	case start > 0 && end > start:
		return fmt.Sprintf("%s:%d-%d", path, start, end)
	case start > 0:
		return fmt.Sprintf("%s:%d", path, start)
	}
	return path
}
