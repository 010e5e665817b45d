// Package store is the seam between rag and where its index lives. It
// defines what a store implements: a write side for ingest (the incremental
// state of every file, atomic batch commits, pending chunks, the recorded
// settings) and a read side for retrieval and the commands (lexical and
// vector top k with a path filter, chunks by id, file records, listings and
// counts). Two stores implement it: the local index (package store/local,
// over package index) and Weaviate (package weaviate). The conformance suite
// in package storetest runs against both.
//
// The package holds the contract, the id scheme and the store URL syntax; it
// opens nothing itself and knows no engine. Its data types are package
// index's own (aliased here), so the local store converts nothing and a
// chunk reads the same whichever store it came from.
//
// What every store shares:
//
//   - Errors. A store returns package index's error values for the same
//     conditions: index.ErrNoIndex (nothing stored yet: an empty or missing
//     collection), index.ErrLocked (another writer holds the store),
//     *index.ModelMismatchError and *index.SettingsMismatchError (the model
//     check and the chunk-size check, with the same rules as the local index:
//     see OpenWriter), *index.DamagedError (stored data that cannot be read
//     as it should). ErrUnavailable wraps a store that cannot be reached
//     once its own retries are spent; *UnsupportedError is what it returns
//     for what it cannot do.
//   - Ids. A chunk id is a uint64 unique within one store; ids are only
//     compared, never ordered by meaning (ties in rankings are broken by the
//     smaller id, so the same query ranks the same way every time). The local
//     index numbers chunks 1, 2, 3... as it commits them; a store shared by
//     several machines derives them with ChunkID from the file's path, the
//     chunk's place in the file and its text, so a repeated or crashed ingest
//     writes the same objects again instead of new ones (see ChunkID).
//   - Context. Every call that may cross a network takes a context and must
//     return when it is done.
package store

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/ragcli/rag/internal/index"
)

// The data a store keeps, as package index defines it.
type (
	// File is one source file's record: path, size, mtime (UnixNano),
	// SHA-256 of its content, title. What ingest compares to skip a file.
	File = index.File
	// Chunk is one stored chunk with its provenance, text and, on the way
	// in, its analysed terms (Terms) and embedding key (Key).
	Chunk = index.Chunk
	// Root is a folder or file given to an ingest, with its device id.
	Root = index.Root
	// Meta is what a store records of itself: format version, embedding
	// model, dimension, chunk size, creation and last-ingest times, the
	// pending count. VecGen and VecSlots describe the local vector file and
	// are 0 in other stores.
	Meta = index.Meta
	// Settings are what an ingest asks of a store (model, chunk size), for
	// OpenWriter's checks.
	Settings = index.Settings
	// Put is one file's new state: its record, its chunks in document order
	// and one vector per chunk (nil: pending).
	Put = index.Put
	// Batch is a set of changes committed together (see Writer.Commit).
	Batch = index.Batch
	// Hit is one ranked chunk id with its leg's score, higher is better.
	Hit = index.Hit
	// Stats counts what a store holds.
	Stats = index.Stats
	// Progress is how far a running ingest has got.
	Progress = index.Progress
	// RootListing and FileListing are rag ls's rows.
	RootListing = index.RootListing
	FileListing = index.FileListing
)

// Store is one place an index lives: a local folder or a Weaviate
// collection. Opening a Store costs nothing; its Writer and Reader do the
// work.
type Store interface {
	// Location names the store for messages and --json: the index folder,
	// or the store URL (Location.String: never a credential).
	Location() string
	// OpenWriter opens the write side for one ingest (or forget, reindex,
	// migrate). It checks the recorded settings against s as the local
	// index does: when s.EmbedExplicit is false an existing store keeps its
	// own model; otherwise a store built with another model is refused with
	// *index.ModelMismatchError (index.Meta.CheckModel: "name" and
	// "name:latest" are one model); s.ChunkTokens other than 0 must equal
	// the recorded size (*index.SettingsMismatchError). An empty store is
	// created at its first commit, never before: a run that fails before it
	// stores anything leaves nothing behind.
	//
	// wait bounds how long it waits for another writer where the store
	// admits one writer at a time (index.ErrLocked once it runs out). A
	// store that lets several writers in at once (Weaviate) documents what
	// they do to each other; writers of disjoint roots never interfere.
	OpenWriter(ctx context.Context, s Settings, wait time.Duration) (Writer, error)
	// OpenReader opens the read side. It returns index.ErrNoIndex (possibly
	// wrapped, e.g. *index.BuildingError) when nothing is stored yet, and
	// *index.FormatError for a layout this rag cannot read.
	OpenReader(ctx context.Context) (Reader, error)
}

