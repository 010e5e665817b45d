package index

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/gofrs/flock"
	bolt "go.etcd.io/bbolt"
)

// commitTimeout bounds how long a commit waits for readers to let go of the
// database; readers hold it for a fraction of a second.
const commitTimeout = 30 * time.Second

// Writer is the one process allowed to change an index. It holds the lock file
// for its whole life and opens the database only while committing.
type Writer struct {
	dir   string
	lock  *flock.Flock
	meta  Meta
	files map[string]File
}

// Settings are what an ingest asks of the index; they must match what the index
// was built with.
type Settings struct {
	EmbedModel string
	// EmbedExplicit says the user chose EmbedModel; otherwise an existing index
	// keeps the model it was built with.
	EmbedExplicit bool
	// ChunkTokens is the chunk budget; 0 keeps the index's, or DefaultChunkTokens
	// for a new index.
	ChunkTokens        int
	DefaultChunkTokens int
}

// OpenWriter takes the index's write lock, waiting up to wait for another
// writer to finish, creates the index if there is none, and checks that its
// format and settings match. It returns ErrLocked when the wait runs out.
func OpenWriter(ctx context.Context, dir string, s Settings, wait time.Duration) (*Writer, error) {
	if err := ensureDir(dir); err != nil {
		return nil, err
	}
	lk := flock.New(filepath.Join(dir, LockFile), flock.SetPermissions(0o600))
	ok, err := lk.TryLock()
	if err == nil && !ok && wait > 0 {
		wctx, cancel := context.WithTimeout(ctx, wait)
		ok, err = lk.TryLockContext(wctx, 100*time.Millisecond)
		cancel()
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		if errors.Is(err, context.DeadlineExceeded) {
			err = nil
		}
	}
	if err != nil {
		return nil, fmt.Errorf("lock index: %w", err)
	}
	if !ok {
		return nil, ErrLocked
	}
	w := &Writer{dir: dir, lock: lk}
	if err := w.init(s); err != nil {
		lk.Unlock()
		return nil, err
	}
	return w, nil
}

func (w *Writer) init(s Settings) error {
	model := strings.TrimSpace(s.EmbedModel)
	tokens := s.ChunkTokens
	if _, err := os.Stat(dbPath(w.dir)); errors.Is(err, fs.ErrNotExist) {
		// A new index is written at its first commit, so a run that fails
		// before storing anything leaves no empty index behind.
		w.meta = Meta{FormatVersion: FormatVersion, EmbedModel: model, ChunkTokens: cmp.Or(tokens, s.DefaultChunkTokens), Created: time.Now().UTC()}
		w.files = map[string]File{}
		return nil
	}
	return w.update(func(tx *bolt.Tx) error {
		m, found, err := readMeta(tx)
		if err != nil {
			return err
		}
		if !found {
			return fmt.Errorf("index database %s has no metadata", dbPath(w.dir))
		}
		if m.FormatVersion != FormatVersion {
			return &FormatError{Dir: w.dir, Found: m.FormatVersion}
		}
		if !s.EmbedExplicit {
			model = m.EmbedModel
		}
		if NormalizeModel(m.EmbedModel) != NormalizeModel(model) {
			return &ModelMismatchError{Dir: w.dir, Indexed: m.EmbedModel, Requested: model}
		}
		if tokens != 0 && m.ChunkTokens != tokens {
			return &SettingsMismatchError{Dir: w.dir, Indexed: m.ChunkTokens, Wanted: tokens}
		}
		w.meta = m
		w.files = map[string]File{}
		return tx.Bucket(bucketFiles).ForEach(func(k, v []byte) error {
			var f File
			if err := json.Unmarshal(v, &f); err != nil {
				return fmt.Errorf("decode file record %q: %w", k, err)
			}
			w.files[string(k)] = f
			return nil
		})
	})
}

// update runs fn in one read-write transaction, opening the database for it.
func (w *Writer) update(fn func(*bolt.Tx) error) error {
	db, err := bolt.Open(dbPath(w.dir), 0o600, &bolt.Options{Timeout: commitTimeout, FreelistType: bolt.FreelistMapType})
	if err != nil {
		return fmt.Errorf("open index database: %w", err)
	}
	if err := os.Chmod(dbPath(w.dir), 0o600); err != nil {
		db.Close()
		return fmt.Errorf("set index permissions: %w", err)
	}
	err = db.Update(func(tx *bolt.Tx) error {
		for _, name := range [][]byte{bucketMeta, bucketFiles, bucketChunks, bucketVectors} {
			if _, err := tx.CreateBucketIfNotExists(name); err != nil {
				return err
			}
		}
		if _, found, err := readMeta(tx); err != nil || !found {
			if err == nil {
				err = writeMeta(tx, w.meta)
			}
			if err != nil {
				return err
			}
		}
		return fn(tx)
	})
	if cerr := db.Close(); err == nil && cerr != nil {
		err = fmt.Errorf("close index database: %w", cerr)
	}
	return err
}

