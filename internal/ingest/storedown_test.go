package ingest_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ingest"
	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
)

// downStore is a local store that goes away after ok commits: the next
// Commit fails as a remote store's does once its retries are spent (a
// store.ErrUnavailable, after a while), and so does every later call. With
// atLookup it goes away at the first vector lookup made after those commits
// returned instead. A lookup made while the failing commit is still retrying
// is answered (answerWhileRetrying: the server died after it) or waits as a
// real one would, until the run cancels it or 2 s pass. It counts the calls
// made after the failing one gave up, and the calls that outlived it.
type downStore struct {
	store.Store
	ok                  int
	atLookup            bool
	answerWhileRetrying bool

	mu             sync.Mutex
	commits        int
	lookups        int
	down, gaveUp   bool
	callsAfterDown int
	outlived       int           // calls still retrying 2 s after they started
	committed      chan struct{} // closed once ok commits returned
}

func (d *downStore) OpenWriter(ctx context.Context, s store.Settings, wait time.Duration) (store.Writer, error) {
	w, err := d.Store.OpenWriter(ctx, s, wait)
	if err != nil {
		return nil, err
	}
	return &downWriter{Writer: w, d: d}, nil
}

type downWriter struct {
	store.Writer
	d *downStore
}

func unavailable(what string) error {
	return fmt.Errorf("%s: cannot reach the store (gave up after 9 tries): %w", what, store.ErrUnavailable)
}

// fail is the call that meets the store down first: it "retries" a while,
// then gives up.
func (d *downStore) fail(what string) error {
	time.Sleep(300 * time.Millisecond)
	d.mu.Lock()
	d.gaveUp = true
	d.mu.Unlock()
	return unavailable(what)
}

// whileDown answers a call made once the store is down.
func (d *downStore) whileDown(ctx context.Context, what string) error {
	d.mu.Lock()
	gaveUp := d.gaveUp
	if gaveUp {
		d.callsAfterDown++
	}
	d.mu.Unlock()
	if !gaveUp {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(2 * time.Second):
			d.mu.Lock()
			d.outlived++
			d.mu.Unlock()
		}
	}
	return unavailable(what)
}

func (w *downWriter) Commit(ctx context.Context, b *store.Batch) error {
	d := w.d
	d.mu.Lock()
	down := d.down
	d.commits++
	n := d.commits
	first := !d.down && !d.atLookup && n > d.ok
	if first {
		d.down = true
	}
	d.mu.Unlock()
	switch {
	case first:
		return d.fail("commit")
	case down:
		return d.whileDown(ctx, "commit")
	}
	err := w.Writer.Commit(ctx, b)
	if n == d.ok {
		close(d.committed)
	}
	return err
}

func (w *downWriter) VectorsByKey(ctx context.Context, keys [][]byte) (map[string][]float32, error) {
	d := w.d
	d.mu.Lock()
	d.lookups++
	n, down := d.lookups, d.down
	d.mu.Unlock()
	if d.atLookup && n == 2 {
		// The next window's lookup, once the first window is committed:
		// the store is gone from here on.
		<-d.committed
		d.mu.Lock()
		d.down = true
		d.mu.Unlock()
		return nil, d.fail("vectors by key")
	}
	d.mu.Lock()
	retrying := down && !d.gaveUp
	d.mu.Unlock()
	if down && !(retrying && d.answerWhileRetrying) {
		return nil, d.whileDown(ctx, "vectors by key")
	}
	return w.Writer.VectorsByKey(ctx, keys)
}

