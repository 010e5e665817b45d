package eval

import (
	"fmt"
	"math"
	"reflect"
	"testing"
)

func near(a, b float64) bool { return math.Abs(a-b) < 1e-12 }

// filler returns n ids that no qrels judge.
func filler(n int) []string {
	s := make([]string, n)
	for i := range s {
		s[i] = fmt.Sprintf("x%d", i)
	}
	return s
}

// at returns a ranking of length n with the given ids at 1-based ranks.
func at(n int, ids map[int]string) Ranking {
	r := Ranking(filler(n))
	for rank, id := range ids {
		r[rank-1] = id
	}
	return r
}

func TestScoreQuery(t *testing.T) {
	tests := []struct {
		name    string
		ranking Ranking
		judged  map[string]int
		want    PerQuery
	}{
		{
			name:    "perfect ranking",
			ranking: Ranking{"d1", "d2"},
			judged:  map[string]int{"d1": 1, "d2": 1},
			want:    PerQuery{NDCG10: 1, Recall10: 1, Recall100: 1, MRR10: 1, Relevant: 2, Retrieved: 2},
		},
		{
			name:    "single relevant at rank 2",
			ranking: Ranking{"x", "d1", "y"},
			judged:  map[string]int{"d1": 1},
			// DCG = 1/log2(3), ideal DCG = 1/log2(2) = 1.
			want: PerQuery{NDCG10: 1 / math.Log2(3), Recall10: 1, Recall100: 1, MRR10: 0.5, Relevant: 1, Retrieved: 3},
		},
		{
			name:    "graded",
			ranking: Ranking{"c", "x", "a", "b"},
			judged:  map[string]int{"a": 3, "b": 2, "c": 1, "n": 0},
			// DCG = 1/log2(2) + 0 + 3/log2(4) + 2/log2(5) = 1 + 1.5 + 0.8613531 = 3.3613531
			// ideal: a, b, c: 3/log2(2) + 2/log2(3) + 1/log2(4) = 3 + 1.2618595 + 0.5 = 4.7618595
			// nDCG = 0.7058899
			want: PerQuery{NDCG10: (1 + 1.5 + 2/math.Log2(5)) / (3 + 2/math.Log2(3) + 0.5),
				Recall10: 1, Recall100: 1, MRR10: 1, Relevant: 3, Retrieved: 4},
		},
		{
			name:    "recall at 10 and 100",
			ranking: at(60, map[int]string{3: "a", 7: "b", 50: "c"}),
			judged:  map[string]int{"a": 1, "b": 1, "c": 1, "d": 1},
			// DCG = 1/log2(4) + 1/log2(8) = 0.5 + 1/3; ideal = 1 + 1/log2(3) + 0.5 + 1/log2(5).
			want: PerQuery{NDCG10: (0.5 + 1.0/3) / (1 + 1/math.Log2(3) + 0.5 + 1/math.Log2(5)),
				Recall10: 0.5, Recall100: 0.75, MRR10: 1.0 / 3, Relevant: 4, Retrieved: 60},
		},
		{
			name:    "first relevant at rank 11",
			ranking: at(11, map[int]string{11: "a"}),
			judged:  map[string]int{"a": 2},
			want:    PerQuery{Recall100: 1, Relevant: 1, Retrieved: 11},
		},
		{
			name:    "relevant beyond 100",
			ranking: at(101, map[int]string{101: "a"}),
			judged:  map[string]int{"a": 1},
			want:    PerQuery{Relevant: 1, Retrieved: 101},
		},
		{
			name:    "no ranking",
			ranking: nil,
			judged:  map[string]int{"a": 1, "b": 0},
			want:    PerQuery{Relevant: 1},
		},
		{
			name:    "judged non-relevant gives no gain",
			ranking: Ranking{"n", "a"},
			judged:  map[string]int{"a": 1, "n": 0},
			want:    PerQuery{NDCG10: 1 / math.Log2(3), Recall10: 1, Recall100: 1, MRR10: 0.5, Relevant: 1, Retrieved: 2},
		},
		{
			name:    "duplicate counts at first rank only",
			ranking: Ranking{"x", "x", "a", "a"},
			judged:  map[string]int{"a": 1},
			want:    PerQuery{NDCG10: 1 / math.Log2(3), Recall10: 1, Recall100: 1, MRR10: 0.5, Relevant: 1, Retrieved: 2},
		},
		{
			name:    "ideal DCG cut at 10",
			ranking: Ranking(filler(12)),
			judged: func() map[string]int {
				m := map[string]int{}
				for _, id := range filler(12) {
					m[id] = 1
				}
				return m
			}(),
			want: PerQuery{NDCG10: 1, Recall10: 10.0 / 12, Recall100: 1, MRR10: 1, Relevant: 12, Retrieved: 12},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := scoreQuery("q", tt.ranking, tt.judged)
			tt.want.ID = "q"
			if got.Relevant != tt.want.Relevant || got.Retrieved != tt.want.Retrieved ||
				!near(got.NDCG10, tt.want.NDCG10) || !near(got.Recall10, tt.want.Recall10) ||
				!near(got.Recall100, tt.want.Recall100) || !near(got.MRR10, tt.want.MRR10) {
				t.Errorf("got  %+v\nwant %+v", got, tt.want)
			}
		})
	}
}

