package audit

import (
	"cmp"
	"context"
	"slices"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
)

// Snapshot is the local index's snapshot r as a Source: its file list and
// its chunks, both read in path order and paired up as they come, so that
// no more than one file's chunks are held at a time; a file's chunks are
// given in document order.
func Snapshot(r *index.Reader) Source { return snapshot{r} }

type snapshot struct{ r *index.Reader }

func (s snapshot) EachFile(ctx context.Context, fn func(index.File, []index.Chunk) error) error {
	files, err := s.r.FileList()
	if err != nil {
		return err
	}
	next := 0 // files[next] is the first not given to fn yet
	var cur []index.Chunk
	// flushTo gives fn every file sorted before path, and path's own file
	// with the chunks gathered for it.
	flushTo := func(path string, last bool) error {
		for next < len(files) && (last || files[next].Path <= path) {
			var cs []index.Chunk
			if len(cur) > 0 && cur[0].Path == files[next].Path {
				// Document order, as a store's EachFile gives it: the local
				// index numbers a file's chunks in that order.
				cs, cur = cur, nil
				slices.SortFunc(cs, func(a, b index.Chunk) int { return cmp.Compare(a.ID, b.ID) })
			}
			if err := fn(files[next], cs); err != nil {
				return err
			}
			next++
		}
		cur = nil // chunks of a path with no record: nothing lists them
		return ctx.Err()
	}
	err = s.r.EachChunk(func(c index.Chunk) error {
		if len(cur) > 0 && cur[0].Path != c.Path {
			if err := flushTo(cur[0].Path, false); err != nil {
				return err
			}
		}
		cur = append(cur, c)
		return nil
	})
	if err != nil {
		return err
	}
	if len(cur) > 0 {
		if err := flushTo(cur[0].Path, false); err != nil {
			return err
		}
	}
	return flushTo("", true)
}

func (s snapshot) Chunks(_ context.Context, ids []uint64) ([]index.Chunk, error) {
	return s.r.Chunks(ids)
}

// Store is any store's Reader as a Source (a Weaviate collection, or the
// local index through the store seam): its EachFile, as rag migrate reads
// it, and its Chunks by id.
func Store(r store.Reader) Source { return storeSource{r} }

type storeSource struct{ r store.Reader }

func (s storeSource) EachFile(ctx context.Context, fn func(index.File, []index.Chunk) error) error {
	each := s.r.EachFile
	if tw, ok := s.r.(store.TextWalker); ok {
		each = tw.EachFileText // an audit compares texts only
	}
	return each(ctx, func(p store.Put) error { return fn(p.File, p.Chunks) })
}

func (s storeSource) Chunks(ctx context.Context, ids []uint64) ([]index.Chunk, error) {
	return s.r.Chunks(ctx, ids)
}
