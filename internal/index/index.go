// Package index keeps rag's on-disk index. Two files hold it:
//
//   - index.db, a SQLite database (WAL mode) with the files rag has read, their
//     chunks and provenance, a full-text (FTS5) table of the chunks' analysed
//     terms, and the index's metadata;
//   - vectors-N.f32, a flat file of fixed-size records, one per embedded chunk:
//     the chunk id and its normalised float32 vector. It is memory-mapped by
//     readers, so opening 100,000 vectors costs a page-table update, not a
//     decode.
//
// The database is the single source of truth. A writer appends vectors past the
// committed end of the vector file, syncs them, and only then commits the
// transaction that records the new end and the chunks that point at them. A
// crash at any moment therefore leaves either the old state or the new one: a
// torn tail past the committed end is ignored, and cut off by the next writer.
// Readers work inside one read transaction, a consistent snapshot that an
// ingest running beside them never disturbs. An OS-level lock on ingest.lock
// admits one writer at a time, and dies with its process.
//
// The package stores, loads and checks; it does not embed, rank or print.
// docs/design.md has the format and the measurements behind it.
package index

import (
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	_ "modernc.org/sqlite" // the database/sql driver "sqlite"

	"github.com/ragcli/rag/internal/lexical"
)

// FormatVersion is the on-disk format this build writes. It covers the
// full-text analysis too: a change to package lexical's terms changes what is
// stored, so it must bump this version (rag reindex then rebuilds).
//
// Version 3 added the roots table (what was ingested, on which device) and
// each chunk's embedding key (vkey), by which an unchanged text reuses its
// vector. Version 4 added each file's indexed_at, the time rag last read it
// (rag ls). Version 5 added each chunk's anchor, the citation fragment
// ("slide=2", "sheet=Q1&row=5") of what lines cannot locate. A writer migrates an older index in place on open; readers read
// every version from minReadable on.
const FormatVersion = 5

// minReadable is the oldest format version readers accept.
const minReadable = 2

func readable(v int) bool { return v >= minReadable && v <= FormatVersion }

// Names of the index's files inside its folder.
const (
	DBFile   = "index.db"
	LockFile = "ingest.lock"
)

// Errors callers branch on.
var (
	// ErrNoIndex: the folder holds no index yet.
	ErrNoIndex = errors.New("no index here yet")
	// ErrLocked: another process is writing the index.
	ErrLocked = errors.New("index is locked by another rag process")
)

// FormatError reports an index written in another format version.
type FormatError struct {
	Dir   string
	Found int
}

func (e *FormatError) Error() string {
	return fmt.Sprintf("index at %s has format version %d; this rag reads versions %d to %d", e.Dir, e.Found, minReadable, FormatVersion)
}

// ModelMismatchError reports an attempt to mix embedding models in one index.
type ModelMismatchError struct {
	Dir       string
	Indexed   string
	Requested string
}

func (e *ModelMismatchError) Error() string {
	return fmt.Sprintf("index at %s was built with embedding model %q, not %q", e.Dir, e.Indexed, e.Requested)
}

// SettingsMismatchError reports an attempt to ingest with chunker settings that
// differ from the ones the index was built with.
type SettingsMismatchError struct {
	Dir             string
	Indexed, Wanted int
}

func (e *SettingsMismatchError) Error() string {
	return fmt.Sprintf("index at %s was built with %d-token chunks, not %d", e.Dir, e.Indexed, e.Wanted)
}

// DamagedError reports a part of the index that cannot be read as it
// should; rag reindex rebuilds it from the files it holds.
type DamagedError struct {
	Dir  string
	What string
}

func (e *DamagedError) Error() string {
	return fmt.Sprintf("index at %s is damaged: %s", e.Dir, e.What)
}

// Meta describes an index as a whole.
type Meta struct {
	FormatVersion int       `json:"format_version"`
	EmbedModel    string    `json:"embed_model"`
	Dim           int       `json:"dim"` // 0 until the first vector is stored
	ChunkTokens   int       `json:"chunk_tokens"`
	Created       time.Time `json:"created"`
	LastIngest    time.Time `json:"last_ingest,omitzero"`
	VecGen        int       `json:"vec_gen"`   // which vectors-N.f32 file is current
	VecSlots      int       `json:"vec_slots"` // committed records in it
	Pending       int       `json:"pending"`   // chunks stored without a vector
}

// File is what the index remembers of one source file.
type File struct {
	Path    string
	Size    int64
	ModTime int64 // UnixNano
	Hash    string
	Title   string
}

