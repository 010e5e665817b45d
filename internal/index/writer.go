package index

import (
	"cmp"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"
)

// Writer is the one process allowed to change an index. It holds the lock
// file for its whole life.
type Writer struct {
	dir     string
	unlock  func()
	madeDir bool    // the folder was made for this writer
	db      *sql.DB // nil until the first commit of a new index
	vec     *os.File
	meta    Meta
	files   map[string]File
	roots   map[string]Root
	nextID  uint64
	first   bool // nothing was committed when this writer opened
	// mu orders commits and vector look-ups, which may come from different
	// goroutines (ingest commits one window while it embeds the next).
	mu sync.Mutex
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
	// ChunkKey computes a stored chunk's Key for the embedding model, when
	// an index of an older format is migrated; nil leaves old chunks keyless
	// (they then never lend their vectors).
	ChunkKey func(model string, c Chunk) []byte
}

// OpenWriter takes the index's write lock, waiting up to wait for another
// writer to finish, and checks that the index's format and settings match.
// A new index is only written at its first commit. It returns ErrLocked when
// the wait runs out.
func OpenWriter(ctx context.Context, dir string, s Settings, wait time.Duration) (*Writer, error) {
	if err := Recover(dir); err != nil {
		return nil, err
	}
	_, statErr := os.Stat(dir)
	unlock, err := Lock(ctx, dir, wait)
	if err != nil {
		return nil, err
	}
	w := &Writer{dir: dir, unlock: unlock, madeDir: errors.Is(statErr, fs.ErrNotExist), files: map[string]File{}, roots: map[string]Root{}, nextID: 1}
	if err := w.open(s); err != nil {
		w.Close()
		return nil, err
	}
	return w, nil
}

func (w *Writer) open(s Settings) error {
	model := strings.TrimSpace(s.EmbedModel)
	fresh := Meta{FormatVersion: FormatVersion, EmbedModel: model,
		ChunkTokens: cmp.Or(s.ChunkTokens, s.DefaultChunkTokens), Created: time.Now().UTC()}
	if _, err := os.Stat(dbPath(w.dir)); errors.Is(err, fs.ErrNotExist) {
		w.meta, w.first = fresh, true
		return nil
	}
	db, err := openDB(dbPath(w.dir), false)
	if err != nil {
		return fmt.Errorf("open index database: %w", err)
	}
	w.db = db
	m, found, err := readMeta(db)
	if err != nil {
		return err
	}
	if !found {
		// Created by a run that died before its first commit, perhaps half
		// way through the schema: start over at the first commit.
		db.Close()
		w.db = nil
		w.meta, w.first = fresh, true
		return nil
	}
	if !readable(m.FormatVersion) {
		return &FormatError{Dir: w.dir, Found: m.FormatVersion}
	}
	if !s.EmbedExplicit {
		model = m.EmbedModel
	}
	if err := m.CheckModel(w.dir, model); err != nil {
		return err
	}
	if s.ChunkTokens != 0 && m.ChunkTokens != s.ChunkTokens {
		return &SettingsMismatchError{Dir: w.dir, Indexed: m.ChunkTokens, Wanted: s.ChunkTokens}
	}
	if m.FormatVersion < FormatVersion {
		if m, err = migrate(db, m, s.ChunkKey); err != nil {
			return err
		}
	}
	w.meta = m
	if w.roots, err = readRoots(db); err != nil {
		return err
	}
	rows, err := db.Query(`SELECT path, size, mtime, sha256, title FROM files`)
	if err != nil {
		return fmt.Errorf("read file records: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Path, &f.Size, &f.ModTime, &f.Hash, &f.Title); err != nil {
			return fmt.Errorf("read file records: %w", err)
		}
		w.files[f.Path] = f
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read file records: %w", err)
	}
	var maxID sql.NullInt64
	if err := db.QueryRow(`SELECT max(id) FROM chunks`).Scan(&maxID); err != nil {
		return fmt.Errorf("read chunk ids: %w", err)
	}
	w.nextID = uint64(maxID.Int64) + 1
	if m.Dim > 0 {
		return w.openVectors()
	}
	return nil
}

