package index

import (
	"database/sql"
	"errors"
	"fmt"
)

// Chunk returns the stored chunk with this id; found is false when the
// snapshot holds none (an id from an older state, or a made-up one).
func (r *Reader) Chunk(id uint64) (c Chunk, found bool, err error) {
	rows, err := r.tx.Query(`SELECT `+chunkColsOf(r.meta.FormatVersion)+` FROM chunks WHERE id=?`, id)
	if err != nil {
		return Chunk{}, false, fmt.Errorf("read chunk %d: %w", id, err)
	}
	cs, err := scanChunks(rows)
	if err != nil || len(cs) == 0 {
		return Chunk{}, false, err
	}
	return cs[0], true, nil
}

// File returns the record of an indexed file; found is false when path is not
// in the index.
func (r *Reader) File(path string) (f File, found bool, err error) {
	err = r.tx.QueryRow(`SELECT path, size, mtime, sha256, title FROM files WHERE path=?`, path).
		Scan(&f.Path, &f.Size, &f.ModTime, &f.Hash, &f.Title)
	if errors.Is(err, sql.ErrNoRows) {
		return File{}, false, nil
	}
	if err != nil {
		return File{}, false, fmt.Errorf("read file record of %s: %w", path, err)
	}
	return f, true, nil
}
