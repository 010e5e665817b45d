package weaviatecli_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/cli"
	"github.com/ragcli/rag/internal/iostreams"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// classesOf lists the node's collections whose names start with base.
func classesOf(t *testing.T, n *weaviatetest.Node, base string) []string {
	t.Helper()
	var out []string
	for _, c := range classes(t, n) { // tools_eval_test.go
		if strings.HasPrefix(c, base) {
			out = append(out, c)
		}
	}
	return out
}

// countOf is the number of objects in class, through GraphQL's Aggregate
// (exact, unlike the node statistics); -1 when the class does not exist.
func countOf(n *weaviatetest.Node, class string) int {
	q, _ := json.Marshal(map[string]string{"query": "{Aggregate{" + class + "{meta{count}}}}"})
	resp, err := http.Post(n.URL()+"/v1/graphql", "application/json", bytes.NewReader(q))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var body struct {
		Data struct {
			Aggregate map[string][]struct{ Meta struct{ Count int } }
		}
		Errors []any
	}
	if json.NewDecoder(resp.Body).Decode(&body) != nil || len(body.Errors) > 0 || len(body.Data.Aggregate[class]) == 0 {
		return -1
	}
	return body.Data.Aggregate[class][0].Meta.Count
}

type reindexStatus struct {
	Files, Chunks, Pending int
	Dim                    int
	EmbedModel             string `json:"embed_model"`
	ChunkTokens            int    `json:"chunk_tokens"`
}

