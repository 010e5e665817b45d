package weaviatecli_test

import (
	"strings"
	"testing"

	"github.com/ragcli/rag/internal/weaviatetest"
)

type doctorOut struct {
	OK    bool
	Index struct {
		Dir                    string
		Exists                 bool
		EmbedModel             string `json:"embed_model"`
		Dim                    int
		Files, Chunks, Pending int
		SizeBytes              *int64 `json:"size_bytes"`
		Store                  *struct {
			Reachable     bool
			Auth, Version string
			Nodes         int
			NodesHealthy  int `json:"nodes_healthy"`
			Replication   int `json:"replication_factor"`
		}
	}
	Problems []struct{ Area, Problem, Fix string }
}

// TestDoctorAgainstWeaviate: rag doctor --store checks the store rag
// would use, not the local index: the server, its nodes, the collection
// and its model; the API key missing or refused is a store problem with
// its fix (exit 1), as is a collection built with another model.
func TestDoctorAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Doc"

	// No collection yet: all is well, and doctor says how to make one.
	var d doctorOut
	e.must(0, &d, "--store", url, "doctor", "--json")
	if !d.OK || d.Index.Dir != url || d.Index.Exists || d.Index.Store == nil || !d.Index.Store.Reachable || d.Index.Store.Version != "1.35.2" {
		t.Errorf("doctor of an empty store: %+v", d)
	}
	_, out, _ := e.run("--store", url, "doctor")
	if !strings.Contains(out, " "+url+" (flag --store): ok, weaviate 1.35.2, 1 of 1 nodes healthy") ||
		!strings.Contains(out, "none yet (create it with: rag --store "+url+" ingest PATH...)") {
		t.Errorf("doctor text of an empty store:\n%s", out)
	}

	e.must(0, nil, "--store", url, "ingest", "-q", e.dir+"/docs")
	d = doctorOut{}
	e.must(0, &d, "--store", url, "doctor", "--json")
	st := d.Index.Store
	if !d.OK || !d.Index.Exists || d.Index.Files != 2 || d.Index.EmbedModel != "all-minilm" || d.Index.Dim != 384 || d.Index.SizeBytes != nil ||
		st == nil || st.Nodes != 1 || st.NodesHealthy != 1 || st.Replication != 1 || st.Auth != "ok" {
		t.Errorf("doctor of the collection: %+v %+v", d, st)
	}
	_, out, _ = e.run("--store", url, "doctor")
	if !strings.Contains(out, url+": 2 files, 2 chunks (0 pending), size not reported by Weaviate, all-minilm 384 dimensions") {
		t.Errorf("doctor text of the collection:\n%s", out)
	}
	// The local index is not what doctor looks at.
	if strings.Contains(out, e.env["XDG_DATA_HOME"]+"/rag/index:") {
		t.Errorf("doctor --store reports the local index:\n%s", out)
	}

	// Another model than the collection's: a config problem, exit 1.
	d = doctorOut{}
	e.must(1, &d, "--store", url, "--embed-model", "other-embed", "doctor", "--json")
	if len(d.Problems) == 0 || !strings.Contains(d.Problems[0].Problem, `built with embedding model "all-minilm"`) {
		t.Errorf("doctor with another model: %+v", d.Problems)
	}

	// A server that wants a key: missing, then refused, then right.
	k := weaviatetest.Start(t, weaviatetest.Options{APIKey: "doctor-key-1"})
	kurl := "weaviate://" + k.HTTPAddr + "/Doc"
	t.Setenv("RAG_WEAVIATE_API_KEY", "")
	d = doctorOut{}
	e.must(1, &d, "--store", kurl, "doctor", "--json")
	if d.Index.Store == nil || d.Index.Store.Auth != "missing" || len(d.Problems) != 1 || d.Problems[0].Area != "store" ||
		!strings.Contains(d.Problems[0].Fix, "set RAG_WEAVIATE_API_KEY") {
		t.Errorf("doctor without the key: %+v %+v", d.Index.Store, d.Problems)
	}
	t.Setenv("RAG_WEAVIATE_API_KEY", "wrong-key-9")
	d = doctorOut{}
	code, raw, _ := e.run("--store", kurl, "doctor", "--json")
	if code != 1 || !strings.Contains(raw, `"auth": "refused"`) || !strings.Contains(raw, "refused the API key from RAG_WEAVIATE_API_KEY") || strings.Contains(raw, "wrong-key-9") {
		t.Errorf("doctor with a wrong key: exit %d\n%s", code, raw)
	}
	t.Setenv("RAG_WEAVIATE_API_KEY", "doctor-key-1")
	d = doctorOut{}
	e.must(0, &d, "--store", kurl, "doctor", "--json")
	if !d.OK || d.Index.Store.Auth != "ok" {
		t.Errorf("doctor with the right key: %+v", d)
	}
}
