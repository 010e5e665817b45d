package audit_test

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"
	"time"

	"github.com/ragcli/rag/internal/audit"
	"github.com/ragcli/rag/internal/index"
)

// memSource is a Source over files held in memory, given in path order.
type memSource struct {
	files  []index.File
	chunks map[string][]index.Chunk
}

func (m memSource) EachFile(_ context.Context, fn func(index.File, []index.Chunk) error) error {
	for _, f := range m.files {
		if err := fn(f, m.chunks[f.Path]); err != nil {
			return err
		}
	}
	return nil
}

func (m memSource) Chunks(_ context.Context, ids []uint64) ([]index.Chunk, error) {
	var out []index.Chunk
	for _, id := range ids {
		for _, cs := range m.chunks {
			for _, c := range cs {
				if c.ID == id {
					out = append(out, c)
				}
			}
		}
	}
	return out, nil
}

// twins is files that all say the same with another version each: every
// pair is a possible contradiction, and each file but the newest is stale
// for several reasons, one per newer twin.
func twins(n int, idBase uint64) memSource {
	m := memSource{chunks: map[string][]index.Chunk{}}
	for i := range n {
		p := fmt.Sprintf("/docs/release-%02d.md", i)
		m.files = append(m.files, index.File{Path: p, Size: 100, ModTime: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano(), Hash: fmt.Sprint(i)})
		m.chunks[p] = []index.Chunk{{ID: idBase + uint64(n-i), Path: p, StartLine: 1, EndLine: 3,
			Text: fmt.Sprintf("Release notes. The current release of the agent is v2.%d.0, published with signed packages for every platform we support.", i)}}
	}
	return m
}

// TestReportDoesNotDependOnOrderOrIDs: the same files give the same report
// run after run (the LSH index answers in map order) and whatever ids the
// store gave their chunks (they differ between stores).
func TestReportDoesNotDependOnOrderOrIDs(t *testing.T) {
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	report := func(src audit.Source) string {
		rep, err := audit.Run(context.Background(), src, audit.Options{Now: now})
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(rep)
		return string(b)
	}
	want := report(twins(8, 0))
	var rep audit.Report
	json.Unmarshal([]byte(want), &rep)
	if len(rep.Contradictions) != 28 || len(rep.Stale) != 7 || len(rep.Stale[0].Reasons) != 7 {
		t.Fatalf("the planted twins: %d contradictions, %d stale (%v); want 28 pairs, 7 stale files, the oldest for 7 reasons", len(rep.Contradictions), len(rep.Stale), rep.Stale)
	}
	for i := range 20 {
		if got := report(twins(8, uint64(1000*i))); got != want {
			t.Fatalf("run %d gave another report:\n%s\nwant:\n%s", i, got, want)
		}
	}
}
