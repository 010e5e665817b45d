package answer

import (
	"errors"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/retrieve"
)

// ChunkWalker goes through an index's chunks in document order, as
// index.Reader.EachChunk does; an error from fn stops it and is returned.
type ChunkWalker interface {
	EachChunk(fn func(index.Chunk) error) error
}

// errTooBig stops the walk over the chunks once they cannot fit.
var errTooBig = errors.New("the corpus does not fit")

// WholeCorpus returns every chunk of r (only those of files matching paths,
// when paths is not empty; see retrieve.MatchPath) in document order, when
// question and all of them fit a context window of limit tokens with
// answerTokens (0: DefaultAnswerTokens) left for the reply: then retrieval
// has nothing to choose, and the model may as well read everything. It
// returns false when they do not fit, or when there is no chunk; it stops
// reading as soon as the chunks outgrow limit, so a large index costs little.
func WholeCorpus(r ChunkWalker, question string, paths []string, limit, answerTokens int) ([]retrieve.Result, bool, error) {
	if answerTokens <= 0 {
		answerTokens = DefaultAnswerTokens
	}
	var out []retrieve.Result
	match := map[string]bool{}
	need := Estimate(Prompt(question, nil), answerTokens)
	err := r.EachChunk(func(c index.Chunk) error {
		ok, seen := match[c.Path]
		if !seen {
			var err error
			if ok, err = retrieve.MatchPath(paths, c.Path); err != nil {
				return err
			}
			match[c.Path] = ok
		}
		if !ok {
			return nil
		}
		out = append(out, retrieve.Result{Chunk: c})
		// A source costs its text and its tag; the exact prompt is checked below.
		if need += Estimate([]llm.Message{{Content: c.Text + c.Path}}, 0) - promptMargin + 16; need > limit {
			return errTooBig
		}
		return nil
	})
	if errors.Is(err, errTooBig) || len(out) == 0 {
		return nil, false, nil
	}
	if err != nil {
		return nil, false, err
	}
	sources := make([]Source, len(out))
	for i, r := range out {
		sources[i] = Source{N: i + 1, Result: r}
	}
	if Estimate(Prompt(question, sources), answerTokens) > limit {
		return nil, false, nil
	}
	return out, true, nil
}
