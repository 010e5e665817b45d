package cli

import (
	"context"
	"fmt"
	"net/url"

	"github.com/ragcli/rag/internal/config"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/weaviate"
)

// openStore returns where the index lives for s: the local index in
// s.Index, or the Weaviate collection s.Store names (its API key from
// RAG_WEAVIATE_API_KEY). Opening connects nothing: the first read or write does.
func (a *app) openStore(_ context.Context, s config.Settings) (store.Store, error) {
	loc, err := parseStore(s)
	if err != nil {
		return nil, err
	}
	if loc.Local() {
		return local.New(s.Index), nil
	}
	st, err := weaviate.ForLocation(loc) // the key, replication and consistency from the environment
	if err != nil {
		return nil, usageError{withHint(err, "fix the variable or unset it")}
	}
	return st, nil
}

// openReader opens the read side of the store s names.
func (a *app) openReader(ctx context.Context, s config.Settings) (store.Store, store.Reader, error) {
	st, err := a.openStore(ctx, s)
	if err != nil {
		return nil, nil, err
	}
	r, err := st.OpenReader(ctx)
	if err != nil {
		return nil, nil, fmt.Errorf("open index %s: %w", st.Location(), err)
	}
	return st, r, nil
}

// parseStore checks s.Store; a bad URL is a usage error naming where it came from.
func parseStore(s config.Settings) (store.Location, error) {
	loc, err := store.ParseURL(s.Store)
	if err != nil {
		return loc, usageError{withHint(err, "fix %s (weaviate://HOST:PORT/COLLECTION, weaviates:// for https), or drop it for the local index", s.Sources["store"])}
	}
	return loc, nil
}

// redactStore is a store setting fit to print: a URL without its user
// information (ParseURL refuses those, but a config file may hold one).
func redactStore(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.User == nil {
		return raw
	}
	u.User = nil
	return u.String()
}

// chunkWalker opens what answer.WholeCorpus reads: the local snapshot, or a
// walk over another store's files in document order.
func (a *app) chunkWalker(ctx context.Context, s config.Settings) (interface {
	EachChunk(func(index.Chunk) error) error
	Close() error
}, error) {
	st, err := a.openStore(ctx, s)
	if err != nil {
		return nil, err
	}
	if l, ok := st.(*local.Store); ok {
		r, err := index.OpenReader(l.Dir)
		if err != nil {
			return nil, fmt.Errorf("open index %s: %w", l.Dir, err)
		}
		return r, nil
	}
	r, err := st.OpenReader(ctx)
	if err != nil {
		return nil, fmt.Errorf("open index %s: %w", st.Location(), err)
	}
	return storeChunks{ctx, r}, nil
}

// storeChunks walks a store's chunks file by file, in document order.
type storeChunks struct {
	ctx context.Context
	store.Reader
}

func (w storeChunks) EachChunk(fn func(index.Chunk) error) error {
	return w.EachFile(w.ctx, func(p store.Put) error {
		for _, c := range p.Chunks {
			c.Terms, c.Key = "", nil
			if err := fn(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// checkStore is rag check of a store other than the local index: what
// store.Check verifies through the store's reader.
func (a *app) checkStore(ctx context.Context, s config.Settings) error {
	st, r, err := a.openReader(ctx, s)
	if err != nil {
		return err
	}
	defer r.Close()
	rep, err := store.Check(ctx, r, st.Location())
	if err != nil {
		return fmt.Errorf("check %s: %w", st.Location(), err)
	}
	if err := a.printCheck(rep); err != nil {
		return err
	}
	if !rep.OK() {
		what := cmpStr(quoteAll(rep.Roots), "PATH...")
		return withHint(fmt.Errorf("%w: %d found", errUnhealthy, len(rep.Problems)),
			"repair it with: rag --store %s reindex (it rebuilds a new generation from your files, which are not touched, while this one answers); if that fails, rewrite the files' objects: rag --store %s forget %s, then rag --store %s ingest %s", st.Location(), st.Location(), what, st.Location(), what)
	}
	return nil
}
