package store

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// CopyOptions configure Copy.
type CopyOptions struct {
	// LockWait bounds the wait for the target's write lock.
	LockWait time.Duration
	// Progress, when set, is called after each commit to the target.
	Progress func(CopyProgress)
	// BatchChunks is how many chunks go into one commit (DefaultCopyBatch
	// when 0); a file is never split across commits.
	BatchChunks int
}

// DefaultCopyBatch is Copy's commit size in chunks.
const DefaultCopyBatch = 2000

// CopyProgress is how far a Copy has got.
type CopyProgress struct {
	FilesDone, FilesTotal int
	Chunks                int // chunks copied so far
}

// CopyReport is what a Copy did.
type CopyReport struct {
	From string `json:"from"`
	To   string `json:"to"`
	// Files were copied; Unchanged were already in the target with the same
	// record (an earlier, interrupted copy got them there).
	Files     int     `json:"files"`
	Unchanged int     `json:"unchanged"`
	Chunks    int     `json:"chunks"`
	Vectors   int     `json:"vectors"` // copied as they are: nothing is embedded again
	Pending   int     `json:"pending"` // chunks that had no vector in the source, pending in the target too
	Roots     int     `json:"roots"`
	Seconds   float64 `json:"seconds"`
}

// ErrSameStore: a copy's source and target are one store.
var ErrSameStore = errors.New("the source and the target are the same store")

// Copy copies every file of from, with its chunks, their vectors (no
// embedding: the vectors are the source's) and the recorded roots, into to,
// the way rag migrate does. The target must be empty or hold the same
// embedding model and chunk size (the model check: *index.ModelMismatchError,
// *index.SettingsMismatchError); a new target records the source's. Files
// the target already holds with the same record are left as they are, so an
// interrupted copy run again carries on where it stopped and a finished one
// changes nothing; a file whose record differs is replaced whole. Files only
// the target holds stay: Copy adds, it does not mirror.
func Copy(ctx context.Context, from, to Store, o CopyOptions) (*CopyReport, error) {
	start := time.Now()
	if from.Location() == to.Location() {
		return nil, ErrSameStore
	}
	if o.BatchChunks <= 0 {
		o.BatchChunks = DefaultCopyBatch
	}
	r, err := from.OpenReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", from.Location(), err)
	}
	defer r.Close()
	m := r.Meta()
	st, err := r.Stats(ctx)
	if err != nil {
		return nil, err
	}
	roots, err := r.Roots(ctx)
	if err != nil {
		return nil, err
	}
	w, err := to.OpenWriter(ctx, Settings{EmbedModel: m.EmbedModel, EmbedExplicit: true, ChunkTokens: m.ChunkTokens}, o.LockWait)
	if err != nil {
		return nil, fmt.Errorf("open %s: %w", to.Location(), err)
	}
	defer w.Close()
	rep := &CopyReport{From: from.Location(), To: to.Location()}
	have := w.Files()
	b, inBatch := &Batch{}, 0
	prog := CopyProgress{FilesTotal: st.Files}
	commit := func() error {
		if b.Empty() {
			return nil
		}
		if err := w.Commit(ctx, b); err != nil {
			return fmt.Errorf("copy into %s: %w", to.Location(), err)
		}
		for _, p := range b.Puts {
			rep.Files++
			for _, v := range p.Vectors {
				if v == nil {
					rep.Pending++
				} else {
					rep.Vectors++
				}
			}
			rep.Chunks += len(p.Chunks)
		}
		prog.Chunks = rep.Chunks
		if o.Progress != nil {
			o.Progress(prog)
		}
		b, inBatch = &Batch{}, 0
		return nil
	}
	err = r.EachFile(ctx, func(p Put) error {
		prog.FilesDone++
		if rec, ok := have[p.File.Path]; ok && rec == p.File {
			rep.Unchanged++
			return nil
		}
		for i := range p.Chunks {
			p.Chunks[i].ID = 0 // the target numbers its own
		}
		b.Puts = append(b.Puts, p)
		if inBatch += len(p.Chunks); inBatch >= o.BatchChunks {
			return commit()
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, rt := range roots {
		if old, ok := w.Roots()[rt.Path]; !ok || old != rt {
			b.Roots = append(b.Roots, rt)
		}
	}
	rep.Roots = len(roots)
	if err := commit(); err != nil {
		return nil, err
	}
	if w.Fresh() {
		// An empty source: the target still becomes a store of its model.
		if err := w.MarkIngested(ctx); err != nil {
			return nil, err
		}
	}
	rep.Seconds = time.Since(start).Seconds()
	return rep, nil
}
