//go:build unix

package weaviate

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/lexical"
	"github.com/ragcli/rag/internal/retry"
	"github.com/ragcli/rag/internal/store"
	"github.com/ragcli/rag/internal/store/local"
	"github.com/ragcli/rag/internal/storetest"
	"github.com/ragcli/rag/internal/weaviatetest"
)

// benchDim is the benchmark's vector dimension, all-minilm's.
const benchDim = 384

// benchBatches makes n chunks as batches of 64 files x 16 chunks, with
// vectors drawn around 256 random centres (as embeddings of related texts
// cluster), deterministic. queries are vectors drawn the same way.
func benchBatches(n int) (batches []*store.Batch, queries [][]float32) {
	rng := rand.New(rand.NewPCG(1, 2))
	centres := make([][]float32, 256)
	for i := range centres {
		centres[i] = make([]float32, benchDim)
		for d := range centres[i] {
			centres[i][d] = float32(rng.NormFloat64())
		}
	}
	draw := func() []float32 {
		c := centres[rng.IntN(len(centres))]
		v := make([]float32, benchDim)
		for d := range v {
			v[d] = c[d] + 0.6*float32(rng.NormFloat64())
		}
		return v
	}
	const perFile, filesPerBatch = 16, 64
	file := 0
	for made := 0; made < n; {
		b := &store.Batch{}
		for f := 0; f < filesPerBatch && made < n; f++ {
			path := fmt.Sprintf("/bench/d%03d/f%06d.md", file%1000, file)
			p := store.Put{File: store.File{Path: path, Size: int64(file), ModTime: int64(file), Hash: strconv.Itoa(file), Title: "T"}}
			for j := 0; j < perFile && made < n; j++ {
				text := fmt.Sprintf("file %d chunk %d %s %s", file, j, words[rng.IntN(len(words))], words[rng.IntN(len(words))])
				p.Chunks = append(p.Chunks, store.Chunk{Title: "T", Text: text, Terms: lexical.ChunkTerms(nil, text), Key: []byte(text)})
				p.Vectors = append(p.Vectors, draw())
				made++
			}
			b.Puts = append(b.Puts, p)
			file++
		}
		batches = append(batches, b)
	}
	for range 100 {
		queries = append(queries, draw())
	}
	return batches, queries
}

func percentile(d []time.Duration, p float64) time.Duration {
	s := slices.Clone(d)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	return s[min(len(s)-1, int(p*float64(len(s))))]
}

// benchMode is one way of writing into Weaviate: the transport of the
// batches and how many are in flight.
type benchMode struct {
	grpc     bool
	parallel int
}

func (m benchMode) String() string {
	t := "rest"
	if m.grpc {
		t = "grpc"
	}
	return fmt.Sprintf("%s/%d", t, m.parallel)
}

// benchModes parses $RAG_WEAVIATE_BENCH_MODES, "grpc/4,rest/1"...; the
// default is the store's default way of writing, gRPC with DefaultParallel
// batches in flight.
func benchModes(t *testing.T) []benchMode {
	v := os.Getenv("RAG_WEAVIATE_BENCH_MODES")
	if v == "" {
		return []benchMode{{grpc: true, parallel: DefaultParallel}}
	}
	var out []benchMode
	for _, f := range strings.Split(v, ",") {
		tr, par, ok := strings.Cut(strings.TrimSpace(f), "/")
		n, err := strconv.Atoi(par)
		if !ok || err != nil || n < 1 || tr != "grpc" && tr != "rest" {
			t.Fatalf("RAG_WEAVIATE_BENCH_MODES: %q is not grpc/N or rest/N", f)
		}
		out = append(out, benchMode{grpc: tr == "grpc", parallel: n})
	}
	return out
}

