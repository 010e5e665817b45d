package weaviatecli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/shareddata"
	"github.com/ragcli/rag/internal/weaviatetest"
)

type evalOut struct {
	Queries   int
	NDCG10    float64 `json:"ndcg@10"`
	Recall10  float64 `json:"recall@10"`
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
	PerQuery  []struct {
		ID     string  `json:"id"`
		NDCG10 float64 `json:"ndcg@10"`
	} `json:"per_query"`
	Store string
	Kept  bool
}

// classes lists the collections on the node.
func classes(t *testing.T, n *weaviatetest.Node) []string {
	t.Helper()
	resp, err := http.Get(n.URL() + "/v1/schema")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var s struct{ Classes []struct{ Class string } }
	if err := json.NewDecoder(resp.Body).Decode(&s); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, c := range s.Classes {
		out = append(out, c.Class)
	}
	slices.Sort(out)
	return out
}

// TestEvalBEIRAgainstWeaviate: rag eval --beir --store builds the
// benchmark's index in a scratch collection of the same node, scores it as
// the local index scores the same benchmark, drops the collection
// afterwards (or keeps it with --keep, for a next run that reuses it), and
// never touches the user's collection.
func TestEvalBEIRAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Mine"
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	beir := filepath.Join(repoRoot(t), "internal", "weaviatecli", "testdata", "beir-small")

	// The user's own collection, before.
	e.must(0, nil, rag("ingest", "-q", filepath.Join(e.dir, "docs"))...)
	var before, after status
	e.must(0, &before, rag("status", "--json")...)
	userClasses := classes(t, n)

	var local, remote evalOut
	e.must(0, &local, "eval", "--beir", beir, "--mode", "lexical", "--json", "--per-query")
	stderr := e.must(0, &remote, rag("eval", "--beir", beir, "--mode", "lexical", "--json", "--per-query")...)
	t.Logf("lexical, 20 queries: local nDCG@10 %.4f R@10 %.4f R@100 %.4f MRR@10 %.4f; weaviate nDCG@10 %.4f R@10 %.4f R@100 %.4f MRR@10 %.4f",
		local.NDCG10, local.Recall10, local.Recall100, local.MRR10, remote.NDCG10, remote.Recall10, remote.Recall100, remote.MRR10)
	if local.Queries != 20 || remote.Queries != 20 || local.NDCG10 <= 0 || local.NDCG10 >= 1 {
		t.Fatalf("want 20 queries scored below a perfect 1 in both: local %+v, weaviate %+v", local, remote)
	}
	if !strings.HasPrefix(remote.Store, "weaviate://"+n.HTTPAddr+"/Mine_eval_beirsmall_") || remote.Kept {
		t.Errorf("the scratch collection: %q kept %v", remote.Store, remote.Kept)
	}
	if !strings.Contains(stderr, "into "+remote.Store+" (a scratch collection, dropped afterwards)") {
		t.Errorf("stderr does not say where the benchmark is indexed: %s", stderr)
	}
	// Both stores rank with BM25 (k1 1.2, b 0.75) over rag's own terms, but
	// FTS5 and Weaviate differ in its details (IDF, document length), so
	// scores differ and, on a corpus this small, some rankings (see the log).
	for _, m := range []struct {
		name string
		l, r float64
	}{{"nDCG@10", local.NDCG10, remote.NDCG10}, {"Recall@10", local.Recall10, remote.Recall10},
		{"Recall@100", local.Recall100, remote.Recall100}, {"MRR@10", local.MRR10, remote.MRR10}} {
		if math.Abs(m.l-m.r) > 0.02 {
			t.Errorf("%s: local %.4f, weaviate %.4f", m.name, m.l, m.r)
		}
	}
	same := 0
	for i := range local.PerQuery {
		if local.PerQuery[i].ID == remote.PerQuery[i].ID && local.PerQuery[i].NDCG10 == remote.PerQuery[i].NDCG10 {
			same++
		}
	}
	t.Logf("%d of %d queries with the same nDCG@10 in both stores", same, len(local.PerQuery))

	// Dropped afterwards: the node holds the user's collection only, the
	// corpus folder is gone, and the user's collection is as it was.
	if got := classes(t, n); !slices.Equal(got, userClasses) {
		t.Errorf("collections after the run: %v, before: %v", got, userClasses)
	}
	evalData := filepath.Join(e.env["XDG_DATA_HOME"], "rag", "eval")
	if left, _ := os.ReadDir(evalData); len(left) != 0 {
		t.Errorf("corpus folders left in %s: %v", evalData, left)
	}
	e.must(0, &after, rag("status", "--json")...)
	if after != before {
		t.Errorf("the user's collection changed: %+v, before %+v", after, before)
	}

	// --keep: kept, and the next run reuses it (hybrid: nothing of the
	// corpus is embedded again, only the 20 queries); a run without --keep
	// then drops it.
	var kept, again evalOut
	e.must(0, &kept, rag("eval", "--beir", beir, "--mode", "hybrid", "--json", "--keep")...)
	if !kept.Kept || !slices.Contains(classes(t, n), strings.TrimPrefix(kept.Store, "weaviate://"+n.HTTPAddr+"/")+"Chunks") {
		t.Fatalf("--keep: %+v; collections %v", kept, classes(t, n))
	}
	embedded := e.srv.EmbeddedInputs()
	e.must(0, &again, rag("eval", "--beir", beir, "--mode", "hybrid", "--json")...)
	if d := e.srv.EmbeddedInputs() - embedded; again.Store != kept.Store || d != 20 {
		t.Errorf("the run after --keep: %s (kept %s), %d inputs embedded, want the 20 queries only", again.Store, kept.Store, d)
	}
	if again.NDCG10 != kept.NDCG10 {
		t.Errorf("the reused collection scores %.4f, the kept run %.4f", again.NDCG10, kept.NDCG10)
	}
	// Hybrid (the fake embedder's vectors, HNSW in Weaviate, exact
	// locally) against the local index's hybrid run.
	var localHybrid evalOut
	e.must(0, &localHybrid, "eval", "--beir", beir, "--mode", "hybrid", "--json")
	t.Logf("hybrid, 20 queries: local nDCG@10 %.4f R@10 %.4f; weaviate nDCG@10 %.4f R@10 %.4f",
		localHybrid.NDCG10, localHybrid.Recall10, kept.NDCG10, kept.Recall10)
	if math.Abs(localHybrid.NDCG10-kept.NDCG10) > 0.05 {
		t.Errorf("hybrid nDCG@10: local %.4f, weaviate %.4f", localHybrid.NDCG10, kept.NDCG10)
	}
	if got := classes(t, n); !slices.Equal(got, userClasses) {
		t.Errorf("collections after the reusing run: %v, want the user's only", got)
	}

	// Another setting is another collection: one left behind is named by
	// the next run, and --clean drops it.
	var other evalOut
	e.must(0, &other, rag("eval", "--beir", beir, "--mode", "lexical", "--chunk-tokens", "64", "--json", "--keep")...)
	if other.Store == kept.Store {
		t.Errorf("--chunk-tokens 64 reused the collection of the default chunk size: %s", other.Store)
	}
	stderr = e.must(0, nil, rag("eval", "--beir", beir, "--mode", "lexical")...)
	if name := strings.TrimPrefix(other.Store, "weaviate://"+n.HTTPAddr+"/"); !strings.Contains(stderr, "also holds 1 benchmark collection of earlier runs") || !strings.Contains(stderr, name) {
		t.Errorf("the note about the kept collection: %s", stderr)
	}
	var clean struct{ Dropped []string }
	e.must(0, &clean, rag("eval", "--clean", "--json")...)
	if len(clean.Dropped) != 1 || !strings.HasSuffix(other.Store, "/"+clean.Dropped[0]) {
		t.Errorf("--clean: %+v, want %s", clean, other.Store)
	}
	if got := classes(t, n); !slices.Equal(got, userClasses) {
		t.Errorf("collections after --clean: %v, want the user's only", got)
	}
	e.must(0, &after, rag("status", "--json")...)
	if after != before {
		t.Errorf("the user's collection changed: %+v, before %+v", after, before)
	}
}