// TestReindexAgainstWeaviate: rag reindex --store rebuilds the collection
// into a new generation and swaps it in, for another model and another
// chunk size; the old generation's collections are gone after; every
// command (ingest, search, status, ls, check, migrate, a running rag serve)
// follows the swap; a file deleted from disk is dropped; the files of a
// root that is not on this machine are carried over, re-embedded for a new
// model, and a new chunk size is refused for them, naming the root; the
// model-mismatch hint names what works against a collection.
func TestReindexAgainstWeaviate(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	url := "weaviate://" + n.HTTPAddr + "/Reidx"
	docs := filepath.Join(e.dir, "docs")
	other := filepath.Join(e.dir, "other")
	e.write("other/z.md", "# Zeppelins\n\nZeppelin airships were filled with hydrogen.\n")
	rag := func(args ...string) []string { return append([]string{"--store", url}, args...) }
	e.must(0, nil, rag("ingest", "--quiet", docs, other)...)
	var st reindexStatus
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 3 || st.EmbedModel != "all-minilm" {
		t.Fatalf("status after the first ingest: %+v", st)
	}

	// The mismatch hint names the reindex of this collection, or another one.
	stderr := e.must(1, nil, rag("--embed-model", "other-embed", "search", "penguins")...)
	wantHint := "rag: hint: drop --embed-model to use all-minilm, or rebuild the collection for other-embed: rag reindex --store " + url +
		" --embed-model other-embed (or use another collection: --store weaviate://" + n.HTTPAddr + "/NewCollection)"
	if !strings.Contains(stderr, wantHint) || strings.Contains(stderr, "NEWDIR") {
		t.Errorf("model mismatch against a collection:\n%s\nwant the hint:\n%s", stderr, wantHint)
	}
	stderr = e.must(1, nil, rag("--chunk-tokens", "100", "ingest", docs)...)
	if !strings.Contains(stderr, "rag reindex --store "+url+" --chunk-tokens 100") {
		t.Errorf("chunk-size mismatch against a collection: %s", stderr)
	}

	// "other" is another machine's root from now on: not on this disk.
	if err := os.Rename(other, other+".elsewhere"); err != nil {
		t.Fatal(err)
	}
	// A serve started now answers throughout the reindexes below.
	srv := startServe(t, e, url)

	var rep struct {
		Index     string
		Added     int
		KeptRoots []struct {
			Root   string
			Reason string
			Files  int
		} `json:"kept_roots"`
	}
	stderr = e.must(0, &rep, rag("reindex", "--json", "--embed-model", "other-embed")...)
	if rep.Index != url || rep.Added != 2 || len(rep.KeptRoots) != 1 || rep.KeptRoots[0].Root != other || rep.KeptRoots[0].Files != 1 {
		t.Errorf("reindex --embed-model: %+v\n%s", rep, stderr)
	}
	if !strings.Contains(stderr, "rebuilding 2 files with other-embed") || !strings.Contains(stderr, "carrying over 1 files") {
		t.Errorf("reindex progress: %s", stderr)
	}
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 3 || st.Pending != 0 || st.EmbedModel != "other-embed" {
		t.Errorf("status after reindex --embed-model: %+v", st)
	}
	if got, want := classesOf(t, n, "Reidx"), []string{"ReidxChunks_1", "ReidxFiles_1", "ReidxLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after the first swap: %v, want %v (the old generation deleted)", got, want)
	}
	var s searchOut
	e.must(0, &s, rag("search", "--json", "--mode", "vector", "-k", "1", "zeppelin airships hydrogen")...)
	if got := paths(s); len(got) != 1 || got[0] != "z.md" {
		t.Errorf("vector search for the carried-over file with the new model: %v", got)
	}

	// Another chunk size needs the other machine's files: refused, nothing
	// changed, nothing left behind.
	stderr = e.must(1, nil, rag("reindex", "--chunk-tokens", "100")...)
	if !strings.Contains(stderr, "1 indexed files under "+other+" are not on this machine, and a new chunk size needs them; the index is unchanged") ||
		!strings.Contains(stderr, "rag: hint: run rag reindex --chunk-tokens on a machine that has "+other+", or add --force") {
		t.Errorf("reindex --chunk-tokens with another machine's root: %s", stderr)
	}
	if got, want := classesOf(t, n, "Reidx"), []string{"ReidxChunks_1", "ReidxFiles_1", "ReidxLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after a refused reindex: %v, want %v", got, want)
	}
	// A rebuild that cannot embed stops; the old generation stays, and the
	// new one's collections are gone.
	e.env["OLLAMA_HOST"] = "http://127.0.0.1:9"
	stderr = e.must(4, nil, rag("reindex", "--embed-model", "all-minilm")...)
	e.env["OLLAMA_HOST"] = e.srv.URL
	if !strings.Contains(stderr, "rebuild stopped, the index is unchanged") {
		t.Errorf("reindex with the model server down: %s", stderr)
	}
	if got, want := classesOf(t, n, "Reidx"), []string{"ReidxChunks_1", "ReidxFiles_1", "ReidxLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after a failed reindex: %v, want %v", got, want)
	}
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 3 || st.EmbedModel != "other-embed" {
		t.Errorf("status after a failed reindex: %+v", st)
	}

	// That machine's root is back: the chunk size changes, and a file
	// deleted from disk meanwhile is dropped.
	if err := os.Rename(other+".elsewhere", other); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(docs, "b.md")); err != nil {
		t.Fatal(err)
	}
	e.must(0, nil, rag("reindex", "--quiet", "--chunk-tokens", "100")...)
	e.must(0, &st, rag("status", "--json")...)
	if st.Files != 2 || st.ChunkTokens != 100 || st.EmbedModel != "other-embed" {
		t.Errorf("status after reindex --chunk-tokens with b.md deleted: %+v, want 2 files of 100-token chunks", st)
	}
	if got, want := classesOf(t, n, "Reidx"), []string{"ReidxChunks_2", "ReidxFiles_2", "ReidxLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after the second swap: %v, want %v", got, want)
	}

	// Every command follows the new generation.
	e.write("docs/c.md", "# Owls\n\nOwls hunt at night.\n")
	var ing struct{ Added, Unchanged int }
	e.must(0, &ing, rag("ingest", "--json")...)
	if ing.Added != 1 || ing.Unchanged != 2 {
		t.Errorf("ingest after the swaps: %+v, want c.md added and 2 unchanged", ing)
	}
	e.must(0, &s, rag("search", "--json", "--mode", "lexical", "owls")...)
	if got := paths(s); len(got) != 1 || got[0] != "c.md" {
		t.Errorf("search after the swaps: %v", got)
	}
	var ls struct {
		Roots []struct {
			Path  string
			Files int
		}
	}
	e.must(0, &ls, rag("ls", "--json")...)
	if len(ls.Roots) != 2 || ls.Roots[0].Files+ls.Roots[1].Files != 3 {
		t.Errorf("ls after the swaps: %+v, want both roots, 3 files", ls)
	}
	var chk struct {
		Files    int
		Problems []string
	}
	e.must(0, &chk, rag("check", "--json")...)
	if chk.Files != 3 || len(chk.Problems) != 0 {
		t.Errorf("check after the swaps: %+v", chk)
	}
	var mig struct{ Files, Vectors int }
	e.must(0, &mig, rag("migrate", "--json", "--to", filepath.Join(e.dir, "copy"))...)
	if mig.Files != 3 || mig.Vectors != 3 {
		t.Errorf("migrate after the swaps: %+v", mig)
	}

	// The server answered every search, across both swaps, and follows
	// the new generation: it finds the file ingested after them.
	srv.stop(t)
	if srv.failed.Load() != 0 || srv.ok.Load() == 0 {
		t.Errorf("rag serve during the reindexes: %d searches failed, %d answered; last failure: %v", srv.failed.Load(), srv.ok.Load(), srv.lastErr.Load())
	}
	if !srv.sawOwls.Load() {
		t.Errorf("rag serve never found c.md, ingested into the new generation")
	}
}

