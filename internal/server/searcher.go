package server

import (
	"context"
	"fmt"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retrieve"
	"github.com/ragcli/rag/internal/store/local"
)

// openSnapshot opens a query session (retrieve.Session, the one the CLI's
// search and ask use) and a reader (for get and status) on
// the same committed state of the index: when a commit lands between the two
// opens, it tries again.
func (s *Service) openSnapshot(ctx context.Context) (*snapshot, error) {
	o := retrieve.Options{Mode: retrieve.Hybrid, Embedder: s.cfg.Embedder,
		Rerank: s.cfg.Rerank, RerankDepth: s.cfg.RerankDepth, VectorRetry: retryVector}
	if s.remote() {
		// A remote store has no snapshots: the session and the reader both
		// read it as it is at each call.
		ss, err := retrieve.OpenStore(ctx, s.cfg.Store, o)
		if err != nil {
			return nil, err
		}
		r, err := s.cfg.Store.OpenReader(ctx)
		if err != nil {
			ss.Close()
			return nil, err
		}
		return &snapshot{r: r, ss: ss}, nil
	}
	for attempt := 0; ; attempt++ {
		sig := signature(s.cfg.IndexDir)
		ss, err := retrieve.Open(ctx, s.cfg.IndexDir, o)
		if err != nil {
			return nil, err
		}
		r, err := index.OpenReader(s.cfg.IndexDir)
		if err != nil {
			ss.Close()
			return nil, err
		}
		if r.Meta() == ss.Meta() {
			// Load the vectors now, not in the first request after a swap.
			if err := ss.Warm(ctx); err != nil {
				r.Close()
				ss.Close()
				return nil, err
			}
			return &snapshot{r: local.NewReader(r), sig: sig, ss: ss}, nil
		}
		r.Close()
		ss.Close()
		if attempt == 5 {
			return nil, fmt.Errorf("open index %s: it changed at every attempt", s.cfg.IndexDir)
		}
	}
}
