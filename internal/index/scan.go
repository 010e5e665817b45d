package index

import (
	"database/sql"
	"fmt"

	"github.com/ragcli/rag/internal/lexical"
)

// FileList returns every file record of the snapshot, by path.
func (r *Reader) FileList() ([]File, error) {
	rows, err := r.tx.Query(`SELECT path, size, mtime, sha256, title FROM files ORDER BY path`)
	if err != nil {
		return nil, fmt.Errorf("list files: %w", err)
	}
	defer rows.Close()
	var out []File
	for rows.Next() {
		var f File
		if err := rows.Scan(&f.Path, &f.Size, &f.ModTime, &f.Hash, &f.Title); err != nil {
			return nil, fmt.Errorf("list files: %w", err)
		}
		out = append(out, f)
	}
	return out, rows.Err()
}

// EachChunk calls fn with every chunk of the snapshot, in document order
// (by path, then line), one at a time, so that a caller can go through a
// large index without holding its text. Terms is left empty.
func (r *Reader) EachChunk(fn func(Chunk) error) error {
	rows, err := r.tx.Query(`SELECT ` + chunkColsOf(r.meta.FormatVersion) + ` FROM chunks ORDER BY path, start_line, page, id`)
	if err != nil {
		return fmt.Errorf("read chunks: %w", err)
	}
	defer rows.Close()
	for rows.Next() {
		var c Chunk
		var h string
		if err := rows.Scan(&c.ID, &c.Path, &c.Title, &h, &c.StartLine, &c.EndLine, &c.Page, &c.Text, &c.Anchor); err != nil {
			return fmt.Errorf("read chunk: %w", err)
		}
		c.Headings = splitHeadings(h)
		if err := fn(c); err != nil {
			return err
		}
	}
	return rows.Err()
}

// EachFile calls fn with every file of the snapshot, sorted by path: its
// record, its chunks in the order they were stored (the chunker's order),
// with Terms recomputed (lexical.ChunkTerms: the full-text table does not
// keep them readable) and Key as stored, and each chunk's vector, copied
// (nil while pending). What rag migrate copies into another store.
func (r *Reader) EachFile(fn func(File, []Chunk, [][]float32) error) error {
	if err := r.mapVectors(); err != nil {
		return err
	}
	files, err := r.FileList()
	if err != nil {
		return err
	}
	rows, err := r.tx.Query(`SELECT ` + chunkColsOf(r.meta.FormatVersion) + `, vkey, slot FROM chunks ORDER BY path, id`)
	if err != nil {
		return fmt.Errorf("read chunks: %w", err)
	}
	defer rows.Close()
	vf := vecfile{r.meta.Dim}
	var (
		cur   Chunk
		have  bool
		slot  sql.NullInt64
		chunk []Chunk
		vecs  [][]float32
	)
	next := func() (bool, error) {
		if !rows.Next() {
			return false, rows.Err()
		}
		var h string
		cur = Chunk{}
		if err := rows.Scan(&cur.ID, &cur.Path, &cur.Title, &h, &cur.StartLine, &cur.EndLine, &cur.Page, &cur.Text, &cur.Anchor, &cur.Key, &slot); err != nil {
			return false, fmt.Errorf("read chunk: %w", err)
		}
		cur.Headings = splitHeadings(h)
		cur.Terms = lexical.ChunkTerms(cur.Headings, cur.Text)
		return true, nil
	}
	if have, err = next(); err != nil {
		return err
	}
	for _, f := range files {
		chunk, vecs = nil, nil
		// Chunks of paths without a record (none in a sound index) sort
		// among the files and are skipped.
		for have && cur.Path < f.Path {
			if have, err = next(); err != nil {
				return err
			}
		}
		for have && cur.Path == f.Path {
			var v []float32
			if slot.Valid {
				s := int(slot.Int64)
				if r.vecs == nil || s >= r.meta.VecSlots || r.dead[s] {
					return &DamagedError{Dir: r.dir, What: fmt.Sprintf("chunk %d points at vector slot %d, which holds no live record", cur.ID, s)}
				}
				rec := vf.record(r.vecs.data, s)
				if id := vf.id(rec); id != cur.ID {
					return &DamagedError{Dir: r.dir, What: fmt.Sprintf("vector slot %d holds chunk %d, not %d", s, id, cur.ID)}
				}
				v = vf.vector(rec)
			}
			chunk, vecs = append(chunk, cur), append(vecs, v)
			if have, err = next(); err != nil {
				return err
			}
		}
		if err := fn(f, chunk, vecs); err != nil {
			return err
		}
	}
	return nil
}
