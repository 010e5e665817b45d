package weaviatecli_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/ragcli/rag/internal/shareddata"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// TestStoreFigures times, on the otel-docs corpus and one real node, what
// the store seam costs a user: a local ingest, rag migrate of that index
// into Weaviate (nothing embedded), the same ingest straight into Weaviate,
// a no-op re-ingest of each, and a lexical search of each. It asserts only
// that the two stores end up holding the same files and chunks; the times
// are printed (RAG_STORE_FIGURES=1 go test -run TestStoreFigures -v
// ./internal/weaviatecli with RAG_TEST_WEAVIATE=1), never compared.
func TestStoreFigures(t *testing.T) {
	if os.Getenv("RAG_STORE_FIGURES") == "" {
		t.Skip("set RAG_STORE_FIGURES=1 to take the figures")
	}
	corpus := shareddata.Dir(t, "otel-docs")
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	idx := filepath.Join(e.dir, "local")
	migrated := "weaviate://" + n.HTTPAddr + "/Migrated"
	direct := "weaviate://" + n.HTTPAddr + "/Direct"
	e.timed("local ingest", "--index", idx, "ingest", corpus)
	e.timed("local no-op ingest", "--index", idx, "ingest", corpus)
	e.timed("migrate local -> weaviate", "--index", idx, "migrate", "--to", migrated)
	e.timed("migrate again (nothing to copy)", "--index", idx, "migrate", "--to", migrated)
	e.timed("ingest straight into weaviate", "--store", direct, "ingest", corpus)
	e.timed("no-op ingest into weaviate", "--store", direct, "ingest", corpus)
	for _, target := range []struct{ name, flag, value string }{{"local", "--index", idx}, {"migrated", "--store", migrated}, {"direct", "--store", direct}} {
		for _, mode := range []string{"lexical", "hybrid"} {
			e.timed(mode+" search, "+target.name, target.flag, target.value, "search", "--mode", mode, "collector exporter retry")
		}
	}
	var local, remote, copied struct{ Files, Chunks, Pending int }
	e.must(0, &local, "--index", idx, "status", "--json")
	e.must(0, &remote, "--store", direct, "status", "--json")
	e.must(0, &copied, "--store", migrated, "status", "--json")
	t.Logf("local %+v, direct %+v, migrated %+v", local, remote, copied)
	if local != remote || local != copied {
		t.Errorf("the stores differ: local %+v, direct %+v, migrated %+v", local, remote, copied)
	}
}
