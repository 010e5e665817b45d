package weaviatecli_test

import (
	"encoding/json"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/weaviatetest"
)

// TestCheckDamagedThenReindex damages a collection behind rag's back (one
// chunk object deleted through Weaviate's REST API): rag check finds it,
// exits 6 and hints rag reindex, which rebuilds a healthy generation from
// the files on disk.
func TestCheckDamagedThenReindex(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Damaged"
	docs := filepath.Join(e.dir, "docs")
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	e.must(0, nil, rag("ingest", "--quiet", docs)...)

	resp, err := http.Get("http://" + n.HTTPAddr + "/v1/objects?class=DamagedChunks&limit=1")
	if err != nil {
		t.Fatal(err)
	}
	var list struct{ Objects []struct{ ID string } }
	json.NewDecoder(resp.Body).Decode(&list)
	resp.Body.Close()
	if len(list.Objects) != 1 {
		t.Fatalf("no chunk object to delete in DamagedChunks: %+v", list)
	}
	req, _ := http.NewRequest(http.MethodDelete, "http://"+n.HTTPAddr+"/v1/objects/DamagedChunks/"+list.Objects[0].ID, nil)
	if resp, err = http.DefaultClient.Do(req); err != nil || resp.StatusCode != http.StatusNoContent {
		t.Fatalf("delete a chunk object: %v %v", err, resp)
	}
	resp.Body.Close()

	var chk struct {
		Chunks   int
		Problems []string
	}
	stderr := e.must(6, &chk, rag("check", "--json")...)
	if len(chk.Problems) == 0 {
		t.Errorf("check of the damaged collection found no problem: %+v", chk)
	}
	if want := "repair it with: rag --store " + url + " reindex"; !strings.Contains(stderr, want) {
		t.Errorf("check's hint = %q, want it to contain %q", stderr, want)
	}

	e.must(0, nil, rag("reindex", "--quiet")...)
	chk.Problems = nil
	e.must(0, &chk, rag("check", "--json")...)
	if len(chk.Problems) != 0 || chk.Chunks != 2 {
		t.Errorf("check after the reindex: %+v, want 2 chunks and no problem", chk)
	}
	var found searchOut
	e.must(0, &found, rag("search", "--json", "--mode", "lexical", "penguins teapot")...)
	if got := paths(found); len(got) != 2 {
		t.Errorf("search after the reindex = %v, want both files", got)
	}
}
