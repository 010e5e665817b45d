package weaviatecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/shareddata"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// TestReindexFigures times rag reindex --embed-model of the otel-docs
// corpus in the local index and in one real node, with rag status polled
// against the collection meanwhile (which model answered it, and how many
// calls failed). It asserts only what must hold (every status answered,
// by the old model until the swap and by the new one after); the times
// are printed (RAG_REINDEX_FIGURES=1 RAG_TEST_WEAVIATE=1
// RAG_SHARED_DATA=/work/shared/data go test -run TestReindexFigures -v
// ./internal/weaviatecli), never compared.
func TestReindexFigures(t *testing.T) {
	if os.Getenv("RAG_REINDEX_FIGURES") == "" {
		t.Skip("set RAG_REINDEX_FIGURES=1 to take the figures")
	}
	corpus := shareddata.Dir(t, "otel-docs")
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	idx := filepath.Join(e.dir, "local")
	url := "weaviate://" + n.HTTPAddr + "/Figures"
	e.timed("local ingest", "--index", idx, "ingest", "--quiet", corpus)
	e.timed("local reindex --embed-model", "--index", idx, "reindex", "--quiet", "--embed-model", "other-embed")
	e.timed("weaviate ingest", "--store", url, "ingest", "--quiet", corpus)

	var mu sync.Mutex
	answered := map[string]int{}
	failed := 0
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for i := 0; i < 100000; i++ {
			select {
			case <-stop:
				return
			default:
			}
			var st reindexStatus
			code, out, _ := e.run("--store", url, "status", "--json")
			mu.Lock()
			if code != 0 || json.Unmarshal([]byte(out), &st) != nil {
				failed++
			} else {
				answered[st.EmbedModel]++
				if st.EmbedModel == "other-embed" {
					mu.Unlock()
					return // swapped: the rest is the new generation's
				}
			}
			mu.Unlock()
			time.Sleep(100 * time.Millisecond)
		}
	})
	e.timed("weaviate reindex --embed-model", "--store", url, "reindex", "--quiet", "--embed-model", "other-embed")
	close(stop)
	wg.Wait()
	t.Logf("rag status during the weaviate reindex: %v answered, %d failed", answered, failed)
	if failed != 0 || answered["all-minilm"] == 0 {
		t.Errorf("status during the reindex: %v answered, %d failed", answered, failed)
	}
	var local, remote reindexStatus
	e.must(0, &local, "--index", idx, "status", "--json")
	e.must(0, &remote, "--store", url, "status", "--json")
	t.Logf("local %+v, weaviate %+v", local, remote)
	if local.Files != remote.Files || local.Chunks != remote.Chunks || remote.EmbedModel != "other-embed" {
		t.Errorf("after the reindexes: local %+v, weaviate %+v", local, remote)
	}
}
