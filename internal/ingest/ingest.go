// Package ingest is the one way a document enters rag: walk the roots, read
// each new or changed file, extract its text, cut it into chunks, embed them,
// and commit them to the index. Files whose size and modification time are
// unchanged are not even read; files whose content is unchanged cost no
// embedding call. It reports what it did; it does not print.
package ingest

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"runtime"
	"sort"
	"sync"
	"time"

	"github.com/ragcli/rag/internal/chunk"
	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/extract"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/walk"
)

// Defaults for embedding traffic.
const (
	DefaultBatchSize = 32              // inputs per embed request
	DefaultParallel  = 2               // embed requests in flight
	minSplitTokens   = chunk.MinTokens // below this a chunk that still does not fit fails its file
	windowFiles      = 64              // files read and embedded before a commit
	windowChunks     = 1024
	// DefaultCommitEvery is how much embedding work, at most, a commit
	// waits for.
	DefaultCommitEvery = 5 * time.Second
)

// ErrNoSuchRoot: a path given to ingest does not exist.
var ErrNoSuchRoot = errors.New("no such file or folder")

// OpenEmbedder returns the embedder for model and the model's context length
// in tokens (0 when unknown). It is called once the index has settled which
// model it uses.
type OpenEmbedder func(ctx context.Context, model string) (embed.Embedder, int, error)

// Options configure one ingest.
type Options struct {
	Roots    []string
	IndexDir string
	// Store, when set, is where the index lives; nil means the local index
	// in IndexDir.
	Store     store.Store
	Index     index.Settings
	Embedder  OpenEmbedder
	LockWait  time.Duration
	Walk      walk.Options
	Extract   extract.Options
	BatchSize int
	Parallel  int
	// CommitEvery bounds the work a kill or a crash can lose: a commit at
	// least this often while files are being embedded (DefaultCommitEvery
	// when 0). A file is committed whole, so one huge file can take longer.
	CommitEvery time.Duration
	// Prune removes the files of roots that look unmounted, replaced or
	// emptied, which a run otherwise keeps (see KeptRoot).
	Prune bool
	// Progress, when set, is called as files complete.
	Progress func(Progress)

	stat func(string) (fs.FileInfo, error) // for tests: os.Stat with other device ids
	// recordRoots, when not nil, are recorded instead of the roots walked
	// (a rebuild walks files, and keeps the folders the index came from).
	recordRoots []index.Root
}

// Progress is a snapshot of a running ingest.
type Progress struct {
	Phase          string // "scanning", "embedding"
	FilesDone      int
	FilesTotal     int // files that need reading
	ChunksEmbedded int
	Path           string
}

// Problem is a file that was not indexed, and why.
type Problem struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Report is what an ingest did.
type Report struct {
	Index          string `json:"index"`
	EmbedModel     string `json:"embed_model"`
	Added          int    `json:"added"`
	Updated        int    `json:"updated"`
	Unchanged      int    `json:"unchanged"`
	Removed        int    `json:"removed"`
	Skipped        int    `json:"skipped"`
	Failed         int    `json:"failed"`
	ChunksEmbedded int    `json:"chunks_embedded"`
	// ChunksReused counts chunks whose exact text already had a vector in
	// the index (a renamed, moved or copied file, an unchanged section of an
	// edited one): stored with that vector, not sent to the model.
	ChunksReused int `json:"chunks_reused"`
	// ChunksPending counts chunks stored without a vector because the
	// embedding server was unreachable; the next ingest embeds them.
	ChunksPending int `json:"chunks_pending"`
	// EmbedError says why embeddings are pending, "" when none are.
	EmbedError string `json:"embed_error"`
	// EmbedErr is the error behind EmbedError, for callers that branch on it.
	EmbedErr error `json:"-"`
	// FilesNotWritten counts the files this run had to store (new, changed,
	// touched or removed) and did not, because the store became unreachable
	// part way (StoreError says why). The store keeps their previous state,
	// so the next ingest picks them up. The counts above are of what was
	// committed.
	FilesNotWritten int `json:"files_not_written"`
	// StoreError says why the store stopped taking writes, "" when it did not.
	StoreError string `json:"store_error"`
	// KeptRoots are roots whose missing files were kept (see KeptRoot).
	KeptRoots    []KeptRoot    `json:"kept_roots"`
	SkippedFiles []Problem     `json:"skipped_files"`
	FailedFiles  []Problem     `json:"failed_files"`
	Duration     time.Duration `json:"-"`
	Seconds      float64       `json:"seconds"`

	// ReadNotes lists the files indexed after being read another way than
	// the usual one (extract.ReadNote): text decoded from an encoding other
	// than UTF-8, a PDF repaired or read by pdftotext. Reason holds the note.
	ReadNotes []Problem `json:"read_notes"`
	// Redacted lists the files indexed with credentials redacted from their
	// text (internal/secrets); Reason says which kinds and how many.
	Redacted []Problem `json:"redacted_files"`
}

