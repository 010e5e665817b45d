// Package server keeps rag running: one long-lived Service over the index
// that answers searches, lookups, status and questions, and the two front
// ends that expose it, MCP (over stdio or Streamable HTTP) and a small JSON
// API over HTTP. Every front end calls the same Service methods, which call
// the same retrieval and answer code as the CLI. The server only reads the
// index; nothing here writes it.
package server

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ragcli/rag/internal/answer"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/llm"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// Bounds on what one request may ask for.
const (
	DefaultK     = 5
	MaxK         = 50
	MaxLines     = 2000    // lines one get returns
	maxFileBytes = 8 << 20 // largest file get reads lines from
	maxQuery     = 4096    // bytes of a query or question
)

// Config says what a Service serves.
type Config struct {
	IndexDir string
	// Store is where the index lives; nil is the local index in IndexDir.
	// The local index is followed commit by commit (the hot index); another
	// store (Weaviate) is read as it is at each request, so there is
	// nothing to follow.
	Store store.Store
	// Embedder returns the embedder of the index's model; nil leaves the
	// vector leg out (hybrid searches then run on words alone).
	Embedder func(model string) embed.Embedder
	// Chat answers questions; nil makes ask unavailable.
	Chat      llm.Client
	ChatModel string
	// ChatContext returns the chat model's context length (0 when unknown);
	// an error (model missing, server down) fails the ask.
	ChatContext func(ctx context.Context) (int, error)
	// Refresh is how often the index is checked for a new commit (default 250ms).
	Refresh time.Duration
	// Rerank, when set, reorders the best RerankDepth fused candidates of
	// every search and ask, as rag search --rerank does. A reranker that
	// fails leaves the fused order, with a warning in the response.
	Rerank      retrieve.Reranker
	RerankDepth int
}

// Service answers from the newest committed state of one index. It is safe
// for concurrent use; Close releases it.
type Service struct {
	cfg       Config
	refreshMu sync.Mutex // one refresh at a time
	reloads   atomic.Int64
	applied   atomic.Int64
	mu        sync.RWMutex
	cur       *snapshot // nil while there is no index
	stop      chan struct{}
	done      chan struct{}
}

// Open starts a Service over cfg.IndexDir. A folder without an index yet is
// not an error: requests say so until the first ingest commits.
func Open(cfg Config) (*Service, error) {
	if cfg.Refresh <= 0 {
		cfg.Refresh = 250 * time.Millisecond
	}
	if cfg.Store == nil {
		cfg.Store = local.New(cfg.IndexDir)
	}
	s := &Service{cfg: cfg, stop: make(chan struct{}), done: make(chan struct{})}
	snap, err := s.open()
	if err != nil && !errors.Is(err, index.ErrNoIndex) {
		return nil, err
	}
	s.cur = snap
	go s.follow()
	return s, nil
}

// Close stops following the index and releases the snapshot.
func (s *Service) Close() error {
	close(s.stop)
	<-s.done
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cur != nil {
		s.cur.release()
		s.cur = nil
	}
	return nil
}

// ErrNoIndex: nothing has been ingested into the served index yet.
var ErrNoIndex = errors.New("the index is empty: nothing has been ingested yet (run: rag ingest PATH)")

// acquire returns the current snapshot, held until done is called: a
// refresh waits for the requests holding it before it changes or closes it.
func (s *Service) acquire() (snap *snapshot, done func(), err error) {
	s.mu.RLock()
	if s.cur == nil {
		s.mu.RUnlock()
		return nil, nil, ErrNoIndex
	}
	return s.cur, s.mu.RUnlock, nil
}

// follow swaps in a new snapshot whenever an ingest commits.
func (s *Service) follow() {
	defer close(s.done)
	t := time.NewTicker(s.cfg.Refresh)
	defer t.Stop()
	for {
		select {
		case <-s.stop:
			return
		case <-t.C:
		}
		s.Refresh()
	}
}

