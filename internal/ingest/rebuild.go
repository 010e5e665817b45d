package ingest

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
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

// RebuildElsewhereError reports a rebuild that would need files this
// machine cannot read: the files of recorded roots that do not exist here
// (another machine's roots in a shared store, or an unmounted disk), when
// the chunk size changes and their stored chunks cannot simply be carried
// over. Without Force nothing is changed.
type RebuildElsewhereError struct {
	Roots []string // the roots, sorted
	Files int      // the files indexed under them
}

func (e *RebuildElsewhereError) Error() string {
	return fmt.Sprintf("%d indexed files under %s are not on this machine, and a new chunk size needs them; the index is unchanged",
		e.Files, strings.Join(e.Roots, ", "))
}

// RebuildOptions configure Rebuild. Options.Store (or IndexDir) is the live
// index; Options.Roots is ignored (the files come from the index).
// Options.Index holds the settings to rebuild with: an explicit EmbedModel
// switches models, a non-zero ChunkTokens changes the chunk size; otherwise
// the index's own are kept.
type RebuildOptions struct {
	Options
	// Force swaps the rebuild in even when some files failed, and drops the
	// files of roots this machine cannot read when the chunk size changes
	// (their content is then lost).
	Force bool
	// OnStart, when set, is told what is about to be rebuilt: the files
	// read again from disk, the files carried over from the live index.
	OnStart func(files, carried int, model string, chunkTokens int)
}

// carriedReason is the Reason of a KeptRoot whose files a rebuild carried
// over from the live index.
const carriedReason = "not on this machine: carried over from the live index"

// Rebuild re-reads, cuts and embeds every file the index holds into a new
// generation of the store beside the live one (store.Rebuilder), then
// swaps it in: the way to change the embedding model or chunk size, or to
// repair damage. The live generation answers searches until the swap and
// stays as it was if the rebuild fails or is interrupted. The roots the
// index records stay recorded.
//
// Files deleted from disk are dropped. Files under a recorded root that
// does not exist on this machine (another machine's root in a shared
// store, an unmounted disk) are never dropped silently: they are carried
// over from the live index, with their vectors when the model stays, as
// pending chunks that the run embeds from their stored text when it
// changes (Report.KeptRoots, reason carriedReason). A new chunk size needs
// their files: the rebuild is then refused (*RebuildElsewhereError), or
// drops them with Force.
func Rebuild(ctx context.Context, opts RebuildOptions) (rep *Report, err error) {
	live := opts.store()
	rb, ok := live.(store.Rebuilder)
	if !ok {
		return nil, &store.UnsupportedError{Store: live.Location(), What: "rebuild an index in place (rag reindex)",
			Hint: "ingest the same roots into a new collection (--store URL/NEWNAME) and use that one"}
	}
	b, err := rb.BeginRebuild(ctx, opts.LockWait)
	if err != nil {
		return nil, err
	}
	defer func() {
		// Unless swapped in (Abort then does nothing), the next generation
		// goes, interrupted or not: the live one was never touched.
		actx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		b.Abort(actx)
	}()
	r, err := live.OpenReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", live.Location(), err)
	}
	// Closed once the carried files are copied: the swap renames a local
	// index's folder.
	closeReader := sync.OnceFunc(func() { r.Close() })
	defer closeReader()
	// Every path is absolute: the listing at the file system's root is
	// every file.
	listing, err := r.ListFiles(ctx, string(filepath.Separator))
	if err != nil {
		return nil, err
	}
	meta := r.Meta()
	roots, err := r.Roots(ctx)
	if err != nil {
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
	away := rootsAway(roots)
	var files []string
	carried := map[string][]string{} // root not on this machine -> its files
	for _, l := range listing {
		if _, err := os.Stat(l.Path); err == nil {
			files = append(files, l.Path)
		} else if rt := awayRoot(l.Path, away); rt != "" {
			carried[rt] = append(carried[rt], l.Path)
		}
	}
	var carriedRoots []string
	nCarried := 0
	for rt, fs := range carried {
		carriedRoots = append(carriedRoots, rt)
		nCarried += len(fs)
	}
	sort.Strings(carriedRoots)
	if nCarried > 0 && s.ChunkTokens != 0 && s.ChunkTokens != meta.ChunkTokens {
		if !opts.Force {
			return nil, &RebuildElsewhereError{Roots: carriedRoots, Files: nCarried}
		}
		carried, carriedRoots, nCarried = nil, nil, 0
	}
	if len(files) == 0 && nCarried == 0 {
		return nil, ErrNothingToRebuild
	}
	next := b.Next()
	run := opts.Options
	run.Store, run.IndexDir = next, ""
	run.Index, run.Roots = s, files
	if len(files) == 0 {
		// Nothing to read here: the run only embeds what was carried over.
		run.Roots = carriedRoots
	}
	// Every file was indexed once: take them all again, secrets that were
	// included explicitly too.
	run.Walk.Include = []string{"*"}
	if len(roots) > 0 { // an index older than format 3 records none: its files become the roots
		run.recordRoots = []index.Root{}
		for _, rt := range roots {
			run.recordRoots = append(run.recordRoots, rt)
		}
	}
	if opts.OnStart != nil {
		opts.OnStart(len(files), nCarried, s.EmbedModel, cmp.Or(s.ChunkTokens, s.DefaultChunkTokens))
	}
	if nCarried > 0 {
		if err := carryOver(ctx, r, next, s, meta, carried); err != nil {
			return nil, &RebuildStoppedError{Err: err}
		}
	}
	closeReader()
	rep, err = Run(ctx, run)
	if err == nil && rep.EmbedErr != nil {
		err = fmt.Errorf("embed: %w", rep.EmbedErr)
	}
	if err != nil {
		return rep, &RebuildStoppedError{Err: err}
	}
	if rep.Failed > 0 && !opts.Force {
		return rep, &RebuildLostFilesError{Failed: rep.Failed, Report: rep}
	}
	if err := b.Swap(ctx); err != nil {
		return rep, err
	}
	rep.Index = live.Location()
	// The carried roots are not the warning a vanished root is in an
	// ingest: they are what the rebuild meant to keep.
	kept := rep.KeptRoots[:0]
	for _, k := range rep.KeptRoots {
		if _, ok := carried[k.Root]; !ok {
			kept = append(kept, k)
		}
	}
	rep.KeptRoots = kept
	for _, rt := range carriedRoots {
		rep.KeptRoots = append(rep.KeptRoots, KeptRoot{Root: rt, Reason: carriedReason, Files: len(carried[rt]), Gone: len(carried[rt])})
	}
	return rep, nil
}