// Run ingests opts.Roots into the index; with no roots, the roots the index
// records (refreshing what earlier runs ingested). A file that cannot be read
// or extracted is reported and the run goes on; an error from the index or
// the embedder (model missing, cancellation) stops the run, keeping
// everything committed before it. A server that is or goes unreachable, or
// keeps failing, does not stop it: the chunks are stored pending.
//
// Files the walk no longer finds leave the index, except under a root that
// looks unmounted, replaced or emptied (see KeptRoot): those are kept and
// listed in Report.KeptRoots unless opts.Prune is set.
func Run(ctx context.Context, opts Options) (*Report, error) {
	start := time.Now()
	if opts.Index.ChunkKey == nil {
		opts.Index.ChunkKey = storedKey
	}
	st := opts.store()
	w, err := st.OpenWriter(ctx, opts.Index, opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer w.Close()
	paths := opts.Roots
	if len(paths) == 0 {
		for p := range w.Roots() {
			paths = append(paths, p)
		}
		sort.Strings(paths)
		if len(paths) == 0 {
			return nil, ErrNoRoots
		}
	}
	stat := os.Stat
	if opts.stat != nil {
		stat = opts.stat
	}
	roots, err := resolveRoots(paths, stat)
	if err != nil {
		return nil, err
	}
	var present, missing []string
	for _, rt := range roots {
		if rt.missing {
			missing = append(missing, rt.path)
		} else {
			present = append(present, rt.path)
		}
	}
	if len(present) == 0 && !anyUnder(w.Files(), missing) {
		// Nothing to read and nothing indexed there: a mistyped path.
		return nil, fmt.Errorf("%w: %s", ErrNoSuchRoot, paths[0])
	}
	meta := w.Meta()
	emb, ctxLen, err := opts.Embedder(ctx, meta.EmbedModel)
	var offline error
	if unavailable(err) {
		// Store and index the words now; embed on a later run.
		emb, offline, err = nil, err, nil
	}
	if err != nil {
		return nil, err
	}
	maxTokens := meta.ChunkTokens
	if fits := ctxLen * 9 / 10; ctxLen > 0 && maxTokens > fits {
		// An index records the chunk size its chunks really have: a size
		// the model cannot take is refused when asked for, and capped (and
		// recorded capped) when it is the default.
		if opts.Index.ChunkTokens > 0 && w.Fresh() {
			return nil, &ChunkSizeError{Requested: opts.Index.ChunkTokens, Max: fits, Model: meta.EmbedModel, Context: ctxLen}
		}
		maxTokens = fits
		if w.Fresh() {
			w.SetChunkTokens(fits)
		}
	}
	maxTokens -= chunk.EstimateTokens(embed.PrefixesFor(meta.EmbedModel).Document)
	r := &run{
		opts: opts, w: w, maxTokens: maxTokens, offline: offline,
		docPrefix: embed.PrefixesFor(meta.EmbedModel).Document,
		rep:       &Report{Index: st.Location(), EmbedModel: meta.EmbedModel, KeptRoots: []KeptRoot{}, ReadNotes: []Problem{}},
	}
	if emb != nil {
		r.emb = embed.For(emb) // applies the model's document prefix
	}
	r.opts.BatchSize = cmpOr(opts.BatchSize, DefaultBatchSize)
	r.opts.Parallel = cmpOr(opts.Parallel, DefaultParallel)
	r.commitEvery = opts.CommitEvery
	if r.commitEvery <= 0 {
		r.commitEvery = DefaultCommitEvery
	}
	r.started, r.lastCommit = start, start
	r.current, r.stored = map[string][]float32{}, map[string]bool{}
	err = r.run(ctx, roots)
	if dfe, ok := errors.AsType[*index.DiskFullError](err); ok {
		dfe.Needed = r.spaceNeeded()
	}
	if errors.Is(err, store.ErrUnavailable) {
		// The store went away after it opened: what was committed stays,
		// the rest is left for the next run (see StoreDownError).
		r.rep.FilesNotWritten = r.unwritten + r.tally.files() + r.progress.FilesTotal - r.progress.FilesDone
		r.rep.StoreError = err.Error()
		err = &StoreDownError{Store: st.Location(), NotWritten: r.rep.FilesNotWritten, Err: err}
	}
	r.rep.Duration = time.Since(start)
	r.rep.Seconds = r.rep.Duration.Seconds()
	r.rep.Skipped, r.rep.Failed = len(r.rep.SkippedFiles), len(r.rep.FailedFiles)
	if r.offline != nil {
		r.rep.EmbedError, r.rep.EmbedErr = r.offline.Error(), r.offline
	}
	sortProblems(r.rep.SkippedFiles)
	sortProblems(r.rep.FailedFiles)
	sortProblems(r.rep.ReadNotes)
	sortProblems(r.rep.Redacted)
	return r.rep, err
}

// spaceNeeded estimates what the rest of a run that hit a full disk would
// have written: the files left, times what the index takes per source byte
// (measured on this index when it holds enough, else 4: text, terms and
// vectors).
func (r *run) spaceNeeded() int64 {
	left := r.jobBytes - r.committedBytes
	if left <= 0 {
		return 0
	}
	var src int64
	for _, f := range r.w.Files() {
		src += f.Size
	}
	ratio := 4.0
	var on int64
	if sz, ok := r.w.(store.Sizer); ok {
		on = sz.SizeOnDisk()
	}
	if src > 1<<20 && on > 0 {
		ratio = min(max(float64(on)/float64(src), 1), 20)
	}
	return int64(float64(left) * ratio)
}

// StoreDownError reports an ingest whose store became unreachable after it
// opened (store.ErrUnavailable once the store's retries were spent). The run
// stopped writing at the first such error instead of trying every remaining
// batch against a dead server: what it committed before stays, and the
// files it did not write keep their previous state in the store (or stay
// absent), so the next ingest finds them new or changed and writes them.
// Run returns it with the Report (FilesNotWritten, StoreError). A store that
// cannot be reached when the run starts is OpenWriter's error, not this one.
type StoreDownError struct {
	Store      string // Location of the store
	NotWritten int    // Report.FilesNotWritten
	Err        error  // the store's error
}

func (e *StoreDownError) Error() string {
	what := fmt.Sprintf("%d files not written", e.NotWritten)
	if e.NotWritten == 0 {
		what = "ingest not finished"
	}
	return fmt.Sprintf("%s: %s unavailable: %v", what, e.Store, e.Err)
}

func (e *StoreDownError) Unwrap() error { return e.Err }

// ChunkSizeError refuses a chunk size the embedding model cannot take.
type ChunkSizeError struct {
	Requested, Max int
	Model          string
	Context        int // the model's context length, in tokens
}

func (e *ChunkSizeError) Error() string {
	return fmt.Sprintf("chunks of %d tokens do not fit %s, whose context is %d tokens: at most %d", e.Requested, e.Model, e.Context, e.Max)
}

// unavailable reports whether err means the embedding server cannot serve
// now (down, restarting, overloaded, timing out) rather than that the request
// is wrong: chunks are then stored pending for a later run.
func unavailable(err error) bool {
	if err == nil {
		return false
	}
	// The adapter has retried what was worth retrying (internal/retry);
	// what is still transient after that is a server that is not there.
	return errors.Is(err, embed.ErrUnavailable) || retry.IsTransient(err)
}

// store is where the index lives: Store, else the local index in IndexDir.
func (o Options) store() store.Store {
	if o.Store != nil {
		return o.Store
	}
	return local.New(o.IndexDir)
}

func cmpOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

func sortProblems(p []Problem) {
	sort.Slice(p, func(i, j int) bool { return p[i].Path < p[j].Path })
}

func anyUnder(files map[string]index.File, roots []string) bool {
	for p := range files {
		if underAny(p, roots) {
			return true
		}
	}
	return false
}

type run struct {
	opts      Options
	w         store.Writer
	emb       *embed.Model
	maxTokens int
	rep       *Report
	progress  Progress
	docPrefix string // part of a chunk's embedding key; emb applies it
	// offline is why the embedder is unavailable; while set, chunks are stored
	// pending instead of embedded.
	offline error

	// current holds the vectors of the batch being filled, by embedding
	// key, and sent those of the last two batches handed to the committer:
	// they may not be in the index yet, and still lend their vectors.
	current map[string][]float32
	sent    [2]map[string][]float32
	// stored holds the content hashes of the files this run stored: a
	// missing file with one of them was moved, not lost.
	stored map[string]bool

	// jobBytes is the size of the files this run reads; committedBytes of
	// those committed so far (for a full disk's hint).
	jobBytes, committedBytes int64
	// tally is what the batch being filled does to the report once committed.
	tally tally
	// unwritten counts the files of the batches handed to the committer and
	// not committed. With the batch being filled and the files not collected
	// yet (progress), that is what a store that went away left unwritten
	// (Report.FilesNotWritten).
	unwritten int

	commitEvery  time.Duration // see Options.CommitEvery
	lastCommit   time.Time     // when the last batch was handed to the committer
	lastProgress time.Time     // when the progress file was last written
	started      time.Time
}

// tally is what one batch does, counted into the report only once the batch
// is committed, so that a report of a run that stopped part way counts what
// the store holds.
type tally struct {
	added, updated, touched, removed int
	embedded, reused, pending        int
	notes, redacted                  []Problem
}

// files counts the files whose new state the batch stores.
func (t tally) files() int { return t.added + t.updated + t.touched + t.removed }

func (t tally) countInto(rep *Report) {
	rep.Added += t.added
	rep.Updated += t.updated
	rep.Unchanged += t.touched
	rep.Removed += t.removed
	rep.ChunksEmbedded += t.embedded
	rep.ChunksReused += t.reused
	rep.ChunksPending += t.pending
	rep.ReadNotes = append(rep.ReadNotes, t.notes...)
	rep.Redacted = append(rep.Redacted, t.redacted...)
}

func (r *run) report(p Progress) {
	if r.opts.Progress != nil {
		r.opts.Progress(p)
	}
	// Readers (rag status, rag search) show how far a running ingest has
	// got; once a second is plenty.
	if now := time.Now(); now.Sub(r.lastProgress) >= time.Second {
		r.lastProgress = now
		if pw, ok := r.w.(store.ProgressWriter); ok {
			pw.WriteProgress(index.Progress{Started: r.started, FilesDone: p.FilesDone, FilesTotal: p.FilesTotal, ChunksEmbedded: p.ChunksEmbedded})
		}
	}
}

// job is one file that needs reading.
type job struct {
	entry walk.Entry
	known *index.File // the index's record, nil for a new file

	// filled by prepare
	hash    string
	title   string
	note    string // extract.ReadNote of the document, for Report.ReadNotes
	redact  string // what guardSecrets redacted, for Report.Redacted
	chunks  []chunk.Chunk
	same    bool  // content unchanged: only the record's size/mtime move
	err     error // extraction failed: the file is reported
	skip    bool  // err is a reason to skip, not a failure
	vectors [][]float32
	tooLong map[int]bool // chunks the model refused as over its context
	reused  map[int]bool // chunks whose vector came from an equal text, not the model
	terms   []string     // each chunk's analysed text, for the full-text index
}

func (r *run) run(ctx context.Context, roots []root) error {
	var present []string
	for _, rt := range roots {
		if !rt.missing {
			present = append(present, rt.path)
		}
	}
	redo, err := r.embedPending(ctx)
	if err != nil {
		return err
	}
	files := r.w.Files()
	seen := map[string]bool{}
	var jobs []*job
	r.report(Progress{Phase: "scanning"})
	var unreadable []string
	wopts := r.opts.Walk
	// A file the index has with the same size and mtime is not even opened.
	wopts.Unchanged = func(path string, size int64, mtime time.Time) bool {
		rec, ok := files[path]
		return ok && rec.Size == size && rec.ModTime == mtime.UnixNano() && !redo[path]
	}
	err = walk.Walk(ctx, present, wopts, func(e walk.Entry) error {
		seen[e.Path] = true
		rec, ok := files[e.Path]
		if ok && rec.Size == e.Size && rec.ModTime == e.ModTime.UnixNano() && !redo[e.Path] {
			r.rep.Unchanged++
			return nil
		}
		j := &job{entry: e}
		if ok {
			j.known = &rec
			if redo[e.Path] {
				j.known.Hash = "" // its pending chunks must be cut smaller: read it again
			}
		}
		jobs = append(jobs, j)
		return nil
	}, func(s walk.Skip) {
		if s.Kind.Unreadable() {
			// Not read this time is not deleted: keep what the index holds
			// there, and say the run was partial.
			unreadable = append(unreadable, s.Path)
			r.rep.FailedFiles = append(r.rep.FailedFiles, Problem{Path: s.Path, Reason: s.Reason})
			return
		}
		r.rep.SkippedFiles = append(r.rep.SkippedFiles, Problem{Path: s.Path, Reason: s.Reason})
	})
	if err != nil {
		return fmt.Errorf("walk: %w", err)
	}
	surveys := r.surveyRoots(roots, files, seen, unreadable)
	r.progress = Progress{Phase: "embedding", FilesTotal: len(jobs)}
	// Windows are committed by a goroutine of their own, so that one window is
	// stored while the next is read, cut and embedded. The first commit that
	// fails stops the writing: later batches are not tried (a store that is
	// down has had its retries), and the loop below stops at its next look.
	type sealed struct {
		b *index.Batch
		t tally
	}
	commits, done := make(chan sealed, 1), make(chan struct{})
	// stop is closed once nothing more is committed: a commit failed
	// (commitErr is set before), or the loop met the store down.
	stop := make(chan struct{})
	stopWriting := sync.OnceFunc(func() { close(stop) })
	stopped := func() bool {
		select {
		case <-stop:
			return true
		default:
			return false
		}
	}
	var commitErr error
	// The loop's own calls (vector lookups, embedding) end when a commit
	// fails: the store is down, and a lookup still retrying against it
	// would only add its own budget to the commit's.
	loopCtx, cancelLoop := context.WithCancel(ctx)
	defer cancelLoop()
	for _, j := range jobs {
		r.jobBytes += j.entry.Size
	}
	go func() {
		defer close(done)
		for s := range commits {
			if stopped() {
				r.unwritten += s.t.files() // Run counts it
				continue
			}
			if err := r.w.Commit(ctx, s.b); err != nil {
				commitErr = err
				r.unwritten += s.t.files()
				stopWriting()
				cancelLoop()
				continue
			}
			s.t.countInto(r.rep)
			for _, p := range s.b.Puts {
				r.committedBytes += p.File.Size
			}
		}
	}()
	finish := func() error {
		close(commits)
		<-done
		return commitErr
	}
	// abort ends the loop on err; a store that is down takes no more
	// commits either, not even of a batch already handed over.
	abort := func(err error) error {
		if errors.Is(err, store.ErrUnavailable) {
			stopWriting()
		}
		finish()
		return err
	}
	batch := &index.Batch{}
	send := func() error {
		select {
		case commits <- sealed{batch, r.tally}:
		case <-stop:
			return commitErr // a commit failed: stop at once
		}
		batch, r.tally, r.lastCommit = &index.Batch{}, tally{}, time.Now()
		r.sent[0], r.sent[1], r.current = r.current, r.sent[0], map[string][]float32{}
		return nil
	}
	group := r.opts.BatchSize * r.opts.Parallel // chunks embedded between looks at the clock
	for start := 0; start < len(jobs); {
		end := start
		chunks := 0
		for end < len(jobs) && end-start < windowFiles && chunks < windowChunks {
			end++
			chunks += int(jobs[end-1].entry.Size / 1024) // about one chunk a KiB, before extraction tells
		}
		window := jobs[start:end]
		start = end
		if stopped() {
			return finish()
		}
		r.prepare(loopCtx, window)
		if err := ctx.Err(); err != nil {
			finish()
			return err
		}
		// Embed the window a group of files at a time, and commit whenever
		// CommitEvery has passed, so a kill on a slow server loses seconds
		// of work, not a window's minutes. A group is sized to take about a
		// third of CommitEvery at the rate measured so far.
		for g := 0; g < len(window); {
			h, n := g, 0
			for h < len(window) && (h == g || n+len(window[h].chunks) <= group) {
				n += len(window[h].chunks)
				h++
			}
			if stopped() { // a commit failed, maybe while prepare ran
				return finish()
			}
			t0 := time.Now()
			if err := r.embed(loopCtx, window[g:h]); err != nil {
				if stopped() {
					return finish() // the commit's error, not the cancellation
				}
				return abort(err)
			}
			if d := time.Since(t0); n > 0 && d > 0 && r.emb != nil && r.offline == nil {
				rate := float64(n) / d.Seconds()
				group = max(r.opts.BatchSize*r.opts.Parallel, min(windowChunks, int(rate*r.commitEvery.Seconds()/3)))
			}
			for _, j := range window[g:h] {
				r.collect(j, batch)
				// The batch holds what is stored now: let the job go, so memory
				// stays one window deep however large the tree.
				*j = job{entry: j.entry}
			}
			g = h
			if g < len(window) && time.Since(r.lastCommit) >= r.commitEvery && !batch.Empty() {
				if err := send(); err != nil {
					finish()
					return err
				}
			}
		}
		if err := send(); err != nil {
			finish()
			return err
		}
	}
	if err := finish(); err != nil {
		return err
	}
	// Removals come last: until the end of the run, a renamed or moved
	// file's old chunks can still lend their vectors to the new ones, and
	// only then is it known which missing files were moved.
	gone, recs := r.judgeRoots(surveys, files)
	if r.opts.recordRoots != nil {
		recs = r.opts.recordRoots
	}
	batch.Deletes = append(batch.Deletes, gone...)
	r.tally.removed += len(gone)
	batch.Roots = recs
	for _, rt := range roots {
		if rt.missing && r.opts.Prune {
			batch.ForgetRoots = append(batch.ForgetRoots, rt.path)
		}
	}
	if !batch.Empty() {
		if err := r.w.Commit(ctx, batch); err != nil {
			return err
		}
		r.tally.countInto(r.rep)
		r.tally = tally{}
	} else if err := r.w.MarkIngested(ctx); err != nil {
		return err
	}
	// Replaced and deleted chunks leave dead vectors behind; the local
	// index rewrites its vector file once they outnumber the live ones.
	if m, ok := r.w.(store.Maintainer); ok {
		return m.Maintain(ctx)
	}
	return nil
}

// prepare reads, hashes, extracts and chunks the window's files in parallel.
func (r *run) prepare(ctx context.Context, window []*job) {
	var wg sync.WaitGroup
	next := make(chan *job)
	for range min(runtime.GOMAXPROCS(0), len(window)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for j := range next {
				r.prepareOne(ctx, j)
			}
		}()
	}
	for _, j := range window {
		if ctx.Err() != nil {
			break
		}
		next <- j
	}
	close(next)
	wg.Wait()
}