// Writer is the write side. Its methods may be called from several
// goroutines (ingest commits one window while it embeds the next, and looks
// up vectors meanwhile); a store serialises what must be.
type Writer interface {
	// Meta is the store's metadata as of the last commit (or as opened).
	Meta() Meta
	// Fresh reports that nothing has been committed yet: the recorded
	// settings may still change (SetChunkTokens).
	Fresh() bool
	// SetChunkTokens changes the chunk size a fresh store records; it does
	// nothing once the store holds anything.
	SetChunkTokens(n int)
	// Files is every file record, by path, as of the last commit: the
	// incremental state an ingest compares the disk with. The map is the
	// writer's own; callers must not change it.
	Files() map[string]File
	// Roots is every recorded root, by path. The map is the writer's own.
	Roots() map[string]Root
	// Commit applies b:
	//   - each Put replaces every chunk stored under Put.File.Path (none for
	//     a new file) by Put.Chunks, and stores the record; len(Vectors)
	//     must equal len(Chunks), and a nil vector leaves its chunk pending
	//     (stored, found by its words, counted in Meta.Pending). Commit
	//     writes each new chunk's id into b.Puts[i].Chunks[j].ID;
	//   - Deletes remove those paths' records and chunks (an unknown path is
	//     no error);
	//   - Touches replace records whose size or mtime moved but whose content
	//     did not; their chunks stay;
	//   - Embedded gives vectors to pending chunks by id; an id that is no
	//     longer stored or no longer pending (replaced meanwhile) is skipped;
	//   - Roots are recorded or updated, ForgetRoots dropped;
	//   - Meta.LastIngest becomes now.
	// Every vector in a store has the same dimension (the first one stored
	// sets it) and is stored at unit length; a non-finite or all-zero vector
	// fails the commit.
	//
	// Atomicity: after Commit returns nil all of b is applied. The local
	// index applies a batch in one transaction: all of it or nothing, even
	// through kill -9. A store without transactions must still guarantee
	// that (1) committing the same batch again, after an error or a crash
	// part way, converges to the state of one successful commit (no
	// duplicated chunk, none lost: hence deterministic ids), and (2) a
	// search never returns a chunk of a file whose committed record does
	// not have it (a half-written file stays invisible).
	Commit(ctx context.Context, b *Batch) error
	// Pending returns up to limit chunks stored without a vector, oldest
	// first, with their Path, Title, Headings and Text (Terms and Key may
	// be empty). Chunks stay pending until a commit's Embedded gives them
	// vectors, so calling again returns the same ones.
	Pending(ctx context.Context, limit int) ([]Chunk, error)
	// VectorsByKey returns, by string(key), the vector of a committed,
	// embedded chunk with that embedding key (Chunk.Key): what ingest reuses
	// instead of embedding the same text again. Keys no chunk has are absent.
	VectorsByKey(ctx context.Context, keys [][]byte) (map[string][]float32, error)
	// MarkIngested records the time of a finished ingest that changed
	// nothing (Meta.LastIngest), creating an empty store if need be.
	MarkIngested(ctx context.Context) error
	// Close releases the writer (the local lock, connections).
	Close() error
}

// Reader is the read side. The local index's Reader is a snapshot: all it
// returns is as of the moment it was opened. A remote store's Reader reads
// the store as it is at each call (Meta included, refreshed by each call
// that needs it); its documentation says which calls see the same state.
// A Reader is safe for concurrent use.
type Reader interface {
	// Meta is the store's metadata (model, dimension, chunk size, pending
	// count) as of the snapshot, or as of the last call for a remote store.
	Meta() Meta
	// Lexical returns up to k chunk ids (k >= 1) ranked by BM25 of terms,
	// the query's analysed terms (lexical.Terms: rag's own analysis, the
	// same as the chunks' Terms), OR-ed: a chunk holding any term matches,
	// repeats count once. Best first, ties by smaller id; nil for no terms.
	// With f, only chunks of files f allows are ranked, before the top k are
	// taken (so a filter never returns fewer than k when k match).
	Lexical(ctx context.Context, terms []string, k int, f *Filter) ([]Hit, error)
	// Vector returns up to k chunk ids ranked by cosine similarity of their
	// vectors to q (Hit.Score is the similarity), best first, ties by
	// smaller id; f filters before the top k as in Lexical. Pending chunks
	// are never returned. A store may rank approximately (an ANN index) and
	// says so in its documentation; the local index ranks exactly. A q of
	// another dimension than Meta().Dim is an error.
	Vector(ctx context.Context, q []float32, k int, f *Filter) ([]Hit, error)
	// Chunks returns the chunks with these ids, in the same order (Terms and
	// Key empty). An id not stored is an error satisfying
	// errors.Is(err, ErrNotFound).
	Chunks(ctx context.Context, ids []uint64) ([]Chunk, error)
	// File returns one file's record; found is false when it is not stored.
	File(ctx context.Context, path string) (f File, found bool, err error)
	// Stats counts files, chunks and pending chunks; SizeBytes is what the
	// store takes on disk where it knows (0 otherwise).
	Stats(ctx context.Context) (Stats, error)
	// Roots returns the recorded roots, by path.
	Roots(ctx context.Context) (map[string]Root, error)
	// ListRoots returns the recorded roots sorted by path, with the files,
	// chunks and pending chunks at or under each (rag ls).
	ListRoots(ctx context.Context) ([]RootListing, error)
	// ListFiles returns the files at or under path (a file, or a folder:
	// path itself and everything below path + "/"), sorted by path, with
	// their chunk and pending counts (rag ls PATH).
	ListFiles(ctx context.Context, path string) ([]FileListing, error)
	// EachFile calls fn with every file, sorted by path: its record, its
	// chunks in document order with Terms and Key filled, and their vectors
	// (nil for a pending chunk). What rag migrate copies: a Put from one
	// store commits unchanged into another. Chunk ids are the source's; the
	// target assigns its own. An error from fn stops the walk and is
	// returned; fn must not call the Reader.
	EachFile(ctx context.Context, fn func(Put) error) error
	// Close releases the reader.
	Close() error
}

