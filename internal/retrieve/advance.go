package retrieve

import (
	"context"
	"fmt"
	"strconv"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// Warm loads the snapshot's vectors into chromem-go now rather than at the
// first vector search, for a long-lived session.
func (s *Session) Warm(ctx context.Context) error {
	if s.emb == nil || s.r == nil || s.r.LiveVectors() == 0 {
		return nil
	}
	return s.load(ctx)
}

// Advance opens a session on the newest commit of the index in s's folder.
// When the vectors s has loaded can be brought to that commit by what it
// added and removed (index.Reader.ChangesSince), they are changed in place
// and handed to the new session, and full is false; s must then no longer be
// searched, and the caller must keep searches of s from running while
// Advance works. Otherwise (a compaction, a reindex swap, another model, or
// nothing loaded yet) the new session is warmed from scratch, s is left
// untouched, and full is true.
//
// Only the local index is followed by changes; a session on another store
// (which reads the store as it is at each call, holding nothing loaded)
// advances to a new session, full.
func (s *Session) Advance(ctx context.Context) (next *Session, full bool, err error) {
	if s.r == nil {
		return nil, false, &store.UnsupportedError{Store: s.loc, What: "follow an index's commits in place",
			Hint: "open a new session: its searches see the store as it is"}
	}
	r, err := index.OpenReader(s.r.Dir())
	if err != nil {
		return nil, false, fmt.Errorf("open index %s: %w", s.r.Dir(), err)
	}
	next, err = newSession(ctx, local.NewReader(r), s.loc, s.o)
	if err != nil {
		r.Close()
		return nil, false, err
	}
	s.loadMu.Lock()
	shards := s.shards
	s.loadMu.Unlock()
	var ch *index.Changes
	if shards != nil && next.emb != nil {
		if ch, err = r.ChangesSince(s.r); err != nil {
			next.Close()
			return nil, false, err
		}
	}
	if ch == nil || ch.Full {
		if err := next.Warm(ctx); err != nil {
			next.Close()
			return nil, false, err
		}
		return next, true, nil
	}
	if err := applyChanges(ctx, shards, ch); err != nil {
		// The shards are half changed: s cannot be trusted either.
		next.Close()
		return nil, false, fmt.Errorf("apply index changes: %w", err)
	}
	// The loaded vectors point into the older snapshots' mappings: next
	// keeps those mapped (but not their database snapshots) until it closes.
	if err := s.r.KeepVectorsOnly(); err != nil {
		next.Close()
		return nil, false, err
	}
	next.shards, next.kept = shards, append(s.kept, s.r)
	s.loadMu.Lock()
	s.shards, s.kept, s.r, s.st = nil, nil, nil, nil // they belong to next now
	s.loadMu.Unlock()
	return next, false, nil
}

// applyChanges removes the dead vectors from whichever shard holds them and
// adds the new ones to the smallest shards.
func applyChanges(ctx context.Context, shards []*chromem.Collection, ch *index.Changes) error {
	if len(ch.Removed) > 0 {
		ids := make([]string, len(ch.Removed))
		for i, id := range ch.Removed {
			ids[i] = strconv.FormatUint(id, 10)
		}
		for _, coll := range shards {
			if err := coll.Delete(ctx, nil, nil, ids...); err != nil {
				return err
			}
		}
	}
	for i, v := range ch.Added {
		coll := shards[i%len(shards)]
		if err := coll.AddDocument(ctx, chromem.Document{ID: strconv.FormatUint(v.ID, 10), Embedding: v.V}); err != nil {
			return err
		}
	}
	return nil
}
