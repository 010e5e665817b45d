package retrieve

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// DefaultEmbedTimeout bounds a query's embedding call when Options leave it
// zero. A query is one short input: a server that has not embedded it in 15 s
// is hung or still loading, and the lexical leg answers meanwhile.
const DefaultEmbedTimeout = 15 * time.Second

// DefaultRerankDepth is how many fused candidates a Reranker sees.
const DefaultRerankDepth = 50

// Options configure a Session.
type Options struct {
	// Mode is the searches' default mode; a Query may ask for another.
	Mode Mode
	// EmbedModel, when set, is the embedding model the caller asked for: it
	// must be the one the index was built with (*index.ModelMismatchError).
	EmbedModel string
	// Embedder returns the embedder for the index's model. Nil leaves the
	// vector leg out (hybrid falls back to the lexical leg, vector fails).
	Embedder func(model string) embed.Embedder
	// Prepare, when set, runs once at Open with the index's embedding model
	// before any query is embedded: to check for the model, or pull it. An
	// error satisfying embed.ErrUnavailable makes hybrid searches lexical;
	// any other error fails Open.
	Prepare func(ctx context.Context, model string) error
	// EmbedTimeout bounds each query embedding; 0 means DefaultEmbedTimeout.
	EmbedTimeout time.Duration
	// Rerank, when set, reorders the best fused candidates before the top k
	// are kept.
	Rerank Reranker
	// RerankDepth is how many candidates Rerank sees; 0 means DefaultRerankDepth.
	RerankDepth int
	// VectorRetry, when set, makes a long-lived session try the vector leg
	// again after the embedding server was down or hung: the first hybrid
	// search VectorRetry after the failure embeds its query again (one
	// search at a time; the others stay lexical meanwhile), and each failure
	// doubles the wait, up to MaxVectorRetry. 0 keeps the leg out for the
	// session's life, which suits a one-shot command: its later searches
	// never wait for a server that failed once.
	VectorRetry time.Duration
}

// MaxVectorRetry is the longest wait between two tries of the vector leg
// (see Options.VectorRetry).
const MaxVectorRetry = 30 * time.Second

// A Reranker reorders candidates for a query, best first. It may drop some;
// it must not add any.
type Reranker interface {
	Rerank(ctx context.Context, query string, candidates []Result) ([]Result, error)
}

// Query is one search.
type Query struct {
	Text string
	K    int  // results wanted, at least 1
	Mode Mode // "" means the session's mode
	// Paths, when not empty, keeps only chunks of files that match one of
	// its entries, before the top K are taken (see MatchPath).
	Paths []string
}

// Outcome is a search's results and what they lack.
type Outcome struct {
	Results []Result
	// Mode is the legs that ran: Lexical when hybrid left the vector leg out.
	Mode Mode
	// VectorSkipped is why a hybrid search left its vector leg out: the
	// embedding server unavailable or too slow (errors.Is
	// embed.ErrUnavailable), the index's vectors damaged.
	VectorSkipped error
	// Pending counts the chunks stored without a vector: found by their
	// words only. 0 in lexical mode, where nothing has a vector anyway.
	Pending int
	// RerankSkipped is why the reranker left the fused order as it was
	// (down, slower than its deadline, a bad answer); nil when it reranked.
	RerankSkipped error
	// QueryCut is set when the query was longer than the embedding model's
	// context and its vector was made from its leading part.
	QueryCut *QueryCut
}

// QueryCut says how much of a long query was embedded.
type QueryCut struct {
	Words int `json:"words"` // the leading words embedded
	Of    int `json:"of"`    // the query's words
}

// EmbedTimeoutError reports a query embedding that took longer than the
// session's EmbedTimeout. It satisfies errors.Is(err, embed.ErrUnavailable):
// hybrid searches go on with the lexical leg.
type EmbedTimeoutError struct {
	Model string
	After time.Duration
}

func (e *EmbedTimeoutError) Error() string {
	return fmt.Sprintf("embedding the query with %s took longer than %s", e.Model, e.After)
}

// Is makes an EmbedTimeoutError an embed.ErrUnavailable.
func (e *EmbedTimeoutError) Is(target error) bool { return target == embed.ErrUnavailable }

// Session is one snapshot of an index opened for searching. It is safe for
// concurrent use: searches from many goroutines embed their queries at once;
// only their reads of the index's database take turns.
type Session struct {
	st  store.Reader // every read goes through it
	loc string       // the store's Location, for messages
	// r is the local index's snapshot under st, nil for another store: its
	// mapped vectors load into chromem-go (vector.go), and Advance follows
	// its commits.
	r   *index.Reader
	o   Options
	emb *embed.Model // nil: no vector leg

	loadMu sync.Mutex
	shards []*chromem.Collection
	kept   []*index.Reader // older snapshots whose mapped vectors shards point into (see Advance)

	mu      sync.Mutex
	sticky  error // why every later hybrid search leaves the vector leg out
	skipped error // the first reason any search left it out
	// With Options.VectorRetry: when a search may try the vector leg again,
	// the wait after the next failure, and whether a search is trying.
	retryAt time.Time
	backoff time.Duration
	probing bool
}