// rootsAway are the recorded roots that are not on this machine, judged as
// ingest judges a missing root.
func rootsAway(roots map[string]index.Root) []string {
	var out []string
	for p := range roots {
		if _, err := filepath.EvalSymlinks(p); absent(err) {
			out = append(out, p)
		}
	}
	return out
}

// awayRoot is the innermost recorded root holding path, when that root is
// not on this machine; "" when path lies under a root that is here (a file
// deleted from disk) or under none.
func awayRoot(path string, away []string) string {
	best := ""
	for _, rt := range away {
		if under(path, rt) && len(rt) > len(best) {
			best = rt
		}
	}
	return best
}

// carryChunks is about how many chunks one commit of carried files holds.
const carryChunks = 2000

// carryOver commits the carried files into the next generation as the live
// index holds them: with their vectors when the model stays, else pending
// (with the new model's embedding keys), for the run to embed from their
// stored text.
func carryOver(ctx context.Context, r store.Reader, next store.Store, s index.Settings, meta index.Meta, carried map[string][]string) error {
	want := map[string]bool{}
	for _, fs := range carried {
		for _, f := range fs {
			want[f] = true
		}
	}
	sameModel := index.NormalizeModel(s.EmbedModel) == index.NormalizeModel(meta.EmbedModel)
	w, err := next.OpenWriter(ctx, s, 0)
	if err != nil {
		return err
	}
	defer w.Close()
	b, n := &index.Batch{}, 0
	flush := func() error {
		if len(b.Puts) == 0 {
			return nil
		}
		err := w.Commit(ctx, b)
		b, n = &index.Batch{}, 0
		return err
	}
	each := r.EachFile
	if tw, ok := r.(store.TextWalker); ok && !sameModel {
		each = tw.EachFileText // the old model's vectors are not carried
	}
	err = each(ctx, func(p store.Put) error {
		if !want[p.File.Path] {
			return nil
		}
		if !sameModel {
			for i := range p.Chunks {
				p.Chunks[i].Key = storedKey(s.EmbedModel, p.Chunks[i])
			}
			p.Vectors = make([][]float32, len(p.Chunks))
		}
		b.Puts = append(b.Puts, p)
		if n += len(p.Chunks); n >= carryChunks {
			return flush()
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("carry over the files not on this machine: %w", err)
	}
	if err := flush(); err != nil {
		return fmt.Errorf("carry over the files not on this machine: %w", err)
	}
	return nil
}