// Chunk is one stored chunk with its provenance.
type Chunk struct {
	ID        uint64
	Path      string
	Title     string
	Headings  []string
	StartLine int
	EndLine   int
	Page      int
	// Anchor is the citation fragment after '#' for what lines cannot
	// locate: "slide=2", "sheet=Q1&row=5", "row=5", "cell=3"; "" otherwise
	// (and for chunks stored before format 5).
	Anchor string
	Text   string
	// Terms is the analysed text for the full-text index (see package lexical).
	Terms string
	// Key identifies the exact text that was (or will be) embedded, prefix
	// and all; two chunks with the same key can share a vector. Nil when
	// the caller does not reuse vectors.
	Key []byte
}

// Root is a folder or file given to an ingest, as it was when last ingested.
type Root struct {
	Path  string `json:"path"`
	Dev   uint64 `json:"dev"` // device id; 0 where the platform has none
	IsDir bool   `json:"is_dir"`
}

// CheckModel is the one rule for embedding models: an index answers only to
// the model it was built with ("name" and "name:latest" being one model). It
// returns a *ModelMismatchError for another one; an empty requested model
// asks for none in particular.
func (m Meta) CheckModel(dir, requested string) error {
	if requested == "" || NormalizeModel(m.EmbedModel) == NormalizeModel(requested) {
		return nil
	}
	return &ModelMismatchError{Dir: dir, Indexed: m.EmbedModel, Requested: requested}
}

// NormalizeModel makes "name" and "name:latest" the same model, as Ollama does.
func NormalizeModel(name string) string {
	name = strings.ToLower(strings.TrimSpace(name))
	if name != "" && !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		name += ":latest"
	}
	return name
}

