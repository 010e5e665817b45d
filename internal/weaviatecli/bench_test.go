//go:build unix

package weaviatecli_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/ollamatest"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/weaviate"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// The benchmark corpus: benchFiles files of chunksPerFile sections, each
// section a heading and a paragraph small enough to be one chunk at the
// default chunk size (about 100 estimated tokens of 256), so the corpus
// holds exactly files x 16 chunks (the benchmark checks it). A paragraph's
// words come from one of benchTopics vocabularies (mostly its file's), so
// under the fake embedder's feature hash the chunks of a topic have
// similar vectors, as embeddings of related texts do.
const (
	chunksPerFile   = 16
	benchTopics     = 300
	wordsPerTopic   = 40
	wordsPerSection = 45
	filesPerDir     = 500
)

// vocabularies are the topics' words: made-up, distinct, deterministic.
func vocabularies() [][]string {
	rng := rand.New(rand.NewPCG(16, 1))
	cons := []string{"b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z", "ch", "sh", "tr"}
	vows := []string{"a", "e", "i", "o", "u", "ai", "ou"}
	seen := map[string]bool{}
	out := make([][]string, benchTopics)
	for t := range out {
		for len(out[t]) < wordsPerTopic {
			var b strings.Builder
			for range 2 + rng.IntN(3) {
				b.WriteString(cons[rng.IntN(len(cons))])
				b.WriteString(vows[rng.IntN(len(vows))])
			}
			if w := b.String(); !seen[w] {
				seen[w] = true
				out[t] = append(out[t], w)
			}
		}
	}
	return out
}

// benchFile is file i's text: chunksPerFile sections, most on the file's
// topic, each "## heading" and one paragraph.
func benchFile(vocab [][]string, i int) string {
	rng := rand.New(rand.NewPCG(uint64(i), 7))
	main := i % benchTopics
	var b strings.Builder
	for s := range chunksPerFile {
		topic := main
		if rng.IntN(10) < 3 {
			topic = rng.IntN(benchTopics)
		}
		words := vocab[topic]
		fmt.Fprintf(&b, "## %s %s %d\n\n", words[rng.IntN(len(words))], words[rng.IntN(len(words))], s+1)
		for w := range wordsPerSection {
			if w > 0 {
				b.WriteByte(' ')
			}
			b.WriteString(words[rng.IntN(len(words))])
			if w%15 == 14 {
				b.WriteByte('.')
			}
		}
		b.WriteString(".\n\n")
	}
	return b.String()
}

// benchQuery is query q: a few words of one topic.
func benchQuery(vocab [][]string, q int) string {
	rng := rand.New(rand.NewPCG(uint64(q), 99))
	words := vocab[rng.IntN(benchTopics)]
	n := 3 + rng.IntN(3)
	out := make([]string, n)
	for i := range out {
		out[i] = words[rng.IntN(len(words))]
	}
	return strings.Join(out, " ")
}

