package eval

import (
	"cmp"
	"math"
	"slices"
	"strings"
)

// Metrics are the mean scores of a run over its judged queries. The json
// names are part of `rag eval --json` output and must stay stable.
type Metrics struct {
	Queries   int     `json:"queries"`
	NDCG10    float64 `json:"ndcg@10"`
	Recall10  float64 `json:"recall@10"`
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
}

// PerQuery are one query's scores, with how many documents are judged
// relevant for it and how many were retrieved.
type PerQuery struct {
	ID        string  `json:"id"`
	NDCG10    float64 `json:"ndcg@10"`
	Recall10  float64 `json:"recall@10"`
	Recall100 float64 `json:"recall@100"`
	MRR10     float64 `json:"mrr@10"`
	Relevant  int     `json:"relevant"`
	Retrieved int     `json:"retrieved"`
}

// Score computes the mean metrics over every query in qrels that has at least
// one relevant doc (grade > 0), and each such query's scores, ordered by id
// (numeric ids numerically). A query with no ranking in runs scores zero;
// runs for queries without relevant docs are ignored, as trec_eval does.
//
// The definitions follow trec_eval: nDCG@10 uses the grade as gain and a
// log2(rank+1) discount, with the ideal DCG from the query's judged grades
// (ndcg_cut.10); Recall@k is the relevant docs in the top k over all relevant
// docs; MRR@10 is 1/rank of the first relevant doc in the top 10, else 0.
// A doc repeated in a ranking counts only at its first rank.
func Score(runs map[string]Ranking, qrels Qrels) (Metrics, []PerQuery) {
	var per []PerQuery
	for qid, judged := range qrels {
		if qrels.Relevant(qid) == 0 {
			continue
		}
		per = append(per, scoreQuery(qid, runs[qid], judged))
	}
	slices.SortFunc(per, func(a, b PerQuery) int { return compareIDs(a.ID, b.ID) })
	var m Metrics
	for _, p := range per {
		m.NDCG10 += p.NDCG10
		m.Recall10 += p.Recall10
		m.Recall100 += p.Recall100
		m.MRR10 += p.MRR10
	}
	m.Queries = len(per)
	if m.Queries > 0 {
		n := float64(m.Queries)
		m.NDCG10 /= n
		m.Recall10 /= n
		m.Recall100 /= n
		m.MRR10 /= n
	}
	return m, per
}

// scoreQuery scores one ranking against one query's judgments, which hold at
// least one relevant doc.
func scoreQuery(qid string, ranking Ranking, judged map[string]int) PerQuery {
	p := PerQuery{ID: qid}
	var grades []int
	for _, g := range judged {
		if g > 0 {
			grades = append(grades, g)
		}
	}
	p.Relevant = len(grades)
	slices.SortFunc(grades, func(a, b int) int { return cmp.Compare(b, a) })
	var idcg float64
	for i, g := range grades[:min(10, len(grades))] {
		idcg += float64(g) / math.Log2(float64(i+2))
	}

	seen := make(map[string]bool, len(ranking))
	var dcg float64
	var hits10, hits100 int
	rank := 0
	for _, id := range ranking {
		if seen[id] {
			continue
		}
		seen[id] = true
		rank++
		g := judged[id]
		if g <= 0 {
			continue
		}
		if rank <= 10 {
			dcg += float64(g) / math.Log2(float64(rank+1))
			hits10++
			if p.MRR10 == 0 {
				p.MRR10 = 1 / float64(rank)
			}
		}
		if rank <= 100 {
			hits100++
		}
	}
	p.Retrieved = rank
	p.NDCG10 = dcg / idcg
	p.Recall10 = float64(hits10) / float64(p.Relevant)
	p.Recall100 = float64(hits100) / float64(p.Relevant)
	return p
}

// compareIDs orders query ids naturally: runs of digits compare as numbers,
// so "2" < "10" and "q2" < "q10"; ties fall back to plain string order.
func compareIDs(a, b string) int {
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		if isDigit(a[i]) && isDigit(b[j]) {
			si, sj := i, j
			for i < len(a) && isDigit(a[i]) {
				i++
			}
			for j < len(b) && isDigit(b[j]) {
				j++
			}
			x := strings.TrimLeft(a[si:i], "0")
			y := strings.TrimLeft(b[sj:j], "0")
			if c := cmp.Compare(len(x), len(y)); c != 0 {
				return c
			}
			if c := cmp.Compare(x, y); c != 0 {
				return c
			}
			continue
		}
		if c := cmp.Compare(a[i], b[j]); c != 0 {
			return c
		}
		i++
		j++
	}
	if c := cmp.Compare(len(a)-i, len(b)-j); c != 0 {
		return c
	}
	return cmp.Compare(a, b)
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }
