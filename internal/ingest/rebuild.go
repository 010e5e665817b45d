package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// ErrNothingToRebuild: none of the files an index holds exists any more.
var ErrNothingToRebuild = errors.New("none of the indexed files exists any more: nothing to rebuild from")

// RebuildStoppedError reports a rebuild that did not complete; the live
// index is unchanged. Err says why (a missing model, a server that is down).
type RebuildStoppedError struct{ Err error }

func (e *RebuildStoppedError) Error() string {
	return "rebuild stopped, the index is unchanged: " + e.Err.Error()
}

func (e *RebuildStoppedError) Unwrap() error { return e.Err }

// RebuildLostFilesError reports a rebuild in which some files could not be
// read again; without Force the live index is kept as it was.
type RebuildLostFilesError struct {
	Failed int
	Report *Report
}

func (e *RebuildLostFilesError) Error() string {
	return fmt.Sprintf("%d files could not be read again; the index is unchanged", e.Failed)
}

// RebuildOptions configure Rebuild. Options.IndexDir is the live index;
// Options.Roots is ignored (the files come from the index). Options.Index
// holds the settings to rebuild with: an explicit EmbedModel switches
// models, a non-zero ChunkTokens changes the chunk size; otherwise the
// index's own are kept.
type RebuildOptions struct {
	Options
	// Force swaps the rebuild in even when some files failed (their content
	// is then lost).
	Force bool
	// OnStart, when set, is told what is about to be rebuilt.
	OnStart func(files int, model string, chunkTokens int)
}

// Rebuild re-reads, cuts and embeds every file the index holds into a new
// index beside it (index.RebuildDir), then swaps it in: the way to change
// the embedding model or chunk size, or to repair damage. The live index
// answers searches until the swap and stays as it was if the rebuild fails
// or is interrupted. The roots the index records stay recorded.
func Rebuild(ctx context.Context, opts RebuildOptions) (*Report, error) {
	if opts.Store != nil {
		l, ok := opts.Store.(*local.Store)
		if !ok {
			return nil, &store.UnsupportedError{Store: opts.Store.Location(), What: "rebuild an index in place (rag reindex)",
				Hint: "ingest the same roots into a new collection (--store URL/NEWNAME) and use that one"}
		}
		opts.IndexDir, opts.Store = l.Dir, nil
	}
	live := opts.IndexDir
	if _, err := os.Stat(index.DBPath(live)); err != nil {
		return nil, fmt.Errorf("open index %s: %w", live, index.ErrNoIndex)
	}
	unlock, err := index.Lock(ctx, live, opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer unlock()
	r, err := index.OpenReader(live)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", live, err)
	}
	paths, err := r.FilePaths()
	meta := r.Meta()
	roots, rerr := r.Roots()
	r.Close()
	if err = errors.Join(err, rerr); err != nil {
		return nil, err
	}
	s := opts.Index
	if !s.EmbedExplicit {
		s.EmbedModel = meta.EmbedModel
	}
	s.EmbedExplicit = true
	if s.ChunkTokens == 0 {
		// Keep the index's size, as a default: capped, not refused, when
		// the new model cannot take it.
		s.DefaultChunkTokens = meta.ChunkTokens
	}
	var files []string
	for _, p := range paths {
		if _, err := os.Stat(p); err == nil {
			files = append(files, p)
		}
	}
	if len(files) == 0 {
		return nil, ErrNothingToRebuild
	}
	run := opts.Options
	run.Index, run.Roots, run.IndexDir = s, files, index.RebuildDir(live)
	// Every file was indexed once: take them all again, secrets that were
	// included explicitly too.
	run.Walk.Include = []string{"*"}
	if len(roots) > 0 { // an index older than format 3 records none: its files become the roots
		run.recordRoots = []index.Root{}
		for _, rt := range roots {
			run.recordRoots = append(run.recordRoots, rt)
		}
	}
	if err := os.RemoveAll(run.IndexDir); err != nil {
		return nil, fmt.Errorf("clear an earlier rebuild: %w", err)
	}
	if opts.OnStart != nil {
		opts.OnStart(len(files), s.EmbedModel, cmp.Or(s.ChunkTokens, s.DefaultChunkTokens))
	}
	rep, err := Run(ctx, run)
	if err == nil && rep.EmbedErr != nil {
		err = fmt.Errorf("embed: %w", rep.EmbedErr)
	}
	if err != nil {
		os.RemoveAll(run.IndexDir)
		return rep, &RebuildStoppedError{Err: err}
	}
	if rep.Failed > 0 && !opts.Force {
		os.RemoveAll(run.IndexDir)
		return rep, &RebuildLostFilesError{Failed: rep.Failed, Report: rep}
	}
	if err := index.MarkRebuilt(live); err != nil {
		return rep, err
	}
	if err := index.Swap(live); err != nil {
		return rep, err
	}
	rep.Index = live
	return rep, nil
}
