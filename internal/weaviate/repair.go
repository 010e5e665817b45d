package weaviate

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"net/http"
	"os"
	"path/filepath"

	"github.com/weaviate/weaviate-go-client/v5/weaviate/fault"
	"github.com/weaviate/weaviate/entities/models"
)

// A Weaviate node killed in the middle of a batch write can come back with
// objects whose inverted-index entries were not recovered (the objects are
// there, GET by id finds them; a where filter or BM25 may not), and writing
// the identical object again does not restore them: Weaviate indexes only
// what changed (weaviate/weaviate#4262). rag's re-ingest writes exactly
// those objects again, so it would converge to the right objects with some
// of them unfindable for good.
//
// So a write the server died under is remembered: the ids of the objects
// the failing batch write carried go into a small local file (the "cut
// log", in Config.CutLog, one per store). The next commit into that store
// first deletes each of those objects and writes it back from its own
// stored copy, which indexes it afresh. The copies are saved in the log
// before anything is deleted, so a repair that is itself interrupted is
// finished by the next one.

// DefaultCutLog is where a store keeps its cut log: rag's folder in the
// user's cache (XDG_CACHE_HOME), or "" (no log) when there is none.
func DefaultCutLog() string {
	dir, err := os.UserCacheDir()
	if err != nil {
		return ""
	}
	return filepath.Join(dir, "rag", "weaviate-cut")
}

// cutEntry is one object a cut write carried; Object is its stored copy,
// once the repair has read it.
type cutEntry struct {
	Class  string         `json:"class"`
	ID     string         `json:"id"`
	Object *models.Object `json:"object,omitempty"`
}

func (s *Client) cutPath() string {
	if s.cfg.CutLog == "" {
		return ""
	}
	sum := sha256.Sum256([]byte(s.cfg.String()))
	return filepath.Join(s.cfg.CutLog, hex.EncodeToString(sum[:8])+".json")
}

// noteCut remembers the objects of a batch write that failed because the
// server went away (err is an ErrUnavailable); other failures wrote nothing
// worth repairing. Failing to write the log is not worth failing for: the
// commit is failing already.
func (s *Client) noteCut(class string, ids []string, err error) {
	p := s.cutPath()
	if p == "" || len(ids) == 0 || !errors.Is(err, ErrUnavailable) {
		return
	}
	entries, _ := readCut(p)
	for _, id := range ids {
		entries = append(entries, cutEntry{Class: class, ID: id})
	}
	writeCut(p, entries)
}

// repairCut rewrites the objects of the store's cut log, if it has one, and
// removes the log.
func (s *Client) repairCut(ctx context.Context) error {
	p := s.cutPath()
	if p == "" || s.cutChecked {
		return nil
	}
	entries, err := readCut(p)
	if errors.Is(err, os.ErrNotExist) {
		s.cutChecked = true
		return nil
	}
	if err != nil {
		os.Remove(p) // unreadable: nothing to do with it
		return nil
	}
	// Read every copy first, and keep them in the log, so that nothing is
	// deleted that the log cannot give back.
	for i := range entries {
		if entries[i].Object != nil {
			continue
		}
		o, err := s.getObject(ctx, entries[i].Class, entries[i].ID, true)
		if err != nil {
			return err
		}
		entries[i].Object = o // nil: never stored, nothing to repair
	}
	if err := writeCut(p, entries); err != nil {
		return err
	}
	var objs []*models.Object
	for _, e := range entries {
		if e.Object == nil {
			continue
		}
		if err := s.deleteObject(ctx, e.Class, e.ID); err != nil {
			return err
		}
		o := *e.Object
		o.CreationTimeUnix, o.LastUpdateTimeUnix, o.Additional = 0, 0, nil
		objs = append(objs, &o)
	}
	if err := s.putBatches(ctx, "rewrite objects of a cut write", objs); err != nil {
		return err
	}
	s.cutChecked = true
	return os.Remove(p)
}

// getObject reads one object by id (from the object itself, not through a
// where filter), withVector with its vector; nil when it is not stored.
func (s *Client) getObject(ctx context.Context, class, id string, withVector bool) (*models.Object, error) {
	var out *models.Object
	err := s.do(ctx, "read object", func(ctx context.Context) error {
		g := s.c.Data().ObjectsGetter().WithClassName(class).WithID(id)
		if withVector {
			g = g.WithVector()
		}
		if s.replicated {
			g = g.WithConsistencyLevel(s.cfg.Consistency)
		}
		objs, err := g.Do(ctx)
		var wc *fault.WeaviateClientError
		if errors.As(err, &wc) && wc.StatusCode == http.StatusNotFound {
			return nil
		}
		if err != nil || len(objs) == 0 {
			return err
		}
		out = objs[0]
		return nil
	})
	return out, err
}

// deleteObject deletes one object by id (not through a where filter, which
// may not find it); one already gone is no error.
func (s *Client) deleteObject(ctx context.Context, class, id string) error {
	return s.do(ctx, "delete object", func(ctx context.Context) error {
		err := s.c.Data().Deleter().WithClassName(class).WithID(id).WithConsistencyLevel(s.cfg.Consistency).Do(ctx)
		var wc *fault.WeaviateClientError
		if errors.As(err, &wc) && wc.StatusCode == http.StatusNotFound {
			return nil
		}
		return err
	})
}

func readCut(p string) ([]cutEntry, error) {
	b, err := os.ReadFile(p)
	if err != nil {
		return nil, err
	}
	var entries []cutEntry
	return entries, json.Unmarshal(b, &entries)
}

// writeCut replaces the log durably: a temporary file, synced, renamed.
func writeCut(p string, entries []cutEntry) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	b, err := json.Marshal(entries)
	if err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(p), ".cut-*")
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(f.Name(), p)
}

func chunkIDs(cs []Chunk) []string {
	ids := make([]string, len(cs))
	for i, c := range cs {
		ids[i] = c.ID
	}
	return ids
}

func fileIDs(fs []File) []string {
	ids := make([]string, len(fs))
	for i, f := range fs {
		ids[i] = FileUUID(f.Path)
	}
	return ids
}
