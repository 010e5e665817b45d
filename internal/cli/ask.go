package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/deep"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/retrieve"
)

type askOptions struct {
	k         int
	mode      string
	chatModel string
	pull      bool
	// embedTimeout bounds the query's embedding.
	embedTimeout time.Duration
	// maxContext caps the chat context window (num_ctx), in tokens.
	maxContext int
	deepOptions
	wholeOptions        // --whole, --retrieve, --path (whole.go)
	strategy     string // --deep-strategy: fanout or debate (debate.go)
}

// AskSource is one source in `rag ask --json`.
type AskSource struct {
	N         int     `json:"n"`
	Path      string  `json:"path"`
	StartLine int     `json:"start_line,omitempty"`
	EndLine   int     `json:"end_line,omitempty"`
	Page      int     `json:"page,omitempty"`
	Anchor    string  `json:"anchor,omitempty"` // "slide=2", "sheet=Q1&row=5": the citation fragment
	Score     float64 `json:"score"`
	Cited     bool    `json:"cited"`
}

// AskResult is `rag ask --json`. The schema is stable; see docs/commands.md.
type AskResult struct {
	Answer  string      `json:"answer"`
	Model   string      `json:"model"`
	Sources []AskSource `json:"sources"`
	// Retrieval is "search" (the -k best passages) or "whole-corpus" (every
	// chunk, when they all fit the context).
	Retrieval string `json:"retrieval"`
	// Disagreements are cited sources that read alike but differ in a
	// number, date, version or negation (asknote.go).
	Disagreements []AskDisagreement `json:"disagreements"`
}

func (a *app) askCmd() *cobra.Command {
	var o askOptions
	c := &cobra.Command{
		Use:   "ask QUESTION",
		Short: "Answer a question from the indexed documents, citing sources",
		Long: `Answer a question from the indexed documents with a local chat model.

rag retrieves the best passages, gives them to the model as numbered sources
that it must answer from, streams the answer and ends with the sources it
cites (file and lines, or PDF page). --deep splits a question that needs
several lookups into sub-questions answered by parallel agents (docs/deep.md).
On a terminal the answer is rendered as
Markdown; in a pipe it is plain text as it arrives. The question may come on
stdin ("-" or no argument in a pipe).

--json prints {"answer", "model", "sources": [{"n", "path", "start_line",
"end_line", "page", "score", "cited"}]} once the answer is complete.`,
		Example: `  rag ask "how do I rotate the signing key?"
  echo "what changed in v2?" | rag ask
  rag ask --chat-model qwen2.5:7b -k 8 --json "summarise the retry policy"`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			q, err := a.readQuery(args)
			if err != nil {
				return err
			}
			return a.runAsk(cmd.Context(), q, o)
		},
	}
	f := c.Flags()
	f.IntVarP(&o.k, "k", "k", 5, "number of passages to retrieve")
	f.StringVar(&o.chatModel, "chat-model", "", "Ollama chat model (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	f.BoolVar(&a.json, "json", false, "print the answer and its sources as JSON on stdout")
	f.BoolVar(&o.pull, "pull", false, "pull missing models")
	f.StringVar(&o.mode, "mode", "hybrid", "retrieval: hybrid, vector or lexical")
	f.IntVar(&o.maxContext, "max-context", answer.DefaultMaxContext, "largest chat context window (num_ctx) to ask for, in tokens; the lowest-ranked passages are left out to fit")
	f.DurationVar(&o.embedTimeout, "embed-timeout", retrieve.DefaultEmbedTimeout, "longest wait for the question's embedding; past it hybrid retrieval goes on with the lexical leg")
	a.rerankFlags(f, &a.rerank)
	a.wholeFlags(f, &o.wholeOptions)
	f.StringVar(&o.strategy, "deep-strategy", strategyFanout, "with --deep: fanout (sub-questions, docs/deep.md) or debate (3 agents from different retrievals, an orchestrator lists their disagreements)")
	f.BoolVar(&o.deep, "deep", false, "plan sub-questions and answer each with its own agent, checked against its sources (see docs/deep.md)")
	f.IntVar(&o.maxAgents, "max-agents", deep.DefaultMaxAgents, "with --deep: most sub-questions, hence agents")
	f.IntVar(&o.parallel, "parallel", 0, "with --deep: agents at work at once (default $OLLAMA_NUM_PARALLEL, else 4)")
	f.DurationVar(&o.workerTimeout, "worker-timeout", deep.DefaultWorkerTimeout, "with --deep: deadline of each model call of an agent, tried once more after a timeout")
	return c
}

