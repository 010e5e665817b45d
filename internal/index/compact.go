package index

import (
	"encoding/binary"
	"fmt"
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
func (w *Writer) Compact() error {
	if w.db == nil || w.meta.VecSlots == 0 {
		return nil
	}
	dead := map[int]bool{}
	rows, err := w.db.Query(`SELECT slot FROM dead_slots`)
	if err != nil {
		return fmt.Errorf("compact vectors: %w", err)
	}
	for rows.Next() {
		var s int
		if err := rows.Scan(&s); err != nil {
			rows.Close()
			return fmt.Errorf("compact vectors: %w", err)
		}
		dead[s] = true
	}
	rows.Close()
	size := recordSize(w.meta.Dim)
	old := make([]byte, int64(w.meta.VecSlots)*size)
	if _, err := w.vec.ReadAt(old, vecHeaderSize); err != nil {
		return fmt.Errorf("compact vectors: %w", err)
	}
	gen := w.meta.VecGen + 1
	_ = os.Remove(vecPath(w.dir, gen)) // left by a compaction that died
	f, err := w.createVectors(gen, w.meta.Dim)
	if err != nil {
		return err
	}
	keep := func() { f.Close(); os.Remove(vecPath(w.dir, gen)) }
	live := make([]byte, 0, int64(w.meta.VecSlots-len(dead))*size)
	newSlot := map[uint64]int{}
	for s := 0; s < w.meta.VecSlots; s++ {
		if dead[s] {
			continue
		}
		rec := old[int64(s)*size : int64(s+1)*size]
		newSlot[binary.LittleEndian.Uint64(rec)] = len(newSlot)
		live = append(live, rec...)
	}
	if _, err := f.WriteAt(live, vecHeaderSize); err != nil {
		keep()
		return fmt.Errorf("write compacted vectors: %w", err)
	}
	if err := f.Sync(); err != nil {
		keep()
		return fmt.Errorf("sync compacted vectors: %w", err)
	}
	tx, err := w.db.Begin()
	if err != nil {
		keep()
		return err
	}
	defer tx.Rollback()
	// Slots are unique: clear them first so renumbering cannot collide.
	if _, err := tx.Exec(`UPDATE chunks SET slot = -1 - slot WHERE slot IS NOT NULL`); err != nil {
		keep()
		return fmt.Errorf("compact vectors: %w", err)
	}
	upd, err := tx.Prepare(`UPDATE chunks SET slot=? WHERE id=?`)
	if err != nil {
		keep()
		return err
	}
	defer upd.Close()
	for id, s := range newSlot {
		if _, err := upd.Exec(s, id); err != nil {
			keep()
			return fmt.Errorf("compact vectors: %w", err)
		}
	}
	if _, err := tx.Exec(`DELETE FROM dead_slots`); err != nil {
		keep()
		return err
	}
	meta := w.meta
	meta.VecGen, meta.VecSlots = gen, len(newSlot)
	if err := writeMeta(tx, meta); err != nil {
		keep()
		return err
	}
	if err := tx.Commit(); err != nil {
		keep()
		return fmt.Errorf("commit compacted vectors: %w", err)
	}
	oldGen := w.meta.VecGen
	w.vec.Close()
	w.vec, w.meta = f, meta
	if err := os.Remove(vecPath(w.dir, oldGen)); err != nil && !os.IsNotExist(err) {
		return fmt.Errorf("remove old vector file: %w", err)
	}
	return nil
}
