// Package retrieve finds the chunks of an index that best answer a query. It
// has two legs: a lexical one (BM25 over the chunks' analysed terms, in the
// index's full-text table) that needs no model, and a vector one that embeds
// the query and ranks every stored vector with chromem-go's exhaustive cosine
// search. Hybrid mode fuses their rankings by reciprocal rank fusion. It reads
// the index and returns results; it does not print or build prompts.
package retrieve

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
)

// Mode chooses the legs a search uses.
type Mode string

// The retrieval modes.
const (
	Hybrid  Mode = "hybrid"
	Vector  Mode = "vector"
	Lexical Mode = "lexical"
)

// ParseMode checks a mode name.
func ParseMode(s string) (Mode, error) {
	switch m := Mode(s); m {
	case Hybrid, Vector, Lexical:
		return m, nil
	}
	return "", fmt.Errorf("unknown mode %q: use hybrid, vector or lexical", s)
}

// RRFK is reciprocal rank fusion's constant: a result's fused score is the sum
// over legs of 1/(RRFK + rank). 60 is the value of the original paper
// (Cormack et al., 2009) and of most engines since.
const RRFK = 60

// minDepth is how many candidates each leg contributes to the fusion at least.
const minDepth = 100

// Leg is a result's place in one leg's ranking.
type Leg struct {
	Rank  int     `json:"rank"`  // 1-based
	Score float64 `json:"score"` // cosine similarity, or BM25
}

// Result is one retrieved chunk and how well it matched.
type Result struct {
	index.Chunk
	// Score orders results: the fused RRF score in hybrid mode, else the leg's own.
	Score   float64
	Vector  *Leg // nil when the vector leg did not find it (or did not run)
	Lexical *Leg // likewise for the lexical leg
}

// Outcome is a search's results, and why a leg was left out, if one was.
type Outcome struct {
	Results []Result
	// VectorSkipped is set when hybrid search fell back to the lexical leg
	// alone because the embedding server was unavailable.
	VectorSkipped error
}

// ErrEmptyQuery: there is nothing to search for.
var ErrEmptyQuery = errors.New("the query is empty")

// Search returns up to k chunks of the index for query. k larger than the
// index returns every match. e may be nil in lexical mode.
func Search(ctx context.Context, r *index.Reader, e embed.Embedder, query string, k int, mode Mode) (*Outcome, error) {
	return NewSearcher(r, e).Search(ctx, query, k, mode)
}

// Searcher runs many searches over one index snapshot, loading the vectors
// into chromem-go once.
type Searcher struct {
	r *index.Reader
	e embed.Embedder
	// shards are chromem-go collections over disjoint slices of the vectors,
	// loaded and queried side by side: each has its own lock and map.
	shards []*chromem.Collection
}

// NewSearcher returns a Searcher over r; e may be nil for lexical searches.
func NewSearcher(r *index.Reader, e embed.Embedder) *Searcher { return &Searcher{r: r, e: e} }

// Search is the package-level Search on the Searcher's snapshot.
func (s *Searcher) Search(ctx context.Context, query string, k int, mode Mode) (*Outcome, error) {
	r, e := s.r, s.e
	if query == "" {
		return nil, ErrEmptyQuery
	}
	if k <= 0 {
		return nil, fmt.Errorf("k must be at least 1, got %d", k)
	}
	depth := k
	if mode == Hybrid {
		depth = max(k*4, minDepth)
	}
	out := &Outcome{}
	var vec, lex []hit
	var err error
	if mode != Lexical {
		vec, err = s.vectorLeg(ctx, r, e, query, depth)
		if err != nil {
			var damaged *index.DamagedError
			if mode == Hybrid && (errors.Is(err, embed.ErrUnavailable) || errors.Is(err, embed.ErrInputTooLong) || errors.As(err, &damaged)) {
				out.VectorSkipped = err
			} else {
				return nil, err
			}
		}
	}
	if mode != Vector {
		hits, err := r.Lexical(lexical.Query(query), depth)
		if err != nil {
			return nil, err
		}
		for _, h := range hits {
			lex = append(lex, hit{id: h.ID, score: h.Score})
		}
	}
	fused := fuse(vec, lex, mode)
	if len(fused) > k {
		fused = fused[:k]
	}
	ids := make([]uint64, len(fused))
	for i, f := range fused {
		ids[i] = f.id
	}
	chunks, err := r.Chunks(ids)
	if err != nil {
		return nil, err
	}
	out.Results = make([]Result, len(fused))
	for i, f := range fused {
		out.Results[i] = Result{Chunk: chunks[i], Score: f.score, Vector: f.vec, Lexical: f.lex}
	}
	return out, nil
}

type hit struct {
	id    uint64
	score float64
}

type fusedHit struct {
	id       uint64
	score    float64
	vec, lex *Leg
}

