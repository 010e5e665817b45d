package cli

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/retrieve"
)

type evalOptions struct {
	beir     string
	split    string
	mode     string
	perQuery bool
	// keep keeps a benchmark's scratch collection (--store) for the next run.
	keep bool
	// clean drops every scratch collection of the store (--clean).
	clean bool
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
	// Store is the scratch collection a benchmark ran in, with --store;
	// Kept says it was kept (--keep) rather than dropped.
	Store string `json:"store,omitempty"`
	Kept  bool   `json:"kept,omitempty"`
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

With --store URL, the benchmark runs on that store's engine but never in
your collection: rag ingests it into a scratch collection of the same server
(named after yours, the benchmark and a hash of its documents and settings:
Rag_eval_scifact_1f2e3d4c) and drops it afterwards, also on Ctrl-C. --keep
keeps it; the next run with the same benchmark and settings reuses it, as it
reuses one a killed run left. rag eval --clean --store URL drops every
scratch collection of your collection.

With QUESTIONS.jsonl, rag scores your own index: one JSON object per line,
{"question": "...", "expected": ["path", ...]}, paths relative to the file.

Lexical mode needs no Ollama. Tune on the train split; report the test split.`,
		Example: `  rag eval --beir ../shared/data/scifact --split test --mode lexical
  rag eval --beir ~/beir/nfcorpus --mode hybrid --json
  rag eval questions.jsonl --per-query --json
  rag eval --beir scifact --mode lexical --store weaviate://127.0.0.1:8080/Docs --keep
  rag eval --clean --store weaviate://127.0.0.1:8080/Docs`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.gen.n > 0 {
				return a.runGenerate(cmd.Context(), args, o.gen)
			}
			if o.clean {
				if o.beir != "" || len(args) > 0 {
					return usagef("--clean drops the benchmark collections and exits: give it alone, with --store")
				}
				return a.cleanScratch(cmd.Context()) // evalstore.go
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
	f.BoolVar(&o.keep, "keep", false, "with --beir and --store: keep the benchmark's scratch collection for the next run to reuse (locally, --index DIR keeps it)")
	f.BoolVar(&o.clean, "clean", false, "with --store: drop every benchmark collection earlier rag eval --beir runs kept or left behind, then exit")
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
	loc, err := parseStore(s)
	if err != nil {
		return err
	}
	if o.keep && (questions != "" || loc.Local()) {
		return usagef("--keep keeps the scratch collection of rag eval --beir --store URL; locally, --index DIR keeps the benchmark's index")
	}
	var scratch *evalScratch // the benchmark's own collection, with --store
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
		if s.ChunkTokens == 0 {
			s.ChunkTokens = o.ingest.chunkTokens
		}
		corpus := filepath.Join(work, "corpus")
		switch {
		case !loc.Local():
			// The benchmark's index goes into a scratch collection of the
			// same server (evalstore.go), never into the user's.
			if scratch, err = a.newScratch(loc, coll, s); err != nil {
				return err
			}
			s.Store, corpus = scratch.loc.String(), scratch.corpus
			if others, err := scratch.others(ctx, loc.Collection); err != nil {
				return fmt.Errorf("list the benchmark collections on %s: %w", loc, err)
			} else if len(others) > 0 && !a.quiet {
				fmt.Fprintf(a.s.Err, "rag: note: %s also holds %s of earlier runs (kept with --keep, or left by a killed run): %s; rag eval --clean drops them\n",
					loc.Host, plural(len(others), "benchmark collection", "benchmark collections"), strings.Join(others, ", "))
			}
			if !o.keep {
				defer func() {
					if err := scratch.drop(ctx); err != nil {
						fmt.Fprintf(a.s.Err, "rag: warning: could not drop the benchmark's collection %s: %s\n", scratch.loc, firstLine(err.Error()))
						fmt.Fprintf(a.s.Err, "rag: hint: the next rag eval --beir of it with the same settings reuses and drops it; rag eval --clean --store %s drops every one\n", loc)
					}
				}()
			}
		case keepIndex:
			// Keep the corpus files beside the index, so a re-run is incremental.
			corpus = s.Index + ".corpus"
		default:
			s.Index = filepath.Join(work, "index")
		}
		if err := os.RemoveAll(corpus); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return err
		}
		if docOf, err = eval.WriteCorpus(coll, corpus); err != nil {
			return fmt.Errorf("write corpus: %w", err)
		}
		var client *ollama.Client
		if mode != retrieve.Lexical {
			if client, err = a.client(s); err != nil {
				return err
			}
		}
		p := a.progress()
		opts := a.ingestOptions([]string{corpus}, s, client, o.ingest, p)
		if scratch != nil {
			if opts.Store, err = a.openStore(ctx, s); err != nil {
				return err
			}
		}
		if !a.quiet {
			into := ""
			if scratch != nil {
				into = fmt.Sprintf(" into %s (a scratch collection, dropped afterwards)", scratch.loc)
				if o.keep {
					into = fmt.Sprintf(" into %s (a scratch collection, kept for the next run)", scratch.loc)
				}
			}
			fmt.Fprintf(a.s.Err, "rag: indexing %d documents of %s%s\n", len(coll.Docs), coll.Name, into)
		}
		rep, err := ingest.Run(ctx, opts)
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
	var where *evalWhere
	if scratch != nil {
		where = &evalWhere{store: scratch.loc.String(), kept: o.keep}
	}
	if err := a.renderEval(coll, mode, res, o.perQuery, split, reranked, where); err != nil {
		return err
	}
	if partial {
		return partialError{}
	}
	return nil
}

// evalWhere is the scratch collection a benchmark ran in.
type evalWhere struct {
	store string
	kept  bool
}

func (a *app) renderEval(coll *eval.Collection, mode retrieve.Mode, res *eval.Result, perQuery bool, split string, reranked *eval.Result, where *evalWhere) error {
	m := res.Metrics
	if a.json {
		out := EvalResult{Collection: coll.Name, Mode: string(mode), Metrics: m, Split: split}
		if where != nil {
			out.Store, out.Kept = where.store, where.kept
		}
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
	if where != nil {
		what := "dropped"
		if where.kept {
			what = "kept (--keep)"
		}
		fmt.Fprintf(a.s.Out, "store:       %s (%s)\n", where.store, what)
	}
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
