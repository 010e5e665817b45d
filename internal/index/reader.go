package index

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	bolt "go.etcd.io/bbolt"
)

// readTimeout bounds how long a reader waits while a writer commits.
const readTimeout = 30 * time.Second

// Reader is a read-only view of an index. Hold it briefly: while it is open an
// ingest cannot commit.
type Reader struct {
	dir  string
	db   *bolt.DB
	meta Meta
}

// OpenReader opens the index in dir read-only. It returns ErrNoIndex when there
// is none and a *FormatError for another format version.
func OpenReader(dir string) (*Reader, error) {
	if _, err := os.Stat(dbPath(dir)); errors.Is(err, fs.ErrNotExist) {
		return nil, ErrNoIndex
	}
	db, err := bolt.Open(dbPath(dir), 0o600, &bolt.Options{ReadOnly: true, Timeout: readTimeout})
	if err != nil {
		return nil, fmt.Errorf("open index database: %w", err)
	}
	r := &Reader{dir: dir, db: db}
	err = db.View(func(tx *bolt.Tx) error {
		m, found, err := readMeta(tx)
		if err != nil {
			return err
		}
		if !found {
			return ErrNoIndex
		}
		r.meta = m
		return nil
	})
	if err == nil && r.meta.FormatVersion != FormatVersion {
		err = &FormatError{Dir: dir, Found: r.meta.FormatVersion}
	}
	if err != nil {
		db.Close()
		return nil, err
	}
	return r, nil
}

// Meta returns the index's metadata.
func (r *Reader) Meta() Meta { return r.meta }

// Close releases the database.
func (r *Reader) Close() error { return r.db.Close() }

// Vectors holds every stored vector in one slab: row i is IDs[i]'s vector.
type Vectors struct {
	Dim  int
	IDs  []uint64
	Data []float32
}

// Row returns the i-th vector.
func (v *Vectors) Row(i int) []float32 { return v.Data[i*v.Dim : (i+1)*v.Dim : (i+1)*v.Dim] }

// LoadVectors copies every vector out of the index.
func (r *Reader) LoadVectors() (*Vectors, error) {
	v := &Vectors{Dim: r.meta.Dim}
	err := r.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketVectors)
		n := b.Stats().KeyN
		v.IDs = make([]uint64, 0, n)
		v.Data = make([]float32, 0, n*v.Dim)
		return b.ForEach(func(k, raw []byte) error {
			if len(raw) != 4*v.Dim {
				return fmt.Errorf("vector %d has %d bytes, want %d", keyID(k), len(raw), 4*v.Dim)
			}
			v.IDs = append(v.IDs, keyID(k))
			start := len(v.Data)
			v.Data = v.Data[:start+v.Dim]
			decodeVector(v.Data[start:], raw)
			return nil
		})
	})
	if err != nil {
		return nil, fmt.Errorf("load vectors: %w", err)
	}
	return v, nil
}

// Chunks returns the stored chunks with these ids, in the same order; an id
// that is gone is an error.
func (r *Reader) Chunks(ids []uint64) ([]Chunk, error) {
	out := make([]Chunk, len(ids))
	err := r.db.View(func(tx *bolt.Tx) error {
		b := tx.Bucket(bucketChunks)
		for i, id := range ids {
			raw := b.Get(idKey(id))
			if raw == nil {
				return fmt.Errorf("chunk %d is missing", id)
			}
			if err := json.Unmarshal(raw, &out[i]); err != nil {
				return fmt.Errorf("decode chunk %d: %w", id, err)
			}
			out[i].ID = id
		}
		return nil
	})
	return out, err
}

// Stats summarises an index.
type Stats struct {
	Files     int
	Chunks    int
	SizeBytes int64
}

// Stats counts what the index holds.
func (r *Reader) Stats() (Stats, error) {
	var s Stats
	err := r.db.View(func(tx *bolt.Tx) error {
		s.Files = tx.Bucket(bucketFiles).Stats().KeyN
		s.Chunks = tx.Bucket(bucketChunks).Stats().KeyN
		s.SizeBytes = tx.Size()
		return nil
	})
	return s, err
}