func TestScoreGradedByHand(t *testing.T) {
	got := scoreQuery("q", Ranking{"c", "x", "a", "b"}, map[string]int{"a": 3, "b": 2, "c": 1})
	if math.Abs(got.NDCG10-0.7058899) > 1e-6 {
		t.Errorf("nDCG@10 = %.7f, want 0.7058899", got.NDCG10)
	}
}

func TestScoreMeans(t *testing.T) {
	qrels := Qrels{
		"2":    {"a": 1},
		"10":   {"b": 1},
		"1":    {"z": 0}, // no relevant doc: not scored
		"q1":   {"c": 1},
		"none": {},
	}
	runs := map[string]Ranking{
		"2":     {"a"},
		"q1":    {"x", "c"},
		"1":     {"z"},
		"other": {"a"},
		// "10" has no ranking: zeros.
	}
	m, per := Score(runs, qrels)
	want := Metrics{
		Queries:   3,
		NDCG10:    (1 + 0 + 1/math.Log2(3)) / 3,
		Recall10:  2.0 / 3,
		Recall100: 2.0 / 3,
		MRR10:     (1 + 0 + 0.5) / 3,
	}
	if m.Queries != want.Queries || !near(m.NDCG10, want.NDCG10) || !near(m.Recall10, want.Recall10) ||
		!near(m.Recall100, want.Recall100) || !near(m.MRR10, want.MRR10) {
		t.Errorf("Score = %+v, want %+v", m, want)
	}
	var ids []string
	for _, p := range per {
		ids = append(ids, p.ID)
	}
	if !reflect.DeepEqual(ids, []string{"2", "10", "q1"}) {
		t.Errorf("per-query order = %q, want [2 10 q1]", ids)
	}
}

func TestScoreEmpty(t *testing.T) {
	m, per := Score(nil, nil)
	if m != (Metrics{}) || len(per) != 0 {
		t.Errorf("Score(nil, nil) = %+v, %v; want zeros", m, per)
	}
}

func TestCompareIDs(t *testing.T) {
	tests := []struct {
		a, b string
		want int
	}{
		{"2", "10", -1},
		{"10", "2", 1},
		{"q2", "q10", -1},
		{"007", "7", -1}, // same number: plain order breaks the tie
		{"a", "b", -1},
		{"1", "a", -1},
		{"q1", "q1", 0},
		{"q1x", "q1", 1},
	}
	for _, tt := range tests {
		if got := compareIDs(tt.a, tt.b); got != tt.want {
			t.Errorf("compareIDs(%q, %q) = %d, want %d", tt.a, tt.b, got, tt.want)
		}
	}
}
