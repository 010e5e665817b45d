package weaviatecli_test

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/weaviatetest"
)

// TestStatusDoctorClusterNodeDown: against a three-node cluster
// (replication 3), rag status shows 3 of 3 nodes healthy and the factor;
// with one node killed it names the node that is not, and rag doctor
// reports it as a store problem (exit 1) while searches still answer.
func TestStatusDoctorClusterNodeDown(t *testing.T) {
	c := weaviatetest.StartCluster(t, 3, weaviatetest.Options{})
	e := newEnv(t)
	t.Setenv("RAG_WEAVIATE_REPLICATION", "3")
	url := "weaviate://" + c.Node(0).HTTPAddr + "/Team"
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	e.must(0, nil, rag("ingest", "-q", filepath.Join(e.dir, "docs"))...)

	type storeStatus struct {
		Files int
		Store struct {
			Nodes        int
			NodesHealthy int      `json:"nodes_healthy"`
			Unhealthy    []string `json:"unhealthy"`
			Replication  int      `json:"replication_factor"`
		}
	}
	var st storeStatus
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 2 || st.Store.Nodes != 3 || st.Store.NodesHealthy != 3 || st.Store.Replication != 3 || len(st.Store.Unhealthy) != 0 {
		t.Fatalf("status of the healthy cluster: %+v", st)
	}
	var d doctorOut
	e.must(0, &d, rag("doctor", "--json")...)
	if !d.OK || d.Index.Store.NodesHealthy != 3 || d.Index.Store.Replication != 3 {
		t.Errorf("doctor of the healthy cluster: %+v %+v", d, d.Index.Store)
	}

	c.Kill(2)
	deadline := time.Now().Add(90 * time.Second)
	for {
		st = storeStatus{}
		e.must(0, &st, rag("status", "--json")...)
		if st.Store.NodesHealthy == 2 || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	name := c.Node(2).Name
	if st.Store.Nodes != 3 || st.Store.NodesHealthy != 2 || len(st.Store.Unhealthy) != 1 || !strings.HasPrefix(st.Store.Unhealthy[0], name+": ") {
		t.Fatalf("status with %s killed: %+v", name, st)
	}
	_, text, _ := e.run(rag("status")...)
	if !strings.Contains(text, "nodes 2 of 3 healthy ("+st.Store.Unhealthy[0]+"), replication factor 3") {
		t.Errorf("status text with a node down:\n%s", text)
	}
	d = doctorOut{}
	e.must(1, &d, rag("doctor", "--json")...)
	if len(d.Problems) != 1 || d.Problems[0].Area != "store" || !strings.Contains(d.Problems[0].Problem, "2 of 3 nodes") {
		t.Errorf("doctor with a node down: %+v", d.Problems)
	}
	var s searchOut
	e.must(0, &s, rag("search", "--json", "--mode", "lexical", "penguins")...)
	if len(s.Results) == 0 {
		t.Errorf("no search answer with one node of three down")
	}
}
