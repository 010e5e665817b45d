package cli

import (
	"context"
	"fmt"
	"github.com/ragcli/rag/internal/store/local"
	"io"
	"strings"
	"time"

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
	k            int
	pull         bool
	mode         string
	explain      bool
	embedTimeout time.Duration
}

// SearchResult is one row of `rag search --json`. The schema is stable; see docs/commands.md.
type SearchResult struct {
	Path      string   `json:"path"`
	Score     float64  `json:"score"`
	Text      string   `json:"text"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
	Page      int      `json:"page,omitempty"`
	Anchor    string   `json:"anchor,omitempty"` // "slide=2", "sheet=Q1&row=5": the citation fragment
	Headings  []string `json:"headings,omitempty"`
	// Vector and Lexical are each leg's rank and score, with --explain.
	Vector  *retrieve.Leg `json:"vector,omitempty"`
	Lexical *retrieve.Leg `json:"lexical,omitempty"`
	// Rerank is the reranker's rank and score, with --rerank --explain.
	Rerank *retrieve.Leg `json:"rerank,omitempty"`
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
	c.Flags().DurationVar(&o.embedTimeout, "embed-timeout", retrieve.DefaultEmbedTimeout, "longest wait for the query's embedding; past it hybrid search goes on with the lexical leg")
	a.rerankFlags(c.Flags(), &a.rerank)
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

// openSession opens the index for questions in mode: the one way search,
// ask, ask --deep and eval reach it (package retrieve holds the rules). With
// pull set, a missing embedding model is pulled first.
func (a *app) openSession(ctx context.Context, s config.Settings, c *ollama.Client, mode retrieve.Mode, pull bool, embedTimeout time.Duration) (*retrieve.Session, error) {
	o := retrieve.Options{Mode: mode, EmbedTimeout: embedTimeout}
	rr, err := a.rerankerFor(s, a.rerank)
	if err != nil {
		return nil, err
	}
	if rr != nil {
		o.Rerank, o.RerankDepth = rr, rerankCandidates(s)
		a.rerank.used, _ = rr.(*rerankAdapter)
	}
	embedFor := a.embeddersFor(s, c, false)
	o.Embedder = func(id string) embed.Embedder {
		e, _, err := embedFor(context.Background(), id, true)
		if err != nil {
			return nil // checked by Prepare
		}
		return e
	}
	o.Prepare = func(ctx context.Context, id string) error {
		if prov, _ := splitModelID(id); prov != config.Ollama {
			// Another provider's settings (base URL, key) are checked here.
			_, _, err := embedFor(ctx, id, true)
			return err
		}
		if c != nil && pull {
			_, err := a.showModel(ctx, c, id, true)
			return err
		}
		return nil
	}
	if s.EmbedExplicit {
		o.EmbedModel = s.EmbedModel
	}
	st, err := a.openStore(ctx, s)
	if err != nil {
		return nil, err
	}
	sess, err := retrieve.OpenStore(ctx, st, o)
	if _, isLocal := st.(*local.Store); err == nil && !a.quiet && isLocal {
		// A first ingest that has committed part of the tree: the answers
		// come from that part alone, which the user should know.
		if p, ok := index.Running(s.Index); ok && p.First {
			fmt.Fprintf(a.s.Err, "rag: warning: the first ingest into %s is still running (%s); results cover only what it has committed so far\n", s.Index, p)
		}
	}
	return sess, err
}

// warnRetrieval tells the user what results lack: chunks not embedded yet,
// or the vector leg left out. It reports whether the run is partial.
func (a *app) warnRetrieval(pending int, skipped error) (partial bool) {
	if pending > 0 && !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: warning: %d chunks are not embedded yet and are found by their words only; run rag ingest with Ollama up\n", pending)
	}
	if skipped != nil {
		fmt.Fprintf(a.s.Err, "rag: warning: %s; results come from the lexical leg alone\n", firstLine(skipped.Error()))
		return true
	}
	return false
}

// explainCut says, under --explain, that a long query's vector leg used its
// leading part.
func (a *app) explainCut(cut *retrieve.QueryCut, model string) {
	if cut != nil {
		fmt.Fprintf(a.s.Err, "rag: explain: the query is longer than %s's context; its vector leg embedded the first %d of its %d words\n", model, cut.Words, cut.Of)
	}
}

// querySetup resolves what every question needs: the settings, the Ollama
// client and the retrieval mode.
func (a *app) querySetup(modeName string, embedTimeout time.Duration) (config.Settings, *ollama.Client, retrieve.Mode, error) {
	if embedTimeout <= 0 {
		return config.Settings{}, nil, "", usagef("--embed-timeout must be positive")
	}
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
	if o.k < 1 {
		return usagef("-k must be at least 1")
	}
	s, c, mode, err := a.querySetup(o.mode, o.embedTimeout)
	if err != nil {
		return err
	}
	sess, err := a.openSession(ctx, s, c, mode, o.pull, o.embedTimeout)
	if err != nil {
		return err
	}
	defer sess.Close()
	out, err := sess.Search(ctx, retrieve.Query{Text: q, K: o.k})
	if err != nil {
		return err
	}
	partial := a.warnRetrieval(out.Pending, out.VectorSkipped)
	partial = a.warnRerank(out.RerankSkipped) || partial
	if o.explain {
		a.explainCut(out.QueryCut, sess.Meta().EmbedModel)
	}
	if err := a.renderSearch(q, out, o); err != nil {
		return err
	}
	if partial {
		return partialError{}
	}
	return nil
}

// renderSearch prints a search's results.
func (a *app) renderSearch(q string, out *retrieve.Outcome, o searchOptions) error {
	res := out.Results
	if a.json {
		doc := struct {
			Results  []SearchResult     `json:"results"`
			QueryCut *retrieve.QueryCut `json:"query_cut,omitempty"`
		}{Results: make([]SearchResult, len(res))}
		for i, r := range res {
			doc.Results[i] = SearchResult{Path: r.Path, Score: r.Score, Text: r.Text, StartLine: r.StartLine, EndLine: r.EndLine, Page: r.Page, Anchor: r.Anchor, Headings: r.Headings}
			if o.explain {
				doc.Results[i].Vector, doc.Results[i].Lexical, doc.Results[i].Rerank = r.Vector, r.Lexical, r.Rerank
			}
		}
		if o.explain {
			doc.QueryCut = out.QueryCut
		}
		return a.writeJSON(doc)
	}
	if len(res) == 0 {
		if out.Mode == retrieve.Lexical && lexical.Query(q) == "" {
			fmt.Fprintln(a.s.Err, "rag: no results: the query has only common words (stopwords); try more specific terms")
		} else {
			fmt.Fprintln(a.s.Err, "rag: no results (is the index empty? see: rag status)")
		}
		return nil
	}
	for i, r := range res {
		head := fmt.Sprintf("%d. %s  (score %.3f)", i+1, anchorRef(r.Path, r.Anchor, r.StartLine, r.EndLine, r.Page), r.Score)
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
	return nil
}

// explainLegs says where a result stood in each leg.
func explainLegs(r retrieve.Result) string {
	leg := func(name string, l *retrieve.Leg) string {
		if l == nil {
			return name + " -"
		}
		return fmt.Sprintf("%s #%d (%.3f)", name, l.Rank, l.Score)
	}
	s := "[" + leg("vector", r.Vector) + ", " + leg("lexical", r.Lexical)
	if r.Rerank != nil {
		s += ", " + leg("rerank", r.Rerank)
	}
	return s + "]"
}

// sourceRef formats a chunk's place: path:12-30, path#page=4 or path.
func sourceRef(path string, start, end, page int) string {
	return anchorRef(path, "", start, end, page)
}

// anchorRef is sourceRef for a chunk with an anchor (index.Chunk.Anchor):
// "deck.pptx#slide=2", "sales.xlsx#sheet=Q1&row=5", which beats lines.
func anchorRef(path, anchor string, start, end, page int) string {
	path = iostreams.Sanitize(path)
	switch {
	case page > 0:
		return fmt.Sprintf("%s#page=%d", path, page)
	case anchor != "":
		return path + "#" + iostreams.Sanitize(anchor)
	case start > 0 && end > start:
		return fmt.Sprintf("%s:%d-%d", path, start, end)
	case start > 0:
		return fmt.Sprintf("%s:%d", path, start)
	}
	return path
}