// writeCorpus writes files files under dir, skipping those already there
// (the text is a function of the file's number), and notes when it is
// complete so a resumed run does not look again.
func writeCorpus(t *testing.T, dir string, files int) {
	done := filepath.Join(dir, ".complete")
	if b, err := os.ReadFile(done); err == nil && string(b) == strconv.Itoa(files) {
		return
	}
	vocab := vocabularies()
	for i := range files {
		p := filepath.Join(dir, fmt.Sprintf("d%04d", i/filesPerDir), fmt.Sprintf("f%07d.md", i))
		if _, err := os.Stat(p); err == nil {
			continue
		}
		if i%filesPerDir == 0 {
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
		}
		if err := os.WriteFile(p, []byte(benchFile(vocab, i)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(done, []byte(strconv.Itoa(files)), 0o644); err != nil {
		t.Fatal(err)
	}
}

// bench runs the rag binary and keeps the figures.
type bench struct {
	t       *testing.T
	dir     string
	bin     string
	env     []string
	figures *os.File
}

// figure logs a result and appends it to DIR/figures.txt, which outlives
// an interrupted run.
func (b *bench) figure(format string, args ...any) {
	b.t.Helper()
	line := fmt.Sprintf(format, args...)
	b.t.Log("FIGURE " + line)
	fmt.Fprintf(b.figures, "%s %s (load average %s)\n", time.Now().UTC().Format(time.TimeOnly), line, loadAverage())
}

func loadAverage() string {
	b, _ := os.ReadFile("/proc/loadavg")
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "?"
	}
	return strings.Join(f[:3], " ")
}

// run runs rag with args (stderr to DIR/NAME.log), fails the test unless
// it exits 0, and returns its stdout, wall time and peak RSS in MiB.
func (b *bench) run(name string, timeout time.Duration, args ...string) (string, time.Duration, int64) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, args...)
	cmd.Env = b.env
	var out strings.Builder
	cmd.Stdout = &out
	log, err := os.OpenFile(filepath.Join(b.dir, name+".log"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		b.t.Fatal(err)
	}
	defer log.Close()
	cmd.Stderr = log
	start := time.Now()
	err = cmd.Run()
	took := time.Since(start)
	if err != nil {
		b.t.Fatalf("rag %s: %v (stderr in %s)", strings.Join(args, " "), err, log.Name())
	}
	return out.String(), took, cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss >> 10
}

type benchStatus struct{ Files, Chunks, Pending int }

func (b *bench) status(target ...string) benchStatus {
	b.t.Helper()
	out, _, _ := b.run("status", time.Minute, append(target, "status", "--json")...)
	var st benchStatus
	if err := json.Unmarshal([]byte(out), &st); err != nil {
		b.t.Fatalf("status: %v: %s", err, out)
	}
	return st
}

// ingest runs rag ingest of the corpus into target and reports the chunks
// this run stored (a resumed run stores only the rest), its rate and rag's
// peak RSS.
func (b *bench) ingest(name, corpus string, target ...string) {
	b.t.Helper()
	var before benchStatus // nothing there yet when rag status fails
	cmd := exec.Command(b.bin, append(target, "status", "--json")...)
	cmd.Env = b.env
	if out, err := cmd.Output(); err == nil {
		if err := json.Unmarshal(out, &before); err != nil {
			b.t.Fatalf("status: %v: %s", err, out)
		}
	}
	_, took, rss := b.run("ingest-"+name, 3*time.Hour, append(target, "ingest", "--quiet", corpus)...)
	after := b.status(target...)
	added := after.Chunks - before.Chunks
	resumed := ""
	if before.Chunks > 0 {
		resumed = fmt.Sprintf(" (resumed: %d chunks were stored before this run)", before.Chunks)
	}
	b.figure("ingest into %s: %d chunks in %s, %.0f chunks/s, rag peak RSS %d MiB%s",
		name, added, took.Round(time.Second), float64(added)/took.Seconds(), rss, resumed)
}

// percentiles are p50 and p99 by nearest rank.
func percentiles(d []time.Duration) (p50, p99 time.Duration) {
	s := slices.Clone(d)
	slices.Sort(s)
	at := func(p float64) time.Duration {
		i := int(p*float64(len(s))+0.999999) - 1
		return s[max(0, min(len(s)-1, i))]
	}
	return at(.50), at(.99)
}

// oneShot times one rag search process per query.
func (b *bench) oneShot(name string, queries []string, target ...string) {
	b.t.Helper()
	b.run("search-"+name, 5*time.Minute, append(target, "search", "--json", "-k", "10", queries[0])...) // warm the page cache
	var lat []time.Duration
	var rss int64
	for _, q := range queries {
		_, took, r := b.run("search-"+name, 5*time.Minute, append(target, "search", "--json", "-k", "10", q)...)
		lat = append(lat, took)
		rss = max(rss, r)
	}
	p50, p99 := percentiles(lat)
	b.figure("one-shot rag search (hybrid, k 10) against %s: p50 %s, p99 %s over %d queries, a process each (peak RSS %d MiB)",
		name, p50.Round(time.Millisecond), p99.Round(time.Millisecond), len(lat), rss)
}

// served times /v1/search of one rag serve process.
func (b *bench) served(name string, queries []string, target ...string) {
	b.t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	cmd := exec.CommandContext(ctx, b.bin, append(target, "serve", "--addr", "127.0.0.1:0")...)
	cmd.Env = b.env
	stderr, err := cmd.StderrPipe()
	if err != nil {
		b.t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		b.t.Fatal(err)
	}
	defer func() {
		cmd.Process.Signal(syscall.SIGTERM)
		cmd.Wait()
	}()
	_, base := serving(stderr)
	if base == "" {
		b.t.Fatalf("rag serve of %s never said where it listens", name)
	}
	search := func(q string) time.Duration {
		body, _ := json.Marshal(map[string]any{"query": q, "k": 10})
		start := time.Now()
		resp, err := http.Post(base+"/v1/search", "application/json", strings.NewReader(string(body)))
		if err != nil {
			b.t.Fatal(err)
		}
		out, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		took := time.Since(start)
		if resp.StatusCode != 200 || !strings.Contains(string(out), `"results"`) {
			b.t.Fatalf("/v1/search of %s: %d %s", name, resp.StatusCode, out)
		}
		return took
	}
	search(queries[0]) // the first loads the index
	var lat []time.Duration
	for _, q := range queries {
		lat = append(lat, search(q))
	}
	p50, p99 := percentiles(lat)
	b.figure("rag serve /v1/search (hybrid, k 10) against %s: p50 %s, p99 %s over %d queries",
		name, p50.Round(time.Millisecond), p99.Round(time.Millisecond), len(lat))
}

// TestMillionBenchmark takes the figures at $RAG_BENCH_CHUNKS
// chunks (a multiple of 16; 1000000 for the issue's): rag ingest of a
// generated corpus into the three-node cluster (replication 3, QUORUM, rag
// talking to node0 over REST and gRPC) and into the local index, with the
// in-process fake Ollama answering at once (chunks/s and the peak RSS of
// the rag process); rag search p50/p99 against both, a process per query
// and through rag serve; and recall@10 of Weaviate's HNSW against the local
// index's exact vector search for the same query vectors. It runs the real
// rag binary (built into the folder) and asserts only that both stores
// hold exactly the corpus's files and chunks.
//
// $RAG_BENCH_DIR keeps the corpus, the local index, the cluster's data and
// figures.txt across runs (a temporary folder when unset; never inside the
// repository): a run that was interrupted continues, since rag ingest is
// incremental, and says so beside its figures. It takes disk: 14.7 GB at
// 1M chunks (the cluster's three copies 12 GB, the local index 2.2 GB),
// and about 70 minutes on 2 cores.
// Run (make bench-weaviate):
//
//	RAG_TEST_WEAVIATE=1 RAG_BENCH_CHUNKS=1000000 RAG_BENCH_DIR=/tmp/rag-bench \
//	  go test -run TestMillionBenchmark -v -timeout 5h ./internal/weaviatecli
func TestMillionBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RAG_BENCH_CHUNKS"))
	if n <= 0 {
		t.Skip("set RAG_BENCH_CHUNKS=N (a multiple of 16) and RAG_BENCH_DIR to run the million-chunk benchmark")
	}
	if n%chunksPerFile != 0 {
		t.Fatalf("RAG_BENCH_CHUNKS=%d is not a multiple of %d", n, chunksPerFile)
	}
	dir := os.Getenv("RAG_BENCH_DIR")
	if dir == "" {
		dir = t.TempDir()
	}
	dir, _ = filepath.Abs(dir)
	if repo, _ := filepath.Abs("../.."); strings.HasPrefix(dir+"/", repo+"/") {
		t.Fatalf("RAG_BENCH_DIR %s is inside the repository: the benchmark's data must stay out of it", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := ragBinaryIn(t, dir)
	figures, err := os.OpenFile(filepath.Join(dir, "figures.txt"), os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer figures.Close()
	fmt.Fprintf(figures, "== %s: %d chunks\n", time.Now().UTC().Format(time.DateTime), n)

	corpus := filepath.Join(dir, "corpus")
	start := time.Now()
	writeCorpus(t, corpus, n/chunksPerFile)
	t.Logf("corpus of %d files ready in %s", n/chunksPerFile, time.Since(start).Round(time.Second))

	srv := ollamatest.New(t, ollamatest.Model{Name: "all-minilm", Embedding: true, Dim: 384, ContextLength: 512})
	c := weaviatetest.StartCluster(t, 3, weaviatetest.Options{Dir: filepath.Join(dir, "cluster")})
	home := filepath.Join(dir, "home")
	b := &bench{t: t, dir: dir, bin: bin, figures: figures, env: []string{
		"HOME=" + home, "XDG_DATA_HOME=" + filepath.Join(home, ".local", "share"), "XDG_CONFIG_HOME=" + filepath.Join(home, ".config"),
		"OLLAMA_HOST=" + srv.URL, "NO_COLOR=1", "PATH=" + os.Getenv("PATH"),
		weaviate.ReplicationEnv + "=3", weaviate.ConsistencyEnv + "=QUORUM",
	}}
	cluster := []string{"--store", c.Node(0).StoreURL("Bench")}
	localIdx := filepath.Join(dir, "local")
	localFlags := []string{"--index", localIdx}

	b.ingest("the 3-node cluster", corpus, cluster...)
	b.ingest("the local index", corpus, localFlags...)
	for _, target := range [][]string{cluster, localFlags} {
		if st := b.status(target...); st.Files != n/chunksPerFile || st.Chunks != n || st.Pending != 0 {
			t.Fatalf("%v holds %+v, want %d files and %d chunks, none pending", target, st, n/chunksPerFile, n)
		}
	}

	vocab := vocabularies()
	var queries []string
	for q := range 100 {
		queries = append(queries, benchQuery(vocab, q))
	}
	b.oneShot("the 3-node cluster", queries[:40], cluster...)
	b.oneShot("the local index", queries[:40], localFlags...)
	b.served("the 3-node cluster", queries, cluster...)
	b.served("the local index", queries, localFlags...)

	// Recall@10 of the cluster's HNSW against the local index's exact
	// scan, for the same query vectors, compared by path and text (the two
	// stores number chunks differently).
	ctx := context.Background()
	loc, err := store.ParseURL(cluster[1])
	if err != nil {
		t.Fatal(err)
	}
	wcfg, err := weaviate.FromLocation(loc)
	if err != nil {
		t.Fatal(err)
	}
	wcfg.Replication, wcfg.Consistency = 3, weaviate.Quorum
	wr, err := weaviate.New(wcfg).OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := local.New(localIdx).OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	names := func(r store.Reader, hits []store.Hit) []string {
		ids := make([]uint64, len(hits))
		for i, h := range hits {
			ids[i] = h.ID
		}
		cs, err := r.Chunks(ctx, ids)
		if err != nil {
			t.Fatal(err)
		}
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Path + "\x00" + c.Text
		}
		return out
	}
	// The fake's vectors are sums of ±1 buckets, so exact scores tie
	// often: a hit scoring as high as the exact 10th is as good an answer
	// as the one the exact scan happened to keep, and counts in the
	// tie-aware recall; the strict one compares names only.
	var found, foundTies, total int
	for _, q := range queries {
		v := ollamatest.Embed(q, 384)
		exact, err := lr.Vector(ctx, v, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		approx, err := wr.Vector(ctx, v, 10, nil)
		if err != nil {
			t.Fatal(err)
		}
		want, got := names(lr, exact), names(wr, approx)
		for i, g := range got {
			switch {
			case slices.Contains(want, g):
				found++
				foundTies++
			case len(exact) > 0 && approx[i].Score >= exact[len(exact)-1].Score-1e-5:
				foundTies++
			}
		}
		total += len(want)
	}
	b.figure("recall@10 of the cluster's HNSW against exact search at %d chunks: %.4f counting ties at the 10th score, %.4f by identity, over %d queries (HNSW %v)",
		n, float64(foundTies)/float64(total), float64(found)/float64(total), len(queries), weaviate.HNSW)
}