// served is a rag serve run in-process with a client searching it in a loop.
type served struct {
	cancel     context.CancelFunc
	done       chan int
	loopDone   chan struct{}
	ok, failed atomic.Int64
	sawOwls    atomic.Bool
	lastErr    atomic.Value
}

func startServe(t *testing.T, e *env, url string) *served {
	errR, errW := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	sv := &served{cancel: cancel, done: make(chan int, 1), loopDone: make(chan struct{})}
	go func() {
		sv.done <- cli.Main(ctx, []string{"--store", url, "serve", "--addr", "127.0.0.1:0"},
			iostreams.Test(strings.NewReader(""), io.Discard, errW), func(k string) string { return e.env[k] })
		errW.Close()
	}()
	_, base := serving(errR)
	if base == "" {
		cancel()
		t.Fatal("rag serve never said where it listens")
	}
	go func() {
		defer close(sv.loopDone)
		for i := 0; ctx.Err() == nil && i < 100000; i++ {
			for _, q := range []string{"penguins", "owls"} {
				resp, err := http.Post(base+"/v1/search", "application/json", strings.NewReader(`{"query": "`+q+`", "k": 3}`))
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					sv.failed.Add(1)
					sv.lastErr.Store(err.Error())
					continue
				}
				body, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					sv.failed.Add(1)
					sv.lastErr.Store(fmt.Sprintf("%d %s", resp.StatusCode, body))
					continue
				}
				sv.ok.Add(1)
				if q == "owls" && strings.Contains(string(body), "c.md") {
					sv.sawOwls.Store(true)
				}
			}
			time.Sleep(50 * time.Millisecond)
		}
	}()
	return sv
}

func (sv *served) stop(t *testing.T) {
	// Give the server a moment to see the last ingest, then stop.
	for deadline := time.Now().Add(5 * time.Second); !sv.sawOwls.Load() && time.Now().Before(deadline); {
		time.Sleep(100 * time.Millisecond)
	}
	sv.cancel()
	<-sv.loopDone
	if code := <-sv.done; code != 0 {
		t.Errorf("rag serve ended with exit %d", code)
	}
}

// ragBinary builds the rag command into the test's own folder (go build's
// cache makes it quick after the first time).
func ragBinary(t *testing.T) string { return ragBinaryIn(t, t.TempDir()) }

