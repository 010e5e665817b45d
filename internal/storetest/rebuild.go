package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
)

// testRebuild checks store.Rebuilder where a store implements it (rag
// reindex): nothing to rebuild in an empty store; the next generation is
// invisible to the store's readers until Swap, and then is what they read;
// Abort leaves the live generation as it was.
func testRebuild(t *testing.T, s store.Store) {
	rb, ok := s.(store.Rebuilder)
	if !ok {
		t.Skip("the store does not implement store.Rebuilder")
	}
	if b, err := rb.BeginRebuild(ctx(t), 10*time.Second); !errors.Is(err, index.ErrNoIndex) {
		if err == nil {
			b.Abort(ctx(t))
		}
		t.Fatalf("BeginRebuild of an empty store: %v, want index.ErrNoIndex", err)
	}
	commit(t, s, &store.Batch{Puts: []store.Put{put("/r/old.md", []string{"the old generation"}, [][]float32{vec(0, 0)})}})
	has := func(path string) bool {
		t.Helper()
		_, found, err := reader(t, s).File(ctx(t), path)
		if err != nil {
			t.Fatalf("File(%s): %v", path, err)
		}
		return found
	}

	b, err := rb.BeginRebuild(ctx(t), 10*time.Second)
	if err != nil {
		t.Fatalf("BeginRebuild: %v", err)
	}
	commit(t, b.Next(), &store.Batch{Puts: []store.Put{put("/r/new.md", []string{"the new generation"}, [][]float32{vec(1, 0)})}})
	if has("/r/new.md") || !has("/r/old.md") {
		t.Fatal("the next generation is visible before Swap")
	}
	if err := b.Swap(ctx(t)); err != nil {
		t.Fatalf("Swap: %v", err)
	}
	if !has("/r/new.md") || has("/r/old.md") {
		t.Fatal("after Swap the store does not read the new generation")
	}
	if err := b.Abort(ctx(t)); err != nil {
		t.Errorf("Abort after Swap: %v, want nothing done", err)
	}
	if !has("/r/new.md") {
		t.Fatal("Abort after Swap removed the live generation")
	}

	b, err = rb.BeginRebuild(ctx(t), 10*time.Second)
	if err != nil {
		t.Fatalf("BeginRebuild after a swap: %v", err)
	}
	commit(t, b.Next(), &store.Batch{Puts: []store.Put{put("/r/aborted.md", []string{"an aborted generation"}, [][]float32{vec(2, 0)})}})
	if err := b.Abort(ctx(t)); err != nil {
		t.Fatalf("Abort: %v", err)
	}
	if has("/r/aborted.md") || !has("/r/new.md") {
		t.Fatal("Abort changed what the store reads")
	}
	if st := stats(t, s); st.Files != 1 || st.Chunks != 1 {
		t.Errorf("after a swap and an abort: %+v, want the one file of the swapped generation", st)
	}
}
