package lexical

import (
	"strings"
	"testing"
)

var fuzzSeeds = []string{
	"",
	"ERR_CONN_RESET v1.2.3 E1234",
	`"unbalanced quote`,
	`NEAR(a b, 2) AND c* OR NOT d ^e body:f {body}:g - + ( )`,
	"東京都 한국어 日本語のテキスト",
	"a\"b\"\"c",
	"\xff\xfe\x00 \u0301 \u200b \u3000",
}

// FuzzQuery checks that any input gives either "" (exactly when it has no
// terms) or an expression a real FTS5 table accepts.
func FuzzQuery(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	db := newFTS(f, Tokenizer)
	if _, err := db.Exec(`INSERT INTO t(body) VALUES (?)`, Document(strings.Join(fuzzSeeds, " "))); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		q := Query(text)
		if (q == "") != (len(Terms(text)) == 0) {
			t.Fatalf("Query(%q) = %q but Terms = %q", text, q, Terms(text))
		}
		if q == "" {
			return
		}
		if _, err := countMatch(db, q); err != nil {
			t.Fatalf("Query(%q) = %s: %v", text, q, err)
		}
	})
}

// FuzzDocument checks that the table's tokenizer stores exactly the terms of
// Terms for any input, so index and query time agree.
func FuzzDocument(f *testing.F) {
	for _, s := range fuzzSeeds {
		f.Add(s)
	}
	db := newFTS(f, Tokenizer)
	if _, err := db.Exec(`CREATE VIRTUAL TABLE v USING fts5vocab(t, 'instance')`); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, text string) {
		checkStored(t, db, text)
	})
}