// TestClusterBenchmark measures, at $RAG_WEAVIATE_BENCH chunks (384
// dimensions): commit throughput into the three-node cluster (replication
// 3, QUORUM; vectors given, as from an embedder answering at once), once
// per write mode of $RAG_WEAVIATE_BENCH_MODES (each into its own
// collection, side by side in one run), and into the local index; then
// vector search p50/p99 against the cluster (the first mode's collection)
// and against the local index at the same size (in-process, warm), and
// recall@10 of Weaviate's HNSW against the local index's exact search. A
// benchmark, not a test: it asserts nothing about times. Run:
// RAG_TEST_WEAVIATE=1 RAG_WEAVIATE_BENCH=20000
// RAG_WEAVIATE_BENCH_MODES=rest/1,grpc/1,grpc/4 go test -run
// TestClusterBenchmark -v -timeout 60m ./internal/weaviate
func TestClusterBenchmark(t *testing.T) {
	n, _ := strconv.Atoi(os.Getenv("RAG_WEAVIATE_BENCH"))
	if n <= 0 {
		t.Skip("set RAG_WEAVIATE_BENCH=N (chunks) to run the cluster benchmark")
	}
	ctx := context.Background()
	modes := benchModes(t)
	batches, queries := benchBatches(n)
	// Each mode writes into a cluster of its own, started just before and
	// killed after, so no mode pays for the background work (flushes,
	// compactions, async replication) of another's collections. The last
	// mode's cluster answers the searches.
	var ws *Store
	commit := func(name string, s store.Store) {
		w, err := s.OpenWriter(ctx, storetest.Settings(), time.Minute)
		if err != nil {
			t.Fatal(err)
		}
		var ru0, ru1 syscall.Rusage
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
		start := time.Now()
		for _, b := range batches {
			if err := w.Commit(ctx, b); err != nil {
				t.Fatalf("%s: commit: %v", name, err)
			}
		}
		took := time.Since(start)
		syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
		cpu := time.Duration(ru1.Utime.Nano() + ru1.Stime.Nano() - ru0.Utime.Nano() - ru0.Stime.Nano())
		w.Close()
		var after runtime.MemStats
		runtime.ReadMemStats(&after)
		load, _ := os.ReadFile("/proc/loadavg")
		t.Logf("FIGURE commit of %d chunks into %s: %s, %.0f chunks/s, %.1f s of the writing process's CPU (heap in use after: %d MiB; load average %s)",
			n, name, took.Round(time.Second), float64(n)/took.Seconds(), cpu.Seconds(), after.HeapInuse>>20, strings.Join(strings.Fields(string(load))[:3], " "))
	}
	for i, m := range modes {
		c := weaviatetest.StartCluster(t, 3, weaviatetest.Options{Env: clusterEnv})
		cfg := Config{Host: c.Node(0).HTTPAddr, Base: "Bench", Replication: 3, Consistency: Quorum,
			Retry: retry.Policy{Budget: 2 * time.Minute}, Timeout: 5 * time.Minute, Parallel: m.parallel}
		if m.grpc {
			cfg.GRPCHost, cfg.GRPCRequired = c.Node(0).GRPCAddr, true
		}
		ws = New(cfg)
		commit("weaviate 3 nodes, "+m.String(), ws)
		wc, err := ws.Client(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if tr, why := wc.Transport(); tr != map[bool]string{true: TransportGRPC, false: TransportREST}[m.grpc] {
			t.Fatalf("%s wrote over %s (%s)", m, tr, why)
		}
		if i < len(modes)-1 {
			for j := range c.Nodes {
				c.Kill(j)
			}
		}
	}
	ls := local.New(filepath.Join(t.TempDir(), "index"))
	commit("local index", ls)

	wr, err := ws.OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	lr, err := ls.OpenReader(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer lr.Close()
	// The two stores number chunks differently (the local index 1, 2, 3...;
	// Weaviate by content), so hits are compared by path and text.
	names := func(r store.Reader, hits []store.Hit) []string {
		cs := hitChunks(t, r, hits) // eval_test.go
		out := make([]string, len(cs))
		for i, c := range cs {
			out[i] = c.Path + "\x00" + c.Text
		}
		return out
	}
	var exact [][]string
	for _, st := range []struct {
		name string
		r    store.Reader
	}{{"local index (exact)", lr}, {"weaviate 3 nodes (HNSW)", wr}} {
		st.r.Vector(ctx, queries[0], 10, nil) // warm
		var lat []time.Duration
		var got [][]string
		for _, q := range queries {
			start := time.Now()
			hits, err := st.r.Vector(ctx, q, 10, nil)
			lat = append(lat, time.Since(start))
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			got = append(got, names(st.r, hits))
		}
		t.Logf("FIGURE vector search k=10 at %d chunks, %s: p50 %s, p99 %s (%d queries, in-process)",
			n, st.name, percentile(lat, .5).Round(100*time.Microsecond), percentile(lat, .99).Round(100*time.Microsecond), len(queries))
		if exact == nil {
			exact = got
			continue
		}
		var found, total int
		for i := range got {
			for _, name := range got[i] {
				if slices.Contains(exact[i], name) {
					found++
				}
			}
			total += len(exact[i])
		}
		t.Logf("FIGURE recall@10 of Weaviate's HNSW against exact search at %d chunks: %.4f (settings %v)", n, float64(found)/float64(total), HNSW)
	}
}
