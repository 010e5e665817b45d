package index

import "fmt"

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