// Open opens a session on the local index in dir.
func Open(ctx context.Context, dir string, o Options) (*Session, error) {
	return OpenStore(ctx, local.New(dir), o)
}

// OpenStore opens a session on a store: the local index, or another one.
func OpenStore(ctx context.Context, st store.Store, o Options) (*Session, error) {
	r, err := st.OpenReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", st.Location(), err)
	}
	s, err := newSession(ctx, r, st.Location(), o)
	if err != nil {
		r.Close()
		return nil, err
	}
	return s, nil
}

// localIndex is what a local store's reader offers beyond store.Reader.
type localIndex interface{ Index() *index.Reader }

func newSession(ctx context.Context, st store.Reader, loc string, o Options) (*Session, error) {
	if o.Mode == "" {
		o.Mode = Hybrid
	}
	if o.EmbedTimeout <= 0 {
		o.EmbedTimeout = DefaultEmbedTimeout
	}
	if o.RerankDepth <= 0 {
		o.RerankDepth = DefaultRerankDepth
	}
	meta := st.Meta()
	if err := meta.CheckModel(loc, o.EmbedModel); err != nil {
		return nil, err
	}
	s := &Session{st: st, loc: loc, o: o}
	if li, ok := st.(localIndex); ok {
		s.r = li.Index()
	}
	if o.Mode == Lexical || !s.hasVectors() && meta.Pending == 0 {
		return s, nil
	}
	if o.Prepare != nil {
		if err := o.Prepare(ctx, meta.EmbedModel); err != nil {
			if o.Mode != Hybrid || !errors.Is(err, embed.ErrUnavailable) {
				return nil, err
			}
			s.sticky, s.skipped = err, err
			return s, nil
		}
	}
	if o.Embedder != nil {
		if e := o.Embedder(meta.EmbedModel); e != nil {
			s.emb = embed.For(e)
		}
	}
	return s, nil
}

// Meta is the snapshot's metadata.
func (s *Session) Meta() index.Meta { return s.st.Meta() }

// hasVectors reports whether the store holds any vector: counted in a local
// snapshot; for another store, whether a vector ever set its dimension.
func (s *Session) hasVectors() bool {
	if s.r != nil {
		return s.r.LiveVectors() > 0
	}
	return s.st.Meta().Dim > 0
}

// Mode is the session's default mode.
func (s *Session) Mode() Mode { return s.o.Mode }

// Skipped is the first reason any search of the session left its vector leg
// out, nil when none did.
func (s *Session) Skipped() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.skipped
}

// Close releases the snapshot. No search may run during or after it.
func (s *Session) Close() error {
	var errs []error
	for _, r := range s.kept {
		errs = append(errs, r.Close())
	}
	if s.st != nil { // nil once Advance handed it on
		errs = append(errs, s.st.Close())
	}
	return errors.Join(errs...)
}

// Search returns up to q.K chunks for q.Text, best first. K larger than the
// index returns every match.
func (s *Session) Search(ctx context.Context, q Query) (*Outcome, error) {
	if strings.TrimSpace(q.Text) == "" {
		return nil, ErrEmptyQuery
	}
	if q.K <= 0 {
		return nil, fmt.Errorf("k must be at least 1, got %d", q.K)
	}
	mode := q.Mode
	if mode == "" {
		mode = s.o.Mode
	}
	filter, err := compileFilter(q.Paths)
	if err != nil {
		return nil, err
	}
	var allowed *store.Filter
	if filter != nil {
		allowed = &store.Filter{Patterns: q.Paths, Match: filter.match}
	}
	depth := q.K
	if mode == Hybrid {
		depth = max(q.K*4, minDepth)
	}
	if s.o.Rerank != nil {
		depth = max(depth, s.o.RerankDepth)
	}
	out := &Outcome{Mode: mode}
	if mode != Lexical {
		out.Pending = s.st.Meta().Pending
	}
	sticky, probe := s.leftOut(mode)
	if probe {
		defer s.probed()
	}
	if mode == Hybrid && sticky != nil {
		out.Mode, out.VectorSkipped = Lexical, sticky
	}

	// The lexical leg runs beside the vector leg: one reads SQLite while
	// the other waits for the embedding server and ranks the vectors.
	type lexOut struct {
		hits []hit
		err  error
	}
	lexDone := make(chan lexOut, 1)
	if mode != Vector {
		go func() {
			h, err := s.lexicalLeg(ctx, q.Text, depth, allowed)
			lexDone <- lexOut{h, err}
		}()
	} else {
		lexDone <- lexOut{}
	}
	var vec []hit
	if mode != Lexical && out.VectorSkipped == nil {
		vec, err = s.vectorLeg(ctx, q.Text, depth, allowed, out)
		if err != nil {
			if mode != Hybrid || !fallsBack(err) {
				<-lexDone
				return nil, err
			}
			s.skip(err)
			out.Mode, out.VectorSkipped, vec = Lexical, err, nil
		}
	}
	lex := <-lexDone
	if lex.err != nil {
		return nil, lex.err
	}
	if probe && out.VectorSkipped == nil {
		s.recovered()
	}
	if out.VectorSkipped != nil {
		s.mu.Lock()
		if s.skipped == nil {
			s.skipped = out.VectorSkipped
		}
		s.mu.Unlock()
	}
	fused := fuse(vec, lex.hits, mode)
	keep := q.K
	if s.o.Rerank != nil {
		keep = s.o.RerankDepth
	}
	if len(fused) > keep {
		fused = fused[:keep]
	}
	if out.Results, err = s.results(ctx, fused); err != nil {
		return nil, err
	}
	if s.o.Rerank != nil && len(out.Results) > 0 {
		reranked, err := s.o.Rerank.Rerank(ctx, q.Text, out.Results)
		switch {
		case err == nil:
			out.Results = reranked
		case ctx.Err() != nil:
			return nil, err
		default:
			// A reranker that is down or slow never fails a search: the
			// fused order stands, and the caller warns.
			out.RerankSkipped = err
		}
	}
	if len(out.Results) > q.K {
		out.Results = out.Results[:q.K]
	}
	return out, nil
}

