package retrieve_test

import (
	"context"
	"math/rand/v2"
	"runtime"
	"slices"
	"strconv"
	"testing"
	"time"

	chromem "github.com/philippgille/chromem-go"

	"github.com/ragcli/rag/internal/embed"
	"github.com/ragcli/rag/internal/index"
	"github.com/ragcli/rag/internal/indexbench"
	"github.com/ragcli/rag/internal/retrieve"
)

// fixedEmbedder embeds every text as one fixed unit vector, in no time: the
// benchmarks measure rag's side, not a server.
type fixedEmbedder []float32

func (f fixedEmbedder) Embed(_ context.Context, texts []string) ([][]float32, error) {
	out := make([][]float32, len(texts))
	for i := range out {
		out[i] = f
	}
	return out, nil
}

func (fixedEmbedder) Model() string { return "all-minilm" }

// BenchmarkColdSearch compares what one `rag search` does with an index of
// 200,000 chunks (open the snapshot, load the vectors into chromem-go, run
// both legs side by side, fuse, read the top 10 chunks) with chromem-go's own
// load plus query of the same vectors: read them from the same mapping, add
// them with AddDocuments (one goroutine per core) or one AddDocument call
// each, and QueryEmbedding. Each iteration runs all three, one after the
// other, so a noisy machine slows them alike; the metrics are the medians
// and the ratios of rag to each baseline:
//
//	go test -run XXX -bench ColdSearch -benchtime 5x ./internal/retrieve
func BenchmarkColdSearch(b *testing.B) {
	n := 200_000
	dir := indexbench.Dir(b, n)
	q := fixedEmbedder(indexbench.RandomUnit(rand.New(rand.NewPCG(1, 2)), indexbench.Dim))
	query := indexbench.Words[7] + " " + indexbench.Words[30]
	ragSearch := func(mode retrieve.Mode) {
		s, err := retrieve.Open(context.Background(), dir, retrieve.Options{Embedder: func(string) embed.Embedder { return q }})
		if err != nil {
			b.Fatal(err)
		}
		defer s.Close()
		out, err := s.Search(context.Background(), retrieve.Query{Text: query, K: 10, Mode: mode})
		if err != nil || len(out.Results) != 10 {
			b.Fatalf("%d results, %v", len(out.Results), err)
		}
	}
	chromemSearch := func(concurrent bool) {
		r, err := index.OpenReader(dir)
		if err != nil {
			b.Fatal(err)
		}
		defer r.Close()
		coll, err := chromem.NewDB().CreateCollection("bench", nil, nil)
		if err != nil {
			b.Fatal(err)
		}
		var docs []chromem.Document
		err = r.EachVector(func(id uint64, v []float32) error {
			d := chromem.Document{ID: strconv.FormatUint(id, 10), Embedding: v}
			if concurrent {
				docs = append(docs, d)
				return nil
			}
			return coll.AddDocument(context.Background(), d)
		})
		if err == nil && concurrent {
			err = coll.AddDocuments(context.Background(), docs, runtime.GOMAXPROCS(0))
		}
		if err != nil {
			b.Fatal(err)
		}
		res, err := coll.QueryEmbedding(context.Background(), q, 10, nil, nil)
		if err != nil || len(res) != 10 {
			b.Fatalf("%d results, %v", len(res), err)
		}
	}
	timed := func(f func()) float64 {
		runtime.GC()
		start := time.Now()
		f()
		return float64(time.Since(start).Microseconds()) / 1000
	}
	var ragMS, vecMS, addDocsMS, loopMS []float64
	for b.Loop() {
		ragMS = append(ragMS, timed(func() { ragSearch(retrieve.Hybrid) }))
		vecMS = append(vecMS, timed(func() { ragSearch(retrieve.Vector) }))
		addDocsMS = append(addDocsMS, timed(func() { chromemSearch(true) }))
		loopMS = append(loopMS, timed(func() { chromemSearch(false) }))
	}
	med := func(x []float64) float64 { slices.Sort(x); return x[len(x)/2] }
	r, c, l := med(ragMS), med(addDocsMS), med(loopMS)
	b.ReportMetric(r, "rag-ms")
	b.ReportMetric(med(vecMS), "rag-vector-ms")
	b.ReportMetric(c, "chromem-AddDocuments-ms")
	b.ReportMetric(l, "chromem-AddDocument-loop-ms")
	b.ReportMetric(r/c, "ratio-vs-AddDocuments")
	b.ReportMetric(r/l, "ratio-vs-loop")
}