// TestEvalSciFactAgainstWeaviate measures rag eval --beir of SciFact's test
// split (lexical) on the local index and against a Weaviate node, the
// benchmark in its scratch collection: the figures in docs/design.md. Run
// with RAG_TEST_WEAVIATE_EVAL=1 and RAG_SHARED_DATA (a few minutes).
func TestEvalSciFactAgainstWeaviate(t *testing.T) {
	if os.Getenv("RAG_TEST_WEAVIATE_EVAL") == "" {
		t.Skip("set RAG_TEST_WEAVIATE_EVAL=1 to measure rag eval --beir SciFact against Weaviate (a few minutes)")
	}
	dir := shareddata.Dir(t, "scifact")
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Rag"
	var local, remote evalOut
	start := time.Now()
	e.must(0, &local, "eval", "--beir", dir, "--split", "test", "--mode", "lexical", "--json")
	tl := time.Since(start)
	start = time.Now()
	e.must(0, &remote, "--store", url, "eval", "--beir", dir, "--split", "test", "--mode", "lexical", "--json")
	tr := time.Since(start)
	t.Logf("SciFact test, lexical, %d queries: local nDCG@10 %.4f R@10 %.4f R@100 %.4f MRR@10 %.4f in %s; weaviate nDCG@10 %.4f R@10 %.4f R@100 %.4f MRR@10 %.4f in %s",
		local.Queries, local.NDCG10, local.Recall10, local.Recall100, local.MRR10, tl.Round(time.Second),
		remote.NDCG10, remote.Recall10, remote.Recall100, remote.MRR10, tr.Round(time.Second))
	if local.Queries != 300 || remote.Queries != 300 || math.Abs(local.NDCG10-remote.NDCG10) > 0.03 {
		t.Errorf("want 300 queries and nDCG@10 within 0.03: local %+v, weaviate %+v", local, remote)
	}
	if got := classes(t, n); len(got) != 0 {
		t.Errorf("collections left: %v", got)
	}
}