func (r *run) prepareOne(ctx context.Context, j *job) {
	data, err := os.ReadFile(j.entry.Path)
	if err != nil {
		j.err = fmt.Errorf("read: %w", err)
		if errors.Is(err, fs.ErrNotExist) {
			j.skip, j.err = true, errors.New("vanished during ingest")
		}
		return
	}
	sum := sha256.Sum256(data)
	j.hash = hex.EncodeToString(sum[:])
	if j.known != nil && j.known.Hash == j.hash {
		j.same = true
		return
	}
	doc, err := extract.Bytes(ctx, j.entry.Path, data, r.opts.Extract)
	if err != nil {
		j.err = err
		j.skip = extract.Skipped(err)
		return
	}
	if j.redact, err = r.guardSecrets(j, doc); err != nil {
		j.skip, j.err = true, err
		return
	}
	j.title = doc.Title
	j.note = extract.ReadNote(doc)
	j.chunks = chunk.Split(doc, chunk.Options{MaxTokens: r.maxTokens})
	if len(j.chunks) == 0 {
		j.skip, j.err = true, extract.ErrNoText
	}
	j.terms = make([]string, len(j.chunks))
	for i, c := range j.chunks {
		j.terms[i] = terms(c)
	}
}

// embed embeds every chunk of the window, batching across files.
func (r *run) embed(ctx context.Context, window []*job) error {
	type ref struct {
		j *job
		i int
	}
	var all []ref
	for _, j := range window {
		if j.err != nil || j.same {
			continue
		}
		j.vectors = make([][]float32, len(j.chunks))
		j.tooLong = map[int]bool{}
		j.reused = map[int]bool{}
		for i := range j.chunks {
			all = append(all, ref{j, i})
		}
	}
	if len(all) == 0 {
		return nil
	}
	// Cost follows change: a chunk whose exact input already has a vector
	// (in the index, in a batch still being committed, or earlier in this
	// group) takes it; each distinct input is embedded once.
	keys := make([]string, len(all))
	var lookup [][]byte
	for k, p := range all {
		keys[k] = string(embedKey(r.docPrefix + p.j.chunks[p.i].EmbedText(p.j.title)))
		if _, ok := r.fresh(keys[k]); !ok {
			lookup = append(lookup, []byte(keys[k]))
		}
	}
	known, err := r.w.VectorsByKey(ctx, lookup)
	if err != nil {
		return err
	}
	var refs []ref
	first := map[string]bool{}
	for k, p := range all {
		if v, ok := r.fresh(keys[k]); ok {
			p.j.vectors[p.i], p.j.reused[p.i] = v, true
		} else if v, ok := known[keys[k]]; ok {
			p.j.vectors[p.i], p.j.reused[p.i] = v, true
		} else if !first[keys[k]] {
			first[keys[k]] = true
			refs = append(refs, p)
		}
	}
	// share gives duplicates inside the group what their first got: its
	// vector, or its place among the chunks to cut smaller. It runs before
	// resplit renumbers any chunks.
	share := func() {
		tooLong := map[string]bool{}
		for k, p := range all {
			if v := p.j.vectors[p.i]; v != nil {
				r.current[keys[k]] = v
			} else if p.j.tooLong[p.i] {
				tooLong[keys[k]] = true
			}
		}
		for k, p := range all {
			if p.j.vectors[p.i] != nil || p.j.tooLong[p.i] {
				continue
			}
			if v, ok := r.current[keys[k]]; ok {
				p.j.vectors[p.i], p.j.reused[p.i] = v, true
			} else if tooLong[keys[k]] {
				p.j.tooLong[p.i] = true
			}
		}
	}
	if len(refs) == 0 || r.offline != nil {
		share()
		return nil
	}
	parent := ctx
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	sem := make(chan struct{}, r.opts.Parallel)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for start := 0; start < len(refs); start += r.opts.BatchSize {
		part := refs[start:min(start+r.opts.BatchSize, len(refs))]
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
		}
		if ctx.Err() != nil {
			break
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			texts := make([]string, len(part))
			for i, p := range part {
				texts[i] = p.j.chunks[p.i].EmbedText(p.j.title)
			}
			vecs, err := r.embedBatch(ctx, texts)
			if err != nil {
				cancel(err)
				return
			}
			mu.Lock()
			for i, p := range part {
				p.j.vectors[p.i] = vecs[i]
				if vecs[i] == nil {
					p.j.tooLong[p.i] = true // re-split below
				}
			}
			r.progress.ChunksEmbedded += len(part)
			r.report(r.progress)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if err := parent.Err(); err != nil {
		return err
	}
	if err := context.Cause(ctx); err != nil {
		if unavailable(err) {
			// The server went away mid-run: keep what was embedded, store the
			// rest pending for the next run.
			r.offline = err
			share()
			return nil
		}
		return err
	}
	share()
	// Chunks the model refused as too long: split them smaller and embed the
	// pieces, halving the budget until they fit.
	for _, j := range window {
		if err := r.resplit(ctx, j); err != nil {
			return err
		}
	}
	return nil
}

// fresh returns the vector for key from the batches not known to be
// committed yet.
func (r *run) fresh(key string) ([]float32, bool) {
	for _, m := range [...]map[string][]float32{r.current, r.sent[0], r.sent[1]} {
		if v, ok := m[key]; ok {
			return v, true
		}
	}
	return nil, false
}

// embedBatch embeds texts in one request. When the model refuses the batch
// because an input is over its context, each text is embedded alone, and the
// ones still refused are left nil for the caller to cut smaller.
func (r *run) embedBatch(ctx context.Context, texts []string) ([][]float32, error) {
	vecs, err := r.emb.Documents(ctx, texts)
	if !errors.Is(err, embed.ErrInputTooLong) {
		return vecs, err
	}
	vecs = make([][]float32, len(texts))
	for i, t := range texts {
		v, err := r.emb.Documents(ctx, []string{t})
		if errors.Is(err, embed.ErrInputTooLong) {
			continue
		}
		if err != nil {
			return nil, err
		}
		vecs[i] = v[0]
	}
	return vecs, nil
}

// resplit replaces each chunk of j that has no vector with smaller pieces.
func (r *run) resplit(ctx context.Context, j *job) error {
	if j.vectors == nil {
		return nil
	}
	var chunks []chunk.Chunk
	var vectors [][]float32
	var termList []string
	reused := map[int]bool{}
	for i, c := range j.chunks {
		if !j.tooLong[i] {
			if j.reused[i] {
				reused[len(chunks)] = true
			}
			chunks, vectors, termList = append(chunks, c), append(vectors, j.vectors[i]), append(termList, j.terms[i])
			continue
		}
		pieces, vecs, err := r.splitUntilFits(ctx, c, j.title, smaller(r.maxTokens))
		if err != nil {
			if errors.Is(err, embed.ErrInputTooLong) {
				j.err = fmt.Errorf("a chunk at lines %d-%d does not fit the embedding model's context even at %d tokens", c.StartLine, c.EndLine, minSplitTokens)
				return nil
			}
			return err
		}
		chunks, vectors = append(chunks, pieces...), append(vectors, vecs...)
		for _, p := range pieces {
			termList = append(termList, terms(p))
		}
	}
	j.chunks, j.vectors, j.terms, j.reused = chunks, vectors, termList, reused
	return nil
}

// smaller is the next budget to try after a chunk of budget tokens did not
// fit: half of it, but at least the smallest budget the chunker honours; 0
// once that has been tried.
func smaller(budget int) int {
	if budget <= minSplitTokens {
		return 0
	}
	return max(budget/2, minSplitTokens)
}

func (r *run) splitUntilFits(ctx context.Context, c chunk.Chunk, title string, budget int) ([]chunk.Chunk, [][]float32, error) {
	if budget == 0 {
		return nil, nil, embed.ErrInputTooLong
	}
	var chunks []chunk.Chunk
	var vectors [][]float32
	for _, p := range chunk.Resplit(c, title, budget) {
		v, err := r.emb.Documents(ctx, []string{p.EmbedText(title)})
		if errors.Is(err, embed.ErrInputTooLong) {
			sub, subv, err := r.splitUntilFits(ctx, p, title, smaller(budget))
			if err != nil {
				return nil, nil, err
			}
			chunks, vectors = append(chunks, sub...), append(vectors, subv...)
			continue
		}
		if err != nil {
			return nil, nil, err
		}
		chunks, vectors = append(chunks, p), append(vectors, v[0])
	}
	return chunks, vectors, nil
}

// collect files j's outcome into the report and the batch.
func (r *run) collect(j *job, b *index.Batch) {
	t := &r.tally
	r.progress.FilesDone++
	r.progress.Path = j.entry.Path
	r.report(r.progress)
	rec := index.File{Path: j.entry.Path, Size: j.entry.Size, ModTime: j.entry.ModTime.UnixNano(), Hash: j.hash, Title: j.title}
	switch {
	case j.err != nil && j.skip:
		r.rep.SkippedFiles = append(r.rep.SkippedFiles, Problem{Path: j.entry.Path, Reason: reason(j.err)})
		if j.known != nil {
			b.Deletes = append(b.Deletes, j.entry.Path) // it no longer holds text to index
			t.removed++
		}
	case j.err != nil:
		// The old version, if any, stays: a file that fails is reported, not lost.
		r.rep.FailedFiles = append(r.rep.FailedFiles, Problem{Path: j.entry.Path, Reason: reason(j.err)})
	case j.same:
		rec.Title = j.known.Title
		b.Touches = append(b.Touches, rec)
		t.touched++
	default:
		if j.note != "" {
			t.notes = append(t.notes, Problem{Path: j.entry.Path, Reason: j.note})
		}
		if j.redact != "" {
			t.redacted = append(t.redacted, Problem{Path: j.entry.Path, Reason: j.redact})
		}
		stored := make([]index.Chunk, len(j.chunks))
		for i, c := range j.chunks {
			stored[i] = index.Chunk{Title: j.title, Headings: c.Headings, StartLine: c.StartLine, EndLine: c.EndLine, Page: c.Page, Anchor: c.Anchor, Text: c.Text,
				Terms: j.terms[i], Key: embedKey(r.docPrefix + c.EmbedText(j.title))}
		}
		b.Puts = append(b.Puts, index.Put{File: rec, Chunks: stored, Vectors: j.vectors})
		r.stored[rec.Hash] = true
		for i, v := range j.vectors {
			switch {
			case v == nil:
				t.pending++
			case j.reused[i]:
				t.reused++
			default:
				t.embedded++
			}
		}
		if j.known != nil {
			t.updated++
		} else {
			t.added++
		}
	}
}

func reason(err error) string {
	if extract.Known(err) {
		if s := extract.Reason(err); s != "" {
			return s
		}
	}
	return err.Error()
}

// embedKey identifies an embedding input: the exact text sent to the model,
// prefix included. The index holds one model, so equal keys mean equal
// vectors. 16 bytes of SHA-256 make a collision out of reach.
func embedKey(input string) []byte {
	sum := sha256.Sum256([]byte(input))
	return sum[:16]
}

// storedKey is embedKey of what ingest embeds for a stored chunk of model.
func storedKey(model string, c index.Chunk) []byte {
	return embedKey(embed.PrefixesFor(model).Document + chunk.Chunk{Text: c.Text, Headings: c.Headings}.EmbedText(c.Title))
}

// terms is the analysed text the full-text index keeps for a chunk: its
// heading path and its text.
func terms(c chunk.Chunk) string {
	return lexical.ChunkTerms(c.Headings, c.Text)
}

// embedPending embeds chunks an earlier run stored without vectors, committing
// as it goes. It returns the files whose pending chunks the model refused as
// too long: they are read and cut again in this run.
func (r *run) embedPending(ctx context.Context) (map[string]bool, error) {
	redo := map[string]bool{}
	if r.offline != nil {
		return redo, nil
	}
	done := map[uint64]bool{}
	for {
		pending, err := r.w.Pending(ctx, windowChunks)
		if err != nil {
			return nil, err
		}
		var todo []index.Chunk
		for _, c := range pending {
			if !done[c.ID] && !redo[c.Path] {
				todo = append(todo, c)
			}
		}
		if len(todo) == 0 {
			return redo, nil
		}
		b := &index.Batch{Embedded: map[uint64][]float32{}}
		reused := 0 // of b.Embedded, vectors found in the store
		commit := func() error {
			r.progress.ChunksEmbedded += len(b.Embedded)
			r.report(r.progress)
			err := r.w.Commit(ctx, b)
			if err == nil {
				r.rep.ChunksEmbedded += len(b.Embedded)
				r.rep.ChunksReused += reused
			}
			b, reused, r.lastCommit = &index.Batch{Embedded: map[uint64][]float32{}}, 0, time.Now()
			return err
		}
		// A pending chunk whose text has a vector elsewhere in the index
		// takes that one.
		keys := make([][]byte, len(todo))
		for i, c := range todo {
			keys[i] = storedKey(r.rep.EmbedModel, c)
		}
		known, err := r.w.VectorsByKey(ctx, keys)
		if err != nil {
			return nil, err
		}
		rest := todo[:0:0]
		for i, c := range todo {
			if v, ok := known[string(keys[i])]; ok {
				b.Embedded[c.ID], done[c.ID] = v, true
				reused++
				continue
			}
			rest = append(rest, c)
		}
		todo = rest
		for start := 0; start < len(todo); start += r.opts.BatchSize {
			part := todo[start:min(start+r.opts.BatchSize, len(todo))]
			texts := make([]string, len(part))
			for i, c := range part {
				texts[i] = chunk.Chunk{Text: c.Text, Headings: c.Headings}.EmbedText(c.Title)
			}
			vecs, err := r.embedBatch(ctx, texts)
			for i, v := range vecs {
				if v == nil {
					redo[part[i].Path] = true
				}
			}
			if unavailable(err) {
				r.offline = err
				return redo, commit()
			}
			if err != nil {
				return nil, err
			}
			for i, c := range part {
				done[c.ID] = true
				if vecs[i] != nil {
					b.Embedded[c.ID] = vecs[i]
				}
			}
			if time.Since(r.lastCommit) >= r.commitEvery {
				if err := commit(); err != nil {
					return nil, err
				}
			}
		}
		if err := commit(); err != nil {
			return nil, err
		}
	}
}

// survey is what the walk found of one root, to judge at the end of the run
// (when renames are known) what leaves the index.
type survey struct {
	rt       root
	rec      index.Root
	recorded bool
	indexed  int      // files the index held under the root
	found    int      // files the walk handed over under it
	gone     []string // indexed files the walk did not find (unreadable folders excepted)
}

// surveyRoots counts, right after the walk, what each root has lost.
func (r *run) surveyRoots(roots []root, files map[string]index.File, seen map[string]bool, unreadable []string) []survey {
	out := make([]survey, len(roots))
	recorded := r.w.Roots()
	for i, rt := range roots {
		sv := survey{rt: rt}
		sv.rec, sv.recorded = recorded[rt.path]
		for p := range files {
			if under(p, rt.path) {
				sv.indexed++
				if !seen[p] && !underAny(p, unreadable) {
					sv.gone = append(sv.gone, p)
				}
			}
		}
		for p := range seen {
			if under(p, rt.path) {
				sv.found++
			}
		}
		out[i] = sv
	}
	return out
}

// judgeRoots decides which indexed files the walk did not find leave the
// index: all of them under a healthy root, none under a root that looks
// unmounted, replaced or emptied (unless Prune). A file whose content this
// run stored under another path was moved, not lost: it leaves the index
// and does not count towards those rules. It returns the paths to remove
// and the roots to record as ingested.
func (r *run) judgeRoots(surveys []survey, files map[string]index.File) ([]string, []index.Root) {
	var recs []index.Root
	remove := map[string]bool{}
	for _, sv := range surveys {
		var lost []string
		for _, p := range sv.gone {
			if r.stored[files[p].Hash] {
				remove[p] = true // moved or renamed: its content is indexed elsewhere
			} else {
				lost = append(lost, p)
			}
		}
		reason := judge(sv.rt, sv.rec, sv.recorded, sv.indexed-(len(sv.gone)-len(lost)), len(lost), sv.found)
		switch {
		case sv.rt.missing && sv.indexed == 0:
			r.rep.FailedFiles = append(r.rep.FailedFiles, Problem{Path: sv.rt.path, Reason: "no such file or folder"})
			continue
		case reason != "" && !r.opts.Prune:
			r.rep.KeptRoots = append(r.rep.KeptRoots, KeptRoot{Root: sv.rt.path, Reason: reason, Files: sv.indexed, Gone: len(lost)})
			continue
		}
		for _, p := range lost {
			remove[p] = true
		}
		if !sv.rt.missing {
			recs = append(recs, index.Root{Path: sv.rt.path, Dev: sv.rt.dev, IsDir: sv.rt.isDir})
		}
	}
	// A file kept by one root stays, even if another root would let it go.
	for _, k := range r.rep.KeptRoots {
		for p := range remove {
			if under(p, k.Root) && !r.stored[files[p].Hash] {
				delete(remove, p)
			}
		}
	}
	gone := make([]string, 0, len(remove))
	for p := range remove {
		gone = append(gone, p)
	}
	sort.Strings(gone)
	return gone, recs
}
