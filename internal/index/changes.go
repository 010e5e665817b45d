package index

import (
	"encoding/binary"
	"fmt"
)

// Changes is what the vector side of an index gained and lost between two
// snapshots, for a reader that keeps vectors loaded in memory.
type Changes struct {
	// Full is set when the newer snapshot cannot be reached by changes: a
	// compaction or a reindex swap (another vector file, another index),
	// another model or dimension. The caller loads everything again.
	Full bool
	// Added are the vectors of slots committed after the older snapshot;
	// Removed the chunk ids whose vectors died (replaced or deleted chunks).
	Added   []Vector
	Removed []uint64
}

// Vector is one stored vector and its chunk id; V points into the newer
// reader's mapping.
type Vector struct {
	ID uint64
	V  []float32
}

// ChangesSince says how r's snapshot differs from old's, an earlier snapshot
// of the same index folder. Within one vector file generation records are
// only appended and slots only die, so the difference is the new slots and
// the newly dead ones; nothing needs to be recorded beyond what the index
// already keeps.
func (r *Reader) ChangesSince(old *Reader) (*Changes, error) {
	om, nm := old.meta, r.meta
	if !om.Created.Equal(nm.Created) || om.VecGen != nm.VecGen || om.Dim != nm.Dim ||
		NormalizeModel(om.EmbedModel) != NormalizeModel(nm.EmbedModel) || nm.VecSlots < om.VecSlots ||
		old.vecErr != nil || r.vecErr != nil || (old.vecFile == nil) != (r.vecFile == nil) && om.VecSlots > 0 {
		return &Changes{Full: true}, nil
	}
	c := &Changes{}
	if err := r.EachVectorIn(om.VecSlots, nm.VecSlots, func(id uint64, v []float32) error {
		c.Added = append(c.Added, Vector{id, v})
		return nil
	}); err != nil {
		return nil, fmt.Errorf("read new vectors: %w", err)
	}
	if nm.VecSlots == 0 {
		return c, nil
	}
	if err := r.mapVectors(); err != nil {
		return nil, err
	}
	size := recordSize(nm.Dim)
	for s := range r.dead {
		if s < om.VecSlots && !old.dead[s] {
			rec := r.vecs.data[vecHeaderSize+int64(s)*size:]
			c.Removed = append(c.Removed, binary.LittleEndian.Uint64(rec))
		}
	}
	return c, nil
}

// KeepVectorsOnly ends the reader's database snapshot (so it no longer holds
// back the write-ahead log) and keeps only its mapped vectors, which
// in-memory collections may still point into, until Close. Nothing but
// Close may be called afterwards.
func (r *Reader) KeepVectorsOnly() error {
	if err := r.mapVectors(); err != nil && r.vecErr == nil {
		return err
	}
	var err error
	if r.tx != nil {
		err = r.tx.Rollback()
		r.tx = nil
	}
	if r.db != nil {
		if e := r.db.Close(); err == nil {
			err = e
		}
		r.db = nil
	}
	return err
}
