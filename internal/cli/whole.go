package cli

import (
	"context"
	"errors"
	"fmt"

	"github.com/spf13/pflag"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/retrieve"
)

// How an answer's sources were chosen (`"retrieval"` in rag ask --json).
const (
	retrievalSearch = "search"
	retrievalWhole  = "whole-corpus"
)

// wholeOptions choose between retrieval and the whole corpus.
type wholeOptions struct {
	whole    bool     // --whole: the whole corpus, refused when it does not fit
	retrieve bool     // --retrieve: always retrieve
	paths    []string // --path: only these files
}

func (a *app) wholeFlags(f *pflag.FlagSet, o *wholeOptions) {
	f.BoolVar(&o.whole, "whole", false, "give the model every chunk (of --path), not retrieved passages; refused when they do not fit")
	f.BoolVar(&o.retrieve, "retrieve", false, "always retrieve -k passages, even when the whole corpus would fit the context")
	f.StringSliceVar(&o.paths, "path", nil, "only use files under this folder or matching this glob (repeatable)")
}

// errCorpusTooBig: --whole asked for a corpus the context cannot hold.
var errCorpusTooBig = errors.New("the whole corpus does not fit the chat model's context")

func (o wholeOptions) check(deep bool) error {
	switch {
	case o.whole && o.retrieve:
		return usagef("give --whole or --retrieve, not both")
	case o.whole && deep:
		return usagef("--whole and --deep do not go together: --deep retrieves for each sub-question")
	}
	return nil
}

// askSources picks the passages an answer is made from: every chunk of the
// index (or of --path), in document order, when they all fit the context
// window limit (or --whole), else the -k best retrieved (always with
// --retrieve or --rerank).
func (a *app) askSources(ctx context.Context, s config.Settings, sess *retrieve.Session, q string, o askOptions, limit int) (*retrieve.Outcome, string, error) {
	if o.whole && a.rerank.on {
		return nil, "", usagef("--whole and --rerank do not go together: --rerank orders retrieved passages")
	}
	// --rerank asks for ranked passages: it implies retrieval.
	if !o.retrieve && !a.rerank.on {
		r, err := a.chunkWalker(ctx, s)
		if err != nil {
			return nil, "", err
		}
		all, ok, err := answer.WholeCorpus(r, q, o.paths, limit, 0)
		r.Close()
		if err != nil {
			return nil, "", err
		}
		switch {
		case ok:
			if !a.quiet {
				fmt.Fprintf(a.s.Err, "rag: all %d chunks fit the context window (%d tokens): no retrieval, the model reads them all in document order (--retrieve to search instead)\n", len(all), limit)
			}
			return &retrieve.Outcome{Results: all}, retrievalWhole, nil
		case o.whole:
			return nil, "", withHint(errCorpusTooBig, "ask without --whole to retrieve passages, narrow it with --path, or raise --max-context (now %d tokens)", limit)
		}
	}
	out, err := sess.Search(ctx, retrieve.Query{Text: q, K: o.k, Paths: o.paths})
	return out, retrievalSearch, err
}
