package index

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"unsafe"
)

// Reader is a read-only snapshot of an index: everything it returns is as of
// the moment it was opened, whatever an ingest commits meanwhile.
type Reader struct {
	dir     string
	db      *sql.DB
	tx      *sql.Tx
	meta    Meta
	vecFile *os.File // the snapshot's vector file; nil when it has no vectors
	vecs    *mapping // its mapping, made on first use
	vecErr  error    // why the vectors cannot be read, when they cannot
	retried bool
	dead    map[int]bool
}

// OpenReader opens the index in dir. It returns ErrNoIndex when there is none
// and a *FormatError for another format version.
func OpenReader(dir string) (*Reader, error) {
	if err := Recover(dir); err != nil {
		return nil, err
	}
	if fi, err := os.Stat(dir); err == nil && !fi.IsDir() {
		return nil, fmt.Errorf("%s is a file, not an index folder", dir)
	}
	if _, err := os.Stat(dbPath(dir)); errors.Is(err, fs.ErrNotExist) {
		if p, ok := Running(dir); ok {
			return nil, &BuildingError{Dir: dir, Progress: p}
		}
		return nil, ErrNoIndex
	}
	db, err := openDB(dbPath(dir), true)
	if err != nil {
		return nil, fmt.Errorf("open index database: %w", err)
	}
	r := &Reader{dir: dir, db: db}
	for attempt := 0; ; attempt++ {
		err := r.open()
		if err == nil {
			return r, nil
		}
		// A compaction may have replaced the vector file between reading the
		// metadata and opening it: take a fresh snapshot and try again.
		if errors.Is(err, fs.ErrNotExist) && attempt < 3 {
			r.release()
			r.retried = attempt >= 1
			continue
		}
		r.Close()
		return nil, err
	}
}

// release ends the snapshot and unmaps the vectors, keeping the database open.
func (r *Reader) release() {
	if r.tx != nil {
		r.tx.Rollback()
		r.tx = nil
	}
	if r.vecs != nil {
		r.vecs.close()
		r.vecs = nil
	}
	if r.vecFile != nil {
		r.vecFile.Close()
		r.vecFile = nil
	}
}

func (r *Reader) open() error {
	tx, err := r.db.BeginTx(context.Background(), &sql.TxOptions{ReadOnly: true})
	if err != nil {
		return fmt.Errorf("open index database: %w", err)
	}
	r.tx = tx
	// The first read fixes the snapshot every later read sees.
	m, found, err := readMeta(tx)
	if err != nil {
		return err
	}
	if !found {
		return ErrNoIndex
	}
	if !readable(m.FormatVersion) {
		return &FormatError{Dir: r.dir, Found: m.FormatVersion}
	}
	r.meta = m
	if m.Dim == 0 || m.VecSlots == 0 {
		return nil
	}
	rows, err := tx.Query(`SELECT slot FROM dead_slots`)
	if err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	defer rows.Close()
	r.dead = map[int]bool{}
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			return fmt.Errorf("read index: %w", err)
		}
		r.dead[s] = true
	}
	if err := rows.Err(); err != nil {
		return fmt.Errorf("read index: %w", err)
	}
	// The vector file is opened now, so the snapshot holds the generation it
	// names even if a compaction replaces it, and mapped on first use: a
	// lexical search never touches it.
	f, err := os.Open(vecPath(r.dir, m.VecGen))
	if errors.Is(err, fs.ErrNotExist) && attemptRetry(r) {
		return err // a compaction replaced it: OpenReader takes a new snapshot
	}
	if err != nil {
		// The chunks and their words are still readable: lexical search,
		// rag check and rag reindex work; the vector leg reports this.
		r.vecErr = &DamagedError{Dir: r.dir, What: fmt.Sprintf("vector file: %v", err)}
		return nil
	}
	r.vecFile = f
	size := vecfile{m.Dim}.size(m.VecSlots)
	if fi, err := f.Stat(); err != nil {
		return fmt.Errorf("open vectors: %w", err)
	} else if fi.Size() < size {
		f.Close()
		r.vecFile = nil
		r.vecErr = &DamagedError{Dir: r.dir, What: fmt.Sprintf("vector file %s is shorter than the index says (%d < %d bytes)", f.Name(), fi.Size(), size)}
	}
	return nil
}

