package index

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"time"
)

// This file holds rag ls's read-only listing queries: what the index holds
// under each root and of each file. They read the Reader's snapshot only.

// RootListing is one indexed root and what the index holds at or under it.
type RootListing struct {
	Path    string `json:"path"`
	IsDir   bool   `json:"is_dir"`
	Files   int    `json:"files"`
	Chunks  int    `json:"chunks"`
	Pending int    `json:"pending"` // chunks without a vector yet
}

// FileListing is one indexed file: what was recorded of it when it was last
// read, and its chunks.
type FileListing struct {
	Path    string    `json:"path"`
	Size    int64     `json:"size"`
	ModTime time.Time `json:"modified"` // the file's mtime when it was indexed
	// Indexed is when rag last read the file; absent for files indexed
	// before format 4, which did not record it.
	Indexed *time.Time `json:"indexed,omitempty"`
	Chunks  int        `json:"chunks"`
	Pending int        `json:"pending"`
}

// under is the SQL condition for a path column at or under prefix, with its
// arguments. Paths compare bytewise, so the paths below a folder "p" are
// those from "p/" up to, not including, "p0" ('0' follows '/').
func under(col, prefix string) (string, []any) {
	sep := string(filepath.Separator)
	below := prefix
	if !strings.HasSuffix(below, sep) {
		below += sep
	}
	after := below[:len(below)-1] + string(rune(filepath.Separator+1))
	return fmt.Sprintf("(%[1]s = ? OR (%[1]s >= ? AND %[1]s < ?))", col), []any{prefix, below, after}
}

// ListRoots returns the roots the index records, sorted by path, with what
// it holds under each; empty for an index older than format 3.
func (r *Reader) ListRoots() ([]RootListing, error) {
	roots, err := r.Roots()
	if err != nil {
		return nil, err
	}
	out := make([]RootListing, 0, len(roots))
	for _, rt := range roots {
		l := RootListing{Path: rt.Path, IsDir: rt.IsDir}
		cond, args := under("path", rt.Path)
		if err := r.tx.QueryRow(`SELECT count(*) FROM files WHERE `+cond, args...).Scan(&l.Files); err != nil {
			return nil, fmt.Errorf("list root %s: %w", rt.Path, err)
		}
		if err := r.tx.QueryRow(`SELECT count(*), count(*) - count(slot) FROM chunks WHERE `+cond, args...).Scan(&l.Chunks, &l.Pending); err != nil {
			return nil, fmt.Errorf("list root %s: %w", rt.Path, err)
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b RootListing) int { return strings.Compare(a.Path, b.Path) })
	return out, nil
}

// ListFiles returns the indexed files at or under path (a file, a folder or
// a root), sorted by path, with their chunk counts.
func (r *Reader) ListFiles(path string) ([]FileListing, error) {
	cond, args := under("f.path", filepath.Clean(path))
	indexedAt := "f.indexed_at"
	if r.meta.FormatVersion < 4 {
		indexedAt = "0"
	}
	rows, err := r.tx.Query(`SELECT f.path, f.size, f.mtime, `+indexedAt+`, count(c.id), count(c.id) - count(c.slot)
		FROM files f LEFT JOIN chunks c ON c.path = f.path
		WHERE `+cond+` GROUP BY f.path ORDER BY f.path`, args...)
	if err != nil {
		return nil, fmt.Errorf("list files under %s: %w", path, err)
	}
	defer rows.Close()
	out := []FileListing{}
	for rows.Next() {
		var l FileListing
		var mtime, indexed int64
		if err := rows.Scan(&l.Path, &l.Size, &mtime, &indexed, &l.Chunks, &l.Pending); err != nil {
			return nil, fmt.Errorf("list files under %s: %w", path, err)
		}
		l.ModTime = time.Unix(0, mtime).UTC()
		if indexed > 0 {
			t := time.Unix(0, indexed).UTC()
			l.Indexed = &t
		}
		out = append(out, l)
	}
	return out, rows.Err()
}
