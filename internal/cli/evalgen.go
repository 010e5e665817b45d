package cli

import (
	"context"
	"fmt"
	"path/filepath"

	"github.com/spf13/pflag"

	"github.com/ragcli/rag/internal/eval"
	"github.com/ragcli/rag/internal/index"
)

// generateOptions are rag eval --generate's flags.
type generateOptions struct {
	n            int
	out          string
	seed         uint64
	testFraction float64
	chatModel    string
	pull         bool
}

// GenerateResult is `rag eval --generate --json`: where the set went and its manifest.
type GenerateResult struct {
	Out       string `json:"out"`
	TrainFile string `json:"train_file"`
	TestFile  string `json:"test_file"`
	eval.Manifest
}

func (a *app) generateFlags(f *pflag.FlagSet, o *generateOptions) {
	f.IntVar(&o.n, "generate", 0, "write N questions from sampled chunks with the chat model, split by document into --out DIR/train.jsonl and test.jsonl")
	f.StringVar(&o.out, "out", "", "with --generate: the folder to write the question set to")
	f.Uint64Var(&o.seed, "seed", eval.DefaultSeed, "with --generate: the seed of the document split and the sample")
	f.Float64Var(&o.testFraction, "test-fraction", eval.DefaultTestFraction, "with --generate: share of documents held out for test")
	f.StringVar(&o.chatModel, "chat-model", "", "with --generate: Ollama chat model (default $RAG_CHAT_MODEL, the config file, else llama3.2)")
	f.BoolVar(&o.pull, "pull", false, "with --generate: pull the chat model if Ollama does not have it")
}

func (a *app) runGenerate(ctx context.Context, args []string, o generateOptions) error {
	switch {
	case len(args) > 0:
		return usagef("--generate writes questions; it takes no QUESTIONS file")
	case o.out == "":
		return usagef("--generate needs --out DIR")
	case o.testFraction <= 0 || o.testFraction >= 1:
		return usagef("--test-fraction must be between 0 and 1")
	}
	a.global.ChatModel = o.chatModel
	s, err := a.settings()
	if err != nil {
		return err
	}
	c, err := a.client(s)
	if err != nil {
		return err
	}
	info, err := a.showModel(ctx, c, s.ChatModel, o.pull)
	if err != nil {
		return err
	}
	r, err := index.OpenReader(s.Index)
	if err != nil {
		return fmt.Errorf("open index %s: %w", s.Index, err)
	}
	defer r.Close()
	p := a.progress()
	set, err := eval.Generate(ctx, r, c, eval.GenerateOptions{N: o.n, Seed: o.seed, TestFraction: o.testFraction,
		Model: s.ChatModel, ContextLength: info.ContextLength,
		Progress: func(i, n int) { p.Update("[%d/%d] writing questions with %s", i+1, n, s.ChatModel) }})
	p.Done()
	if err != nil {
		return err
	}
	set.Manifest.Index = s.Index
	if err := set.Write(o.out); err != nil {
		return err
	}
	m := set.Manifest
	if !a.quiet {
		d := m.Dropped
		fmt.Fprintf(a.s.Err, "rag: %d questions from %d sampled chunks (dropped: %d duplicate, %d quoting their chunk, %d unusable replies)\n",
			m.Train.Questions+m.Test.Questions, m.Sampled, d.Duplicate, d.Verbatim, d.Failed)
	}
	res := GenerateResult{Out: o.out, TrainFile: filepath.Join(o.out, eval.TrainFile), TestFile: filepath.Join(o.out, eval.TestFile), Manifest: m}
	if a.json {
		return a.writeJSON(res)
	}
	fmt.Fprintf(a.s.Out, "train: %s (%d questions from %d documents)\ntest:  %s (%d questions from %d documents)\n",
		res.TrainFile, m.Train.Questions, m.Train.Documents, res.TestFile, m.Test.Questions, m.Test.Documents)
	fmt.Fprintln(a.s.Out, "tune chunk size, mode and k against train; measure test once, at the end: rag eval "+res.TestFile)
	return nil
}