// attemptRetry reports whether a missing vector file may be a compaction's
// doing: the metadata names a generation newer than the first.
func attemptRetry(r *Reader) bool { return r.meta.VecGen > 1 && !r.retried }

// mapVectors maps the snapshot's vector records, once.
func (r *Reader) mapVectors() error {
	if r.vecErr != nil {
		return r.vecErr
	}
	if r.vecs != nil || r.vecFile == nil {
		return nil
	}
	size := vecfile{r.meta.Dim}.size(r.meta.VecSlots)
	mp, err := mapFile(r.vecFile, size)
	if err != nil {
		return fmt.Errorf("open vectors: %w", err)
	}
	if err := checkVecHeader(mp.data, r.meta.Dim); err != nil {
		mp.close()
		return fmt.Errorf("open vectors: %w", err)
	}
	r.vecs = mp
	return nil
}

// Dir is the index folder the snapshot was opened from.
func (r *Reader) Dir() string { return r.dir }

// Meta returns the index's metadata.
func (r *Reader) Meta() Meta { return r.meta }

// Close releases the snapshot, the mapping and the database.
func (r *Reader) Close() error {
	var errs []error
	if r.tx != nil {
		errs = append(errs, r.tx.Rollback())
	}
	if r.vecs != nil {
		errs = append(errs, r.vecs.close())
	}
	if r.vecFile != nil {
		errs = append(errs, r.vecFile.Close())
	}
	if r.db != nil { // nil after KeepVectorsOnly
		errs = append(errs, r.db.Close())
	}
	return errors.Join(errs...)
}

var littleEndian = func() bool { x := uint16(1); return *(*byte)(unsafe.Pointer(&x)) == 1 }()

// EachVector calls fn with every live vector and its chunk id, in slot order.
// On little-endian machines v points into the mapped file: it is valid until
// Close and must not be changed.
func (r *Reader) EachVector(fn func(id uint64, v []float32) error) error {
	return r.EachVectorIn(0, r.meta.VecSlots, fn)
}

// Slots is the number of vector records in the snapshot, dead ones included:
// the bound of EachVectorIn's slot range.
func (r *Reader) Slots() int { return r.meta.VecSlots }

// EachVectorIn is EachVector over the records in slots [from, to) only, so
// that callers can load disjoint ranges side by side. It is safe to call from
// several goroutines at once after one call has returned (which maps the file).
func (r *Reader) EachVectorIn(from, to int, fn func(id uint64, v []float32) error) error {
	if err := r.mapVectors(); err != nil {
		return err
	}
	if r.vecs == nil {
		return nil
	}
	vf, data := vecfile{r.meta.Dim}, r.vecs.data
	for s := max(0, from); s < min(to, r.meta.VecSlots); s++ {
		if r.dead[s] {
			continue
		}
		rec := vf.record(data, s)
		if err := fn(vf.id(rec), vf.view(rec)); err != nil {
			return err
		}
	}
	return nil
}

// LiveVectors counts the vectors EachVector visits.
func (r *Reader) LiveVectors() int {
	if r.vecFile == nil && r.vecErr == nil {
		return 0
	}
	return r.meta.VecSlots - len(r.dead)
}

// chunkCols are the columns scanChunks reads; chunkColsBefore5 reads an
// index from before format 5, which has no anchor column.
const (
	chunkCols        = `id, path, title, headings, start_line, end_line, page, text, anchor`
	chunkColsBefore5 = `id, path, title, headings, start_line, end_line, page, text, '' AS anchor`
)

// chunkColsOf returns the chunk columns of an index of format version v.
func chunkColsOf(v int) string {
	if v < 5 {
		return chunkColsBefore5
	}
	return chunkCols
}

func scanChunks(rows *sql.Rows) ([]Chunk, error) {
	defer rows.Close()
	var out []Chunk
	for rows.Next() {
		var c Chunk
		var h string
		if err := rows.Scan(&c.ID, &c.Path, &c.Title, &h, &c.StartLine, &c.EndLine, &c.Page, &c.Text, &c.Anchor); err != nil {
			return nil, fmt.Errorf("read chunk: %w", err)
		}
		c.Headings = splitHeadings(h)
		out = append(out, c)
	}
	return out, rows.Err()
}

