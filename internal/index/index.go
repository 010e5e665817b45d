// Package index keeps rag's on-disk index: one bbolt file holding the files
// rag has read, their chunks with provenance, and one normalised float32 vector
// per chunk, plus a lock file that admits one writer at a time.
//
// bbolt gives crash safety: every change is one transaction that is either
// wholly on disk (fsynced) or not there at all, so a kill -9 at any moment
// leaves the index as of the last commit. Readers see a consistent snapshot.
// Because bbolt lets a file be opened read-write by one process only, and not
// while readers hold it, a Writer opens the database only for the length of a
// commit; readers (search, ask) open it read-only, copy what they need, and
// close it. See docs/design.md for the format and the measurements.
//
// The package stores and loads; it does not embed, search or print.
package index

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strings"
	"time"

	bolt "go.etcd.io/bbolt"
)

// FormatVersion is the on-disk format this build reads and writes.
const FormatVersion = 1

// DBFile and LockFile are the names of the index's files inside its folder.
const (
	DBFile   = "index.db"
	LockFile = "ingest.lock"
)

var (
	bucketMeta    = []byte("meta")
	bucketFiles   = []byte("files")
	bucketChunks  = []byte("chunks")
	bucketVectors = []byte("vectors")
	keyMeta       = []byte("meta")
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
	return fmt.Sprintf("index at %s has format version %d; this rag reads version %d", e.Dir, e.Found, FormatVersion)
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

// Meta describes an index as a whole.
type Meta struct {
	FormatVersion int       `json:"format_version"`
	EmbedModel    string    `json:"embed_model"`
	Dim           int       `json:"dim"` // 0 until the first vector is stored
	ChunkTokens   int       `json:"chunk_tokens"`
	Created       time.Time `json:"created"`
	LastIngest    time.Time `json:"last_ingest,omitzero"`
}

// File is what the index remembers of one source file.
type File struct {
	Path    string   `json:"path"`
	Size    int64    `json:"size"`
	ModTime int64    `json:"mtime"` // UnixNano
	Hash    string   `json:"sha256"`
	Title   string   `json:"title,omitempty"`
	Chunks  []uint64 `json:"chunks"`
}

// Chunk is one stored chunk with its provenance.
type Chunk struct {
	ID        uint64   `json:"-"`
	Path      string   `json:"path"`
	Title     string   `json:"title,omitempty"`
	Headings  []string `json:"headings,omitempty"`
	StartLine int      `json:"start_line,omitempty"`
	EndLine   int      `json:"end_line,omitempty"`
	Page      int      `json:"page,omitempty"`
	Text      string   `json:"text"`
}

// NormalizeModel makes "name" and "name:latest" the same model, as Ollama does.
func NormalizeModel(name string) string {
	name = strings.TrimSpace(name)
	if name != "" && !strings.Contains(name[strings.LastIndex(name, "/")+1:], ":") {
		name += ":latest"
	}
	return name
}

func idKey(id uint64) []byte {
	var k [8]byte
	binary.BigEndian.PutUint64(k[:], id)
	return k[:]
}

func keyID(k []byte) uint64 { return binary.BigEndian.Uint64(k) }

// encodeVector normalises v to unit length and encodes it little-endian. It
// refuses vectors with NaN or infinite values, or of zero length.
func encodeVector(v []float32) ([]byte, error) {
	var sum float64
	for _, x := range v {
		if math.IsNaN(float64(x)) || math.IsInf(float64(x), 0) {
			return nil, errors.New("vector has a non-finite value")
		}
		sum += float64(x) * float64(x)
	}
	if sum == 0 {
		return nil, errors.New("vector is all zeros")
	}
	inv := 1 / math.Sqrt(sum)
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(float32(float64(x)*inv)))
	}
	return b, nil
}

func decodeVector(dst []float32, b []byte) {
	for i := range dst {
		dst[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
}

func readMeta(tx *bolt.Tx) (Meta, bool, error) {
	b := tx.Bucket(bucketMeta)
	if b == nil {
		return Meta{}, false, nil
	}
	raw := b.Get(keyMeta)
	if raw == nil {
		return Meta{}, false, nil
	}
	var m Meta
	if err := json.Unmarshal(raw, &m); err != nil {
		return Meta{}, false, fmt.Errorf("decode index metadata: %w", err)
	}
	return m, true, nil
}

func writeMeta(tx *bolt.Tx, m Meta) error {
	raw, err := json.Marshal(m)
	if err != nil {
		return err
	}
	return tx.Bucket(bucketMeta).Put(keyMeta, raw)
}

// ensureDir creates dir with mode 0700 whatever the umask.
func ensureDir(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("create index folder: %w", err)
	}
	return os.Chmod(dir, 0o700)
}

// dbPath is the database file of the index in dir.
func dbPath(dir string) string { return filepath.Join(dir, DBFile) }
