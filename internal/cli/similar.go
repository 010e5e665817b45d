package cli

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/mattn/go-runewidth"
	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/similarity"
)

type similarOptions struct {
	query string
	pull  bool
}

// SimilarMatrix is `rag similar --json`. The schema is stable; see docs/commands.md.
type SimilarMatrix struct {
	Model  string      `json:"model"`
	Texts  []string    `json:"texts"`
	Matrix [][]float64 `json:"matrix"`
}

// SimilarRanking is `rag similar --query Q --json`.
type SimilarRanking struct {
	Model   string              `json:"model"`
	Query   string              `json:"query"`
	Results []similarity.Ranked `json:"results"`
}

func (a *app) similarCmd() *cobra.Command {
	var o similarOptions
	c := &cobra.Command{
		Use:   "similar TEXT...",
		Short: "Show how close texts are under the embedding model",
		Long: `Show the cosine similarity of texts under the embedding model: the index's
model, or --embed-model. With several texts it prints the matrix of every
pair; with --query Q it ranks the texts by their similarity to Q, closest
first (the query embedded as rag search embeds queries).

A cosine compares directions in the model's space: 1 is the same direction,
near 0 unrelated. It is not a probability, and its scale differs from model
to model: compare numbers from one model only (docs/similar.md).

On a terminal the table is aligned; in a pipe it is tab-separated. --json
prints {"model", "texts", "matrix"} or, with --query, {"model", "query",
"results": [{"rank", "text", "score", "index"}]}.`,
		Example: `  rag similar "I love programming" "I enjoy coding" "I hate Mondays"
  rag similar --query canine dog puppy hound car
  rag similar --embed-model nomic-embed-text --json "cat" "kitten"`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.query == "" && len(args) < 2 {
				return usagef("give two texts or more to compare, or --query Q and the texts to rank")
			}
			return a.runSimilar(cmd.Context(), args, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.query, "query", "", "rank the texts by their similarity to this query")
	f.BoolVar(&a.json, "json", false, "print the similarities as JSON on stdout")
	f.BoolVar(&o.pull, "pull", false, "pull the embedding model if Ollama does not have it")
	return c
}

// similarModel is the embedding model to compare with: the one asked for, else
// the index's, else the default.
func (a *app) similarModel(ctx context.Context, s config.Settings) (string, error) {
	if s.EmbedExplicit {
		return s.EmbedModel, nil
	}
	st, err := a.openStore(ctx, s)
	if err != nil {
		return "", err
	}
	r, err := st.OpenReader(ctx)
	if errors.Is(err, index.ErrNoIndex) {
		return s.EmbedModel, nil
	}
	if err != nil {
		return "", fmt.Errorf("open index %s: %w", st.Location(), err)
	}
	defer r.Close()
	if m := r.Meta().EmbedModel; m != "" {
		return m, nil
	}
	return s.EmbedModel, nil
}

func (a *app) runSimilar(ctx context.Context, texts []string, o similarOptions) error {
	s, err := a.settings()
	if err != nil {
		return err
	}
	model, err := a.similarModel(ctx, s)
	if err != nil {
		return err
	}
	c, err := a.client(s)
	if err != nil {
		return err
	}
	if o.pull {
		if _, err := a.showModel(ctx, c, model, true); err != nil {
			return err
		}
	}
	e := &ollama.Embedder{Client: c, Name: model}
	if o.query != "" {
		res, err := similarity.Rank(ctx, e, o.query, texts)
		if err != nil {
			return err
		}
		if a.json {
			return a.writeJSON(SimilarRanking{Model: model, Query: o.query, Results: res})
		}
		a.printRanking(res)
		return nil
	}
	m, err := similarity.Matrix(ctx, e, texts)
	if err != nil {
		return err
	}
	if a.json {
		return a.writeJSON(SimilarMatrix{Model: model, Texts: texts, Matrix: m})
	}
	a.printMatrix(texts, m)
	return nil
}

// cellText is a text as one table cell: control sequences stripped, white
// space folded, and on a terminal cut to width cells.
func cellText(t string, width int) string {
	t = strings.Join(strings.Fields(iostreams.Sanitize(t)), " ")
	if width > 0 {
		t = runewidth.Truncate(t, width, "…")
	}
	return t
}

// similarTextWidth is the widest a text is shown on a terminal.
const similarTextWidth = 72

func (a *app) printMatrix(texts []string, m [][]float64) {
	if !a.s.OutTTY {
		// Tab-separated: a header row of the texts, then one row per text.
		row := []string{""}
		for _, t := range texts {
			row = append(row, cellText(t, 0))
		}
		fmt.Fprintln(a.s.Out, strings.Join(row, "\t"))
		for i, t := range texts {
			row = []string{cellText(t, 0)}
			for _, v := range m[i] {
				row = append(row, fmt.Sprintf("%.4f", v))
			}
			fmt.Fprintln(a.s.Out, strings.Join(row, "\t"))
		}
		return
	}
	// Aligned: numbered rows and columns, the texts listed below.
	w := len(fmt.Sprintf("[%d]", len(texts)))
	var b strings.Builder
	b.WriteString(strings.Repeat(" ", w))
	for i := range texts {
		fmt.Fprintf(&b, "  %6s", fmt.Sprintf("[%d]", i+1))
	}
	b.WriteString("\n")
	for i := range texts {
		fmt.Fprintf(&b, "%-*s", w, fmt.Sprintf("[%d]", i+1))
		for _, v := range m[i] {
			fmt.Fprintf(&b, "  %6.3f", v)
		}
		b.WriteString("\n")
	}
	fmt.Fprint(a.s.Out, b.String())
	fmt.Fprintln(a.s.Out)
	for i, t := range texts {
		fmt.Fprintf(a.s.Out, "[%d] %s\n", i+1, cellText(t, similarTextWidth))
	}
}

func (a *app) printRanking(res []similarity.Ranked) {
	for _, r := range res {
		if a.s.OutTTY {
			fmt.Fprintf(a.s.Out, "%2d. %6.3f  %s\n", r.Rank, r.Score, cellText(r.Text, similarTextWidth))
		} else {
			fmt.Fprintf(a.s.Out, "%d\t%.4f\t%s\n", r.Rank, r.Score, cellText(r.Text, 0))
		}
	}
}
