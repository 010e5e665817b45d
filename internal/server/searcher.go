package server

import (
	"context"
	"path/filepath"
	"strings"
	"sync"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/retrieve"
)

// searcher is what the Service needs of the query path: the seam where
// retrieve's query session plugs in.
type searcher interface {
	Search(ctx context.Context, query string, k int, mode retrieve.Mode, path string) (*retrieve.Outcome, error)
}

// lockedSearcher adapts retrieve.Searcher, which is not safe for concurrent
// use, to the searcher seam.
type lockedSearcher struct {
	mu sync.Mutex
	s  *retrieve.Searcher
}

func newSearcher(r *index.Reader, e embed.Embedder) searcher {
	return &lockedSearcher{s: retrieve.NewSearcher(r, e)}
}

// filterDepth is how many candidates a filtered search ranks before keeping
// those under the path: the filter is applied to them, not to the index.
const filterDepth = 1000

func (l *lockedSearcher) Search(ctx context.Context, query string, k int, mode retrieve.Mode, path string) (*retrieve.Outcome, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if path == "" {
		return l.s.Search(ctx, query, k, mode)
	}
	f, err := newPathFilter(path)
	if err != nil {
		return nil, err
	}
	out, err := l.s.Search(ctx, query, filterDepth, mode)
	if err != nil {
		return nil, err
	}
	kept := out.Results[:0]
	for _, r := range out.Results {
		if f(r.Path) && len(kept) < k {
			kept = append(kept, r)
		}
	}
	out.Results = kept
	return out, nil
}

// newPathFilter returns a match for a path prefix, or for a glob when the
// pattern has glob characters. A glob without a separator matches a file's
// base name (*.md), one with separators the whole path; ** is not special.
func newPathFilter(pattern string) (func(string) bool, error) {
	if pattern == "" {
		return func(string) bool { return true }, nil
	}
	if !strings.ContainsAny(pattern, "*?[") {
		return func(p string) bool { return strings.HasPrefix(p, pattern) }, nil
	}
	if _, err := filepath.Match(pattern, ""); err != nil {
		return nil, usagef("path %q is not a valid glob: %v", pattern, err)
	}
	base := !strings.ContainsRune(pattern, filepath.Separator)
	return func(p string) bool {
		if base {
			p = filepath.Base(p)
		}
		ok, _ := filepath.Match(pattern, p)
		return ok
	}, nil
}
