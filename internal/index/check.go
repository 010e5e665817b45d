package index

import (
	"errors"
	"fmt"
	"math"
	"sort"
)

// CheckReport is what Check found.
type CheckReport struct {
	Dir           string `json:"index"`
	FormatVersion int    `json:"format_version"`
	Files         int    `json:"files"`
	Chunks        int    `json:"chunks"`
	Vectors       int    `json:"vectors"`
	Pending       int    `json:"pending"`
	// ReadOnly: the index is on a read-only mount (or not writable by this
	// process). It is checked all the same, except for the full-text index's
	// own check, which SQLite runs as a write.
	ReadOnly bool     `json:"read_only"`
	Problems []string `json:"problems"`
	// Roots are the folders and files the index was built from: what to
	// ingest again if it must be rebuilt from scratch.
	Roots []string `json:"roots"`
}

// OK reports whether the index is healthy.
func (c *CheckReport) OK() bool { return len(c.Problems) == 0 }

// Check verifies an index: the database's own integrity check, the format
// version, that every embedded chunk has exactly one vector of the recorded
// dimension with finite values and unit length, that no live vector belongs to
// no chunk, that every chunk belongs to a file, and the full-text index's own
// consistency. It returns an error only when the index cannot be read at all.
func Check(dir string) (*CheckReport, error) {
	r, err := OpenReader(dir)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rep := &CheckReport{Dir: dir, FormatVersion: r.meta.FormatVersion, ReadOnly: !writable(dir), Problems: []string{}, Roots: []string{}}
	if roots, err := r.Roots(); err == nil {
		for p := range roots {
			rep.Roots = append(rep.Roots, p)
		}
		sort.Strings(rep.Roots)
	}
	bad := func(format string, args ...any) {
		if len(rep.Problems) < 100 {
			rep.Problems = append(rep.Problems, fmt.Sprintf(format, args...))
		}
	}
	var integrity string
	if err := r.tx.QueryRow(`PRAGMA integrity_check`).Scan(&integrity); err != nil {
		bad("database integrity check failed to run: %v", err)
	} else if integrity != "ok" {
		bad("database integrity: %s", integrity)
	}
	if _, err := r.tx.Exec(`INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')`); err != nil && !rep.ReadOnly {
		// query_only forbids even this no-op write; run it on a writable connection.
		if db, err2 := openDB(dbPath(dir), false); err2 == nil {
			if _, err := db.Exec(`INSERT INTO chunks_fts(chunks_fts) VALUES('integrity-check')`); err != nil {
				bad("full-text index: %v", err)
			}
			db.Close()
		}
	}
	st, err := r.Stats()
	if err != nil {
		return nil, err
	}
	rep.Files, rep.Chunks, rep.Pending = st.Files, st.Chunks, st.Pending
	if st.Pending != r.meta.Pending {
		bad("%d chunks are pending but the index records %d (run rag ingest to embed them)", st.Pending, r.meta.Pending)
	}

	// chunk id -> slot, as the database says
	slots := map[uint64]int{}
	rows, err := r.tx.Query(`SELECT id, slot FROM chunks WHERE slot IS NOT NULL`)
	if err != nil {
		return nil, fmt.Errorf("check index: %w", err)
	}
	for rows.Next() {
		var id uint64
		var slot int
		if err := rows.Scan(&id, &slot); err != nil {
			rows.Close()
			return nil, fmt.Errorf("check index: %w", err)
		}
		slots[id] = slot
	}
	rows.Close()
	var orphanChunks int
	if err := r.tx.QueryRow(`SELECT count(*) FROM chunks WHERE path NOT IN (SELECT path FROM files)`).Scan(&orphanChunks); err != nil {
		return nil, fmt.Errorf("check index: %w", err)
	}
	if orphanChunks > 0 {
		bad("%d chunks belong to no file", orphanChunks)
	}
	if err := r.mapVectors(); err != nil {
		if de, ok := errors.AsType[*DamagedError](err); ok {
			bad("%s", de.What)
		} else {
			bad("vector file: %v", err)
		}
		return rep, nil
	}
	if len(slots) > 0 && r.vecs == nil {
		bad("%d chunks have vectors but the index has no vector file", len(slots))
		return rep, nil
	}
	seen := map[uint64]bool{}
	if r.vecs != nil {
		vf := vecfile{r.meta.Dim}
		for s := 0; s < r.meta.VecSlots; s++ {
			if r.dead[s] {
				continue
			}
			rec := vf.record(r.vecs.data, s)
			id := vf.id(rec)
			want, ok := slots[id]
			switch {
			case !ok:
				bad("vector slot %d holds chunk %d, which the index does not have (orphan vector)", s, id)
				continue
			case want != s:
				bad("vector slot %d holds chunk %d, which the index places in slot %d", s, id, want)
				continue
			case seen[id]:
				bad("chunk %d has more than one vector", id)
			}
			seen[id] = true
			var sum float64
			finite := true
			for _, x32 := range vf.view(rec) {
				x := float64(x32)
				if math.IsNaN(x) || math.IsInf(x, 0) {
					finite = false
				}
				sum += x * x
			}
			if !finite {
				bad("chunk %d has a vector with non-finite values", id)
			} else if math.Abs(math.Sqrt(sum)-1) > 1e-3 {
				bad("chunk %d has a vector of length %.4f, not 1", id, math.Sqrt(sum))
			}
		}
	}
	rep.Vectors = len(seen)
	for id, s := range slots {
		if !seen[id] && (s >= r.meta.VecSlots || r.dead[s]) {
			bad("chunk %d points at vector slot %d, which is not live", id, s)
		}
	}
	return rep, nil
}