// fallsBack is the one rule for leaving the vector leg out of a hybrid
// search: the embedding server cannot be reached or is too slow, the query
// does not fit the model even cut short, or the stored vectors are damaged.
// The lexical leg then answers alone. Anything else (a missing model, a
// dimension that does not match) is an error the user must fix.
func fallsBack(err error) bool {
	_, damaged := errors.AsType[*index.DamagedError](err)
	return damaged || errors.Is(err, embed.ErrUnavailable) || errors.Is(err, embed.ErrInputTooLong)
}

// skip records err; a server that is down, too slow or vectors that are
// damaged stay so for the session's later searches, which do not wait again
// (until Options.VectorRetry lets one try the server again).
func (s *Session) skip(err error) {
	if errors.Is(err, embed.ErrInputTooLong) {
		return // this query's own trouble
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sticky != nil && !s.probing {
		return
	}
	s.sticky = err
	if s.o.VectorRetry > 0 {
		switch {
		case s.probing:
			s.backoff = min(2*s.backoff, MaxVectorRetry)
		case s.backoff == 0:
			s.backoff = s.o.VectorRetry
		}
		s.retryAt = time.Now().Add(s.backoff)
	}
}

// leftOut returns why a search in mode leaves the vector leg out (nil: it
// runs), and whether this search is the one that tries the server again.
func (s *Session) leftOut(mode Mode) (sticky error, probe bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.sticky == nil || mode != Hybrid {
		return s.sticky, false
	}
	if s.o.VectorRetry <= 0 || s.probing || time.Now().Before(s.retryAt) || !errors.Is(s.sticky, embed.ErrUnavailable) {
		return s.sticky, false // damaged vectors do not mend by waiting
	}
	s.probing = true
	return nil, true
}

// recovered records that the vector leg answered again.
func (s *Session) recovered() {
	s.mu.Lock()
	s.sticky, s.backoff = nil, 0
	s.mu.Unlock()
}

// probed ends a try of the vector leg, however it went.
func (s *Session) probed() {
	s.mu.Lock()
	if s.probing && s.sticky != nil && s.retryAt.Before(time.Now()) {
		// The try ended without a verdict (cancelled): let the next one try.
		s.retryAt = time.Now()
	}
	s.probing = false
	s.mu.Unlock()
}

func (s *Session) lexicalLeg(ctx context.Context, text string, depth int, f *store.Filter) ([]hit, error) {
	hits, err := s.st.Lexical(ctx, lexical.Terms(text), depth, f)
	if err != nil {
		return nil, err
	}
	return hitsOf(hits), nil
}

func hitsOf(hits []store.Hit) []hit {
	out := make([]hit, len(hits))
	for i, h := range hits {
		out[i] = hit{id: h.ID, score: h.Score}
	}
	return out
}

// results reads the fused hits' chunks.
func (s *Session) results(ctx context.Context, fused []fusedHit) ([]Result, error) {
	ids := make([]uint64, len(fused))
	for i, f := range fused {
		ids[i] = f.id
	}
	chunks, err := s.st.Chunks(ctx, ids)
	if err != nil {
		return nil, err
	}
	out := make([]Result, len(fused))
	for i, f := range fused {
		out[i] = Result{Chunk: chunks[i], Score: f.score, Vector: f.vec, Lexical: f.lex}
	}
	return out, nil
}
