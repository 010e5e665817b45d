package weaviate

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/go-openapi/strfmt"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/filters"
	"github.com/weaviate/weaviate-go-client/v5/weaviate/graphql"
	"github.com/weaviate/weaviate/entities/models"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
)

// Generations. A store's chunks and files collections are one generation
// of it: generation 0 is BaseChunks and BaseFiles, generation n > 0
// BaseChunks_n and BaseFiles_n. The live generation, the one every reader
// and writer uses, is recorded in one object of a third collection,
// BaseLive; without that object (a store no rebuild ever swapped) it is 0.
// A rebuild (rag reindex) fills the next generation while the live one
// answers, then swaps by writing that one object: a single-object write,
// which Weaviate applies whole or not at all. Weaviate's collection
// aliases (1.32+, in client v5.5.0) were not used: a store has two
// collections, so an alias swap would be two writes, between which a
// reader would pair one generation's chunks with the other's records; and
// an alias cannot take the name of the existing BaseChunks collection.

// liveUUID is the id of the object that names the live generation.
var liveUUID = store.UUID(store.KindMeta, 2)

// RetireGrace is how long a swap waits before it deletes the old
// generation, so that long-lived readers of it (rag serve, which checks for
// a new generation every 250 ms) move to the new one first; a search that
// started on the old generation more than this long before the swap may
// fail once.
var RetireGrace = 2 * time.Second

// classes are the chunks and files collections of generation gen.
func classes(base string, gen int) (chunks, files string) {
	if gen == 0 {
		return base + "Chunks", base + "Files"
	}
	return base + "Chunks_" + strconv.Itoa(gen), base + "Files_" + strconv.Itoa(gen)
}

func liveClass(base string) string { return base + "Live" }

// generationOf parses a collection name of base's generations.
func generationOf(base, class string) (int, bool) {
	for _, kind := range []string{"Chunks", "Files"} {
		p := base + kind
		if class == p {
			return 0, true
		}
		if n, ok := strings.CutPrefix(class, p+"_"); ok && n != "" && strings.Trim(n, "0123456789") == "" {
			g, err := strconv.Atoi(n)
			return g, err == nil && g > 0
		}
	}
	return 0, false
}

// at is the client of generation gen's collections (the same connection).
func (s *Client) at(gen int) *Client {
	c := *s
	c.chunks, c.files = classes(s.cfg.Base, gen)
	c.schemaOK, c.replicated = false, false
	return &c
}

// generation is the generation whose collections the client uses.
func (s *Client) generation() int {
	g, _ := generationOf(s.cfg.Base, s.chunks)
	return g
}

// liveGeneration reads the number of the live generation.
func (s *Client) liveGeneration(ctx context.Context) (int, error) {
	var objs []*models.Object
	err := s.do(ctx, "read the live generation", func(ctx context.Context) error {
		g := s.c.Data().ObjectsGetter().WithClassName(liveClass(s.cfg.Base)).WithID(liveUUID)
		if s.cfg.Replication > 1 {
			g = g.WithConsistencyLevel(s.cfg.Consistency)
		}
		var err error
		objs, err = g.Do(ctx)
		return err
	})
	if e, ok := errors.AsType[*Error](err); ok && e.Code == 404 {
		return 0, nil // no rebuild was ever swapped in (or no store yet)
	}
	if err != nil {
		return 0, err
	}
	if len(objs) == 0 {
		return 0, nil
	}
	props, _ := objs[0].Properties.(map[string]any)
	g, err := strconv.Atoi(str(props["generation"]))
	if err != nil || g < 0 {
		return 0, &index.DamagedError{Dir: s.String(), What: fmt.Sprintf("the live generation object of %s says %q", liveClass(s.cfg.Base), str(props["generation"]))}
	}
	return g, nil
}

