package index

import (
	"context"
	"fmt"
	"os"
	"testing"
)

// TestCompactKeepsLiveVectors replaces files until dead vectors outnumber live
// ones, compacts, and checks that every chunk still finds its own vector, that
// a reader opened before the compaction keeps working, and that the old
// generation's file is gone.
func TestCompactKeepsLiveVectors(t *testing.T) {
	for _, buf := range []int{4 << 20, 1000} { // one read, and 25 records a read
		t.Run(fmt.Sprintf("buffer %d", buf), func(t *testing.T) {
			defer func(old int) { scanBuffer = old }(scanBuffer)
			scanBuffer = buf
			compactKeepsLiveVectors(t)
		})
	}
}

func compactKeepsLiveVectors(t *testing.T) {
	dir := t.TempDir()
	w, err := OpenWriter(context.Background(), dir, Settings{EmbedModel: "m", DefaultChunkTokens: 256}, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	vec := func(seed int) []float32 {
		v := make([]float32, 8)
		v[seed%8] = 1
		v[(seed+3)%8] = float32(seed%5 + 1)
		return v
	}
	put := func(path string, n, seed int) Put {
		p := Put{File: File{Path: path, Hash: fmt.Sprint(seed)}}
		for i := range n {
			p.Chunks = append(p.Chunks, Chunk{Text: fmt.Sprintf("%s chunk %d", path, i), Terms: "t"})
			p.Vectors = append(p.Vectors, vec(seed+i))
		}
		return p
	}
	// 4 files of 300 chunks, then each replaced 3 times: 3,600 dead, 1,200 live.
	for round := range 4 {
		b := &Batch{}
		for f := range 4 {
			b.Puts = append(b.Puts, put(fmt.Sprintf("/f%d", f), 300, round*7+f))
		}
		if err := w.Commit(b); err != nil {
			t.Fatal(err)
		}
	}
	before, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer before.Close()
	need, err := w.NeedsCompact()
	if err != nil || !need {
		t.Fatalf("NeedsCompact = %v, %v; want true", need, err)
	}
	oldGen := w.Meta().VecGen
	if err := w.Compact(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(vecPath(dir, oldGen)); !os.IsNotExist(err) {
		t.Errorf("old vector file still there: %v", err)
	}
	if got := w.Meta().VecSlots; got != 1200 {
		t.Errorf("VecSlots after compaction = %d, want 1200", got)
	}
	rep, err := Check(dir)
	if err != nil {
		t.Fatal(err)
	}
	if !rep.OK() || rep.Vectors != 1200 || rep.Chunks != 1200 {
		t.Fatalf("check after compaction: %+v", rep)
	}
	// The old snapshot still reads its (unlinked) generation.
	n := 0
	if err := before.EachVector(func(uint64, []float32) error { n++; return nil }); err != nil || n != 1200 {
		t.Errorf("old reader saw %d vectors (%v), want 1200", n, err)
	}
	// Every chunk's vector is still its own.
	r, err := OpenReader(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var ids []uint64
	vecs := map[uint64][]float32{}
	r.EachVector(func(id uint64, v []float32) error {
		ids = append(ids, id)
		vecs[id] = append([]float32(nil), v...)
		return nil
	})
	chunks, err := r.Chunks(ids)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chunks {
		var path string
		var i int
		fmt.Sscanf(c.Text, "%s chunk %d", &path, &i)
		want := vec(3*7 + int(path[2]-'0') + i)
		var norm float32
		for _, x := range want {
			norm += x * x
		}
		got := vecs[c.ID]
		for j := range want {
			if d := got[j]*got[j] - want[j]*want[j]/norm; d > 1e-4 || d < -1e-4 {
				t.Fatalf("chunk %q has another chunk's vector: %v vs %v", c.Text, got, want)
			}
		}
	}
	// And the index keeps taking commits after compaction.
	if err := w.Commit(&Batch{Puts: []Put{put("/f9", 3, 1)}}); err != nil {
		t.Fatal(err)
	}
	if rep, _ := Check(dir); !rep.OK() {
		t.Fatalf("check after a commit following compaction: %v", rep.Problems)
	}
}
