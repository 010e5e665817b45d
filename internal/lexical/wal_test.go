package lexical

import (
	"context"
	"path/filepath"
	"testing"
)

// TestWALReaderIsolation checks the concurrency facts rag's index relies on,
// with modernc.org/sqlite in WAL mode: a reader on another *sql.DB is not
// blocked by an open write transaction and sees the last committed state; it
// sees the new state once the writer commits; and a read transaction already
// open keeps its snapshot until it ends.
func TestWALReaderIsolation(t *testing.T) {
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "wal.db")
	writer := openDB(t, path)
	var mode string
	if err := writer.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
	if _, err := writer.Exec(`CREATE VIRTUAL TABLE t USING fts5(body, tokenize="` + Tokenizer + `")`); err != nil {
		t.Fatal(err)
	}
	if _, err := writer.Exec(`INSERT INTO t(body) VALUES (?)`, Document("old state")); err != nil {
		t.Fatal(err)
	}
	reader := openDB(t, path)
	matches := func(q string) int {
		t.Helper()
		n, err := countMatch(reader, Query(q))
		if err != nil {
			t.Fatalf("reader: %v", err)
		}
		return n
	}

	tx, err := writer.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := tx.Exec(`INSERT INTO t(body) VALUES (?)`, Document("new state")); err != nil {
		t.Fatal(err)
	}
	if got := matches("state"); got != 1 {
		t.Errorf("during open write transaction: reader sees %d rows, want 1 (the committed one)", got)
	}
	if got := matches("new"); got != 0 {
		t.Errorf("during open write transaction: reader sees %d uncommitted rows, want 0", got)
	}

	// A read transaction opened now holds its snapshot across the commit.
	rtx, err := reader.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	var before int
	if err := rtx.QueryRow(`SELECT count(*) FROM t`).Scan(&before); err != nil {
		t.Fatal(err)
	}
	if err := tx.Commit(); err != nil {
		t.Fatalf("commit while a reader is open: %v", err)
	}
	var during int
	if err := rtx.QueryRow(`SELECT count(*) FROM t`).Scan(&during); err != nil {
		t.Fatal(err)
	}
	if before != 1 || during != 1 {
		t.Errorf("open read transaction saw %d then %d rows across the commit, want 1 and 1", before, during)
	}
	if err := rtx.Rollback(); err != nil {
		t.Fatal(err)
	}

	if got := matches("state"); got != 2 {
		t.Errorf("after commit: reader sees %d rows, want 2", got)
	}
	if got := matches("new"); got != 1 {
		t.Errorf("after commit: reader sees %d new rows, want 1", got)
	}
}
