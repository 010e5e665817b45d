package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ragcli/rag/internal/indexbench"
	"github.com/ragcli/rag/internal/ollamatest"
)

var benchLarge = flag.Bool("bench.large", false, "also run the 1M-chunk benchmarks (about 1.6 GB of disk; or RAG_BENCH_LARGE=1)")

func maxRSSMB(r result) float64 {
	if ru, ok := r.state.SysUsage().(*syscall.Rusage); ok {
		return float64(ru.Maxrss) / 1024 // KiB on Linux
	}
	return 0
}

// BenchmarkSearchProcess times a whole `rag search --json -k 10` process
// against an index of N chunks and a fake Ollama without latency, warm cache.
// ns/op is one process run; peak-RSS-MB the largest child's peak resident set.
func BenchmarkSearchProcess(b *testing.B) {
	sizes := []int{10_000, 100_000}
	if *benchLarge || os.Getenv("RAG_BENCH_LARGE") == "1" {
		sizes = append(sizes, 1_000_000)
	}
	srv := ollamatest.New(b, embedModel())
	for _, n := range sizes {
		b.Run(fmt.Sprintf("%dk", n/1000), func(b *testing.B) {
			dir := indexbench.Dir(b, n)
			home := b.TempDir()
			env := ragEnv(b, home, dir, srv.URL)
			args := []string{"search", "--json", "-k", "10", vocabulary[7] + " " + vocabulary[42]}
			run := func() result {
				r := rag(b, env, args...)
				if r.code != 0 {
					b.Fatalf("rag search: %s", r)
				}
				var out struct{ Results []json.RawMessage }
				if err := json.Unmarshal([]byte(r.stdout), &out); err != nil || len(out.Results) != 10 {
					b.Fatalf("rag search printed %d results (%v): %.300s", len(out.Results), err, r.stdout)
				}
				return r
			}
			peak := maxRSSMB(run()) // warm the page cache, untimed
			for b.Loop() {
				peak = max(peak, maxRSSMB(run()))
			}
			raw := float64(n) * float64(8+4*indexbench.Dim) / (1 << 20)
			b.ReportMetric(peak, "peak-RSS-MB")
			b.ReportMetric(raw, "vector-MB")
		})
	}
}

// noopCorpus returns a corpus of 10,000 small files and an index of it, built
// once and kept in os.TempDir()/rag-bench-noop-10000 for later runs.
func noopCorpus(b *testing.B, srv *ollamatest.Server) (corpusDir, indexDir string) {
	b.Helper()
	base := filepath.Join(os.TempDir(), "rag-bench-noop-10000")
	corpusDir, indexDir = filepath.Join(base, "corpus"), filepath.Join(base, "index")
	ready := filepath.Join(base, "ready")
	if _, err := os.Stat(ready); err == nil {
		return corpusDir, indexDir
	}
	os.RemoveAll(base)
	r := rand.New(rand.NewPCG(10_000, 5))
	for i := range 10_000 {
		writeDoc(b, r, corpusDir, fmt.Sprintf("d%03d/doc-%05d", i%100, i), 20+r.IntN(80))
	}
	if res := rag(b, ragEnv(b, b.TempDir(), indexDir, srv.URL), "ingest", corpusDir); res.code != 0 {
		b.Fatalf("first ingest: %s", res)
	}
	if err := os.WriteFile(ready, nil, 0o644); err != nil {
		b.Fatal(err)
	}
	return corpusDir, indexDir
}

// BenchmarkNoopReingest times `rag ingest` of 10,000 files that are all
// already in the index, unchanged: a whole process, walk and stat included.
func BenchmarkNoopReingest(b *testing.B) {
	srv := ollamatest.New(b, embedModel())
	corpusDir, indexDir := noopCorpus(b, srv)
	env := ragEnv(b, b.TempDir(), indexDir, srv.URL)
	run := func() result {
		r := rag(b, env, "ingest", "--json", corpusDir)
		if r.code != 0 {
			b.Fatalf("rag ingest: %s", r)
		}
		var rep struct{ Added, Updated, Removed, Unchanged int }
		if err := json.Unmarshal([]byte(r.stdout), &rep); err != nil || rep.Added+rep.Updated+rep.Removed != 0 || rep.Unchanged != 10_000 {
			b.Fatalf("a no-op ingest did something: %+v (%v): %s", rep, err, strings.TrimSpace(r.stdout))
		}
		return r
	}
	peak := maxRSSMB(run())
	before := srv.Calls("/api/embed")
	for b.Loop() {
		peak = max(peak, maxRSSMB(run()))
	}
	if n := srv.Calls("/api/embed") - before; n != 0 {
		b.Errorf("a no-op ingest made %d embedding requests", n)
	}
	b.ReportMetric(peak, "peak-RSS-MB")
}