// fuse merges the legs' rankings. With one leg it keeps that leg's order and
// scores; with two it ranks by reciprocal rank fusion.
func fuse(vec, lex []hit, mode Mode) []fusedHit {
	byID := map[uint64]*fusedHit{}
	var order []*fusedHit
	get := func(id uint64) *fusedHit {
		f, ok := byID[id]
		if !ok {
			f = &fusedHit{id: id}
			byID[id] = f
			order = append(order, f)
		}
		return f
	}
	for i, h := range vec {
		f := get(h.id)
		f.vec = &Leg{Rank: i + 1, Score: h.score}
	}
	for i, h := range lex {
		f := get(h.id)
		f.lex = &Leg{Rank: i + 1, Score: h.score}
	}
	for _, f := range order {
		switch {
		case mode == Vector && f.vec != nil:
			f.score = f.vec.Score
		case mode == Lexical && f.lex != nil:
			f.score = f.lex.Score
		default:
			if f.vec != nil {
				f.score += 1 / float64(RRFK+f.vec.Rank)
			}
			if f.lex != nil {
				f.score += 1 / float64(RRFK+f.lex.Rank)
			}
		}
	}
	out := make([]fusedHit, len(order))
	for i, f := range order {
		out[i] = *f
	}
	sort.Slice(out, func(i, j int) bool { return ranksBefore(out[i].score, out[i].id, out[j].score, out[j].id) })
	return out
}

// vectorLeg ranks every stored vector against the query's embedding.
func (s *Searcher) vectorLeg(ctx context.Context, r *index.Reader, e embed.Embedder, query string, k int) ([]hit, error) {
	if r.LiveVectors() == 0 && (r.Meta().Pending == 0 || e == nil) {
		return nil, nil // nothing to rank; with chunks pending, a given embedder still tells whether the server is up
	}
	if e == nil {
		return nil, fmt.Errorf("vector search: %w", embed.ErrUnavailable)
	}
	// Load the vectors while the server embeds the query.
	type loaded struct {
		shards []*chromem.Collection
		err    error
	}
	ready := make(chan loaded, 1)
	go func() {
		shards, err := s.collections(ctx)
		ready <- loaded{shards, err}
	}()
	vecs, err := e.Embed(ctx, []string{embed.PrefixesFor(e.Model()).Query + query})
	l := <-ready
	if err != nil {
		return nil, fmt.Errorf("embed query: %w", err)
	}
	if l.err != nil {
		return nil, l.err
	}
	shards := l.shards
	if r.LiveVectors() == 0 {
		return nil, nil // every chunk is still pending: the lexical leg has them
	}
	q := vecs[0]
	if len(q) != r.Meta().Dim {
		return nil, fmt.Errorf("query vector has dimension %d, the index %d", len(q), r.Meta().Dim)
	}
	var out []hit
	for _, coll := range shards {
		if coll.Count() == 0 {
			continue
		}
		res, err := coll.QueryEmbedding(ctx, q, min(k, coll.Count()), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("query vectors: %w", err)
		}
		for _, h := range res {
			id, err := strconv.ParseUint(h.ID, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("vector id %q: %w", h.ID, err)
			}
			out = append(out, hit{id: id, score: float64(h.Similarity)})
		}
	}
	sort.Slice(out, func(i, j int) bool { return ranksBefore(out[i].score, out[i].id, out[j].score, out[j].id) })
	if len(out) > k {
		out = out[:k]
	}
	return out, nil
}

// minShard is the fewest vectors worth a shard (and a goroutine) of their own.
const minShard = 4096

// collections loads the snapshot's vectors into chromem-go, once, as one
// collection per core over interleaved slices of the vectors, built in
// parallel: chromem-go checks each vector's length and inserts it into its
// map under the collection's lock, which would serialise a single collection.
// The vectors are not copied: they point into the index's memory-mapped file.
func (s *Searcher) collections(ctx context.Context) ([]*chromem.Collection, error) {
	if s.shards != nil {
		return s.shards, nil
	}
	type vec struct {
		id uint64
		v  []float32
	}
	all := make([]vec, 0, s.r.LiveVectors())
	if err := s.r.EachVector(func(id uint64, v []float32) error {
		all = append(all, vec{id, v})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	n := max(1, min(runtime.GOMAXPROCS(0), len(all)/minShard))
	shards := make([]*chromem.Collection, n)
	errs := make(chan error, n)
	// 100k documents are garbage the collector cannot free while they load.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for i := range shards {
		coll, err := chromem.NewDB().CreateCollection(fmt.Sprintf("rag-%d", i), nil, nil)
		if err != nil {
			return nil, fmt.Errorf("create vector collection: %w", err)
		}
		shards[i] = coll
		go func() {
			var err error
			for j := i; j < len(all) && err == nil; j += n {
				err = coll.AddDocument(ctx, chromem.Document{ID: strconv.FormatUint(all[j].id, 10), Embedding: all[j].v})
			}
			errs <- err
		}()
	}
	var err error
	for range shards {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	s.shards = shards
	return shards, nil
}

// ranksBefore orders results by score, and ties by chunk id (the older chunk
// first): chromem-go returns equal similarities in no fixed order, and the
// same query must always rank the same way.
func ranksBefore(scoreA float64, idA uint64, scoreB float64, idB uint64) bool {
	if scoreA != scoreB {
		return scoreA > scoreB
	}
	return idA < idB
}
