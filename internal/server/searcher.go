package server

import (
	"context"
	"fmt"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retrieve"
)

// searcher is what the Service needs of the query path: retrieve.Session,
// the same session the CLI's search and ask use.
type searcher interface {
	Search(ctx context.Context, q retrieve.Query) (*retrieve.Outcome, error)
	Meta() index.Meta
	Skipped() error
	Close() error
}

var _ searcher = (*retrieve.Session)(nil)

// openSnapshot opens a query session and a reader (for get and status) on
// the same committed state of the index: when a commit lands between the two
// opens, it tries again.
func (s *Service) openSnapshot(ctx context.Context) (*snapshot, error) {
	for attempt := 0; ; attempt++ {
		sig := signature(s.cfg.IndexDir)
		ss, err := retrieve.Open(ctx, s.cfg.IndexDir, retrieve.Options{Mode: retrieve.Hybrid, Embedder: s.cfg.Embedder})
		if err != nil {
			return nil, err
		}
		r, err := index.OpenReader(s.cfg.IndexDir)
		if err != nil {
			ss.Close()
			return nil, err
		}
		if r.Meta() == ss.Meta() {
			return &snapshot{r: r, meta: r.Meta(), sig: sig, ss: ss}, nil
		}
		r.Close()
		ss.Close()
		if attempt == 5 {
			return nil, fmt.Errorf("open index %s: it changed at every attempt", s.cfg.IndexDir)
		}
	}
}