// current is the client of the live generation, its replication loaded
// when its collections exist.
func (s *Client) current(ctx context.Context) (*Client, error) {
	g, err := s.liveGeneration(ctx)
	if err != nil {
		return nil, err
	}
	if g == s.generation() {
		return s, nil
	}
	c := s.at(g)
	if err := c.loadIfExists(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// generations lists the generations of the store that have a collection.
func (s *Client) generations(ctx context.Context) ([]int, error) {
	dump, err := s.schemaClasses(ctx, "read the schema")
	if err != nil {
		return nil, err
	}
	seen := map[int]bool{}
	var out []int
	for _, c := range dump {
		if g, ok := generationOf(s.cfg.Base, c.Class); ok && !seen[g] {
			seen[g] = true
			out = append(out, g)
		}
	}
	sort.Ints(out)
	return out, nil
}

// dropGeneration deletes generation gen's collections.
func (s *Client) dropGeneration(ctx context.Context, gen int) error {
	chunks, files := classes(s.cfg.Base, gen)
	for _, name := range []string{chunks, files} {
		if err := s.dropClass(ctx, name); err != nil {
			return err
		}
	}
	return nil
}

func (s *Client) dropClass(ctx context.Context, name string) error {
	err := s.do(ctx, "delete collection "+name, func(ctx context.Context) error {
		return s.c.Schema().ClassDeleter().WithClassName(name).Do(ctx)
	})
	if e, ok := errors.AsType[*Error](err); ok && e.Code == 404 {
		return nil
	}
	return err
}

// ensureLive creates the collection of the live generation's object.
func (s *Client) ensureLive(ctx context.Context) error {
	return s.ensureClass(ctx, &models.Class{
		Class:             liveClass(s.cfg.Base),
		Description:       "rag: which generation of the store's collections is live",
		Vectorizer:        "none",
		VectorIndexType:   "hnsw",
		VectorIndexConfig: map[string]any{"skip": true},
		ReplicationConfig: s.replication(),
		Properties:        []*models.Property{textProp("generation", "", false, false)},
	})
}

// setLive records gen as the live generation: one object written.
func (s *Client) setLive(ctx context.Context, gen int) error {
	return s.putObjects(ctx, "swap in generation "+strconv.Itoa(gen), []*models.Object{{
		Class: liveClass(s.cfg.Base), ID: strfmt.UUID(liveUUID),
		Properties: map[string]any{"generation": strconv.Itoa(gen)},
	}})
}

var _ store.Rebuilder = (*Store)(nil)

// BeginRebuild implements store.Rebuilder. It deletes every generation but
// the live one (what an interrupted rebuild left, or an old generation a
// swap could not delete) and returns a new generation, numbered above every
// one it saw, holding only a build token, as a Store of its own. Nothing is
// locked: a second rebuild of the same store started meanwhile deletes this
// one's generation, and this one's Swap then refuses (see Swap). An ingest into the store during the rebuild writes into the
// live generation; what it changes after the rebuild read the store is not
// in the new generation, until that ingest runs again.
func (s *Store) BeginRebuild(ctx context.Context, _ time.Duration) (store.Rebuild, error) {
	if s.pinned {
		return nil, errors.New("rebuild a generation under rebuild")
	}
	c, err := s.client(ctx)
	if err != nil {
		return nil, err
	}
	if _, found, err := c.readMeta(ctx); err != nil {
		return nil, err
	} else if !found {
		return nil, fmt.Errorf("weaviate store %s: %w", s.Location(), index.ErrNoIndex)
	}
	live := c.generation()
	gens, err := c.generations(ctx)
	if err != nil {
		return nil, err
	}
	// A number no generation had: a rebuild still writing into one this
	// clears never writes into this one's collections.
	gen := live + 1
	for _, g := range gens {
		gen = max(gen, g+1)
		if g != live {
			if err := c.dropGeneration(ctx, g); err != nil {
				return nil, fmt.Errorf("clear an earlier rebuild: %w", err)
			}
		}
	}
	if err := c.ensureLive(ctx); err != nil {
		return nil, err
	}
	// The next generation shares the live one's connection.
	nc := c.at(gen)
	next := &Store{cfg: s.cfg, pinned: true, gen: gen, c: nc}
	// The build's token, checked before the swap: a generation deleted
	// meanwhile (by another rebuild's clearing) loses it, even if writes
	// into the deleted collections made Weaviate create them again.
	token := rand.Text()
	if err := nc.EnsureSchema(ctx); err != nil {
		return nil, err
	}
	if err := nc.putObjects(ctx, "start generation "+strconv.Itoa(gen), []*models.Object{{
		Class: nc.files, ID: strfmt.UUID(buildUUID),
		Properties: map[string]any{"kind": "build", "path": "", "hash": token},
	}}); err != nil {
		nc.dropGeneration(context.WithoutCancel(ctx), gen)
		return nil, err
	}
	return &rebuild{s: s, c: c, live: live, next: next, token: token}, nil
}

// buildUUID is the id of a generation's build token (see BeginRebuild).
var buildUUID = store.UUID(store.KindMeta, 3)

type rebuild struct {
	s     *Store
	c     *Client // the live generation's
	live  int
	next  *Store
	token string
	done  bool
}

func (r *rebuild) Next() store.Store { return r.next }

// Swap implements store.Rebuild. It first checks that the store still
// answers from the generation the rebuild started from and that the new
// generation still holds its build token (a concurrent rebuild deletes
// it), then
// writes the live generation's object, waits RetireGrace and deletes the
// old generation. A failure to delete it is not the swap's: the next
// rebuild deletes it.
func (r *rebuild) Swap(ctx context.Context) error {
	if r.done {
		return nil
	}
	g, err := r.c.liveGeneration(ctx)
	if err != nil {
		return err
	}
	if g != r.live {
		return fmt.Errorf("swap in the rebuild: %s now answers from generation %d, not %d as when the rebuild started (another rag reindex?); nothing was swapped",
			r.s.Location(), g, r.live)
	}
	nc, err := r.next.client(ctx)
	if err != nil {
		return err
	}
	rows, err := nc.get(ctx, "read the build token", nc.files, []graphql.Field{{Name: "hash"}},
		filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(buildUUID), 2)
	if e, ok := errors.AsType[*Error](err); ok && e.Code == 0 && strings.Contains(e.Msg, "Cannot query field") {
		rows, err = nil, nil // the collection is gone
	}
	if err != nil {
		return err
	}
	if len(rows) == 0 || str(rows[0]["hash"]) != r.token {
		return fmt.Errorf("swap in the rebuild: generation %d of %s was deleted while it was built (another rag reindex cleared it?); nothing was swapped", r.next.gen, r.s.Location())
	}
	if err := r.c.setLive(ctx, r.next.gen); err != nil {
		return err
	}
	r.done = true
	select {
	case <-time.After(RetireGrace):
	case <-ctx.Done():
		return nil // swapped; the next rebuild deletes the old generation
	}
	r.c.dropGeneration(ctx, r.live)
	nc.deleteWhere(ctx, "delete the build token", nc.files,
		filters.Where().WithPath([]string{"id"}).WithOperator(filters.Equal).WithValueText(buildUUID))
	return nil
}

// Abort implements store.Rebuild: the next generation's collections go.
func (r *rebuild) Abort(ctx context.Context) error {
	if r.done {
		return nil
	}
	r.done = true
	return r.c.dropGeneration(ctx, r.next.gen)
}

var _ store.Replaceable = (*Reader)(nil)

// Replaced implements store.Replaceable: a rebuild swapped another
// generation in since the Reader was opened.
func (r *Reader) Replaced(ctx context.Context) (bool, error) {
	g, err := r.c.liveGeneration(ctx)
	if err != nil {
		return false, err
	}
	return g != r.c.generation(), nil
}

// ReplacedError is a commit into a generation that a rebuild (rag
// reindex, possibly on another machine) replaced while the writer was
// open: what it wrote is not in the live generation. The writer's run
// should be repeated; it then compares the disk with the live generation.
type ReplacedError struct {
	Store    string
	Was, Now int // the writer's generation, the live one
}

func (e *ReplacedError) Error() string {
	return fmt.Sprintf("%s was rebuilt (rag reindex: generation %d replaced %d) while this writer was open; its last changes are not in the store",
		e.Store, e.Now, e.Was)
}

// stillLive checks, for a writer that follows the live generation, that it
// is still the one it writes into: one read of the live generation's object.
func (w *Writer) stillLive(ctx context.Context) error {
	if w.s.pinned {
		return nil
	}
	g, err := w.c.liveGeneration(ctx)
	if err != nil {
		return err
	}
	if was := w.c.generation(); g != was {
		return &ReplacedError{Store: w.s.Location(), Was: was, Now: g}
	}
	return nil
}
