package lexical

import (
	"bufio"
	"compress/gzip"
	"database/sql"
	"encoding/json"
	"math"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"
	"unicode"

	"github.com/ragcli/rag/internal/shareddata"
)

// The SciFact evaluation (BEIR layout) measures retrieval quality and speed of
// the analysis with modernc.org/sqlite FTS5 and bm25(). It is slow and needs
// the data, so it runs only with RAG_LEXICAL_EVAL=1:
//
//	RAG_LEXICAL_EVAL=1 go test -run TestSciFact -v ./internal/lexical/                  # train split, every variant
//	RAG_LEXICAL_EVAL=1 RAG_LEXICAL_SPLIT=test go test -run TestSciFact -v ./internal/lexical/  # test split, final settings only
//
// RAG_SCIFACT overrides the data folder (default scifact in the shared data,
// found by internal/shareddata).

type scifact struct {
	ids     []string // corpus ids; rowid = index+1
	docs    []string // title + " " + text
	queries map[string]string
	qrels   map[string]map[string]bool // query id -> relevant doc ids
}

func loadSciFact(t *testing.T, dir, split string) *scifact {
	t.Helper()
	s := &scifact{queries: map[string]string{}, qrels: map[string]map[string]bool{}}
	f, err := os.Open(filepath.Join(dir, "corpus.jsonl.gz"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	zr, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	sc := bufio.NewScanner(zr)
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		var d struct{ ID, Title, Text string }
		var raw map[string]any
		if err := json.Unmarshal(sc.Bytes(), &raw); err != nil {
			t.Fatal(err)
		}
		d.ID, _ = raw["_id"].(string)
		d.Title, _ = raw["title"].(string)
		d.Text, _ = raw["text"].(string)
		s.ids = append(s.ids, d.ID)
		s.docs = append(s.docs, d.Title+" "+d.Text)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	qb, err := os.ReadFile(filepath.Join(dir, "queries.jsonl"))
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(string(qb), "\n") {
		if strings.TrimSpace(line) == "" {
			continue
		}
		var raw map[string]any
		if err := json.Unmarshal([]byte(line), &raw); err != nil {
			t.Fatal(err)
		}
		id, _ := raw["_id"].(string)
		text, _ := raw["text"].(string)
		s.queries[id] = text
	}
	rb, err := os.ReadFile(filepath.Join(dir, "qrels", split+".tsv"))
	if err != nil {
		t.Fatal(err)
	}
	for i, line := range strings.Split(string(rb), "\n") {
		f := strings.Split(strings.TrimRight(line, "\r"), "\t")
		if i == 0 || len(f) < 3 || f[2] == "0" {
			continue
		}
		if s.qrels[f[0]] == nil {
			s.qrels[f[0]] = map[string]bool{}
		}
		s.qrels[f[0]][f[1]] = true
	}
	return s
}

// variant is one way of analysing and indexing.
type variant struct {
	name     string
	tokenize string
	doc      func(string) string
	query    func(string) string
}

func analysed(name string, o options, tokenize string) variant {
	return variant{name: name, tokenize: tokenize,
		doc:   func(s string) string { return strings.Join(o.terms(s), " ") },
		query: o.query}
}

// rawQuery is the reference: words of the raw claim, quoted and OR-ed, for a
// table that does all analysis in its own tokenizer.
func rawQuery(s string) string {
	words := strings.FieldsFunc(strings.ToLower(s), func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) })
	slices.Sort(words)
	words = slices.Compact(words)
	for i, w := range words {
		words[i] = `"` + w + `"`
	}
	return strings.Join(words, " OR ")
}

type result struct {
	ndcg10, recall100 float64
	docsPerSec        float64
	medianQ, p95Q     time.Duration
	indexTime         time.Duration
}