func (a *app) runAsk(ctx context.Context, q string, o askOptions) error {
	a.global.ChatModel = o.chatModel
	if o.k < 1 {
		return usagef("-k must be at least 1")
	}
	if o.maxContext < 1024 {
		return usagef("--max-context must be at least 1024 tokens")
	}
	if o.deep {
		if err := o.deepOptions.check(); err != nil {
			return err
		}
	}
	if o.strategy != strategyFanout && o.strategy != strategyDebate {
		return usagef("--deep-strategy %q: want fanout or debate", o.strategy)
	}
	if o.strategy == strategyDebate {
		o.deep = true // debate is a --deep strategy
	}
	if err := o.wholeOptions.check(o.deep); err != nil {
		return err
	}
	s, c, mode, err := a.querySetup(o.mode, o.embedTimeout)
	if err != nil {
		return err
	}
	// The chat model is checked first: without it there is no answer to give.
	chat, info, err := a.chatFor(ctx, s, c, o.pull) // providers.go
	if err != nil {
		return err
	}
	sess, err := a.openSession(ctx, s, c, mode, o.pull, o.embedTimeout)
	if err != nil {
		return err
	}
	defer sess.Close()
	if o.strategy == strategyDebate {
		return a.runDebate(ctx, q, o, s, chat, info, sess)
	}
	if o.deep {
		answered, err := a.runDeep(ctx, q, o, s, chat, info, sess)
		if answered || err != nil {
			return err
		}
		// The plan was unusable (runDeep said so): answer the plain way.
	}
	limit := answer.Limit(o.maxContext, info.ContextLength)
	out, retrieval, err := a.askSources(ctx, s, sess, q, o, limit)
	if err != nil {
		return err
	}
	partial := a.warnRetrieval(out.Pending, out.VectorSkipped)
	partial = a.warnRerank(out.RerankSkipped) || partial
	if len(out.Results) == 0 {
		return withHint(answer.ErrNoSources, "try other words, or see what is indexed: rag status")
	}
	// In a pipe the answer streams as it arrives; on a terminal it streams, then
	// is redrawn as rendered Markdown; with --json it is printed whole at the end.
	// Until the first words arrive (a model loading or thinking), a spinner
	// on a terminal says what rag waits for.
	var spin *iostreams.Spinner
	if !a.quiet {
		spin = a.s.NewSpinner(fmt.Sprintf("waiting for %s to answer", s.ChatModel))
	}
	defer spin.Stop()
	var shown strings.Builder
	onDelta := func(d string) error {
		if a.json {
			return nil
		}
		spin.Stop()
		d = iostreams.Sanitize(d)
		shown.WriteString(d)
		_, err := fmt.Fprint(a.s.Out, d)
		return err
	}
	ans, err := answer.Ask(ctx, chat, q, out.Results, answer.Options{Model: s.ChatModel, ContextLength: limit}, onDelta)
	spin.Stop()
	if err != nil {
		if errors.Is(err, answer.ErrTooLong) {
			return withHint(err, "ask with fewer passages (-k), a larger --max-context or a chat model with a larger context")
		}
		return err
	}
	if ans.Dropped > 0 {
		fmt.Fprintf(a.s.Err, "rag: %d of %d retrieved passages did not fit the context window (%d tokens: %s) and were left out\n",
			ans.Dropped, len(out.Results), limit, limitSource(o.maxContext, info.ContextLength, s.ChatModel))
	}
	if err := a.renderAnswer(ans, s.ChatModel, shown.String(), retrieval); err != nil {
		return err
	}
	if partial {
		return partialError{}
	}
	return nil
}

// limitSource says where a context limit comes from.
func limitSource(maxContext, modelContext int, model string) string {
	if modelContext > 0 && modelContext < maxContext {
		return model + "'s own limit"
	}
	return "--max-context"
}

// renderAnswer ends a streamed answer: the JSON document, or the rendered
// Markdown on a terminal, then the sources.
func (a *app) renderAnswer(ans *answer.Answer, model, shown, retrieval string) error {
	if a.json {
		out := AskResult{Answer: ans.Text, Model: model, Sources: make([]AskSource, len(ans.Sources)), Retrieval: retrieval, Disagreements: disagreements(ans)}
		for i, src := range ans.Sources {
			out.Sources[i] = AskSource{N: src.N, Path: src.Path, StartLine: src.StartLine, EndLine: src.EndLine, Page: src.Page, Anchor: src.Anchor, Score: src.Score, Cited: src.Cited}
		}
		return a.writeJSON(out)
	}
	if a.s.OutTTY {
		a.redrawMarkdown(shown)
	} else if !strings.HasSuffix(shown, "\n") {
		fmt.Fprintln(a.s.Out)
	}
	a.printSources(ans)
	a.printDisagreements(ans)
	return nil
}

// redrawMarkdown replaces the streamed raw text on the terminal with its
// glamour rendering.
func (a *app) redrawMarkdown(raw string) {
	out := renderMarkdown(raw, a.s.Width)
	rows := 0
	for _, line := range strings.Split(raw, "\n") {
		rows += max(1, (runewidth.StringWidth(line)+a.s.Width-1)/a.s.Width)
	}
	if a.s.Height > 0 && rows >= a.s.Height {
		// The answer scrolled past the top of the screen, where the cursor
		// cannot go back: keep the plain text that is there.
		fmt.Fprintln(a.s.Out)
		return
	}
	// Move to the first row of the streamed text, clear to the end, redraw.
	// (CSI 0 A would still move one row up: only move when there is a row.)
	up := ""
	if rows > 1 {
		up = fmt.Sprintf("\x1b[%dA", rows-1)
	}
	fmt.Fprintf(a.s.Out, "\r%s\x1b[J%s", up, out)
}

func (a *app) printSources(ans *answer.Answer) {
	var cited, other []answer.Source
	for _, s := range ans.Sources {
		if s.Cited {
			cited = append(cited, s)
		} else {
			other = append(other, s)
		}
	}
	w := a.s.Out
	fmt.Fprintln(w)
	if len(cited) > 0 {
		fmt.Fprintln(w, "Sources:")
		for _, s := range cited {
			fmt.Fprintf(w, "  [%d] %s\n", s.N, anchorRef(s.Path, s.Anchor, s.StartLine, s.EndLine, s.Page))
		}
		return
	}
	fmt.Fprintln(w, "Sources (retrieved; the answer cites none of them):")
	for _, s := range other {
		fmt.Fprintf(w, "  [%d] %s\n", s.N, anchorRef(s.Path, s.Anchor, s.StartLine, s.EndLine, s.Page))
	}
}
