package retrieve

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"runtime/debug"
	"sort"
	"strconv"
	"strings"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/store"
)

// vectorLeg ranks the stored vectors against the query's embedding: all of
// them through chromem-go, or, with a path filter or in a store other than
// the local index, through the store's own vector search.
func (s *Session) vectorLeg(ctx context.Context, text string, k int, f *store.Filter, out *Outcome) ([]hit, error) {
	r := s.r
	if !s.hasVectors() && (s.st.Meta().Pending == 0 || s.emb == nil) {
		return nil, nil // nothing to rank; with chunks pending, an embedder still tells whether the server is up
	}
	if s.emb == nil {
		return nil, fmt.Errorf("vector search: %w", embed.ErrUnavailable)
	}
	// Load the vectors while the server embeds the query.
	ready := make(chan error, 1)
	if f == nil && r != nil {
		go func() { ready <- s.load(ctx) }()
	} else {
		ready <- nil
	}
	q, cut, err := s.embedQuery(ctx, text)
	loadErr := <-ready
	if err != nil {
		return nil, err
	}
	if loadErr != nil {
		return nil, loadErr
	}
	out.QueryCut = cut
	if !s.hasVectors() {
		return nil, nil // every chunk is still pending: the lexical leg has them
	}
	if dim := s.st.Meta().Dim; len(q) != dim {
		return nil, fmt.Errorf("query vector has dimension %d, the index %d", len(q), dim)
	}
	if f != nil || r == nil {
		hits, err := s.st.Vector(ctx, q, k, f)
		if err != nil {
			return nil, fmt.Errorf("query vectors: %w", err)
		}
		return hitsOf(hits), nil
	}
	var hits []hit
	for _, coll := range s.shards {
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
			hits = append(hits, hit{id: id, score: float64(h.Similarity)})
		}
	}
	return topK(hits, k), nil
}

func topK(hits []hit, k int) []hit {
	sort.Slice(hits, func(i, j int) bool { return ranksBefore(hits[i].score, hits[i].id, hits[j].score, hits[j].id) })
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}

var errEmbedDeadline = errors.New("query embedding deadline")

// embedQuery embeds the query within the session's deadline. A query over
// the model's context is embedded by its leading part, which keeps the
// vector leg for a pasted paragraph (a chunk is never cut; a query may be).
func (s *Session) embedQuery(ctx context.Context, text string) ([]float32, *QueryCut, error) {
	ectx, cancel := context.WithTimeoutCause(ctx, s.o.EmbedTimeout, errEmbedDeadline)
	defer cancel()
	v, err := s.emb.Query(ectx, text)
	var cut *QueryCut
	if errors.Is(err, embed.ErrInputTooLong) {
		v, cut, err = s.embedLeading(ectx, text)
	}
	if err != nil {
		if ctx.Err() == nil && errors.Is(context.Cause(ectx), errEmbedDeadline) {
			return nil, nil, &EmbedTimeoutError{Model: s.emb.Name(), After: s.o.EmbedTimeout}
		}
		return nil, nil, fmt.Errorf("embed query: %w", err)
	}
	return v, cut, nil
}

// embedLeading embeds the longest leading part of text it finds that fits
// the model: halving the words until a part fits, then a few steps of
// bisection towards the longest. The server says what fits; rag's token
// estimate is not the model's tokenizer.
func (s *Session) embedLeading(ctx context.Context, text string) ([]float32, *QueryCut, error) {
	words := strings.Fields(text)
	fits, fails := 0, len(words)
	var best []float32
	try := func(n int) error {
		v, err := s.emb.Query(ctx, strings.Join(words[:n], " "))
		switch {
		case err == nil:
			fits, best = n, v
		case errors.Is(err, embed.ErrInputTooLong):
			fails = n
		default:
			return err
		}
		return nil
	}
	for n := fails / 2; n > 0 && best == nil; n = fails / 2 {
		if err := try(n); err != nil {
			return nil, nil, err
		}
	}
	if best == nil {
		return nil, nil, embed.ErrInputTooLong
	}
	for range 3 {
		if fails-fits <= 1 {
			break
		}
		if err := try((fits + fails) / 2); err != nil {
			return nil, nil, err
		}
	}
	return best, &QueryCut{Words: fits, Of: len(words)}, nil
}

// minShard is the fewest vectors worth a shard (and a goroutine) of their own.
const minShard = 4096

// load puts the snapshot's vectors into chromem-go, once per session, as one
// collection per core over disjoint slot ranges, loaded side by side:
// chromem-go checks each vector's length and inserts it into its map under
// the collection's lock, which would serialise a single collection. The
// vectors are not copied: they point into the index's memory-mapped file,
// and each shard reads its own range of it, with no list in between.
func (s *Session) load(ctx context.Context) error {
	s.loadMu.Lock()
	defer s.loadMu.Unlock()
	if s.shards != nil {
		return nil
	}
	r := s.r
	// Map the file once, before the shards read it side by side.
	if err := r.EachVectorIn(0, 0, nil); err != nil {
		return fmt.Errorf("load vectors: %w", err)
	}
	slots := r.Slots()
	n := max(1, min(runtime.GOMAXPROCS(0), r.LiveVectors()/minShard))
	shards := make([]*chromem.Collection, n)
	errs := make(chan error, n)
	// The documents are garbage the collector cannot free while they load.
	defer debug.SetGCPercent(debug.SetGCPercent(-1))
	for i := range shards {
		coll, err := chromem.NewDB().CreateCollection(fmt.Sprintf("rag-%d", i), nil, nil)
		if err != nil {
			return fmt.Errorf("create vector collection: %w", err)
		}
		shards[i] = coll
		from, to := i*slots/n, (i+1)*slots/n
		go func() {
			errs <- r.EachVectorIn(from, to, func(id uint64, v []float32) error {
				return coll.AddDocument(ctx, chromem.Document{ID: strconv.FormatUint(id, 10), Embedding: v})
			})
		}()
	}
	var err error
	for range shards {
		if e := <-errs; e != nil && err == nil {
			err = e
		}
	}
	if err != nil {
		return fmt.Errorf("load vectors: %w", err)
	}
	s.shards = shards
	return nil
}