// Refresh looks for a new commit and, when there is one, makes it the state
// every following request sees. Requests under way finish on the state they
// started with.
func (s *Service) Refresh() {
	s.refreshMu.Lock()
	defer s.refreshMu.Unlock()
	s.mu.RLock()
	cur := s.cur
	s.mu.RUnlock()
	if s.remote() {
		// A remote store is read live: only its first index is waited for,
		// and a rebuild's swap (rag reindex, from any machine) followed.
		replaced := false
		if cur != nil {
			if rr, ok := cur.r.(store.Replaceable); ok {
				ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
				replaced, _ = rr.Replaced(ctx)
				cancel()
			}
		}
		if cur == nil || replaced {
			if next, err := s.open(); err == nil {
				s.swap(next, true)
			}
		}
		return
	}
	sig := signature(s.cfg.IndexDir)
	if cur != nil && sig == cur.sig {
		return
	}
	r, err := index.OpenReader(s.cfg.IndexDir)
	if err != nil {
		return // keep serving the state there is; the next tick tries again
	}
	m := r.Meta()
	if cur != nil && m == cur.r.Meta() {
		cur.sig = sig // a checkpoint or a touch: the same committed state
		r.Close()
		return
	}
	if cur == nil || !sameVectors(cur.r.Meta(), m) {
		// A first index, a compaction, a reindex swap, another model: load
		// the new state whole while requests go on with the old one.
		r.Close()
		next, err := s.open()
		if err != nil {
			return
		}
		s.swap(next, true)
		return
	}
	// An ordinary commit: change the loaded vectors by what it added and
	// removed, with requests held off meanwhile so that none sees half of it.
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, full, err := cur.ss.Advance(context.Background())
	if err != nil {
		r.Close()
		if !full {
			// The loaded vectors may be half changed: load the index anew.
			if next, err := s.open(); err == nil {
				s.cur, cur = next, s.cur
				cur.release()
			}
		}
		return
	}
	for range 3 { // the reader for get and status, of the same commit
		if r.Meta() == ss.Meta() {
			break
		}
		r.Close()
		if r, err = index.OpenReader(s.cfg.IndexDir); err != nil {
			ss.Close()
			return
		}
	}
	s.cur = &snapshot{r: local.NewReader(r), sig: sig, ss: ss}
	s.applied.Add(1)
	if full {
		s.applied.Add(-1)
		s.reloads.Add(1)
	}
	cur.release()
}

// swap makes next the current snapshot and closes the one it replaces.
func (s *Service) swap(next *snapshot, full bool) {
	s.mu.Lock()
	cur := s.cur
	s.cur = next
	s.mu.Unlock()
	if full {
		s.reloads.Add(1)
	}
	if cur != nil {
		cur.release() // no request holds it: they hold the lock's read side
	}
}

// sameVectors reports whether the vectors of meta b can be reached from those
// of a by changes: the same index (not a reindex swap), vector file, model
// and dimension.
func sameVectors(a, b index.Meta) bool {
	return a.Created.Equal(b.Created) && a.VecGen == b.VecGen && a.Dim == b.Dim &&
		index.NormalizeModel(a.EmbedModel) == index.NormalizeModel(b.EmbedModel) && b.VecSlots >= a.VecSlots
}

// Reloads and Applied count the commits the Service took in by loading the
// index whole, and by changing what it had loaded.
func (s *Service) Reloads() int64 { return s.reloads.Load() }

// Applied counts the commits applied as changes (see Reloads).
func (s *Service) Applied() int64 { return s.applied.Load() }

// remote reports that the Service serves a store other than the local index.
func (s *Service) remote() bool {
	_, ok := s.cfg.Store.(*local.Store)
	return !ok
}

// snapshot is one committed state of the index and the searcher over it.
type snapshot struct {
	r   store.Reader // the local one is a snapshot: its Meta never changes
	sig string
	ss  *retrieve.Session
}

// retryVector is how long after the embedding server failed (down or hung)
// a search first tries it again; each failure doubles the wait, up to
// retrieve.MaxVectorRetry. Searches meanwhile use the lexical leg alone.
const retryVector = time.Second

func (s *Service) open() (*snapshot, error) {
	return s.openSnapshot(context.Background())
}

