package lexical

import (
	"database/sql"
	"fmt"
	"slices"
	"strings"
	"testing"
)

func TestTerms(t *testing.T) {
	tests := []struct {
		name string
		text string
		want []string
	}{
		{"empty", "", nil},
		{"only punctuation and space", " \t\n...!?--(){}  ", nil},
		{"only stopwords", "The and of it is", nil},
		{"case folds", "HeLLo WORLD", []string{"hello", "world"}},
		{"stems english", "running dogs connected connections", []string{"run", "dog", "connect", "connect"}},
		{"drops stopwords keeps order and repeats", "the cat and the cat", []string{"cat", "cat"}},
		{"punctuation separates", "Hello, world!!! (test) [x]; \"quoted\"", []string{"hello", "world", "test", "x", "quot"}},
		{"trailing dot is not a joiner", "the end.", []string{"end"}},
		{"apostrophe between letters dropped", "Alzheimer’s patients' don't", []string{"alzheim", "patient", "dont"}},
		{"han bigrams", "東京都", []string{"東京", "京都"}},
		{"hangul bigrams", "한국어", []string{"한국", "국어"}},
		{"han hiragana katakana in one run", "日本語のテキスト", []string{"日本", "本語", "語の", "のテ", "テキ", "キス", "スト"}},
		{"katakana prolonged sound mark", "データ", []string{"デー", "ータ"}},
		{"lone cjk char is a unigram", "中 x文b", []string{"中", "x", "文", "b"}},
		{"mixed scripts split at cjk", "Go言語でRAGを使う", []string{"go", "言語", "語で", "rag", "を使", "使う"}},
		{"snake case identifier", "ERR_CONN_RESET", []string{"err_conn_reset", "err", "conn", "reset"}},
		{"version", "v1.2.3", []string{"v1_2_3", "v", "1", "2", "3"}},
		{"error code", "E1234", []string{"e1234", "e", "1234"}},
		{"dotted name", "os.path.join", []string{"os_path_join", "os", "path", "join"}},
		{"path", "internal/lexical", []string{"internal_lexical", "intern", "lexic"}},
		{"hyphen separates words", "IL-6 long-term", []string{"il", "6", "long", "term"}},
		{"decimal number", "2.5 mg", []string{"2_5", "2", "5", "mg"}},
		{"stopword inside compound", "state_of_the_art", []string{"state_of_the_art", "state", "art"}},
		{"nfkc folds ligatures and fullwidth", "ﬁnal ＡＢＣ１２３", []string{"final", "abc123", "abc", "123"}},
		{"non-ascii latin kept unstemmed", "Café naïve", []string{"café", "naïve"}},
		{"greek", "TNF-α Σίσυφος", []string{"tnf", "α", "σίσυφος"}},
		{"devanagari kept whole with its marks", "हिन्दी", []string{"हिन्दी"}},
		{"invalid utf-8 separates", "abc\xffdef", []string{"abc", "def"}},
		{"fts5 syntax is just words", `NEAR(a b, 3) AND c* OR "d" NOT body:e ^f`, []string{"near", "b", "3", "c", "d", "bodi", "e", "f"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Terms(tt.text)
			if !slices.Equal(got, tt.want) {
				t.Errorf("Terms(%q) = %q, want %q", tt.text, got, tt.want)
			}
			if doc, want := Document(tt.text), strings.Join(tt.want, " "); doc != want {
				t.Errorf("Document(%q) = %q, want %q", tt.text, doc, want)
			}
		})
	}
}