// ragBinaryIn builds the rag command as dir/rag.
func ragBinaryIn(t *testing.T, dir string) string {
	t.Helper()
	bin := filepath.Join(dir, "rag")
	if out, err := exec.Command("go", "build", "-o", bin, "github.com/ragcli/rag/cmd/rag").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// TestReindexKilled: while a reindex of a collection runs, status and
// search answer from the old generation; the rag binary is then killed with
// SIGKILL part way (its new generation half written): the old generation
// answers as before, untouched; the next reindex deletes the
// leftover and completes; only the new generation's collections remain.
func TestReindexKilled(t *testing.T) {
	n := weaviatetest.Start(t, weaviatetest.Options{})
	e := newEnv(t)
	bin := ragBinary(t)
	url := "weaviate://" + n.HTTPAddr + "/Killed"
	const files = 320 // five ingest windows of 64 files
	for i := range files {
		e.write(fmt.Sprintf("docs/f%03d.md", i), fmt.Sprintf("# Note %d\n\nPenguin note number %d about ice and fish.\n", i, i))
	}
	docs := filepath.Join(e.dir, "docs")
	e.must(0, nil, "--store", url, "ingest", "--quiet", docs)
	var before reindexStatus
	e.must(0, &before, "--store", url, "status", "--json")
	var want searchOut
	e.must(0, &want, "--store", url, "search", "--json", "--mode", "vector", "-k", "5", "penguin note 17")
	if before.Files != files+2 || len(want.Results) != 5 { // newEnv's a.md and b.md too
		t.Fatalf("before the reindex: %+v, %d hits", before, len(want.Results))
	}

	var got searchOut
	// Slow embeddings, so the kill lands while the new generation is
	// being written.
	e.srv.SetLatency(300 * time.Millisecond)
	p := e.start(bin, nil, "--store", url, "reindex", "--quiet", "--embed-model", "other-embed") // faults_test.go
	killed := false
	for deadline := time.Now().Add(120 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if c := countOf(n, "KilledChunks_1"); c > 0 && c < before.Chunks {
			// Half way: the store still answers from the old generation.
			var during reindexStatus
			e.must(0, &during, "--store", url, "status", "--json")
			e.must(0, &got, "--store", url, "search", "--json", "--mode", "vector", "-k", "5", "penguin note 17")
			p.cmd.Process.Signal(syscall.SIGKILL)
			killed = true
			if during != before {
				t.Errorf("status during the reindex: %+v, want the old generation's %+v", during, before)
			}
			if g, w := strings.Join(paths(got), " "), strings.Join(paths(want), " "); g != w {
				t.Errorf("vector search during the reindex: %s, before: %s", g, w)
			}
			break
		}
	}
	code := p.wait()
	if !killed {
		t.Fatalf("the reindex was never caught half way (exit %d): %s", code, p.log)
	}
	partial := countOf(n, "KilledChunks_1")
	t.Logf("killed with %d of %d chunks in the new generation", partial, before.Chunks)
	e.srv.SetLatency(0)

	// The old generation answers, as it was.
	var after reindexStatus
	e.must(0, &after, "--store", url, "status", "--json")
	if after != before {
		t.Errorf("status after the killed reindex: %+v, before: %+v", after, before)
	}
	e.must(0, &got, "--store", url, "search", "--json", "--mode", "vector", "-k", "5", "penguin note 17")
	if g, w := strings.Join(paths(got), " "), strings.Join(paths(want), " "); g != w {
		t.Errorf("vector search after the killed reindex: %s, before: %s", g, w)
	}
	if cl := classesOf(t, n, "Killed"); !slices.Contains(cl, "KilledChunks_1") {
		t.Errorf("the killed reindex left no partial generation to clean up (%v): the test did not test it", cl)
	}

	// The next reindex clears the leftover and completes.
	e.must(0, nil, "--store", url, "reindex", "--quiet", "--embed-model", "other-embed")
	e.must(0, &after, "--store", url, "status", "--json")
	if after.Files != before.Files || after.Chunks != before.Chunks || after.Pending != 0 || after.EmbedModel != "other-embed" {
		t.Errorf("status after the reindex run again: %+v, want %d files, %d chunks with other-embed", after, before.Files, before.Chunks)
	}
	// The new generation is numbered past the leftover it cleared.
	if got, want := classesOf(t, n, "Killed"), []string{"KilledChunks_2", "KilledFiles_2", "KilledLive"}; !slices.Equal(got, want) {
		t.Errorf("collections after the reindex run again: %v, want %v", got, want)
	}
	if c := countOf(n, "KilledChunks_2"); c != before.Chunks {
		t.Errorf("the new generation holds %d chunk objects, want %d (the leftover's cleared, none twice)", c, before.Chunks)
	}
}