// release closes the snapshot; no request may hold it.
func (sn *snapshot) release() {
	sn.ss.Close()
	sn.r.Close()
}

// signature changes when the index's files do: a commit, a compaction, a
// reindex swap.
func signature(dir string) string {
	var b strings.Builder
	for _, name := range []string{index.DBFile, index.DBFile + "-wal"} {
		if fi, err := os.Stat(dir + string(os.PathSeparator) + name); err == nil {
			fmt.Fprintf(&b, "%d.%d;", fi.Size(), fi.ModTime().UnixNano())
		} else {
			b.WriteString("-;")
		}
	}
	return b.String()
}

// SearchRequest is one search.
type SearchRequest struct {
	Query string `json:"query" jsonschema:"what to look for: words, an identifier or a question in natural language"`
	K     int    `json:"k,omitempty" jsonschema:"how many passages to return, best first (1 to 50; default 5)"`
	Mode  string `json:"mode,omitempty" jsonschema:"hybrid (default: words and meaning fused), vector (meaning only) or lexical (exact words only; works without the embedding model)"`
	Path  string `json:"path,omitempty" jsonschema:"only search this file or the files below this folder (an absolute path, e.g. /home/me/notes), or the files matching this glob (*.md matches file names; /home/me/notes/**/todo.md whole paths)"`
}

// Passage is one search result. Its fields are those of rag search --json,
// plus the chunk id that get takes.
type Passage struct {
	ID        uint64   `json:"id" jsonschema:"the chunk's id; pass it to get for the same text later"`
	Path      string   `json:"path" jsonschema:"absolute path of the file the passage comes from"`
	Score     float64  `json:"score" jsonschema:"how well it matched; higher is better, comparable only within one search"`
	Text      string   `json:"text"`
	StartLine int      `json:"start_line,omitempty" jsonschema:"first line of the passage in the file (1-based)"`
	EndLine   int      `json:"end_line,omitempty" jsonschema:"last line of the passage in the file"`
	Page      int      `json:"page,omitempty" jsonschema:"the PDF page, for PDF files"`
	Anchor    string   `json:"anchor,omitempty" jsonschema:"where in the file the passage is, as a URL fragment to cite: slide=2 (slides), sheet=Q1&row=5 (spreadsheets), row=5 (CSV), cell=3 (notebooks)"`
	Headings  []string `json:"headings,omitempty" jsonschema:"the section headings the passage sits under"`
}

// SearchResponse is a search's passages and what they lack.
type SearchResponse struct {
	Results []Passage `json:"results"`
	// Warnings say what the results lack (a leg left out, chunks not
	// embedded yet); empty when nothing is missing.
	Warnings []string `json:"warnings,omitempty" jsonschema:"what the results lack, e.g. the meaning-based leg left out because the embedding server is down"`
	Degraded bool     `json:"degraded,omitempty" jsonschema:"true when the vector leg was left out"`
	// Reranked is true when a reranking model ordered the results; with a
	// reranker configured and false, Warnings say why it was left out.
	Reranked bool `json:"reranked,omitempty" jsonschema:"true when a reranking model ordered the results"`
}

// UsageError is a request the caller must change: a bad argument.
type UsageError struct{ msg string }

func (e *UsageError) Error() string { return e.msg }

func usagef(format string, args ...any) error { return &UsageError{fmt.Sprintf(format, args...)} }

// check validates a search request in place, filling in defaults.
func (req *SearchRequest) check() (retrieve.Mode, error) {
	req.Query = strings.TrimSpace(req.Query)
	if req.Query == "" {
		return "", usagef("query is empty: give the words or question to search for")
	}
	if len(req.Query) > maxQuery {
		return "", usagef("query is %d bytes long; at most %d are allowed", len(req.Query), maxQuery)
	}
	if req.K == 0 {
		req.K = DefaultK
	}
	if req.K < 1 || req.K > MaxK {
		return "", usagef("k is %d; it must be between 1 and %d", req.K, MaxK)
	}
	if req.Mode == "" {
		req.Mode = string(retrieve.Hybrid)
	}
	mode, err := retrieve.ParseMode(req.Mode)
	if err != nil {
		return "", &UsageError{err.Error()}
	}
	if _, err := retrieve.MatchPath([]string{req.Path}, ""); err != nil {
		return "", &UsageError{err.Error()}
	}
	return mode, nil
}

