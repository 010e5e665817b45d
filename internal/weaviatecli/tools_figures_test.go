package weaviatecli_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"

	"github.com/ragcli/rag/internal/shareddata"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// TestToolsFigures takes the figures of rag audit, status and doctor
// against Weaviate on the otel-docs corpus (the local index migrated into
// one node), and checks on that real corpus that audit reports through
// Weaviate what it reports on the local index. Times are printed, never
// compared: RAG_TOOLS_FIGURES=1 RAG_TEST_WEAVIATE=1 RAG_SHARED_DATA=...
// go test -run TestToolsFigures -v ./internal/weaviatecli.
func TestToolsFigures(t *testing.T) {
	if os.Getenv("RAG_TOOLS_FIGURES") == "" {
		t.Skip("set RAG_TOOLS_FIGURES=1 to take the figures")
	}
	corpus := shareddata.Dir(t, "otel-docs")
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	idx := filepath.Join(e.dir, "local")
	url := "weaviate://" + n.HTTPAddr + "/Otel"
	e.timed("local ingest", "--index", idx, "ingest", "-q", corpus)
	e.timed("migrate into weaviate", "--index", idx, "migrate", "-q", "--to", url)
	l := e.timed("audit, local", "--index", idx, "audit", "--json")
	r := e.timed("audit, weaviate", "--store", url, "audit", "--json")
	lm, rm := jsonWithout(t, l, "index"), jsonWithout(t, r, "index")
	t.Logf("audit of %v files, %v chunks: %d near duplicates, %d contradictions", lm["files"], lm["chunks"],
		len(lm["near_duplicates"].([]any)), len(lm["contradictions"].([]any)))
	for k := range lm {
		if reflect.DeepEqual(lm[k], rm[k]) {
			continue
		}
		la, _ := lm[k].([]any)
		ra, _ := rm[k].([]any)
		t.Errorf("audit of otel-docs: %s differs between the local index (%d) and Weaviate (%d)", k, len(la), len(ra))
		for i := 0; i < min(len(la), len(ra)); i++ {
			if !reflect.DeepEqual(la[i], ra[i]) {
				lj, _ := json.Marshal(la[i])
				rj, _ := json.Marshal(ra[i])
				t.Logf("first difference at %d:\nlocal:    %s\nweaviate: %s", i, lj, rj)
				break
			}
		}
	}
	e.timed("status, local", "--index", idx, "status", "--json")
	e.timed("status, weaviate", "--store", url, "status", "--json")
	e.timed("doctor, weaviate", "--store", url, "doctor", "--json")
}