// Filter keeps the chunks of some files only, before a leg takes its top k.
type Filter struct {
	// Patterns are the caller's entries (retrieve.MatchPath's syntax): a
	// folder or file matches itself and everything below it; an entry with
	// * ? [ is a glob. A store may translate them into its engine's own
	// filter for speed.
	Patterns []string
	// Match is the authority: a store returns exactly the chunks of the
	// files Match allows, whatever it does with Patterns. Never nil.
	Match func(path string) bool
}

// Errors a store returns beyond package index's.
var (
	// ErrNotFound: a chunk id the store does not hold (one from an older
	// state, or made up).
	ErrNotFound = errors.New("not in the store")
	// ErrUnavailable: the store cannot be reached, or keeps failing, once
	// its own retries are spent. An ingest keeps what it committed and
	// stops; a search fails (there is no leg to fall back on).
	ErrUnavailable = errors.New("store unavailable")
)

// UnsupportedError is what a store, or a command given one, returns for
// something it cannot do: "weaviate://127.0.0.1:8080/Rag cannot run rag
// check". It satisfies errors.Is(err, errors.ErrUnsupported); the CLI prints
// it with its Hint and exits with the usage code.
type UnsupportedError struct {
	Store string // Location of the store
	What  string // what it cannot do, as a verb phrase: "run rag check"
	Hint  string // what to do instead; may be empty
}

func (e *UnsupportedError) Error() string {
	return fmt.Sprintf("%s cannot %s", e.Store, e.What)
}

// Is makes an UnsupportedError an errors.ErrUnsupported.
func (e *UnsupportedError) Is(target error) bool { return target == errors.ErrUnsupported }

// What a store may also do. Callers check with a type assertion and skip
// the step (or return *UnsupportedError) when the store cannot.
type (
	// ProgressWriter shows a running ingest's progress to readers (the
	// local ingest.progress file). Failures are not worth stopping for.
	ProgressWriter interface {
		WriteProgress(Progress) error
	}
	// Maintainer tidies up after an ingest (the local index compacts its
	// vector file when enough of it is dead).
	Maintainer interface {
		Maintain(ctx context.Context) error
	}
	// Sizer says what the store takes on disk, for the disk-full estimate.
	Sizer interface {
		SizeOnDisk() int64
	}
	// TextWalker is a Reader that can walk its files without reading their
	// vectors (Weaviate's EachFileText): Reader.EachFile with every vector
	// nil, for a caller that needs the texts only (rag audit, a rebuild to
	// another model).
	TextWalker interface {
		EachFileText(ctx context.Context, fn func(Put) error) error
	}
	// Rebuilder builds a new generation of the store beside the live one
	// and swaps it in (rag reindex, through ingest.Rebuild): the local index
	// a folder beside its own, Weaviate a new pair of collections.
	Rebuilder interface {
		// BeginRebuild clears what an earlier, unfinished rebuild left and
		// returns an empty next generation. It returns index.ErrNoIndex
		// when the store holds nothing. wait bounds the wait for another
		// writer where the store admits one at a time: the local index
		// keeps its lock until Swap or Abort.
		BeginRebuild(ctx context.Context, wait time.Duration) (Rebuild, error)
	}
	// Rebuild is one rebuild under way. Until Swap, every reader and
	// writer of the store sees the live generation, untouched.
	Rebuild interface {
		// Next is the new generation, a Store of its own that ingest
		// writes into; readers of the store do not see it.
		Next() Store
		// Swap makes Next the live generation in one step (a rename, or
		// one object written) and removes the old one. An error before
		// that step leaves the live generation as it was.
		Swap(ctx context.Context) error
		// Abort removes the next generation and releases what
		// BeginRebuild took; the live generation stays as it was. It may
		// be called after Swap failed, and does nothing after a Swap.
		Abort(ctx context.Context) error
	}
	// Replaceable is a Reader of a store whose live generation a rebuild
	// (possibly on another machine) can replace while it is open: Replaced
	// reports that the store now answers from another generation than this
	// Reader reads, so that a long-lived server opens a new one. The local
	// index's readers are snapshots and do not implement it.
	Replaceable interface {
		Replaced(ctx context.Context) (bool, error)
	}
)

// TopK sorts hits best first, ties by smaller id (the order every leg
// promises), and keeps the first k.
func TopK(hits []Hit, k int) []Hit {
	slices.SortFunc(hits, func(a, b Hit) int {
		if c := cmp.Compare(b.Score, a.Score); c != 0 {
			return c
		}
		return cmp.Compare(a.ID, b.ID)
	})
	if len(hits) > k {
		hits = hits[:k]
	}
	return hits
}