// openVectors opens the current vector file and cuts off any torn tail left
// by a run that died between writing vectors and committing them.
func (w *Writer) openVectors() error {
	f, err := os.OpenFile(vecPath(w.dir, w.meta.VecGen), os.O_RDWR, 0o600)
	if err != nil {
		return fmt.Errorf("open vector file: %w", err)
	}
	w.vec = f
	h := make([]byte, vecHeaderSize)
	if _, err := f.ReadAt(h, 0); err != nil {
		return fmt.Errorf("read vector file: %w", err)
	}
	if err := checkVecHeader(h, w.meta.Dim); err != nil {
		return fmt.Errorf("open vector file: %w", err)
	}
	end := vecfile{w.meta.Dim}.size(w.meta.VecSlots)
	if fi, err := f.Stat(); err != nil {
		return err
	} else if fi.Size() < end {
		return fmt.Errorf("vector file is shorter than the index says (%d < %d bytes): run rag check", fi.Size(), end)
	} else if fi.Size() > end {
		if err := f.Truncate(end); err != nil {
			return fmt.Errorf("trim vector file: %w", err)
		}
	}
	return nil
}

// create makes the database and vector files of a new index, 0600 from birth.
func (w *Writer) create() error {
	f, err := os.OpenFile(dbPath(w.dir), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return fmt.Errorf("create index database: %w", err)
	}
	f.Close()
	if err := os.Chmod(dbPath(w.dir), 0o600); err != nil {
		return fmt.Errorf("set index permissions: %w", err)
	}
	db, err := openDB(dbPath(w.dir), false)
	if err != nil {
		return fmt.Errorf("open index database: %w", err)
	}
	w.db = db
	if _, err := db.Exec(schema); err != nil {
		return fmt.Errorf("create index schema: %w", err)
	}
	return nil
}

// createVectors starts vector file generation gen for vectors of dim.
func (w *Writer) createVectors(gen, dim int) (*os.File, error) {
	f, err := vecfile{dim}.create(vecPath(w.dir, gen))
	if err != nil {
		return nil, err
	}
	return f, syncDir(w.dir)
}

// Fresh reports whether nothing has been committed to the index yet: its
// settings can still change.
func (w *Writer) Fresh() bool { return w.db == nil }

// SetChunkTokens changes the chunk size a fresh index records (see Fresh);
// it does nothing once the index holds anything.
func (w *Writer) SetChunkTokens(n int) {
	if w.db == nil && n > 0 {
		w.meta.ChunkTokens = n
	}
}

// Meta returns the index's metadata as of the last commit.
func (w *Writer) Meta() Meta { return w.meta }

// Files returns what the index knows of every file, by path. The map is the
// writer's own: callers must not change it.
func (w *Writer) Files() map[string]File { return w.files }

// Roots returns what the index records of its roots, by path. The map is the
// writer's own: callers must not change it.
func (w *Writer) Roots() map[string]Root { return w.roots }

// Put is one file's new state: its record and its chunks with their vectors.
// A nil vector leaves its chunk pending: stored and searchable by its words,
// embedded by a later ingest.
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
	// Embedded gives vectors to chunks that were stored pending, by chunk id.
	Embedded map[uint64][]float32
	// Roots are recorded (or updated) as ingested; ForgetRoots are dropped.
	Roots       []Root
	ForgetRoots []string
}

// Empty reports whether the batch changes nothing.
func (b *Batch) Empty() bool {
	return len(b.Puts)+len(b.Deletes)+len(b.Touches)+len(b.Embedded)+len(b.Roots)+len(b.ForgetRoots) == 0
}