// Meta returns the index's metadata as of the last commit.
func (w *Writer) Meta() Meta { return w.meta }

// Files returns what the index knows of every file, by path. The map is the
// writer's own: callers must not change it.
func (w *Writer) Files() map[string]File { return w.files }

// Put is one file's new state: its record and its chunks with their vectors.
type Put struct {
	File    File
	Chunks  []Chunk
	Vectors [][]float32
}

// Batch is a set of changes committed together.
type Batch struct {
	Puts    []Put
	Deletes []string // paths to remove with their chunks
	Touches []File   // records whose size or mtime changed but content did not
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool { return len(b.Puts)+len(b.Deletes)+len(b.Touches) == 0 }

// Commit applies the batch in one transaction: all of it lands, or none.
func (w *Writer) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	meta := w.meta
	newFiles := map[string]*File{}
	err := w.update(func(tx *bolt.Tx) error {
		files, chunks, vectors := tx.Bucket(bucketFiles), tx.Bucket(bucketChunks), tx.Bucket(bucketVectors)
		remove := func(path string) error {
			f, ok := w.files[path]
			if !ok {
				return nil
			}
			for _, id := range f.Chunks {
				if err := chunks.Delete(idKey(id)); err != nil {
					return err
				}
				if err := vectors.Delete(idKey(id)); err != nil {
					return err
				}
			}
			return files.Delete([]byte(path))
		}
		for _, p := range b.Deletes {
			if err := remove(p); err != nil {
				return err
			}
			newFiles[p] = nil
		}
		for i := range b.Puts {
			p := &b.Puts[i]
			if len(p.Chunks) != len(p.Vectors) {
				return fmt.Errorf("store %s: %d chunks but %d vectors", p.File.Path, len(p.Chunks), len(p.Vectors))
			}
			if err := remove(p.File.Path); err != nil {
				return err
			}
			rec := p.File
			rec.Chunks = make([]uint64, len(p.Chunks))
			for j, c := range p.Chunks {
				if meta.Dim == 0 {
					meta.Dim = len(p.Vectors[j])
				}
				if len(p.Vectors[j]) != meta.Dim {
					return fmt.Errorf("store %s: vector of dimension %d in an index of dimension %d", p.File.Path, len(p.Vectors[j]), meta.Dim)
				}
				vec, err := encodeVector(p.Vectors[j])
				if err != nil {
					return fmt.Errorf("store %s: %w", p.File.Path, err)
				}
				id, err := chunks.NextSequence()
				if err != nil {
					return err
				}
				c.Path = rec.Path
				raw, err := json.Marshal(c)
				if err != nil {
					return err
				}
				if err := chunks.Put(idKey(id), raw); err != nil {
					return err
				}
				if err := vectors.Put(idKey(id), vec); err != nil {
					return err
				}
				rec.Chunks[j] = id
			}
			raw, err := json.Marshal(rec)
			if err != nil {
				return err
			}
			if err := files.Put([]byte(rec.Path), raw); err != nil {
				return err
			}
			newFiles[rec.Path] = &rec
		}
		for _, t := range b.Touches {
			raw, err := json.Marshal(t)
			if err != nil {
				return err
			}
			if err := files.Put([]byte(t.Path), raw); err != nil {
				return err
			}
			newFiles[t.Path] = &t
		}
		meta.LastIngest = time.Now().UTC()
		return writeMeta(tx, meta)
	})
	if err != nil {
		return fmt.Errorf("commit to index: %w", err)
	}
	w.meta = meta
	for p, f := range newFiles {
		if f == nil {
			delete(w.files, p)
		} else {
			w.files[p] = *f
		}
	}
	return nil
}

// MarkIngested records the time of a finished ingest that changed nothing.
func (w *Writer) MarkIngested() error {
	meta := w.meta
	meta.LastIngest = time.Now().UTC()
	if err := w.update(func(tx *bolt.Tx) error { return writeMeta(tx, meta) }); err != nil {
		return fmt.Errorf("commit to index: %w", err)
	}
	w.meta = meta
	return nil
}

// Close releases the write lock.
func (w *Writer) Close() error {
	return w.lock.Unlock()
}