// Chunks returns the stored chunks with these ids, in the same order; an id
// that is not in the index is an error.
func (r *Reader) Chunks(ids []uint64) ([]Chunk, error) {
	out := make([]Chunk, len(ids))
	stmt, err := r.tx.Prepare(`SELECT ` + chunkColsOf(r.meta.FormatVersion) + ` FROM chunks WHERE id=?`)
	if err != nil {
		return nil, fmt.Errorf("read chunks: %w", err)
	}
	defer stmt.Close()
	for i, id := range ids {
		rows, err := stmt.Query(id)
		if err != nil {
			return nil, fmt.Errorf("read chunk %d: %w", id, err)
		}
		cs, err := scanChunks(rows)
		if err != nil {
			return nil, err
		}
		if len(cs) != 1 {
			return nil, fmt.Errorf("chunk %d is missing from the index: run rag check", id)
		}
		out[i] = cs[0]
	}
	return out, nil
}

// EachChunkPath calls fn with every chunk's id and file path.
func (r *Reader) EachChunkPath(fn func(id uint64, path string) error) error {
	rows, err := r.tx.Query(`SELECT id, path FROM chunks`)
	if err != nil {
		return fmt.Errorf("read chunk paths: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var id uint64
		var path string
		if err := rows.Scan(&id, &path); err != nil {
			return fmt.Errorf("read chunk paths: %w", err)
		}
		if err := fn(id, path); err != nil {
			return err
		}
	}
	return rows.Err()
}

// Hit is one full-text match.
type Hit struct {
	ID    uint64
	Score float64 // BM25, higher is better
}

// Lexical returns up to k chunks matching an FTS5 MATCH expression (see
// package lexical), best BM25 score first.
func (r *Reader) Lexical(match string, k int) ([]Hit, error) {
	if match == "" {
		return nil, nil
	}
	rows, err := r.tx.Query(`SELECT rowid, bm25(chunks_fts) FROM chunks_fts WHERE chunks_fts MATCH ? ORDER BY bm25(chunks_fts) LIMIT ?`, match, k)
	if err != nil {
		if errors.Is(err, sql.ErrNoRows) {
			return nil, nil
		}
		return nil, fmt.Errorf("full-text search: %w", err)
	}
	defer rows.Close()
	var out []Hit
	for rows.Next() {
		var h Hit
		if err := rows.Scan(&h.ID, &h.Score); err != nil {
			return nil, fmt.Errorf("full-text search: %w", err)
		}
		h.Score = -h.Score // SQLite's bm25() is lower-is-better
		out = append(out, h)
	}
	return out, rows.Err()
}

// Stats summarises an index.
type Stats struct {
	Files     int
	Chunks    int
	Pending   int // chunks stored without a vector yet
	SizeBytes int64
}

// Stats counts what the index holds and its size on disk.
func (r *Reader) Stats() (Stats, error) {
	var s Stats
	err := r.tx.QueryRow(`SELECT (SELECT count(*) FROM files), (SELECT count(*) FROM chunks), (SELECT count(*) FROM chunks WHERE slot IS NULL)`).
		Scan(&s.Files, &s.Chunks, &s.Pending)
	if err != nil {
		return s, fmt.Errorf("count index: %w", err)
	}
	for _, p := range []string{dbPath(r.dir), dbPath(r.dir) + "-wal", vecPath(r.dir, r.meta.VecGen)} {
		if fi, err := os.Stat(p); err == nil {
			s.SizeBytes += fi.Size()
		}
	}
	return s, nil
}

// Roots returns what the index records of the roots ingested into it, by
// path; empty for an index older than format 3.
func (r *Reader) Roots() (map[string]Root, error) {
	if r.meta.FormatVersion < 3 {
		return map[string]Root{}, nil
	}
	return readRoots(r.tx)
}

func readRoots(q querier) (map[string]Root, error) {
	rows, err := q.Query(`SELECT path, dev, is_dir FROM roots`)
	if err != nil {
		return nil, fmt.Errorf("read roots: %w", err)
	}
	defer rows.Close()
	out := map[string]Root{}
	for rows.Next() {
		var rt Root
		var dev int64
		if err := rows.Scan(&rt.Path, &dev, &rt.IsDir); err != nil {
			return nil, fmt.Errorf("read roots: %w", err)
		}
		rt.Dev = uint64(dev)
		out[rt.Path] = rt
	}
	return out, rows.Err()
}
