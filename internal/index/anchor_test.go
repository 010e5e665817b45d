package index

import "testing"

// TestAnchorStored: a chunk's anchor (its citation fragment) is stored and
// read back by every way of reading chunks.
func TestAnchorStored(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	p := put("deck.pptx", 2, 1, true)
	p.Chunks[0].Anchor = "slide=1"
	p.Chunks[1].Anchor = "sheet=Q1%20sales&row=7"
	commit(t, w, &Batch{Puts: []Put{p}})
	w.Close()

	r := openR(t, dir)
	defer r.Close()
	cs := allChunks(t, r)["/docs/deck.pptx"]
	if len(cs) != 2 || cs[0].Anchor != "slide=1" || cs[1].Anchor != "sheet=Q1%20sales&row=7" {
		t.Fatalf("stored chunks %+v, want their anchors", cs)
	}
	c, found, err := r.Chunk(cs[1].ID)
	if err != nil || !found || c.Anchor != "sheet=Q1%20sales&row=7" {
		t.Errorf("Chunk = %+v, %v, %v", c, found, err)
	}
	got, err := r.Chunks([]uint64{cs[0].ID})
	if err != nil || got[0].Anchor != "slide=1" {
		t.Errorf("Chunks = %+v, %v", got, err)
	}
	var each []string
	if err := r.EachChunk(func(c Chunk) error { each = append(each, c.Anchor); return nil }); err != nil || len(each) != 2 || each[0] != "slide=1" {
		t.Errorf("EachChunk anchors %q, %v", each, err)
	}
}

// TestMigrateFromVersion4: a version-4 index has no anchor column; readers
// read its chunks with no anchor, and a writer adds the column, after which
// a chunk it stores keeps its anchor.
func TestMigrateFromVersion4(t *testing.T) {
	dir := t.TempDir()
	w := openW(t, dir)
	commit(t, w, &Batch{Puts: []Put{put("a.md", 2, 1, true)}})
	w.Close()
	rawExec(t, dir, `ALTER TABLE chunks DROP COLUMN anchor`, `UPDATE meta SET value='4' WHERE key='format_version'`)

	r := openR(t, dir)
	var n int
	if err := r.EachChunk(func(c Chunk) error { n++; return nil }); err != nil || n != 2 {
		t.Fatalf("EachChunk of a version-4 index: %d chunks, %v", n, err)
	}
	if _, found, err := r.Chunk(1); err != nil || !found {
		t.Fatalf("Chunk of a version-4 index: %v, %v", found, err)
	}
	r.Close()

	w = openW(t, dir)
	if v := w.Meta().FormatVersion; v != FormatVersion {
		t.Errorf("format after migration = %d", v)
	}
	p := put("deck.pptx", 1, 2, true)
	p.Chunks[0].Anchor = "slide=3"
	commit(t, w, &Batch{Puts: []Put{p}})
	w.Close()
	r = openR(t, dir)
	defer r.Close()
	all := allChunks(t, r)
	if c := all["/docs/deck.pptx"]; len(c) != 1 || c[0].Anchor != "slide=3" {
		t.Errorf("chunk stored after migration: %+v", c)
	}
	if c := all["/docs/a.md"]; len(c) != 2 || c[0].Anchor != "" {
		t.Errorf("chunks stored before migration: %+v", c)
	}
	mustCheckOK(t, dir)
}
