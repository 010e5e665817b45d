package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/ollamatest"
)

var benchLarge = flag.Bool("bench.large", false, "also run the 1M-chunk benchmarks (about 1.6 GB of disk; or RAG_BENCH_LARGE=1)")

const benchDim = 384

func randomUnit(r *rand.Rand, dim int) []float32 {
	v := make([]float32, dim)
	var s float64
	for i := range v {
		x := r.NormFloat64()
		v[i] = float32(x)
		s += x * x
	}
	inv := 1 / math.Sqrt(s)
	for i := range v {
		v[i] = float32(float64(v[i]) * inv)
	}
	return v
}

// benchIndex returns an index of n chunks (files of 10, random unit vectors of
// 384 dimensions, short texts, model all-minilm), built once with the index
// writer and kept in os.TempDir()/rag-bench-N for later runs. internal/index's
// benchmarks build and share the same folders.
func benchIndex(b *testing.B, n int) string {
	b.Helper()
	dir := filepath.Join(os.TempDir(), fmt.Sprintf("rag-bench-%d", n))
	if _, err := os.Stat(filepath.Join(dir, index.DBFile)); err == nil {
		return dir
	}
	tmp, err := os.MkdirTemp(os.TempDir(), fmt.Sprintf("rag-bench-%d-building-", n))
	if err != nil {
		b.Fatal(err)
	}
	defer os.RemoveAll(tmp)
	w, err := index.OpenWriter(context.Background(), tmp, index.Settings{EmbedModel: "all-minilm", DefaultChunkTokens: 256}, 0)
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(uint64(n), 2))
	for f := 0; f < n/10; f += 500 { // 5,000 chunks a commit
		batch := &index.Batch{}
		for i := f; i < min(f+500, n/10); i++ {
			p := index.Put{File: index.File{Path: fmt.Sprintf("/bench/doc-%07d.md", i), Size: 4096, ModTime: int64(i), Hash: fmt.Sprint(i)}}
			for c := range 10 {
				text := words(r, 12)
				p.Chunks = append(p.Chunks, index.Chunk{Title: "doc", StartLine: 10*c + 1, EndLine: 10*c + 9, Text: text, Terms: text})
				p.Vectors = append(p.Vectors, randomUnit(r, benchDim))
			}
			batch.Puts = append(batch.Puts, p)
		}
		if err := w.Commit(batch); err != nil {
			b.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		b.Fatal(err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		if _, err2 := os.Stat(filepath.Join(dir, index.DBFile)); err2 != nil {
			b.Fatal(err)
		}
	}
	return dir
}

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
			dir := benchIndex(b, n)
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
			raw := float64(n) * float64(8+4*benchDim) / (1 << 20)
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