// TestEvalBEIRInterruptedDropsScratch: Ctrl-C during rag eval --beir
// --store (here: the run's context cancelled once its scratch collection
// exists) exits 130 and still drops the scratch collection.
func TestEvalBEIRInterruptedDropsScratch(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Mine"
	beir := filepath.Join(repoRoot(t), "internal", "weaviatecli", "testdata", "beir-small")
	e.srv.SetLatency(300 * time.Millisecond) // each embedding request: the run lasts seconds

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan int, 1)
	var errb bytes.Buffer
	go func() {
		var out bytes.Buffer
		done <- cli.Main(ctx, []string{"--store", url, "eval", "--beir", beir, "--mode", "hybrid"},
			iostreams.Test(strings.NewReader(""), &out, &errb), func(k string) string { return e.env[k] })
	}()
	deadline := time.Now().Add(2 * time.Minute)
	for len(classesOf(t, n, "Mine_eval_")) == 0 {
		select {
		case code := <-done:
			t.Fatalf("rag eval ended (exit %d) before its scratch collection was seen: %s", code, errb.String())
		case <-time.After(50 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			t.Fatal("no scratch collection after 2 minutes")
		}
	}
	cancel()
	select {
	case code := <-done:
		if code != 130 {
			t.Errorf("interrupted eval: exit %d, want 130: %s", code, errb.String())
		}
	case <-time.After(2 * time.Minute):
		t.Fatal("rag eval did not return after its context was cancelled")
	}
	if got := classes(t, n); len(got) != 0 {
		t.Errorf("collections after the interrupted run: %v, want none: %s", got, errb.String())
	}
}
