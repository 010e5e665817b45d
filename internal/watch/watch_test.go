package watch

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/ollama"
	"github.com/ragcli/rag/internal/ollamatest"
)

type fixture struct {
	root, index string
	runs        atomic.Int32 // ingests done
	mu          sync.Mutex
	notes       []string
	cancel      context.CancelFunc
	done        chan error
}

// start watches a new folder, ingesting it with the fake Ollama; o's Roots,
// Ingest and Notify are filled in.
func start(t *testing.T, o Options, files map[string]string) *fixture {
	t.Helper()
	fake := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	c, err := ollama.New(fake.URL)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	f := &fixture{root: filepath.Join(dir, "notes"), index: filepath.Join(dir, "index"), done: make(chan error, 1)}
	os.MkdirAll(f.root, 0o755)
	for name, text := range files {
		f.write(t, name, text)
	}
	o.Roots = []string{f.root}
	o.Ingest = func(ctx context.Context) error {
		defer f.runs.Add(1)
		_, err := ingest.Run(ctx, ingest.Options{
			Roots: o.Roots, IndexDir: f.index,
			Index: index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256},
			Embedder: func(ctx context.Context, model string) (embed.Embedder, int, error) {
				return &ollama.Embedder{Client: c, Name: model}, 512, nil
			},
			LockWait: time.Minute,
		})
		return err
	}
	o.Notify = func(msg string) {
		f.mu.Lock()
		defer f.mu.Unlock()
		f.notes = append(f.notes, msg)
	}
	if o.Debounce == 0 {
		o.Debounce = 100 * time.Millisecond
	}
	ctx, cancel := context.WithCancel(t.Context())
	f.cancel = cancel
	go func() { f.done <- Run(ctx, o) }()
	t.Cleanup(func() {
		cancel()
		<-f.done
	})
	f.waitFor(t, "the first ingest", func() bool { return f.runs.Load() >= 1 })
	return f
}

func (f *fixture) write(t *testing.T, name, text string) {
	t.Helper()
	p := filepath.Join(f.root, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

func (f *fixture) waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("%s did not happen", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// found lists the files whose chunks hold word, as a search would find them.
func (f *fixture) found(t *testing.T, word string) []string {
	t.Helper()
	r, err := index.OpenReader(f.index)
	if err != nil {
		return nil
	}
	defer r.Close()
	hits, err := r.Lexical(lexical.Query(word), 10000)
	if err != nil {
		t.Fatal(err)
	}
	var ids []uint64
	for _, h := range hits {
		ids = append(ids, h.ID)
	}
	cs, err := r.Chunks(ids)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range cs {
		rel, _ := filepath.Rel(f.root, c.Path)
		if !slices.Contains(out, rel) {
			out = append(out, rel)
		}
	}
	slices.Sort(out)
	return out
}

func (f *fixture) expect(t *testing.T, word string, want ...string) {
	t.Helper()
	f.waitFor(t, fmt.Sprintf("%q in %v", word, want), func() bool { return slices.Equal(f.found(t, word), want) })
}

func TestCreateEditRenameDelete(t *testing.T) {
	f := start(t, Options{}, map[string]string{"a.md": "alpha apples\n", "b.md": "bravo bananas\n", "c.md": "charlie cherries\n"})
	f.expect(t, "apples", "a.md")

	f.write(t, "sub/new.md", "delta dates\n") // a new folder with a file
	f.expect(t, "dates", "sub/new.md")

	f.write(t, "a.md", "alpha apricots\n") // an edit
	f.expect(t, "apricots", "a.md")
	f.expect(t, "apples")

	// An editor's atomic save: write a temporary file, rename it over.
	tmp := filepath.Join(f.root, ".b.md.swp")
	os.WriteFile(tmp, []byte("bravo blueberries\n"), 0o644)
	if err := os.Rename(tmp, filepath.Join(f.root, "b.md")); err != nil {
		t.Fatal(err)
	}
	f.expect(t, "blueberries", "b.md")
	f.expect(t, "bananas")

	os.Remove(filepath.Join(f.root, "c.md"))
	f.expect(t, "cherries")
	f.expect(t, "dates", "sub/new.md") // the rest stays
}

// TestBurst: 500 files written at once are all indexed, by a few ingests
// rather than one per file.
func TestBurst(t *testing.T) {
	f := start(t, Options{Debounce: 300 * time.Millisecond}, map[string]string{"seed.md": "seed\n"})
	before := f.runs.Load()
	for i := range 500 {
		f.write(t, fmt.Sprintf("burst/%03d.md", i), fmt.Sprintf("zebra note number %d\n", i))
	}
	f.waitFor(t, "500 files indexed", func() bool { return len(f.found(t, "zebra")) == 500 })
	if n := f.runs.Load() - before; n > 20 {
		t.Errorf("%d ingests for one burst of 500 files; the events were not gathered", n)
	}
}

// TestWatchLimit: when the OS refuses more watches, the watch says so and
// rescans on a timer, and changes still arrive.
func TestWatchLimit(t *testing.T) {
	var added atomic.Int32
	o := Options{Rescan: 200 * time.Millisecond, add: func(w *fsnotify.Watcher, dir string) error {
		if added.Add(1) > 1 {
			return fmt.Errorf("inotify_add_watch %s: %w", dir, syscall.ENOSPC) // what Linux says at max_user_watches
		}
		return w.Add(dir)
	}}
	f := start(t, o, map[string]string{"a.md": "alpha\n", "deep/b.md": "bravo\n"})
	f.mu.Lock()
	notes := strings.Join(f.notes, "\n")
	f.mu.Unlock()
	if !strings.Contains(notes, "limit of watched folders") || !strings.Contains(notes, "max_user_watches") || !strings.Contains(notes, "rescanning every 200ms") {
		t.Errorf("notices = %q, want the fallback said", notes)
	}
	f.write(t, "deep/er/c.md", "charlie cherries\n")
	f.expect(t, "cherries", "deep/er/c.md")
}

// TestWaitsForTheLock: an ingest that holds the index's lock (a cron
// ingest) makes the watch wait its turn, not fail.
func TestWaitsForTheLock(t *testing.T) {
	f := start(t, Options{}, map[string]string{"a.md": "alpha\n"})
	unlock, err := index.Lock(t.Context(), f.index, 0)
	if err != nil {
		t.Fatal(err)
	}
	before := f.runs.Load()
	f.write(t, "b.md", "bravo bananas\n")
	time.Sleep(500 * time.Millisecond) // the watch is waiting for the lock now
	if f.runs.Load() != before {
		t.Fatal("an ingest finished while another held the lock")
	}
	unlock()
	f.expect(t, "bananas", "b.md")
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.notes) != 0 {
		t.Errorf("notices = %q, want none: waiting for the lock is not a failure", f.notes)
	}
}
