package eval

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/ragcli/rag/internal/retrieve"
)

// ChunkDepth is how many chunks each query retrieves: several chunks of a
// document may rank, and the metrics need 100 distinct documents.
const ChunkDepth = 400

// Searcher is what Run needs of a retrieval session (a *retrieve.Session).
type Searcher interface {
	Search(ctx context.Context, q retrieve.Query) (*retrieve.Outcome, error)
}

// Result is a finished run over a collection's queries.
type Result struct {
	Metrics
	PerQuery []PerQuery
	Elapsed  time.Duration // the queries' time, scoring excluded
}

// Run runs every query of coll through s, maps the retrieved chunks to
// documents with docOf (a document ranks where its best chunk does) and
// scores the rankings against coll's judgments. progress, when set, hears of
// each query before it runs. A query with nothing to search for (only
// stopwords) counts as one that found nothing.
func Run(ctx context.Context, s Searcher, coll *Collection, docOf func(string) (string, bool), progress func(i, n int, text string)) (*Result, error) {
	runs := map[string]Ranking{}
	start := time.Now()
	for i, q := range coll.Queries {
		if progress != nil {
			progress(i, len(coll.Queries), q.Text)
		}
		out, err := s.Search(ctx, retrieve.Query{Text: q.Text, K: ChunkDepth})
		if errors.Is(err, retrieve.ErrEmptyQuery) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("query %s: %w", q.ID, err)
		}
		paths := make([]string, len(out.Results))
		for j, res := range out.Results {
			paths[j] = res.Path
		}
		ranking := DocRanking(paths, docOf)
		runs[q.ID] = ranking[:min(len(ranking), 100)]
	}
	res := &Result{Elapsed: time.Since(start)}
	res.Metrics, res.PerQuery = Score(runs, coll.Qrels)
	return res, nil
}