// Search runs one search on the current state of the index.
func (s *Service) Search(ctx context.Context, req SearchRequest) (*SearchResponse, error) {
	mode, err := req.check()
	if err != nil {
		return nil, err
	}
	snap, done, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer done()
	res, err := snap.search(ctx, req.Query, req.K, mode, req.Path)
	if err != nil {
		return nil, err
	}
	out := &SearchResponse{Results: make([]Passage, len(res.results)), Warnings: res.warnings, Degraded: res.degraded,
		Reranked: s.cfg.Rerank != nil && !res.rerankSkipped && len(res.results) > 0}
	for i, r := range res.results {
		out.Results[i] = passage(r.Chunk, r.Score)
	}
	return out, nil
}

func passage(c index.Chunk, score float64) Passage {
	return Passage{ID: c.ID, Path: c.Path, Score: score, Text: c.Text, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Anchor: c.Anchor, Headings: c.Headings}
}

// searched is a snapshot's search with what it lacks said in words.
type searched struct {
	results       []retrieve.Result
	warnings      []string
	degraded      bool // the vector leg was left out
	rerankSkipped bool
}

func (sn *snapshot) search(ctx context.Context, q string, k int, mode retrieve.Mode, path string) (*searched, error) {
	rq := retrieve.Query{Text: q, K: k, Mode: mode}
	if path != "" {
		rq.Paths = []string{path}
	}
	out, err := sn.ss.Search(ctx, rq)
	if err != nil {
		return nil, err
	}
	res := &searched{results: out.Results, degraded: out.VectorSkipped != nil}
	if out.Pending > 0 {
		res.warnings = append(res.warnings, fmt.Sprintf("%d chunks are not embedded yet and are found by their words only", out.Pending))
	}
	if out.VectorSkipped != nil {
		res.warnings = append(res.warnings, firstLine(out.VectorSkipped.Error())+"; results come from the lexical leg alone")
	}
	if out.RerankSkipped != nil {
		res.warnings = append(res.warnings, iostreams.Sanitize(firstLine(out.RerankSkipped.Error()))+"; results keep the fused order")
	}
	res.rerankSkipped = out.RerankSkipped != nil
	return res, nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// GetRequest names a chunk by id, or a range of an indexed file's lines.
type GetRequest struct {
	ID    uint64 `json:"id,omitempty" jsonschema:"a chunk id from a search result; give either id or path"`
	Path  string `json:"path,omitempty" jsonschema:"absolute path of an indexed file (as search results show it), to read its lines"`
	Start int    `json:"start_line,omitempty" jsonschema:"with path: first line to return (1-based; default 1)"`
	End   int    `json:"end_line,omitempty" jsonschema:"with path: last line to return (default start_line + 199; at most 2000 lines at once)"`
}

// GetResponse is a chunk, or a file's lines.
type GetResponse struct {
	Path      string   `json:"path"`
	Text      string   `json:"text"`
	ID        uint64   `json:"id,omitempty" jsonschema:"the chunk's id, when a chunk was asked for"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
	Page      int      `json:"page,omitempty"`
	Anchor    string   `json:"anchor,omitempty" jsonschema:"where in the file, as a URL fragment to cite (slide=2, sheet=Q1&row=5, row=5, cell=3)"`
	Headings  []string `json:"headings,omitempty"`
	TotalLine int      `json:"total_lines,omitempty" jsonschema:"with path: how many lines the file has"`
}

// Get returns a chunk by id, or lines of a file the index holds. Only indexed
// files are read: a path the index does not know is refused.
func (s *Service) Get(ctx context.Context, req GetRequest) (*GetResponse, error) {
	if (req.ID == 0) == (req.Path == "") {
		return nil, usagef("give either id (a chunk id from search) or path (an indexed file)")
	}
	snap, done, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer done()
	if req.ID != 0 {
		cs, err := snap.r.Chunks(ctx, []uint64{req.ID})
		if errors.Is(err, store.ErrNotFound) {
			return nil, usagef("no chunk with id %d in the index (it may have been replaced by a newer ingest: search again)", req.ID)
		}
		if err != nil {
			return nil, err
		}
		c := cs[0]
		return &GetResponse{ID: c.ID, Path: c.Path, Text: c.Text, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Anchor: c.Anchor, Headings: c.Headings}, nil
	}
	start, end := req.Start, req.End
	if start == 0 {
		start = 1
	}
	if end == 0 {
		end = start + 199
	}
	if start < 1 || end < start {
		return nil, usagef("start_line %d and end_line %d: need 1 <= start_line <= end_line", req.Start, req.End)
	}
	end = min(end, start+MaxLines-1)
	if _, found, err := snap.r.File(ctx, req.Path); err != nil {
		return nil, err
	} else if !found {
		return nil, usagef("%s is not an indexed file; get reads only files the index holds (paths as search results show them)", req.Path)
	}
	text, total, err := readLines(req.Path, start, end)
	if err != nil {
		return nil, err
	}
	return &GetResponse{Path: req.Path, Text: text, StartLine: start, EndLine: min(end, total), TotalLine: total}, nil
}

// readLines returns lines start..end of a regular file, and its line count.
func readLines(path string, start, end int) (string, int, error) {
	fi, err := os.Lstat(path)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return "", 0, usagef("%s is no longer a regular file", path)
	}
	if fi.Size() > maxFileBytes {
		return "", 0, usagef("%s is %d bytes; get reads lines of files up to %d bytes (use id for its chunks)", path, fi.Size(), maxFileBytes)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	var b strings.Builder
	sc := bufio.NewScanner(io.LimitReader(f, maxFileBytes))
	sc.Buffer(make([]byte, 64<<10), maxFileBytes)
	n := 0
	for sc.Scan() {
		n++
		if n >= start && n <= end {
			b.Write(sc.Bytes())
			b.WriteByte('\n')
		}
	}
	if err := sc.Err(); err != nil {
		return "", 0, fmt.Errorf("read %s: %w", path, err)
	}
	return b.String(), n, nil
}

// Status is what the index holds; rag status --json is these fields and a
// few of its own (cli.Status embeds it).
type Status struct {
	Index         string    `json:"index"`
	FormatVersion int       `json:"format_version"`
	EmbedModel    string    `json:"embed_model"`
	Dim           int       `json:"dim"`
	ChunkTokens   int       `json:"chunk_tokens"`
	Files         int       `json:"files"`
	Chunks        int       `json:"chunks"`
	Pending       int       `json:"pending" jsonschema:"chunks not embedded yet, found by their words only"`
	SizeBytes     *int64    `json:"size_bytes,omitempty" jsonschema:"the local index's size on disk; absent for a store that reports none (Weaviate)"`
	Created       time.Time `json:"created"`
	LastIngest    time.Time `json:"last_ingest,omitzero"`
	ChatModel     string    `json:"chat_model,omitempty" jsonschema:"the local chat model ask uses"`
}

// Status describes the current state of the index.
func (s *Service) Status(ctx context.Context) (*Status, error) {
	snap, done, err := s.acquire()
	if err != nil {
		return nil, err
	}
	defer done()
	out, err := StatusOf(ctx, s.cfg.Store, snap.r)
	if err != nil {
		return nil, err
	}
	out.ChatModel = s.cfg.ChatModel
	return out, nil
}

// StatusOf is what r, a Reader of st, holds: the status tool's and rag
// status's (which adds what only it shows) one computation.
func StatusOf(ctx context.Context, st store.Store, r store.Reader) (*Status, error) {
	stats, err := r.Stats(ctx)
	if err != nil {
		return nil, err
	}
	m := r.Meta() // a remote store's, as of the Stats call
	out := &Status{Index: st.Location(), FormatVersion: m.FormatVersion, EmbedModel: m.EmbedModel, Dim: m.Dim,
		ChunkTokens: m.ChunkTokens, Files: stats.Files, Chunks: stats.Chunks, Pending: stats.Pending,
		Created: m.Created, LastIngest: m.LastIngest}
	if _, isLocal := st.(*local.Store); isLocal {
		out.SizeBytes = &stats.SizeBytes // a remote store's 0 would be a false figure
	}
	return out, nil
}

// AskRequest is one question.
type AskRequest struct {
	Question string `json:"question" jsonschema:"the question to answer from the indexed documents, in natural language"`
	K        int    `json:"k,omitempty" jsonschema:"how many passages to give the model (1 to 50; default 5)"`
	Mode     string `json:"mode,omitempty" jsonschema:"retrieval: hybrid (default), vector or lexical"`
	Path     string `json:"path,omitempty" jsonschema:"only use this file or the files below this folder, or the files matching this glob (as in search)"`
}

// Source is one passage an answer was given, numbered as the answer cites it.
type Source struct {
	N         int     `json:"n" jsonschema:"the number the answer cites as [n]"`
	ID        uint64  `json:"id"`
	Path      string  `json:"path"`
	StartLine int     `json:"start_line,omitempty"`
	EndLine   int     `json:"end_line,omitempty"`
	Page      int     `json:"page,omitempty"`
	Anchor    string  `json:"anchor,omitempty" jsonschema:"where in the file, as a URL fragment to cite (slide=2, sheet=Q1&row=5, row=5, cell=3)"`
	Score     float64 `json:"score"`
	Cited     bool    `json:"cited" jsonschema:"whether the answer cites it"`
}

// AskResponse is an answer and its sources; the fields of rag ask --json.
type AskResponse struct {
	Answer   string   `json:"answer"`
	Model    string   `json:"model"`
	Sources  []Source `json:"sources"`
	Warnings []string `json:"warnings,omitempty"`
}

// Ask answers a question from the index with the chat model, streaming the
// answer to onDelta (which may be nil) as it arrives.
func (s *Service) Ask(ctx context.Context, req AskRequest, onDelta func(string) error) (*AskResponse, error) {
	if s.cfg.Chat == nil {
		return nil, errors.New("no chat model is configured")
	}
	sreq := SearchRequest{Query: req.Question, K: req.K, Mode: req.Mode, Path: req.Path}
	mode, err := sreq.check()
	if err != nil {
		return nil, err
	}
	ctxLen := 0
	if s.cfg.ChatContext != nil {
		if ctxLen, err = s.cfg.ChatContext(ctx); err != nil {
			return nil, err
		}
	}
	snap, done, err := s.acquire()
	if err != nil {
		return nil, err
	}
	res, err := snap.search(ctx, sreq.Query, sreq.K, mode, sreq.Path)
	done() // the answer needs the passages, not the snapshot
	if err != nil {
		return nil, err
	}
	warnings := res.warnings
	if onDelta == nil {
		onDelta = func(string) error { return nil }
	}
	ans, err := answer.Ask(ctx, s.cfg.Chat, sreq.Query, res.results, answer.Options{Model: s.cfg.ChatModel, ContextLength: ctxLen}, onDelta)
	if err != nil {
		return nil, err
	}
	if ans.Dropped > 0 {
		warnings = append(warnings, fmt.Sprintf("%d retrieved passages did not fit %s's context and were left out", ans.Dropped, s.cfg.ChatModel))
	}
	out := &AskResponse{Answer: ans.Text, Model: s.cfg.ChatModel, Sources: make([]Source, len(ans.Sources)), Warnings: warnings}
	for i, src := range ans.Sources {
		out.Sources[i] = Source{N: src.N, ID: src.ID, Path: src.Path, StartLine: src.StartLine, EndLine: src.EndLine, Page: src.Page, Anchor: src.Anchor, Score: src.Score, Cited: src.Cited}
	}
	return out, nil
}

// IndexDir is the index the Service serves: its folder, or the store's
// location (never a credential).
func (s *Service) IndexDir() string { return s.cfg.Store.Location() }
