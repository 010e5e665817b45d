package index

import (
	"bufio"
	"fmt"
	"io"
	"os"
)

// CompactThreshold decides when Compact rewrites the vector file: when dead
// records are at least this many and at least as many as live ones.
const CompactThreshold = 1024

// NeedsCompact reports whether the vector file holds enough dead records
// (from replaced or deleted chunks) to be worth rewriting.
func (w *Writer) NeedsCompact() (bool, error) {
	if w.db == nil || w.meta.VecSlots == 0 {
		return false, nil
	}
	var dead int
	if err := w.db.QueryRow(`SELECT count(*) FROM dead_slots`).Scan(&dead); err != nil {
		return false, fmt.Errorf("count dead vectors: %w", err)
	}
	return dead >= CompactThreshold && dead*2 >= w.meta.VecSlots, nil
}

// Compact writes the live vectors into a new vector file generation, points
// the chunks at their new slots and forgets the dead ones, in one transaction;
// then removes the old file. Readers holding the old generation keep reading
// it (it is unlinked, not changed); a crash before the commit leaves the old
// generation current and the new file unreferenced (removed by the next
// Compact).
//
// It streams: the old file is read and the new one written a few MiB at a
// time, each live chunk's new slot is set as its record is copied, and only
// the dead slots' numbers are held, so memory stays far below the index's
// size.
func (w *Writer) Compact() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.db == nil || w.meta.VecSlots == 0 {
		return nil
	}
	var dead []int // sorted
	rows, err := w.db.Query(`SELECT slot FROM dead_slots ORDER BY slot`)
	if err != nil {
		return fmt.Errorf("compact vectors: %w", err)
	}
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("compact vectors: %w", err)
		}
		dead = append(dead, s)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return fmt.Errorf("compact vectors: %w", err)
	}
	vf := vecfile{w.meta.Dim}
	gen := w.meta.VecGen + 1
	_ = os.Remove(vecPath(w.dir, gen)) // left by a compaction that died
	f, err := w.createVectors(gen, w.meta.Dim)
	if err != nil {
		return err
	}
	discard := func(err error) error {
		f.Close()
		os.Remove(vecPath(w.dir, gen))
		return err
	}
	tx, err := w.db.Begin()
	if err != nil {
		return discard(err)
	}
	defer tx.Rollback()
	// Slots are unique: move them out of the way first so renumbering
	// cannot collide.
	if _, err := tx.Exec(`UPDATE chunks SET slot = -1 - slot WHERE slot IS NOT NULL`); err != nil {
		return discard(fmt.Errorf("compact vectors: %w", err))
	}
	upd, err := tx.Prepare(`UPDATE chunks SET slot=? WHERE id=?`)
	if err != nil {
		return discard(err)
	}
	defer upd.Close()
	if _, err := f.Seek(vecHeaderSize, io.SeekStart); err != nil {
		return discard(err)
	}
	out := bufio.NewWriterSize(f, scanBuffer)
	next, d := 0, 0
	err = vf.scan(w.vec, w.meta.VecSlots, func(slot int, rec []byte) error {
		for d < len(dead) && dead[d] < slot {
			d++
		}
		if d < len(dead) && dead[d] == slot {
			return nil
		}
		if _, err := out.Write(rec); err != nil {
			return fmt.Errorf("write compacted vectors: %w", err)
		}
		if _, err := upd.Exec(next, vf.id(rec)); err != nil {
			return fmt.Errorf("compact vectors: %w", err)
		}
		next++
		return nil
	})
	if err == nil {
		err = out.Flush()
	}
	if err != nil {
		return discard(err)
	}
	if err := f.Sync(); err != nil {
		return discard(fmt.Errorf("sync compacted vectors: %w", err))
	}
	if _, err := tx.Exec(`DELETE FROM dead_slots`); err != nil {
		return discard(err)
	}
	meta := w.meta
	meta.VecGen, meta.VecSlots = gen, next
	if err := writeMeta(tx, meta); err != nil {
		return discard(err)
	}
	if err := tx.Commit(); err != nil {
		return discard(diskFull(w.dir, fmt.Errorf("commit compacted vectors: %w", err)))
	}
	oldGen := w.meta.VecGen
	w.vec.Close()
	w.vec, w.meta = f, meta
	if err := os.Remove(vecPath(w.dir, oldGen)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove old vector file: %w", err)
	}
	return nil
}