func TestQuery(t *testing.T) {
	tests := []struct {
		name string
		text string
		want string
	}{
		{"empty", "", ""},
		{"only stopwords", "what is the", ""},
		{"one term", "Dogs", `"dog"`},
		{"distinct terms or-ed in first-seen order", "dogs cats dog", `"dog" OR "cat"`},
		{"identifier", "ERR_CONN_RESET", `"err_conn_reset" OR "err" OR "conn" OR "reset"`},
		{"syntax is quoted away", `"a" NEAR(b) AND*`, `"near" OR "b"`},
		{"cjk", "東京都", `"東京" OR "京都"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Query(tt.text); got != tt.want {
				t.Errorf("Query(%q) = %s, want %s", tt.text, got, tt.want)
			}
		})
	}
}

// TestQueryAgainstFTS5 runs queries full of FTS5 syntax against a real table
// created with Tokenizer and checks that none is a syntax error and that each
// finds the document it should.
func TestQueryAgainstFTS5(t *testing.T) {
	db := newFTS(t, Tokenizer)
	docs := []string{
		"Connection failed with ERR_CONN_RESET after upgrading to v1.2.3",
		"Error E1234: disk quota exceeded in os.path.join",
		"東京都に住んでいます。日本語のテキスト",
		"한국어 문서입니다",
		"The NEAR operator and the AND keyword, with a * star and \"quotes\"",
		"Running dogs are connected to IL-6 levels",
	}
	for i, d := range docs {
		if _, err := db.Exec(`INSERT INTO t(rowid, body) VALUES (?, ?)`, i+1, Document(d)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		query string
		top   int // rowid expected first, 0 for no match
	}{
		{"err_conn_reset", 1},
		{"ERR_CONN_RESET", 1},
		{"v1.2.3", 1},
		{"version 1.2.3", 1},
		{"E1234", 2},
		{"e1234", 2},
		{"os.path.join", 2},
		{"東京", 3},
		{"東京都", 3},
		{"テキスト", 3},
		{"한국어", 4},
		{"NEAR", 5},
		{"NEAR(connection failed, 2)", 1},
		{"AND", 0}, // a stopword: no terms
		{`"quotes`, 5},
		{`quote"s"`, 5},
		{`star*`, 5},
		{"body:star", 5},
		{"{body}: star", 5},
		{"^star", 5},
		{"-star +star", 5},
		{"(star", 5},
		{"run dog connections", 6},
		{"il-6", 6},
		{"NOT OR AND", 0},
		{"zebra", 0},
	}
	for _, tt := range tests {
		t.Run(tt.query, func(t *testing.T) {
			expr := Query(tt.query)
			if expr == "" {
				if tt.top != 0 {
					t.Fatalf("Query(%q) is empty, want a match for row %d", tt.query, tt.top)
				}
				return
			}
			var top int
			err := db.QueryRow(`SELECT rowid FROM t WHERE t MATCH ? ORDER BY bm25(t) LIMIT 1`, expr).Scan(&top)
			if err != nil && !strings.Contains(err.Error(), "no rows") {
				t.Fatalf("MATCH %s: %v", expr, err)
			}
			if top != tt.top {
				t.Errorf("MATCH %s: top row %d, want %d", expr, top, tt.top)
			}
		})
	}
}

// TestQueryManyTerms guards against FTS5's expression depth limit: a query
// pasted from a long document must still parse.
func TestQueryManyTerms(t *testing.T) {
	db := newFTS(t, Tokenizer)
	var b strings.Builder
	for i := range 5000 {
		fmt.Fprintf(&b, "word%d ", i)
	}
	if _, err := countMatch(db, Query(b.String())); err != nil {
		t.Fatalf("5000-term query: %v", err)
	}
}

// TestDocumentSurvivesTokenizer checks that the table's tokenizer stores
// exactly the terms of Terms: none split, merged, changed or lost.
func TestDocumentSurvivesTokenizer(t *testing.T) {
	db := newFTS(t, Tokenizer)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')`); err != nil {
		t.Fatal(err)
	}
	for _, text := range []string{
		"ERR_CONN_RESET v1.2.3 E1234 os.path.join",
		"東京都 한국어 日本語のテキスト",
		"Café naïve Σίσυφος हिन्दी ﬁnal ＡＢＣ１２３",
		"TNF-α µg/ml 2.5×10⁻³ ½ ²",
	} {
		checkStored(t, db, text)
	}
}

// checkStored inserts Document(text) into table t (with fts5vocab table v
// over it), compares the stored tokens, in order, with Terms(text), and
// deletes the row again.
func checkStored(t testing.TB, db *sql.DB, text string) {
	t.Helper()
	if _, err := db.Exec(`INSERT INTO t(rowid, body) VALUES (1, ?)`, Document(text)); err != nil {
		t.Fatalf("insert Document(%q): %v", text, err)
	}
	defer func() {
		if _, err := db.Exec(`DELETE FROM t WHERE rowid = 1`); err != nil {
			t.Fatal(err)
		}
	}()
	rows, err := db.Query(`SELECT term FROM v ORDER BY offset`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var stored []string
	for rows.Next() {
		var term string
		if err := rows.Scan(&term); err != nil {
			t.Fatal(err)
		}
		stored = append(stored, term)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	if want := Terms(text); !slices.Equal(stored, want) {
		t.Errorf("text %q: tokenizer stored %q, want Terms %q", text, stored, want)
	}
}
