// Package retrieve finds the chunks of an index that best answer a query. It
// has two legs: a lexical one (BM25 over the chunks' analysed terms, in the
// index's full-text table) that needs no model, and a vector one that embeds
// the query and ranks every stored vector with chromem-go's exhaustive cosine
// search. Hybrid mode fuses their rankings by reciprocal rank fusion.
//
// A Session is the one way a question reaches the index, for every caller
// (search, ask, ask --deep, eval, the servers): it holds one snapshot of the
// index, the embedder, the model check and the rule for leaving the vector
// leg out, and reports what its results lack as values. It reads the index
// and returns results; it does not print or build prompts.
package retrieve

import (
	"errors"
	"fmt"
	"sort"

	"github.com/ragcli/rag/internal/index"
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
	// Rerank is the reranker's rank and score, nil when it did not score
	// this result (no reranker, past its candidates, or it failed).
	Rerank *Leg
}

// ErrEmptyQuery: there is nothing to search for.
var ErrEmptyQuery = errors.New("the query is empty")

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

// ranksBefore orders results by score, and ties by chunk id (the older chunk
// first): chromem-go returns equal similarities in no fixed order, and the
// same query must always rank the same way.
func ranksBefore(scoreA float64, idA uint64, scoreB float64, idB uint64) bool {
	if scoreA != scoreB {
		return scoreA > scoreB
	}
	return idA < idB
}
