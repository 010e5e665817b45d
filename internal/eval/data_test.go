package eval

import (
	"github.com/ragcli/rag/internal/shareddata"
	"math"
	"os"
	"path/filepath"
	"testing"
)

// sharedData returns the folder of a shared benchmark collection, found
// beside the module root (../shared/data from the root), or skips the test.
func sharedData(t *testing.T, name string) string { return shareddata.Dir(t, name) }

func countJudgments(q Qrels) (rows, relevant int) {
	for _, docs := range q {
		for _, g := range docs {
			rows++
			if g > 0 {
				relevant++
			}
		}
	}
	return rows, relevant
}

func TestSciFact(t *testing.T) {
	dir := sharedData(t, "scifact")
	tests := []struct {
		split           string
		queries, judged int
	}{
		{"test", 300, 339},
		{"train", 809, 919},
	}
	for _, tt := range tests {
		t.Run(tt.split, func(t *testing.T) {
			c, err := LoadBEIR(dir, tt.split)
			if err != nil {
				t.Fatal(err)
			}
			if len(c.Docs) != 5183 {
				t.Errorf("docs = %d, want 5183", len(c.Docs))
			}
			if len(c.Queries) != tt.queries || len(c.Qrels) != tt.queries {
				t.Errorf("queries = %d, qrels queries = %d, want %d", len(c.Queries), len(c.Qrels), tt.queries)
			}
			if rows, rel := countJudgments(c.Qrels); rows != tt.judged || rel != tt.judged {
				t.Errorf("judgments = %d (%d relevant), want %d", rows, rel, tt.judged)
			}
			if c.Name != "scifact" {
				t.Errorf("name = %q", c.Name)
			}

			// A perfect run, from the qrels themselves, scores 1 everywhere.
			runs := map[string]Ranking{}
			for qid, docs := range c.Qrels {
				for id := range docs {
					runs[qid] = append(runs[qid], id)
				}
			}
			m, per := Score(runs, c.Qrels)
			if m.Queries != tt.queries || len(per) != tt.queries {
				t.Errorf("scored %d queries, want %d", m.Queries, tt.queries)
			}
			for name, v := range map[string]float64{"nDCG@10": m.NDCG10, "Recall@100": m.Recall100, "MRR@10": m.MRR10} {
				if math.Abs(v-1) > 1e-12 {
					t.Errorf("perfect run %s = %v, want 1", name, v)
				}
			}
		})
	}
}

func TestSciFactWriteCorpus(t *testing.T) {
	if testing.Short() {
		t.Skip("writes 5,183 files")
	}
	c, err := LoadBEIR(sharedData(t, "scifact"), "test")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	docOf, err := WriteCorpus(c, dir)
	if err != nil {
		t.Fatal(err)
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != len(c.Docs) {
		t.Fatalf("wrote %d files for %d docs", len(entries), len(c.Docs))
	}
	d := c.Docs[0]
	if id, ok := docOf(filepath.Join(dir, d.ID+".txt")); !ok || id != d.ID {
		t.Errorf("docOf(%s.txt) = %q, %v", d.ID, id, ok)
	}
}

func TestCranfield(t *testing.T) {
	c, err := LoadCranfield(sharedData(t, "cranfield"))
	if err != nil {
		t.Fatal(err)
	}
	if len(c.Docs) != 1400 || len(c.Queries) != 225 {
		t.Errorf("docs, queries = %d, %d; want 1400, 225", len(c.Docs), len(c.Queries))
	}
	if rows, rel := countJudgments(c.Qrels); rows != 1837 || rel != 1612 {
		t.Errorf("judgments = %d (%d relevant), want 1837 (1612)", rows, rel)
	}
	for _, q := range c.Queries {
		if c.Qrels.Relevant(q.ID) == 0 {
			t.Errorf("query %s has no relevant doc", q.ID)
		}
		if q.Text == "" {
			t.Errorf("query %s is empty", q.ID)
		}
	}
	// Position, not the .I number, names a query: the third query is .I 004.
	if c.Queries[2].ID != "3" || c.Queries[2].Text != "what problems of heat conduction in composite slabs have been solved so far ." {
		t.Errorf("third query = %+v", c.Queries[2])
	}
	first := c.Docs[0]
	if first.ID != "1" || first.Title != "experimental investigation of the aerodynamics of a wing in a slipstream ." {
		t.Errorf("doc 1 = %q / %q", first.ID, first.Title)
	}
	wantStart := "an experimental study of a wing in a propeller slipstream"
	if len(first.Text) < len(wantStart) || first.Text[:len(wantStart)] != wantStart {
		t.Errorf("doc 1 text starts %.80q, want the title dropped", first.Text)
	}
	// Only doc 410, whose abstract proper opens with its title sentence,
	// may still start with the title once the repeat is dropped.
	var titleRepeated []string
	for _, d := range c.Docs {
		if d.Title != "" && len(d.Text) >= len(d.Title) && d.Text[:len(d.Title)] == d.Title {
			titleRepeated = append(titleRepeated, d.ID)
		}
	}
	if len(titleRepeated) != 1 || titleRepeated[0] != "410" {
		t.Errorf("docs still starting with their title: %v, want [410]", titleRepeated)
	}
	for _, id := range []int{471, 995} {
		if d := c.Docs[id-1]; d.Text != "" {
			t.Errorf("doc %d text = %q, want empty", id, d.Text)
		}
	}
	if g := c.Qrels["1"]["184"]; g != 3 {
		t.Errorf("gain of query 1, doc 184 (code 2) = %d, want 3", g)
	}
}