func runVariant(t *testing.T, s *scifact, v variant) result {
	db := newFTS(t, v.tokenize)
	start := time.Now()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	ins, err := tx.Prepare(`INSERT INTO t(rowid, body) VALUES (?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i, d := range s.docs {
		if _, err := ins.Exec(i+1, v.doc(d)); err != nil {
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	var r result
	r.indexTime = time.Since(start)
	r.docsPerSec = float64(len(s.docs)) / r.indexTime.Seconds()

	sel, err := db.Prepare(`SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 100`)
	if err != nil {
		t.Fatal(err)
	}
	var lat []time.Duration
	var sumN, sumR float64
	for qid, rel := range s.qrels {
		qs := time.Now()
		ranked := search(t, sel, v.query(s.queries[qid]))
		lat = append(lat, time.Since(qs))
		dcg, idcg, hits := 0.0, 0.0, 0
		for i, rowid := range ranked {
			if rel[s.ids[rowid-1]] {
				hits++
				if i < 10 {
					dcg += 1 / math.Log2(float64(i+2))
				}
			}
		}
		for i := 0; i < min(len(rel), 10); i++ {
			idcg += 1 / math.Log2(float64(i+2))
		}
		sumN += dcg / idcg
		sumR += float64(hits) / float64(len(rel))
	}
	n := float64(len(s.qrels))
	r.ndcg10, r.recall100 = sumN/n, sumR/n
	slices.Sort(lat)
	r.medianQ, r.p95Q = lat[len(lat)/2], lat[len(lat)*95/100]
	return r
}

func search(t *testing.T, sel *sql.Stmt, expr string) []int {
	if expr == "" {
		return nil
	}
	rows, err := sel.Query(expr)
	if err != nil {
		t.Fatalf("query %q: %v", expr, err)
	}
	defer rows.Close()
	var out []int
	for rows.Next() {
		var id int
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		out = append(out, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// sciFactFloor is the quality of the final analysis on each split, as
// documented in docs/design.md: a change that lowers it fails.
var sciFactFloor = map[string]struct{ ndcg10, recall100 float64 }{
	"test":  {0.6969, 0.9360},
	"train": {0.7058, 0.9316},
}

// TestSciFact scores the final analysis on SciFact (the test split unless
// RAG_LEXICAL_SPLIT says otherwise) and fails below the documented floor.
// RAG_LEXICAL_EVAL=1 also runs the variants that were compared, on train.
func TestSciFact(t *testing.T) {
	if testing.Short() {
		t.Skip("indexes 5,183 documents")
	}
	dir := os.Getenv("RAG_SCIFACT")
	if dir == "" {
		dir = shareddata.Dir(t, "scifact")
	}
	if _, err := os.Stat(filepath.Join(dir, "corpus.jsonl.gz")); err != nil {
		t.Skipf("SciFact data not found in %s", dir)
	}
	split := os.Getenv("RAG_LEXICAL_SPLIT")
	if split == "" {
		split = "test"
		if os.Getenv("RAG_LEXICAL_EVAL") == "1" {
			split = "train"
		}
	}
	s := loadSciFact(t, dir, split)
	t.Logf("%s split: %d docs, %d queries judged", split, len(s.docs), len(s.qrels))

	variants := []variant{analysed("final (defaults)", defaults, Tokenizer)}
	if split != "test" && os.Getenv("RAG_LEXICAL_EVAL") == "1" {
		with := func(f func(*options)) options { o := defaults; f(&o); return o }
		variants = append(variants,
			variant{name: "reference: raw text, fts5 porter unicode61", tokenize: "porter unicode61", doc: func(s string) string { return s }, query: rawQuery},
			analysed("stopwords kept", with(func(o *options) { o.stopwords = false }), Tokenizer),
			analysed("porter (fts5 wrapper) instead of snowball", with(func(o *options) { o.stem = stemNone }), "porter "+Tokenizer),
			analysed("no stemming", with(func(o *options) { o.stem = stemNone }), Tokenizer),
			analysed("compounds: parts only", with(func(o *options) { o.compounds = false }), Tokenizer),
			analysed("hyphen joins compounds", with(func(o *options) { o.hyphen = true }), Tokenizer),
			analysed("letters/digits not split", with(func(o *options) { o.splitAlnum = false }), Tokenizer),
			analysed("hyphen joins, l/d not split", with(func(o *options) { o.hyphen = true; o.splitAlnum = false }), Tokenizer),
		)
	}
	for i, v := range variants {
		r := runVariant(t, s, v)
		if f, ok := sciFactFloor[split]; ok && i == 0 && (r.ndcg10 < f.ndcg10-0.0005 || r.recall100 < f.recall100-0.0005) {
			t.Errorf("%s split: nDCG@10 %.4f, R@100 %.4f; below the documented %.4f / %.4f", split, r.ndcg10, r.recall100, f.ndcg10, f.recall100)
		}
		t.Logf("%-45s nDCG@10 %.4f  R@100 %.4f  index %v (%.0f docs/s)  query median %v p95 %v",
			v.name, r.ndcg10, r.recall100, r.indexTime.Round(time.Millisecond), r.docsPerSec, r.medianQ.Round(time.Microsecond), r.p95Q.Round(time.Microsecond))
	}
}
