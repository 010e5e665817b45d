package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/cobra"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/finetune"
	"github.com/ragcli/rag/internal/retrieve"
)

type finetuneOptions struct {
	from, out string
	k         int
	mode      string
}

// FinetuneResult is `rag export finetune --json`.
type FinetuneResult struct {
	Out       string `json:"out"`
	TrainFile string `json:"train_file"`
	TestFile  string `json:"test_file"`
	finetune.Report
	// Warning is set below finetune.MinExamples training examples.
	Warning string `json:"warning,omitempty"`
}

func (a *app) exportCmd() *cobra.Command {
	c := &cobra.Command{
		Use:   "export",
		Short: "Export data built from the index for other tools",
		Args:  cobra.NoArgs,
		RunE:  func(c *cobra.Command, _ []string) error { return usagef("name what to export: rag export finetune") },
	}
	c.AddCommand(a.exportFinetuneCmd())
	return c
}

func (a *app) exportFinetuneCmd() *cobra.Command {
	var o finetuneOptions
	c := &cobra.Command{
		Use:   "finetune --from DIR --out DIR2",
		Short: "Write fine-tuning data in the chat messages format from a generated question set",
		Long: `Write fine-tuning data from a question set made by rag eval --generate: DIR2/train.jsonl
and DIR2/test.jsonl, one {"messages": [system, user, assistant]} per line, the format
LoRA/QLoRA trainers and hosted fine-tuning APIs accept. Each example is rag ask's
own prompt (the question with its retrieved passages, -k of them) and the answer
citing its source chunk, which stands in for the last passage when retrieval
missed it.

The test split never reaches the training file: test questions go to
test.jsonl only, and no training example's context holds a chunk of a test
document. Below 100 training examples fine-tuning rarely beats prompt
engineering and RAG; aim for 500 or more (docs/evaluation.md). The passages
come from the store rag uses (--index, or --store for a Weaviate collection).`,
		Example: `  rag eval --generate 600 --out qs
  rag export finetune --from qs --out ft`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if o.from == "" || o.out == "" {
				return usagef("give --from DIR (made by rag eval --generate) and --out DIR2")
			}
			if o.k < 1 {
				return usagef("-k must be at least 1")
			}
			return a.runFinetune(cmd.Context(), o)
		},
	}
	f := c.Flags()
	f.StringVar(&o.from, "from", "", "a question set folder made by rag eval --generate")
	f.StringVar(&o.out, "out", "", "the folder to write train.jsonl and test.jsonl to")
	f.IntVarP(&o.k, "k", "k", 5, "passages of context per example")
	f.StringVar(&o.mode, "mode", "hybrid", "retrieval: hybrid, vector or lexical")
	f.BoolVar(&a.json, "json", false, "print what was written as JSON on stdout")
	return c
}

func (a *app) runFinetune(ctx context.Context, o finetuneOptions) error {
	train, err := eval.ReadGenerated(filepath.Join(o.from, eval.TrainFile))
	if err != nil {
		return withHint(err, "make a question set first: rag eval --generate N --out %s", o.from)
	}
	test, err := eval.ReadGenerated(filepath.Join(o.from, eval.TestFile))
	if err != nil {
		return withHint(err, "make a question set first: rag eval --generate N --out %s", o.from)
	}
	s, c, mode, err := a.querySetup(o.mode, retrieve.DefaultEmbedTimeout)
	if err != nil {
		return err
	}
	sess, err := a.openSession(ctx, s, c, mode, false, retrieve.DefaultEmbedTimeout)
	if err != nil {
		return err
	}
	defer sess.Close()
	p := a.progress()
	n, total := 0, len(train)+len(test)
	search := func(ctx context.Context, q string, k int) ([]retrieve.Result, error) {
		n++
		p.Update("[%d/%d] retrieving context", n, total)
		out, err := sess.Search(ctx, retrieve.Query{Text: q, K: k})
		if err != nil {
			return nil, err
		}
		return out.Results, nil
	}
	trainEx, testEx, rep, err := finetune.Build(ctx, train, test, search, finetune.Options{K: o.k})
	p.Done()
	if err != nil {
		return err
	}
	partial := a.warnRetrieval(sessionPending(sess), sess.Skipped())
	if err := finetune.Write(o.out, trainEx, testEx); err != nil {
		return err
	}
	res := FinetuneResult{Out: o.out, TrainFile: filepath.Join(o.out, finetune.TrainFile), TestFile: filepath.Join(o.out, finetune.TestFile), Report: rep}
	switch {
	case rep.Train < finetune.MinExamples:
		res.Warning = fmt.Sprintf("only %d training examples: below %d, prompt engineering and RAG serve better than fine-tuning; aim for %d or more",
			rep.Train, finetune.MinExamples, finetune.GoodExamples)
	case rep.Train < finetune.GoodExamples:
		res.Warning = fmt.Sprintf("%d training examples: %d or more make fine-tuning worth its cost", rep.Train, finetune.GoodExamples)
	}
	if res.Warning != "" {
		fmt.Fprintf(a.s.Err, "rag: warning: %s\n", res.Warning)
	}
	if a.json {
		if err := a.writeJSON(res); err != nil {
			return err
		}
	} else {
		fmt.Fprintf(a.s.Out, "train: %s (%d examples)\ntest:  %s (%d examples; keep it out of training)\n", res.TrainFile, rep.Train, res.TestFile, rep.Test)
		if rep.SourceAdded > 0 {
			fmt.Fprintf(a.s.Out, "%d examples had their source chunk put in place of the last retrieved passage (retrieval missed it)\n", rep.SourceAdded)
		}
	}
	if partial {
		return partialError{}
	}
	return nil
}
