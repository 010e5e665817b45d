package local

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
)

var _ store.Rebuilder = (*Store)(nil)

// BeginRebuild takes the index's write lock (held until Swap or Abort, so
// no ingest writes into the index being replaced) and clears an earlier
// rebuild's folder (index.RebuildDir); the next generation is a new index
// there.
func (s *Store) BeginRebuild(ctx context.Context, wait time.Duration) (store.Rebuild, error) {
	if _, err := os.Stat(index.DBPath(s.Dir)); err != nil {
		return nil, fmt.Errorf("open index %s: %w", s.Dir, index.ErrNoIndex)
	}
	unlock, err := index.Lock(ctx, s.Dir, wait)
	if err != nil {
		return nil, err
	}
	next := index.RebuildDir(s.Dir)
	if err := os.RemoveAll(next); err != nil {
		unlock()
		return nil, fmt.Errorf("clear an earlier rebuild: %w", err)
	}
	return &rebuild{live: s.Dir, next: next, unlock: unlock}, nil
}

type rebuild struct {
	live, next string
	unlock     func()
}

func (r *rebuild) Next() store.Store { return New(r.next) }

// Swap marks the rebuild complete and renames it into place
// (index.MarkRebuilt, index.Swap); readers that opened the old index keep
// reading it until they close.
func (r *rebuild) Swap(context.Context) error {
	if r.unlock == nil {
		return nil
	}
	if err := index.MarkRebuilt(r.live); err != nil {
		return err
	}
	if err := index.Swap(r.live); err != nil {
		return err
	}
	r.unlock()
	r.unlock = nil
	return nil
}

func (r *rebuild) Abort(context.Context) error {
	if r.unlock == nil {
		return nil
	}
	err := os.RemoveAll(r.next)
	r.unlock()
	r.unlock = nil
	return err
}
