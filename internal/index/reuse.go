package index

import (
	"fmt"
	"strings"
)

// VectorsByKey returns the stored vector of each key that a committed,
// embedded chunk has, by string(key): what an ingest reuses instead of
// embedding the same text again. Keys no chunk has are absent.
func (w *Writer) VectorsByKey(keys [][]byte) (map[string][]float32, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := map[string][]float32{}
	if w.db == nil || w.vec == nil || len(keys) == 0 {
		return out, nil
	}
	vf := vecfile{w.meta.Dim}
	rec := make([]byte, vf.recSize())
	const page = 500 // SQLite's bound on parameters is far above this
	for start := 0; start < len(keys); start += page {
		part := keys[start:min(start+page, len(keys))]
		args := make([]any, len(part))
		for i, k := range part {
			args[i] = k
		}
		rows, err := w.db.Query(`SELECT vkey, min(slot) FROM chunks WHERE slot IS NOT NULL AND vkey IN (?`+
			strings.Repeat(",?", len(part)-1)+`) GROUP BY vkey`, args...)
		if err != nil {
			return nil, fmt.Errorf("look up stored vectors: %w", err)
		}
		type found struct {
			key  string
			slot int
		}
		var hits []found
		for rows.Next() {
			var k []byte
			var slot int
			if err := rows.Scan(&k, &slot); err != nil {
				rows.Close()
				return nil, fmt.Errorf("look up stored vectors: %w", err)
			}
			hits = append(hits, found{string(k), slot})
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return nil, fmt.Errorf("look up stored vectors: %w", err)
		}
		for _, h := range hits {
			if h.slot >= w.meta.VecSlots {
				continue
			}
			if err := vf.readAt(w.vec, h.slot, rec); err != nil {
				return nil, err
			}
			out[h.key] = vf.vector(rec)
		}
	}
	return out, nil
}
