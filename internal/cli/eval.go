package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/store"
)

type evalOptions struct {
	beir     string
	split    string
	mode     string
	perQuery bool
	// embedTimeout bounds each query's embedding.
	embedTimeout time.Duration
	ingest       ingestOptions
	gen          generateOptions // --generate (evalgen.go)
}

// EvalResult is `rag eval --json`.
type EvalResult struct {
	Collection string `json:"collection"`
	Mode       string `json:"mode"`
	eval.Metrics
	// Reranked are the metrics of the same run with --rerank, beside the
	// fused ones above; absent without --rerank.
	Reranked *eval.Metrics   `json:"reranked,omitempty"`
	PerQuery []eval.PerQuery `json:"per_query,omitempty"`
	// Split is "train" or "test" for a file of a generated set (rag eval --generate).
	Split string `json:"split,omitempty"`
}

func (a *app) evalCmd() *cobra.Command {
	o := evalOptions{ingest: ingestOptions{wait: 10 * time.Second, batch: ingest.DefaultBatchSize, maxSize: 64 << 20}}
	c := &cobra.Command{
		Use:   "eval [QUESTIONS.jsonl]",
		Short: "Measure retrieval quality on a benchmark or on your own questions",
		Long: `Measure retrieval quality: nDCG@10, Recall@10, Recall@100 and MRR@10.

With --beir DIR, rag loads a BEIR-format collection (corpus.jsonl or
corpus.jsonl.gz, queries.jsonl, qrels/SPLIT.tsv) or the Cranfield collection
(a folder holding cran.all.1400, cran.qry and cranqrel), writes each document
as a file and ingests them through the normal pipeline into a throwaway index
(or into --index, so that later runs reuse it), runs every query of the split,
and maps chunks back to documents (a document ranks where its best chunk does).

With QUESTIONS.jsonl, rag scores your own index: one JSON object per line,
{"question": "...", "expected": ["path", ...]}, paths relative to the file.

Lexical mode needs no Ollama. Tune on the train split; report the test split.`,
		Example: `  rag eval --beir ../shared/data/scifact --split test --mode lexical
  rag eval --beir ~/beir/nfcorpus --mode hybrid --json
  rag eval questions.jsonl --per-query --json`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.gen.n > 0 {
				return a.runGenerate(cmd.Context(), args, o.gen)
			}
			switch {
			case o.beir == "" && len(args) == 0:
				return usagef("give --beir DIR or a QUESTIONS.jsonl file")
			case o.beir != "" && len(args) == 1:
				return usagef("give either --beir DIR or a QUESTIONS.jsonl file, not both")
			}
			questions := ""
			if len(args) == 1 {
				questions = args[0]
			}
			return a.runEval(cmd.Context(), cmd.Flags().Changed("index") || cmd.Root().PersistentFlags().Changed("index"), questions, o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.beir, "beir", "", "a BEIR-format (or Cranfield) collection folder")
	f.StringVar(&o.split, "split", eval.DefaultSplit, "which qrels split to score (test, train, dev)")
	f.StringVar(&o.mode, "mode", "hybrid", "retrieval: hybrid, vector or lexical (needs no Ollama)")
	f.DurationVar(&o.embedTimeout, "embed-timeout", retrieve.DefaultEmbedTimeout, "longest wait for a query's embedding; past it hybrid retrieval goes on with the lexical leg")
	a.rerankFlags(f, &a.rerank)
	f.BoolVar(&o.perQuery, "per-query", false, "with --json, include every query's metrics")
	f.BoolVar(&a.json, "json", false, "print the metrics as JSON on stdout")
	f.IntVar(&o.ingest.chunkTokens, "chunk-tokens", 0, "chunk size for the throwaway index")
	a.generateFlags(f, &o.gen)
	f.IntVar(&o.ingest.parallel, "parallel", 0, fmt.Sprintf("embedding requests in flight (default $OLLAMA_NUM_PARALLEL, else %d)", ingest.DefaultParallel))
	return c
}

func (a *app) runEval(ctx context.Context, keepIndex bool, questions string, o evalOptions) error {
	if o.embedTimeout <= 0 {
		return usagef("--embed-timeout must be positive")
	}
	mode, err := retrieve.ParseMode(o.mode)
	if err != nil {
		return usageError{err}
	}
	s, err := a.settings()
	if err != nil {
		return err
	}
	var coll *eval.Collection
	var docOf func(string) (string, bool)
	if questions == "" && s.Store != "" {
		// A benchmark builds an index of its own corpus: never inside the
		// user's collection.
		return usageError{withHint(&store.UnsupportedError{Store: redactStore(s.Store), What: "hold a benchmark's own index (rag eval --beir)"},
			"run rag eval --beir on the local index (drop --store); a question set (rag eval FILE) runs against the store")}
	}
	if questions != "" {
		if coll, err = eval.LoadQuestions(questions); err != nil {
			return err
		}
		docOf = eval.PathID
	} else {
		if _, statErr := os.Stat(filepath.Join(o.beir, "cran.all.1400")); statErr == nil {
			coll, err = eval.LoadCranfield(o.beir)
		} else {
			coll, err = eval.LoadBEIR(o.beir, o.split)
		}
		if err != nil {
			return fmt.Errorf("load %s: %w", o.beir, err)
		}
		work, err := os.MkdirTemp("", "rag-eval-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(work)
		if !keepIndex {
			s.Index = filepath.Join(work, "index")
		}
		corpus := filepath.Join(work, "corpus")
		if keepIndex {
			// Keep the corpus files beside the index, so a re-run is incremental.
			corpus = s.Index + ".corpus"
		}
		if err := os.RemoveAll(corpus); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if docOf, err = eval.WriteCorpus(coll, corpus); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
		if s.ChunkTokens == 0 {
			s.ChunkTokens = o.ingest.chunkTokens
		}
		var client *ollama.Client
		if mode != retrieve.Lexical {
			if client, err = a.client(s); err != nil {
				return err
			}
		}
		p := a.progress()
		if !a.quiet {
			fmt.Fprintf(a.s.Err, "rag: indexing %d documents of %s\n", len(coll.Docs), coll.Name)
		}
		rep, err := ingest.Run(ctx, a.ingestOptions([]string{corpus}, s, client, o.ingest, p))
		p.Done()
		if err != nil {
			return fmt.Errorf("ingest %s: %w", coll.Name, err)
		}
		if mode != retrieve.Lexical && rep.EmbedErr != nil {
			return fmt.Errorf("embed %s: %w", coll.Name, rep.EmbedErr)
		}
	}
	c, err := a.client(s)
	if err != nil {
		return err
	}
	// With --rerank the same queries run twice, fused and reranked, to
	// report both side by side.
	reranked, rerankOn := (*eval.Result)(nil), a.rerank.on
	a.rerank.on = false
	sess, err := a.openSession(ctx, s, c, mode, false, o.embedTimeout)
	a.rerank.on = rerankOn
	if err != nil {
		return err
	}
	defer sess.Close()
	p := a.progress()
	res, err := eval.Run(ctx, sess, coll, docOf, func(i, n int, text string) { p.Update("[%d/%d queries] %s", i+1, n, text) })
	p.Done()
	if err != nil {
		return err
	}
	partial := a.warnRetrieval(sessionPending(sess), sess.Skipped())
	if rerankOn {
		if reranked, err = a.evalReranked(ctx, s, c, mode, o, coll, docOf); err != nil {
			return err
		}
		partial = partial || reranked == nil
	}
	if !a.quiet {
		fmt.Fprintf(a.s.Err, "rag: %d queries in %.1fs (%.1f ms each)\n", len(coll.Queries), res.Elapsed.Seconds(),
			float64(res.Elapsed.Milliseconds())/float64(max(1, len(coll.Queries))))
	}
	split, _ := eval.SplitOf(questions)
	if err := a.renderEval(coll, mode, res, o.perQuery, split, reranked); err != nil {
		return err
	}
	if partial {
		return partialError{}
	}
	return nil
}

func (a *app) renderEval(coll *eval.Collection, mode retrieve.Mode, res *eval.Result, perQuery bool, split string, reranked *eval.Result) error {
	m := res.Metrics
	if a.json {
		out := EvalResult{Collection: coll.Name, Mode: string(mode), Metrics: m, Split: split}
		if reranked != nil {
			out.Reranked = &reranked.Metrics
		}
		if perQuery {
			out.PerQuery = res.PerQuery
		}
		return a.writeJSON(out)
	}
	fmt.Fprintf(a.s.Out, "collection:  %s (%s mode, %d queries)\nnDCG@10:     %.4f\nRecall@10:   %.4f\nRecall@100:  %.4f\nMRR@10:      %.4f\n",
		coll.Name, mode, m.Queries, m.NDCG10, m.Recall10, m.Recall100, m.MRR10)
	switch split {
	case "test":
		fmt.Fprintln(a.s.Out, "split:       test (held out: report this figure, once)")
	case "train":
		fmt.Fprintln(a.s.Out, "split:       train (tune on it; the test split gives the figure to report)")
	}
	if reranked != nil {
		r := reranked.Metrics
		fmt.Fprintf(a.s.Out, "\n             fused    reranked\nnDCG@10:     %.4f   %.4f\nRecall@10:   %.4f   %.4f\nRecall@100:  %.4f   %.4f\nMRR@10:      %.4f   %.4f\n",
			m.NDCG10, r.NDCG10, m.Recall10, r.Recall10, m.Recall100, r.Recall100, m.MRR10, r.MRR10)
	}
	return nil
}