// Commit applies the batch in one transaction: all of it lands, or none.
func (w *Writer) Commit(b *Batch) error {
	if b.Empty() {
		return nil
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if err := w.commit(b); err != nil {
		return diskFull(w.dir, fmt.Errorf("commit to index: %w", err))
	}
	return nil
}

func (w *Writer) commit(b *Batch) error {
	if w.db == nil {
		if err := w.create(); err != nil {
			return err
		}
	}
	meta := w.meta
	// Number the new chunks and lay their vectors out past the committed end.
	type slotted struct {
		id  uint64
		vec []float32
	}
	var recs []slotted
	nextID := w.nextID
	for i := range b.Puts {
		p := &b.Puts[i]
		if len(p.Chunks) != len(p.Vectors) {
			return fmt.Errorf("store %s: %d chunks but %d vectors", p.File.Path, len(p.Chunks), len(p.Vectors))
		}
		for j := range p.Chunks {
			p.Chunks[j].ID = nextID
			nextID++
			if p.Vectors[j] != nil {
				recs = append(recs, slotted{p.Chunks[j].ID, p.Vectors[j]})
			}
		}
	}
	for id, v := range b.Embedded {
		recs = append(recs, slotted{id, v})
	}
	slotOf := make(map[uint64]int, len(recs))
	if len(recs) > 0 {
		if meta.Dim == 0 {
			meta.Dim = len(recs[0].vec)
			meta.VecGen = 1
			f, err := w.createVectors(meta.VecGen, meta.Dim)
			if err != nil {
				return err
			}
			w.vec = f
		}
		vf := vecfile{meta.Dim}
		size := vf.recSize()
		buf := make([]byte, int64(len(recs))*size)
		for i, r := range recs {
			if len(r.vec) != meta.Dim {
				return fmt.Errorf("a vector of dimension %d in an index of dimension %d", len(r.vec), meta.Dim)
			}
			if err := encodeRecord(buf[int64(i)*size:], r.id, r.vec); err != nil {
				return fmt.Errorf("store vector of chunk %d: %w", r.id, err)
			}
			slotOf[r.id] = meta.VecSlots + i
		}
		if _, err := w.vec.WriteAt(buf, vf.offset(meta.VecSlots)); err != nil {
			return fmt.Errorf("write vectors: %w", err)
		}
		// The vectors are durable before any row points at them.
		if err := w.vec.Sync(); err != nil {
			return fmt.Errorf("sync vectors: %w", err)
		}
		meta.VecSlots += len(recs)
	}
	meta.LastIngest = time.Now().UTC()

	tx, err := w.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	// All removals first: a delete from the full-text table flushes its
	// pending inserts, so interleaving them would flush once per file.
	for _, p := range b.Deletes {
		n, err := removeFile(tx, p)
		if err != nil {
			return err
		}
		meta.Pending -= n
	}
	for _, p := range b.Puts {
		if _, known := w.files[p.File.Path]; !known {
			continue // a new file has nothing to remove
		}
		n, err := removeFile(tx, p.File.Path)
		if err != nil {
			return err
		}
		meta.Pending -= n
	}
	insChunk, err := tx.Prepare(`INSERT INTO chunks(id, path, title, headings, start_line, end_line, page, text, slot, vkey, anchor) VALUES(?,?,?,?,?,?,?,?,?,?,?)`)
	if err != nil {
		return err
	}
	defer insChunk.Close()
	insFTS, err := tx.Prepare(`INSERT INTO chunks_fts(rowid, terms) VALUES(?, ?)`)
	if err != nil {
		return err
	}
	defer insFTS.Close()
	for _, p := range b.Puts {
		for _, c := range p.Chunks {
			var slot any
			if s, ok := slotOf[c.ID]; ok {
				slot = s
			} else {
				meta.Pending++
			}
			if _, err := insChunk.Exec(c.ID, p.File.Path, c.Title, joinHeadings(c.Headings), c.StartLine, c.EndLine, c.Page, c.Text, slot, c.Key, c.Anchor); err != nil {
				return fmt.Errorf("store chunk of %s: %w", p.File.Path, err)
			}
			if _, err := insFTS.Exec(c.ID, c.Terms); err != nil {
				return fmt.Errorf("store terms of %s: %w", p.File.Path, err)
			}
		}
		if err := putFile(tx, p.File); err != nil {
			return err
		}
	}
	for _, f := range b.Touches {
		if err := putFile(tx, f); err != nil {
			return err
		}
	}
	for id := range b.Embedded {
		res, err := tx.Exec(`UPDATE chunks SET slot=? WHERE id=? AND slot IS NULL`, slotOf[id], id)
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n != 1 { // the chunk went away meanwhile
			if _, err := tx.Exec(`INSERT OR IGNORE INTO dead_slots(slot) VALUES(?)`, slotOf[id]); err != nil {
				return err
			}
		} else {
			meta.Pending--
		}
	}
	for _, rt := range b.Roots {
		if _, err := tx.Exec(`INSERT INTO roots(path, dev, is_dir) VALUES(?,?,?) ON CONFLICT(path) DO UPDATE SET dev=excluded.dev, is_dir=excluded.is_dir`,
			rt.Path, int64(rt.Dev), rt.IsDir); err != nil {
			return fmt.Errorf("record root %s: %w", rt.Path, err)
		}
	}
	for _, p := range b.ForgetRoots {
		if _, err := tx.Exec(`DELETE FROM roots WHERE path=?`, p); err != nil {
			return fmt.Errorf("forget root %s: %w", p, err)
		}
	}
	if err := writeMeta(tx, meta); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	w.meta, w.nextID = meta, nextID
	for _, rt := range b.Roots {
		w.roots[rt.Path] = rt
	}
	for _, p := range b.ForgetRoots {
		delete(w.roots, p)
	}
	if len(b.Roots)+len(b.ForgetRoots) > 0 {
		w.writeRootsFile() // a copy for hints; the database is what counts
	}
	for _, p := range b.Deletes {
		delete(w.files, p)
	}
	for _, p := range b.Puts {
		w.files[p.File.Path] = p.File
	}
	for _, f := range b.Touches {
		w.files[f.Path] = f
	}
	return nil
}

// removeFile deletes path's record and chunks; their vector slots become
// dead. It returns how many of the chunks were pending.
func removeFile(tx *sql.Tx, path string) (int, error) {
	var pending int
	if err := tx.QueryRow(`SELECT count(*) FROM chunks WHERE path=? AND slot IS NULL`, path).Scan(&pending); err != nil {
		return 0, fmt.Errorf("remove %s: %w", path, err)
	}
	stmts := []string{
		`INSERT OR IGNORE INTO dead_slots(slot) SELECT slot FROM chunks WHERE path=? AND slot IS NOT NULL`,
		`DELETE FROM chunks_fts WHERE rowid IN (SELECT id FROM chunks WHERE path=?)`,
		`DELETE FROM chunks WHERE path=?`,
		`DELETE FROM files WHERE path=?`,
	}
	for _, s := range stmts {
		if _, err := tx.Exec(s, path); err != nil {
			return 0, fmt.Errorf("remove %s: %w", path, err)
		}
	}
	return pending, nil
}

func putFile(tx *sql.Tx, f File) error {
	_, err := tx.Exec(`INSERT INTO files(path, size, mtime, sha256, title, indexed_at) VALUES(?,?,?,?,?,?)
		ON CONFLICT(path) DO UPDATE SET size=excluded.size, mtime=excluded.mtime, sha256=excluded.sha256, title=excluded.title, indexed_at=excluded.indexed_at`,
		f.Path, f.Size, f.ModTime, f.Hash, f.Title, time.Now().UnixNano())
	if err != nil {
		return fmt.Errorf("store record of %s: %w", f.Path, err)
	}
	return nil
}

// Pending returns the chunks stored without a vector, up to limit.
func (w *Writer) Pending(limit int) ([]Chunk, error) {
	if w.db == nil {
		return nil, nil
	}
	rows, err := w.db.Query(`SELECT `+chunkCols+` FROM chunks WHERE slot IS NULL ORDER BY id LIMIT ?`, limit)
	if err != nil {
		return nil, fmt.Errorf("read pending chunks: %w", err)
	}
	return scanChunks(rows)
}

// MarkIngested records the time of a finished ingest that changed nothing.
func (w *Writer) MarkIngested() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.db == nil {
		if err := w.create(); err != nil {
			return err
		}
	}
	meta := w.meta
	meta.LastIngest = time.Now().UTC()
	tx, err := w.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if err := writeMeta(tx, meta); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("commit to index: %w", err)
	}
	w.meta = meta
	return nil
}

// Close checkpoints the database and releases the write lock.
func (w *Writer) Close() error {
	var errs []error
	if w.db != nil {
		_, err := w.db.Exec(`PRAGMA wal_checkpoint(PASSIVE)`)
		errs = append(errs, err, w.db.Close())
	}
	if w.vec != nil {
		errs = append(errs, w.vec.Close())
	}
	w.removeProgress()
	w.unlock()
	if w.madeDir && w.db == nil {
		// Nothing was ever stored: leave no empty index folder behind.
		os.Remove(filepath.Join(w.dir, LockFile))
		os.Remove(w.dir)
	}
	return errors.Join(errs...)
}

// syncDir makes a folder's entries (a new file's name) durable.
func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil && !errors.Is(err, os.ErrInvalid) {
		return fmt.Errorf("sync index folder: %w", err)
	}
	return nil
}
