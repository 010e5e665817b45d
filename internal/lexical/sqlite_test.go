package lexical

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	_ "modernc.org/sqlite" // registers the "sqlite" driver, with FTS5 compiled in
)

// openDB opens the SQLite file name in dir in WAL mode, as rag's index does.
func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+path+"?_pragma=journal_mode(WAL)&_pragma=synchronous(NORMAL)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatalf("open %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// newFTS creates a fresh database in a temporary folder holding the FTS5
// table t(body) with the given tokenize option.
func newFTS(t testing.TB, tokenize string) *sql.DB {
	t.Helper()
	db := openDB(t, filepath.Join(t.TempDir(), "fts.db"))
	stmt := fmt.Sprintf(`CREATE VIRTUAL TABLE t USING fts5(body, tokenize=%q)`, tokenize)
	if _, err := db.Exec(stmt); err != nil {
		t.Fatalf("%s: %v", stmt, err)
	}
	return db
}

// countMatch runs expr against table t and returns how many rows match.
func countMatch(db *sql.DB, expr string) (int, error) {
	var n int
	err := db.QueryRow(`SELECT count(*) FROM t WHERE t MATCH ?`, expr).Scan(&n)
	return n, err
}
