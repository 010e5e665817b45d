package index

import (
	"database/sql"
	"fmt"
)

// migrate brings an index of an older readable format up to FormatVersion in
// one transaction: all of it, or (on a crash or an error) none.
//
// Version 4 -> 5 adds the chunks' anchor column; chunks stored before have
// none ("") until their file is read again.
// Version 3 -> 4 adds the files' indexed_at column.
// Version 2 -> 3 adds the roots table and the chunks' vkey column. The keys of
// the chunks already stored are computed with key, so that their vectors can
// be reused from the first run of the new version on.
func migrate(db *sql.DB, m Meta, key func(model string, c Chunk) []byte) (Meta, error) {
	tx, err := db.Begin()
	if err != nil {
		return m, fmt.Errorf("migrate index: %w", err)
	}
	defer tx.Rollback()
	if m.FormatVersion == 2 {
		stmts := []string{
			`ALTER TABLE chunks ADD COLUMN vkey BLOB`,
			`CREATE INDEX IF NOT EXISTS chunks_vkey ON chunks(vkey) WHERE vkey IS NOT NULL`,
			`CREATE TABLE IF NOT EXISTS roots (path TEXT PRIMARY KEY, dev INTEGER NOT NULL, is_dir INTEGER NOT NULL) WITHOUT ROWID`,
		}
		for _, s := range stmts {
			if _, err := tx.Exec(s); err != nil {
				return m, fmt.Errorf("migrate index to format 3: %w", err)
			}
		}
		if key != nil {
			if err := fillKeys(tx, m.EmbedModel, key); err != nil {
				return m, err
			}
		}
		m.FormatVersion = 3
	}
	if m.FormatVersion == 3 {
		// Files indexed before version 4 have no indexed_at: 0, shown as unknown.
		var has int
		if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info('files') WHERE name = 'indexed_at'`).Scan(&has); err != nil {
			return m, fmt.Errorf("migrate index to format 4: %w", err)
		}
		if has == 0 {
			if _, err := tx.Exec(`ALTER TABLE files ADD COLUMN indexed_at INTEGER NOT NULL DEFAULT 0`); err != nil {
				return m, fmt.Errorf("migrate index to format 4: %w", err)
			}
		}
		m.FormatVersion = 4
	}
	if m.FormatVersion == 4 {
		var has int
		if err := tx.QueryRow(`SELECT count(*) FROM pragma_table_info('chunks') WHERE name = 'anchor'`).Scan(&has); err != nil {
			return m, fmt.Errorf("migrate index to format 5: %w", err)
		}
		if has == 0 {
			if _, err := tx.Exec(`ALTER TABLE chunks ADD COLUMN anchor TEXT NOT NULL DEFAULT ''`); err != nil {
				return m, fmt.Errorf("migrate index to format 5: %w", err)
			}
		}
		m.FormatVersion = 5
	}
	if err := writeMeta(tx, m); err != nil {
		return m, err
	}
	if err := tx.Commit(); err != nil {
		return m, fmt.Errorf("migrate index: %w", err)
	}
	return m, nil
}

// fillKeys computes every stored chunk's key, a page of chunks at a time.
func fillKeys(tx *sql.Tx, model string, key func(string, Chunk) []byte) error {
	upd, err := tx.Prepare(`UPDATE chunks SET vkey=? WHERE id=?`)
	if err != nil {
		return err
	}
	defer upd.Close()
	var after uint64
	for {
		rows, err := tx.Query(`SELECT `+chunkColsBefore5+` FROM chunks WHERE id > ? ORDER BY id LIMIT 1000`, after)
		if err != nil {
			return fmt.Errorf("migrate index: %w", err)
		}
		page, err := scanChunks(rows)
		if err != nil {
			return fmt.Errorf("migrate index: %w", err)
		}
		if len(page) == 0 {
			return nil
		}
		for _, c := range page {
			if _, err := upd.Exec(key(model, c), c.ID); err != nil {
				return fmt.Errorf("migrate index: %w", err)
			}
			after = c.ID
		}
	}
}
