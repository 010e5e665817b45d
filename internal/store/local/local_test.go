package local_test

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		return local.New(filepath.Join(t.TempDir(), "index"))
	})
}

// One writer at a time: the local index's own promise (Weaviate lets several in).
func TestSecondWriterLocked(t *testing.T) {
	s := local.New(filepath.Join(t.TempDir(), "index"))
	w, err := s.OpenWriter(t.Context(), storetest.Settings(), 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	if _, err := s.OpenWriter(t.Context(), storetest.Settings(), 0); !errors.Is(err, index.ErrLocked) {
		t.Errorf("second writer: %v, want index.ErrLocked", err)
	}
}