// schema is the database layout. The full-text table's tokenizer must match
// what package lexical produces (lexical.Tokenizer): all linguistic work, such
// as stemming and CJK bigrams, happens in Go, at index and query time alike.
var schema = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS files (
	path   TEXT PRIMARY KEY,
	size   INTEGER NOT NULL,
	mtime  INTEGER NOT NULL,
	sha256 TEXT NOT NULL,
	title  TEXT NOT NULL DEFAULT '',
	indexed_at INTEGER NOT NULL DEFAULT 0
) WITHOUT ROWID;
CREATE TABLE IF NOT EXISTS chunks (
	id         INTEGER PRIMARY KEY,
	path       TEXT NOT NULL,
	title      TEXT NOT NULL DEFAULT '',
	headings   TEXT NOT NULL DEFAULT '',
	start_line INTEGER NOT NULL DEFAULT 0,
	end_line   INTEGER NOT NULL DEFAULT 0,
	page       INTEGER NOT NULL DEFAULT 0,
	text       TEXT NOT NULL,
	anchor     TEXT NOT NULL DEFAULT '',
	slot       INTEGER,
	vkey       BLOB
);
CREATE INDEX IF NOT EXISTS chunks_path ON chunks(path);
CREATE INDEX IF NOT EXISTS chunks_vkey ON chunks(vkey) WHERE vkey IS NOT NULL;
CREATE TABLE IF NOT EXISTS roots (
	path   TEXT PRIMARY KEY,
	dev    INTEGER NOT NULL,
	is_dir INTEGER NOT NULL
) WITHOUT ROWID;
CREATE UNIQUE INDEX IF NOT EXISTS chunks_slot ON chunks(slot) WHERE slot IS NOT NULL;
CREATE TABLE IF NOT EXISTS dead_slots (slot INTEGER PRIMARY KEY);
CREATE VIRTUAL TABLE IF NOT EXISTS chunks_fts USING fts5(terms, content='', contentless_delete=1, tokenize="` + lexical.Tokenizer + `");
`

// headingSep joins a heading path in one column; it cannot occur in a heading.
const headingSep = "\x1f"

func joinHeadings(h []string) string { return strings.Join(h, headingSep) }

func splitHeadings(s string) []string {
	if s == "" {
		return nil
	}
	return strings.Split(s, headingSep)
}

// openDB opens the database file with the pragmas rag relies on.
func openDB(path string, readOnly bool) (*sql.DB, error) {
	dsn := "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=journal_mode(WAL)&_pragma=synchronous(FULL)&_txlock=immediate"
	if readOnly {
		dsn = "file:" + path + "?_pragma=busy_timeout(30000)&_pragma=query_only(1)"
		if !writable(filepath.Dir(path)) {
			// A read-only mount: SQLite cannot make the WAL's shared-memory
			// file, and nobody can change the database meanwhile, so it is
			// read as the immutable file it is.
			dsn = "file:" + path + "?mode=ro&immutable=1&_pragma=query_only(1)"
		}
	}
	db, err := sql.Open("sqlite", dsn)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	return db, nil
}

type querier interface {
	QueryRow(query string, args ...any) *sql.Row
	Query(query string, args ...any) (*sql.Rows, error)
}

func readMeta(q querier) (Meta, bool, error) {
	rows, err := q.Query(`SELECT key, value FROM meta`)
	if err != nil {
		if strings.Contains(err.Error(), "no such table") {
			return Meta{}, false, nil
		}
		return Meta{}, false, fmt.Errorf("read index metadata: %w", err)
	}
	defer rows.Close()
	kv := map[string]string{}
	for rows.Next() {
		var k, v string
		if err := rows.Scan(&k, &v); err != nil {
			return Meta{}, false, err
		}
		kv[k] = v
	}
	if err := rows.Err(); err != nil {
		return Meta{}, false, err
	}
	if len(kv) == 0 {
		return Meta{}, false, nil
	}
	var m Meta
	var perr error
	atoi := func(k string) int {
		var n int
		if _, err := fmt.Sscan(kv[k], &n); err != nil && perr == nil {
			perr = fmt.Errorf("index metadata %s=%q: %w", k, kv[k], err)
		}
		return n
	}
	m.FormatVersion = atoi("format_version")
	m.EmbedModel = kv["embed_model"]
	m.Dim = atoi("dim")
	m.ChunkTokens = atoi("chunk_tokens")
	m.VecGen = atoi("vec_gen")
	m.VecSlots = atoi("vec_slots")
	if kv["pending"] != "" {
		m.Pending = atoi("pending")
	}
	m.Created, _ = time.Parse(time.RFC3339Nano, kv["created"])
	m.LastIngest, _ = time.Parse(time.RFC3339Nano, kv["last_ingest"])
	return m, true, perr
}

func writeMeta(tx *sql.Tx, m Meta) error {
	kv := map[string]string{
		"format_version": fmt.Sprint(m.FormatVersion),
		"embed_model":    m.EmbedModel,
		"dim":            fmt.Sprint(m.Dim),
		"chunk_tokens":   fmt.Sprint(m.ChunkTokens),
		"vec_gen":        fmt.Sprint(m.VecGen),
		"vec_slots":      fmt.Sprint(m.VecSlots),
		"pending":        fmt.Sprint(m.Pending),
		"created":        m.Created.Format(time.RFC3339Nano),
		"last_ingest":    "",
	}
	if !m.LastIngest.IsZero() {
		kv["last_ingest"] = m.LastIngest.Format(time.RFC3339Nano)
	}
	for k, v := range kv {
		if _, err := tx.Exec(`INSERT INTO meta(key, value) VALUES(?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value`, k, v); err != nil {
			return fmt.Errorf("write index metadata: %w", err)
		}
	}
	return nil
}

// ensureDir creates dir with mode 0700 whatever the umask.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create index folder: %w", err)
	}
	if err := os.Chmod(dir, 0o700); err != nil {
		return fmt.Errorf("set index folder permissions: %w", err)
	}
	return nil
}

func dbPath(dir string) string { return filepath.Join(dir, DBFile) }

// DBPath is the database file of the index in dir.
func DBPath(dir string) string { return dbPath(dir) }

// Vector file layout: a 64-byte header, then records of 8 bytes of chunk id
// (little-endian) and Dim float32 values (little-endian).
const (
	vecMagic      = "RAGVEC02"
	vecHeaderSize = 64
)

func vecPath(dir string, gen int) string {
	return filepath.Join(dir, fmt.Sprintf("vectors-%d.f32", gen))
}

func recordSize(dim int) int64 { return 8 + 4*int64(dim) }

func vecHeader(dim int) []byte {
	h := make([]byte, vecHeaderSize)
	copy(h, vecMagic)
	binary.LittleEndian.PutUint32(h[8:], uint32(dim))
	return h
}

func checkVecHeader(h []byte, dim int) error {
	if len(h) < vecHeaderSize || string(h[:8]) != vecMagic {
		return errors.New("vector file has no valid header")
	}
	if d := int(binary.LittleEndian.Uint32(h[8:])); d != dim {
		return fmt.Errorf("vector file has dimension %d, the index %d", d, dim)
	}
	return nil
}

// encodeRecord writes id and v, normalised to unit length, into dst. It
// refuses vectors with NaN or infinite values, or all zeros.
func encodeRecord(dst []byte, id uint64, v []float32) error {
	var sum float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return errors.New("vector has a non-finite value")
		}
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return errors.New("vector is all zeros")
	}
	inv := 1 / math.Sqrt(sum)
	binary.LittleEndian.PutUint64(dst, id)
	for i, x := range v {
		binary.LittleEndian.PutUint32(dst[8+4*i:], math.Float32bits(float32(float64(x)*inv)))
	}
	return nil
}