// TestStoreGoesAwayMidRun: a store that stops answering after some commits
// ends the run with a *StoreDownError (a store.ErrUnavailable) and the
// report of what was committed; the run stops writing at the first failure
// instead of trying each remaining batch; the store holds exactly the
// committed files; and the next run, with the store back, writes the files
// not written and nothing else.
func TestStoreGoesAwayMidRun(t *testing.T) {
	for _, tc := range []struct {
		name             string
		atLookup, answer bool
	}{
		// The next batch is handed over while the commit retries: it
		// must not be tried once the commit gave up.
		{name: "at a commit, the next batch handed over", answer: true},
		// A lookup is retrying too when the commit gives up: it must end
		// then, not spend its own budget.
		{name: "at a commit, a lookup in flight"},
		{name: "at a vector lookup", atLookup: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			fake := ollamatest.New(t, miniLM)
			e := newEnv(t, "all-minilm")
			const n = 150 // three windows of at most 64 files
			for i := range n {
				e.write(t, fmt.Sprintf("d%d/f%03d.md", i%3, i), []byte(fmt.Sprintf("# File %d\n\nFile number %d talks about topic%d.\n", i, i, i)))
			}
			d := &downStore{Store: local.New(e.idx), ok: 1, atLookup: tc.atLookup, answerWhileRetrying: tc.answer, committed: make(chan struct{})}
			opts := e.options(opener(fake.URL))
			opts.Store = d
			rep, err := ingest.Run(t.Context(), opts)
			sd, ok := errors.AsType[*ingest.StoreDownError](err)
			if !ok || !errors.Is(err, store.ErrUnavailable) {
				t.Fatalf("ingest with the store gone: %v, want a *StoreDownError that is a store.ErrUnavailable", err)
			}
			if rep == nil {
				t.Fatal("no report with the StoreDownError")
			}
			st := read(t, e.idx).stats
			if rep.Added != st.Files || st.Files == 0 || st.Files == n {
				t.Fatalf("report says %d added, the store holds %d files of %d: want the committed part, not none or all", rep.Added, st.Files, n)
			}
			if rep.FilesNotWritten != n-st.Files || sd.NotWritten != rep.FilesNotWritten {
				t.Errorf("files not written: report %d, error %d; want %d", rep.FilesNotWritten, sd.NotWritten, n-st.Files)
			}
			if rep.ChunksEmbedded != st.Chunks {
				t.Errorf("report says %d chunks embedded, the store holds %d", rep.ChunksEmbedded, st.Chunks)
			}
			if !strings.Contains(rep.StoreError, "cannot reach the store") ||
				!strings.HasPrefix(sd.Error(), fmt.Sprintf("%d files not written: %s unavailable: ", rep.FilesNotWritten, e.idx)) {
				t.Errorf("store error %q, error %q", rep.StoreError, sd.Error())
			}
			// Stops writing: no commit and no lookup once a call gave up (each
			// would spend a remote store's whole retry budget again).
			if d.callsAfterDown != 0 || d.outlived != 0 {
				t.Errorf("after the store went away the run still made %d calls to it, and %d calls outlived the one that gave up", d.callsAfterDown, d.outlived)
			}
			check(t, e.idx)

			inputs := fake.EmbeddedInputs()
			rep = e.run(t, t.Context(), e.options(opener(fake.URL)))
			if rep.Added != n-st.Files || rep.Unchanged != st.Files || rep.FilesNotWritten != 0 || rep.StoreError != "" {
				t.Errorf("the run after the store came back: %+v (not written %d), want %d added, %d unchanged", countsOf(rep), rep.FilesNotWritten, n-st.Files, st.Files)
			}
			if got := fake.EmbeddedInputs() - inputs; got != n-st.Files {
				t.Errorf("the run after the store came back embedded %d inputs, want %d (one per file not written)", got, n-st.Files)
			}
			s := read(t, e.idx)
			if s.stats.Files != n || s.stats.Chunks != n || s.stats.Pending != 0 {
				t.Errorf("index after the second run: %+v, want %d files and chunks", s.stats, n)
			}
			check(t, e.idx)
		})
	}
}

// TestStoreDownAtStartIsAnError: a store that cannot be opened is the
// run's error, not a partial run: nothing is read.
func TestStoreDownAtStartIsAnError(t *testing.T) {
	fake := ollamatest.New(t, miniLM)
	e := newEnv(t, "all-minilm")
	e.write(t, "a.md", []byte("# A\n\nSome text.\n"))
	opts := e.options(opener(fake.URL))
	opts.Store = unreachable{local.New(e.idx)}
	rep, err := ingest.Run(t.Context(), opts)
	if _, partial := errors.AsType[*ingest.StoreDownError](err); partial || !errors.Is(err, store.ErrUnavailable) || rep != nil {
		t.Fatalf("ingest into a store down from the start: %v (report %v), want its OpenWriter error alone", err, rep)
	}
	if fake.EmbeddedInputs() != 0 {
		t.Errorf("embedded %d inputs for a store that was never there", fake.EmbeddedInputs())
	}
}

type unreachable struct{ store.Store }

func (unreachable) OpenWriter(context.Context, index.Settings, time.Duration) (store.Writer, error) {
	return nil, fmt.Errorf("connect: %w", store.ErrUnavailable)
}
